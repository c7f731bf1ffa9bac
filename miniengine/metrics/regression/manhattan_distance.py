"""``ManhattanDistance``: the L1 distance between predictions and targets."""

from __future__ import annotations

import torch

from miniengine.metrics.regression._base import _SumOfErrors

__all__ = ["ManhattanDistance"]


class ManhattanDistance(_SumOfErrors):
    """Sum over all samples of ``|y - y_pred|``.

    ``y_pred`` and ``y`` have shape (N,) or (N, 1) and a floating dtype. A distance, not a
    mean (``MeanAbsoluteError`` divides it by N): 0.0 before any sample. Summed in float32.

    Args:
        output_transform: maps the output to ``(y_pred, y)``.
        device: where the sum lives.
        skip_unrolling: see ``Metric``.

    Example:
        >>> m = ManhattanDistance()
        >>> m.update((torch.tensor([1.0, 2.0]), torch.tensor([3.0, 1.5])))
        >>> m.compute()  # 2 + 0.5
        2.5
    """

    _accumulators = _state_dict_all_req_keys = ("_sum_of_errors",)
    _mean = False

    def _errors(self, y_pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return (y - y_pred).abs()
