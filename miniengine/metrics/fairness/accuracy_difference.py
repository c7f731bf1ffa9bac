"""``SubgroupAccuracyDifference``: the largest accuracy gap between two groups of examples."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence

import torch

from miniengine.metrics.accuracy import Accuracy
from miniengine.metrics.fairness.base import SubgroupDifference
from miniengine.metrics.metric import _identity

__all__ = ["SubgroupAccuracyDifference"]


class SubgroupAccuracyDifference(SubgroupDifference):
    """``max - min`` over groups of the accuracy within each group (overall accuracy equality).

    Each batch is ``(y_pred, y, group_labels)`` (or a dict with these keys); ``y_pred`` and ``y``
    are those of ``Accuracy`` (binary 0/1, multiclass scores, multilabel 0/1, with optional
    trailing dimensions such as pixels) and ``group_labels`` has shape (batch,). Each group's
    rows go to its own ``Accuracy``; at least two groups need examples.

    Args:
        groups: the group identifiers, compared with ``group_labels`` by ``==``.
        is_multilabel: treat ``(N, C, ...)`` 0/1 tensors as multilabel.
        output_transform: maps the output to ``(y_pred, y, group_labels)``.
        device: where the counts live.

    Example:
        >>> from miniengine.engine import Engine
        >>> engine = Engine(lambda engine, batch: batch)
        >>> SubgroupAccuracyDifference(groups=[0, 1]).attach(engine, "gap")
        >>> y_pred = torch.tensor([[0.9, 0.1], [0.1, 0.9], [0.8, 0.2], [0.2, 0.8]])
        >>> y, groups = torch.tensor([0, 1, 1, 1]), torch.tensor([0, 0, 1, 1])
        >>> engine.run([(y_pred, y, groups)]).metrics["gap"]  # 2 of 2 right, then 1 of 2
        0.5
    """

    def __init__(
        self,
        groups: Sequence[Hashable],
        is_multilabel: bool = False,
        output_transform: Callable = _identity,
        device: str | torch.device = "cpu",
    ) -> None:
        accuracy = Accuracy(is_multilabel=is_multilabel, device=device)
        super().__init__(accuracy, groups, output_transform, device)
