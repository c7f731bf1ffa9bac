"""``MeanError``: the mean of ``y - y_pred`` (the signed bias)."""

from __future__ import annotations

import torch

from miniengine.metrics.regression._base import _SumOfErrors

__all__ = ["MeanError"]


class MeanError(_SumOfErrors):
    """Mean over samples of ``y - y_pred``: positive when predictions are too low.

    ``y_pred`` and ``y`` have shape (N,) or (N, 1) and a floating dtype. Summed in float32.

    Args:
        output_transform: maps the output to ``(y_pred, y)``.
        device: where the sum lives.
        skip_unrolling: see ``Metric``.

    Example:
        >>> m = MeanError()
        >>> m.update((torch.tensor([1.0, 2.0, 5.0]), torch.tensor([3.0, 2.0, 4.0])))
        >>> m.compute()  # (2 + 0 - 1) / 3
        0.3333333333333333
    """

    def _errors(self, y_pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return y - y_pred

    def _update(self, y_pred: torch.Tensor, y: torch.Tensor) -> None:
        # Ignite adds the batch sum as a Python float: float64 inputs round as they do there.
        self._sum_of_errors += self._errors(y_pred, y).sum().item()
        self._num_examples += y.shape[0]
