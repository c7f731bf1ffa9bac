"""Fairness metrics: how a model's predictions differ between groups of examples.

Each batch is ``(y_pred, y, group_labels)``: ``group_labels`` says which group each example
belongs to (a demographic segment, say), and every group gets its own copy of a metric.

Example:
    >>> import torch
    >>> from miniengine.metrics.fairness import SubgroupAccuracyDifference
    >>> gap = SubgroupAccuracyDifference(groups=[0, 1])
    >>> y_pred, y = torch.tensor([1, 0, 1, 0]), torch.tensor([1, 0, 0, 0])
    >>> gap.update((y_pred, y, torch.tensor([0, 0, 1, 1])))
    >>> gap.compute()  # group 0: 2 of 2 right, group 1: 1 of 2
    0.5
"""

from typing import Any

from miniengine._missing import missing_name
from miniengine.metrics.fairness.accuracy_difference import SubgroupAccuracyDifference
from miniengine.metrics.fairness.base import SubgroupDifference, SubgroupMetric
from miniengine.metrics.fairness.demographic_parity import (
    DemographicParityDifference,
    SelectionRate,
)

__all__ = [
    "DemographicParityDifference",
    "SelectionRate",
    "SubgroupAccuracyDifference",
    "SubgroupDifference",
    "SubgroupMetric",
]


def __getattr__(name: str) -> Any:  # any other name: a pointer to the coverage table
    raise missing_name(__name__, name)
