"""``MeanNormalizedBias``: the mean of ``(y - y_pred) / y``."""

from __future__ import annotations

import torch

from miniengine.exceptions import NotComputableError
from miniengine.metrics.regression._base import _SumOfErrors

__all__ = ["MeanNormalizedBias"]


class MeanNormalizedBias(_SumOfErrors):
    """Mean over samples of ``(y - y_pred) / y``.

    ``y_pred`` and ``y`` have shape (N,) or (N, 1) and a floating dtype. A batch whose ``y``
    has a 0 raises ``NotComputableError`` in ``update``, as in Ignite. Summed in float32.

    Args:
        output_transform: maps the output to ``(y_pred, y)``.
        device: where the sum lives.
        skip_unrolling: see ``Metric``.

    Example:
        >>> m = MeanNormalizedBias()
        >>> m.update((torch.tensor([1.0, 2.0]), torch.tensor([2.0, 4.0])))
        >>> m.compute()  # (1 / 2 + 2 / 4) / 2
        0.5
    """

    def _errors(self, y_pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if (y == 0).any():
            raise NotComputableError("The ground truth has 0.")
        return (y - y_pred) / y
