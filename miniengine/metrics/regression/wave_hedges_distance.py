"""``WaveHedgesDistance``: the Wave Hedges distance between predictions and targets."""

from __future__ import annotations

import torch

from miniengine.metrics.regression._base import _SumOfErrors

__all__ = ["WaveHedgesDistance"]


class WaveHedgesDistance(_SumOfErrors):
    """Sum over all samples of ``|y - y_pred| / (max(y_pred, y) + 1e-30)``.

    ``y_pred`` and ``y`` have shape (N,) or (N, 1) and a floating dtype. A distance, not a
    mean: 0.0 before any sample. Summed in float32, as in Ignite.

    Args:
        output_transform: maps the output to ``(y_pred, y)``.
        device: where the sum lives.
        skip_unrolling: see ``Metric``.

    Example:
        >>> m = WaveHedgesDistance()
        >>> m.update((torch.tensor([1.0, 4.0]), torch.tensor([2.0, 4.0])))
        >>> m.compute()  # 1 / 2 + 0 / 4
        0.5
    """

    _accumulators = _state_dict_all_req_keys = ("_sum_of_errors",)
    _mean = False

    def _errors(self, y_pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return (y - y_pred).abs() / (torch.maximum(y_pred, y) + 1e-30)
