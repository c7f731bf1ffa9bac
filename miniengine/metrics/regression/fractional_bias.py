"""``FractionalBias``: the mean of ``2 (y - y_pred) / (y_pred + y)``."""

from __future__ import annotations

import torch

from miniengine.metrics.regression._base import _SumOfErrors

__all__ = ["FractionalBias"]


class FractionalBias(_SumOfErrors):
    """Mean over samples of ``2 (y - y_pred) / (y_pred + y + 1e-30)``.

    ``y_pred`` and ``y`` have shape (N,) or (N, 1) and a floating dtype. Unlike the other
    regression sums, this one is kept in float64 (float32 on MPS), as in Ignite.

    Args:
        output_transform: maps the output to ``(y_pred, y)``.
        device: where the sum lives.
        skip_unrolling: see ``Metric``.

    Example:
        >>> m = FractionalBias()
        >>> m.update((torch.tensor([1.0, 2.0]), torch.tensor([3.0, 2.0])))
        >>> m.compute()  # (2 * 2 / 4 + 0) / 2
        0.5
    """

    _in_double = True

    def _errors(self, y_pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return 2 * (y - y_pred) / (y_pred + y + 1e-30)
