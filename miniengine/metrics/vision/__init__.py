"""Metrics for vision tasks: COCO-style object detection."""

from miniengine.metrics.vision.object_detection_average_precision_recall import (
    ObjectDetectionAvgPrecisionRecall,
)

__all__ = ["ObjectDetectionAvgPrecisionRecall"]
