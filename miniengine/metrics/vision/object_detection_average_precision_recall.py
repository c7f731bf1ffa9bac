"""COCO-style average precision and recall of an object detector, and the usual dozen of them."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import torch

from miniengine import distributed as idist
from miniengine.metrics.mean_average_precision import (
    _checked_thresholds,
    _gathered,
    _value_at_recalls,
)
from miniengine.metrics.metric import Metric, _identity, sync_all_reduce
from miniengine.metrics.metric_group import MetricGroup

if TYPE_CHECKING:
    from miniengine.engine import Engine
    from miniengine.metrics.metric import MetricUsage

__all__ = [
    "CommonObjectDetectionMetrics",
    "ObjectDetectionAvgPrecisionRecall",
    "coco_tensor_list_to_dict_list",
]

# COCO's object sizes, in pixels of box area: small < 32², medium < 96², large the rest
_AREA_RANGES = {
    "all": (0.0, 1e10),
    "small": (0.0, 1024.0),
    "medium": (1024.0, 9216.0),
    "large": (9216.0, 1e10),
}

Detections = list[dict[str, torch.Tensor]]


def _box_area(boxes: torch.Tensor) -> torch.Tensor:
    return (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])


def coco_tensor_list_to_dict_list(
    output: tuple[list[torch.Tensor] | Detections, list[torch.Tensor] | Detections],
) -> tuple[Detections, Detections]:
    """Turn ``(y_pred, y)`` given as lists of per-image tensors into lists of dicts.

    A ``y_pred`` item of shape (N, 6) holds rows ``(x1, y1, x2, y2, confidence, class)`` and
    becomes ``{"bbox", "confidence", "class"}``; a ``y`` item of shape (N, 5) or (N, 6) holds
    ``(x1, y1, x2, y2, class[, iscrowd])`` and becomes ``{"bbox", "class"[, "iscrowd"]}``.
    A list that already holds dicts is returned as it is. As in Ignite 0.5.5, the keys are
    ``"confidence"`` and ``"class"``, not the ``"scores"`` and ``"labels"`` that
    ``ObjectDetectionAvgPrecisionRecall`` reads.

    Args:
        output: ``(y_pred, y)``, each a list of tensors or a list of dicts.

    Example:
        >>> y_pred = [torch.tensor([[0.0, 0.0, 10.0, 10.0, 0.9, 3.0]])]
        >>> y = [torch.tensor([[0.0, 0.0, 10.0, 10.0, 3.0]])]
        >>> preds, targets = coco_tensor_list_to_dict_list((y_pred, y))
        >>> preds[0]["confidence"], sorted(targets[0])
        (tensor([0.9000]), ['bbox', 'class'])
    """
    y_pred, y = output
    if y_pred and isinstance(y_pred[0], torch.Tensor):
        y_pred = [{"bbox": t[:, :4], "confidence": t[:, 4], "class": t[:, 5]} for t in y_pred]
    if y and isinstance(y[0], torch.Tensor):
        extra = ("iscrowd",) if y[0].shape[1] != 5 else ()
        y = [
            {"bbox": t[:, :4], **{k: t[:, 4 + i] for i, k in enumerate(("class", *extra))}}
            for t in y
        ]
    return y_pred, y  # type: ignore[return-value]


def _check_samples(y_pred: Sequence[Mapping], y: Sequence[Mapping]) -> None:
    if len(y_pred) != len(y):
        raise ValueError(
            f"y_pred and y should have the same number of samples, given {len(y_pred)} "
            f"and {len(y)}."
        )
    if len(y_pred) == 0:
        raise ValueError("y_pred and y should contain at least one sample.")
    if not {"bbox", "scores", "labels"} <= y_pred[0].keys():
        raise ValueError(
            "y_pred sample dictionaries should have 'bbox', 'scores' and 'labels' keys, "
            f"given keys: {y_pred[0].keys()}"
        )
    if not {"bbox", "labels"} <= y[0].keys():
        raise ValueError(
            "y sample dictionaries should have 'bbox', 'labels' and optionally 'iscrowd' keys, "
            f"given keys: {y[0].keys()}"
        )


def _summary(values: torch.Tensor) -> float:
    """Mean of the entries of classes that have ground truths (-1 marks the others)."""
    kept = values[values > -1]
    return kept.mean().item() if len(kept) else -1.0


class ObjectDetectionAvgPrecisionRecall(Metric):
    """Mean average precision and mean average recall of a detector, as COCO computes them.

    Per image, the detections of each class (at most ``max_detections_per_image_per_class``,
    the highest scores) are matched greedily, highest score first, to the ground truths of
    their class: each takes the free ground truth of highest IoU (>= the IoU threshold; ties
    go to the later box), preferring ground truths that count over ignored ones (crowd boxes,
    boxes outside ``area_range``). A detection matched to a counted box is a true positive,
    one matched to an ignored box is left out, an unmatched one is a false positive unless its
    own box is outside ``area_range``. Crowd boxes can take several detections. Over the
    images, per class and IoU threshold: precision is made non-increasing in recall (each
    point takes the best precision at equal or higher recall), read at each recall threshold
    and averaged (AP); the last recall is AR. ``compute`` gives ``(AP, AR)``, each the mean
    over classes with ground truths and IoU thresholds, or ``(-1.0, -1.0)`` when no class has
    any. IoU is computed here, so torchvision is not needed.

    ``update`` takes ``(y_pred, y)``, two lists with a dict per image: ``y_pred`` items hold
    ``"bbox"`` (N, 4) boxes ``(x1, y1, x2, y2)``, ``"scores"`` (N,) and ``"labels"`` (N,);
    ``y`` items hold ``"bbox"``, ``"labels"`` and optionally ``"iscrowd"`` (N,) booleans.

    Args:
        iou_thresholds: IoU thresholds in [0, 1]; None: COCO's 0.5, 0.55, ..., 0.95.
        rec_thresholds: recall thresholds in [0, 1]; None: COCO's 0, 0.01, ..., 1.
        num_classes: the number of classes (labels 0 .. num_classes - 1); COCO's 80 by default.
        max_detections_per_image_per_class: how many detections of a class, the most
            confident, count in each image.
        area_range: "all", or only the objects whose box area is "small" (<= 32²), "medium"
            (32² to 96²) or "large" (>= 96²).
        output_transform: maps the output to ``(y_pred, y)``, e.g. from lists of tensors.
        device: where the matches are kept.
        skip_unrolling: see ``Metric``.

    Example:
        >>> metric = ObjectDetectionAvgPrecisionRecall(num_classes=2, iou_thresholds=[0.5])
        >>> pred = {"bbox": torch.tensor([[0.0, 0.0, 10.0, 10.0], [20.0, 20.0, 30.0, 30.0]]),
        ...         "scores": torch.tensor([0.9, 0.8]), "labels": torch.tensor([1, 1])}
        >>> target = {"bbox": torch.tensor([[0.0, 0.0, 10.0, 8.0]]), "labels": torch.tensor([1])}
        >>> metric.update(([pred], [target]))
        >>> metric.compute()  # IoU 0.8: the first detection is right, the second is not
        (1.0, 1.0)
    """

    def __init__(
        self,
        iou_thresholds: Sequence[float] | torch.Tensor | None = None,
        rec_thresholds: Sequence[float] | torch.Tensor | None = None,
        num_classes: int = 80,
        max_detections_per_image_per_class: int = 100,
        area_range: Literal["small", "medium", "large", "all"] = "all",
        output_transform: Callable = _identity,
        device: str | torch.device = "cpu",
        skip_unrolling: bool = False,
    ) -> None:
        if area_range not in _AREA_RANGES:
            raise ValueError(
                f"Argument area_range should be one of {tuple(_AREA_RANGES)}, got {area_range!r}"
            )
        for name, value in [
            ("num_classes", num_classes),
            ("max_detections_per_image_per_class", max_detections_per_image_per_class),
        ]:
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"Argument {name} should be a positive integer, got {value!r}")
        self._num_classes = num_classes
        self._area_range = area_range
        self._max_detections_per_image_per_class = max_detections_per_image_per_class
        super().__init__(output_transform, device=device, skip_unrolling=skip_unrolling)
        dtype = self._double_dtype
        if iou_thresholds is None:
            iou_thresholds = torch.linspace(0.5, 0.95, 10)
        if rec_thresholds is None:
            rec_thresholds = torch.linspace(0, 1, 101)
        self._iou_thresholds = _checked_thresholds(
            iou_thresholds, "iou_thresholds", self._device, dtype
        )
        self.rec_thresholds = _checked_thresholds(
            rec_thresholds, "rec_thresholds", self._device, dtype
        )

    def reset(self) -> None:
        """Forget the matches and ground-truth counts."""
        # per image with detections: (thresholds, detections) 0/1 rows, scores and labels
        self._tp: list[torch.Tensor] = []
        self._fp: list[torch.Tensor] = []
        self._det_scores: list[torch.Tensor] = []
        self._det_labels: list[torch.Tensor] = []
        self._gt_counts = torch.zeros(
            self._num_classes, dtype=self._double_dtype, device=self._device
        )

    def box_iou(
        self, pred_boxes: torch.Tensor, gt_boxes: torch.Tensor, iscrowd: torch.Tensor
    ) -> torch.Tensor:
        """IoU of every detection (rows) with every ground truth (columns), as COCO has it.

        For a crowd ground truth the union is the detection's own area; 0/0 gives 0.

        Args:
            pred_boxes: (D, 4) boxes ``(x1, y1, x2, y2)``.
            gt_boxes: (G, 4) boxes.
            iscrowd: (G,) booleans.

        Example:
            >>> m = ObjectDetectionAvgPrecisionRecall()
            >>> box = torch.tensor([[0.0, 0.0, 4.0, 4.0]])
            >>> m.box_iou(box, torch.tensor([[2.0, 0.0, 6.0, 4.0]]), torch.tensor([False]))
            tensor([[0.3333]])
        """
        corner_lo = torch.maximum(pred_boxes[:, None, :2], gt_boxes[None, :, :2])
        corner_hi = torch.minimum(pred_boxes[:, None, 2:], gt_boxes[None, :, 2:])
        sides = (corner_hi - corner_lo).clamp(min=0)
        overlap = sides[..., 0] * sides[..., 1]
        pred_area = _box_area(pred_boxes)[:, None]
        union = pred_area + _box_area(gt_boxes)[None, :] - overlap
        union = torch.where(iscrowd.bool()[None, :], pred_area, union)
        return (overlap / union).nan_to_num(nan=0.0)

    def _in_area(self, boxes: torch.Tensor) -> torch.Tensor:
        low, high = _AREA_RANGES[self._area_range]
        area = _box_area(boxes)
        return (area >= low) & (area <= high)

    def _kept_detections(self, scores: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Indices of each class's most confident detections, class by class."""
        by_score = torch.argsort(scores, stable=True, descending=True)
        cap = self._max_detections_per_image_per_class
        chosen = [
            by_score[labels[by_score] == c][:cap]
            for c in labels.unique().tolist()
            if 0 <= c < self._num_classes
        ]
        return torch.cat(chosen) if chosen else by_score[:0]

    def _match(
        self, det: Mapping[str, torch.Tensor], gt: Mapping[str, torch.Tensor], kept: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(thresholds, detections) booleans: true and false positives of one image."""
        boxes, labels = det["bbox"].detach()[kept], det["labels"].detach()[kept]
        gt_boxes, gt_labels = gt["bbox"].detach(), gt["labels"].detach()
        crowd = gt["iscrowd"].detach().bool() if "iscrowd" in gt else gt_labels != gt_labels
        ignored = crowd | ~self._in_area(gt_boxes)
        thresholds = self._iou_thresholds.to(boxes.device)
        n_thr, n_gt = len(thresholds), len(gt_labels)
        iou = self.box_iou(boxes, gt_boxes, crowd).to(thresholds.dtype)
        taken = torch.zeros(n_gt, n_thr, dtype=torch.bool, device=boxes.device)
        tp = torch.zeros(n_thr, len(kept), dtype=torch.bool, device=boxes.device)
        matched = tp.clone()
        for i in range(len(kept) if n_gt else 0):
            # (gt, threshold): the ground truths this detection may take at each threshold
            free = (iou[i, :, None] >= thresholds) & ~taken & (gt_labels == labels[i])[:, None]
            counted = free & ~ignored[:, None]
            pool = torch.where(counted.any(0), counted, free)
            found = pool.any(0)
            key = torch.where(pool, iou[i, :, None], -1.0)
            best = n_gt - 1 - key.flip(0).argmax(0)  # the last of equal IoUs
            for t in torch.nonzero(found).flatten().tolist():
                j = best[t]
                matched[t, i], tp[t, i] = True, not ignored[j]
                taken[j, t] = not crowd[j]  # a crowd box can take several detections
        fp = ~matched & self._in_area(boxes)
        return tp, fp

    def update(self, output: tuple[Detections, Detections]) -> None:
        """Match each image's detections to its ground truths and count the ground truths.

        Args:
            output: ``(y_pred, y)``, lists with one dict per image (see the class docstring).
        """
        y_pred, y = output
        _check_samples(y_pred, y)
        for det, gt in zip(y_pred, y, strict=True):
            gt_labels = gt["labels"].detach()
            crowd = gt["iscrowd"].detach().bool() if "iscrowd" in gt else gt_labels != gt_labels
            counted = ~crowd & self._in_area(gt["bbox"].detach())
            per_class = torch.bincount(gt_labels[counted].long(), minlength=self._num_classes)
            self._gt_counts += per_class.to(self._gt_counts)
            if not len(det["labels"]):
                continue
            kept = self._kept_detections(det["scores"].detach(), det["labels"].detach())
            tp, fp = self._match(det, gt, kept)
            self._tp.append(tp.to(self._device, torch.uint8))
            self._fp.append(fp.to(self._device, torch.uint8))
            scores = det["scores"].detach()[kept]
            self._det_scores.append(scores.to(self._device, dtype=self._double_dtype))
            self._det_labels.append(det["labels"].detach()[kept].to(self._device, torch.int32))

    @sync_all_reduce("_gt_counts")
    def _per_class(self) -> torch.Tensor:
        """(2, classes, IoU thresholds): AP then AR; -1 for classes without ground truths."""
        n_thr = len(self._iou_thresholds)
        labels = _gathered(self._det_labels, (), torch.int32, self)
        tp = _gathered(self._tp, (n_thr,), torch.uint8, self)
        fp = _gathered(self._fp, (n_thr,), torch.uint8, self)
        scores = _gathered(self._det_scores, (), self._double_dtype, self)
        out = torch.full((2, self._num_classes, n_thr), -1.0, dtype=self._double_dtype)
        out = out.to(self._device)
        for c in torch.nonzero(self._gt_counts).flatten().tolist():
            mine = labels == c
            if not mine.any():
                out[:, c] = 0.0
                continue
            order = torch.argsort(scores[mine], stable=True, descending=True)
            tps = tp[:, mine][:, order].cumsum(-1).to(self._double_dtype)
            fps = fp[:, mine][:, order].cumsum(-1).to(self._double_dtype)
            recall = tps / self._gt_counts[c]
            precision = tps / (tps + fps).clamp(min=1)
            # COCO's interpolation: the best precision at this recall or any higher one
            envelope = precision.flip(-1).cummax(-1).values.flip(-1)
            at_thresholds = _value_at_recalls(recall, envelope, self.rec_thresholds)
            out[0, c] = at_thresholds.sum(-1) / len(self.rec_thresholds)
            out[1, c] = recall[:, -1]
        return out

    def compute(self) -> tuple[float, float]:
        """``(AP, AR)``: means over IoU thresholds and classes that have ground truths."""
        ap, ar = self._per_class()
        return _summary(ap), _summary(ar)


class CommonObjectDetectionMetrics(MetricGroup):
    """The twelve numbers COCO reports for a detector, as one ``MetricGroup``.

    ``compute`` gives a dict: "AP@50..95" and "AR-100" (defaults), "AP@50" and "AP@75" (one
    IoU threshold), "AP-S"/"AR-S", "AP-M"/"AR-M", "AP-L"/"AR-L" (small, medium, large objects)
    and "AR-1", "AR-10" (at most 1 or 10 detections per image and class). Inputs as for
    ``ObjectDetectionAvgPrecisionRecall``.

    Args:
        num_classes: the number of classes; COCO's 80 by default.
        output_transform: maps the output to ``(y_pred, y)``.
        device: where the matches are kept.
        skip_unrolling: see ``Metric``; True by default here.

    Example:
        >>> metrics = CommonObjectDetectionMetrics(num_classes=1)
        >>> box = torch.tensor([[0.0, 0.0, 10.0, 10.0]])
        >>> pred = {"bbox": box, "scores": torch.tensor([0.9]), "labels": torch.tensor([0])}
        >>> metrics.update(([pred], [{"bbox": box, "labels": torch.tensor([0])}]))
        >>> result = metrics.compute()
        >>> result["AP@50..95"], result["AP-S"], result["AP-L"]  # a 10x10 box is small
        (1.0, 1.0, -1.0)
    """

    _state_dict_all_req_keys = ("metrics", "ap_50_95")  # type: ignore[assignment]

    def __init__(
        self,
        num_classes: int = 80,
        output_transform: Callable = _identity,
        device: str | torch.device = "cpu",
        skip_unrolling: bool = True,
    ) -> None:
        def make(**kwargs: Any) -> ObjectDetectionAvgPrecisionRecall:
            return ObjectDetectionAvgPrecisionRecall(
                num_classes=num_classes, device=device, **kwargs
            )

        # all IoU thresholds, all areas: AP@50 and AP@75 are read from its rows
        self.ap_50_95 = make()
        areas = {key: make(area_range=area) for key, area in [("S", "small"), ("M", "medium")]}
        areas["L"] = make(area_range="large")
        caps = {str(n): make(max_detections_per_image_per_class=n) for n in (1, 10)}
        super().__init__({**areas, **caps}, output_transform, skip_unrolling=skip_unrolling)

    def reset(self) -> None:
        """Reset every metric of the group."""
        super().reset()
        self.ap_50_95.reset()

    def update(self, output: Any) -> None:
        """Give ``output`` to every metric of the group.

        Args:
            output: ``(y_pred, y)``, as for ``ObjectDetectionAvgPrecisionRecall``.
        """
        super().update(output)
        self.ap_50_95.update(output)

    def compute(self) -> dict[str, float]:
        """The twelve numbers, by name."""
        ap, ar = self.ap_50_95._per_class()
        # columns 0 and 5 of the default thresholds are IoU 0.5 and 0.75
        result = {
            "AP@50..95": _summary(ap),
            "AR-100": _summary(ar),
            "AP@50": _summary(ap[:, 0]),
            "AP@75": _summary(ap[:, 5]),
        }
        parts = super().compute()
        for key in "SML":
            result[f"AP-{key}"], result[f"AR-{key}"] = parts[key]
        result["AR-1"], result["AR-10"] = parts["1"][1], parts["10"][1]
        return result

    def _attach_updates(self, engine: Engine, usage: MetricUsage) -> None:
        # ap_50_95 is outside ``metrics``: the group would not tell it the world size
        self.ap_50_95._world_size = idist.get_world_size()
        super()._attach_updates(engine, usage)
