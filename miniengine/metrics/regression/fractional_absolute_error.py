"""``FractionalAbsoluteError``: the mean of ``2 |y - y_pred| / (|y_pred| + |y|)``."""

from __future__ import annotations

import torch

from miniengine.metrics.regression._base import _SumOfErrors

__all__ = ["FractionalAbsoluteError"]


class FractionalAbsoluteError(_SumOfErrors):
    """Mean over samples of ``2 |y - y_pred| / (|y_pred| + |y|)``, between 0 and 2.

    ``y_pred`` and ``y`` have shape (N,) or (N, 1) and a floating dtype. A sample where both
    are 0 gives NaN, as in Ignite (no epsilon). Summed in float32.

    Args:
        output_transform: maps the output to ``(y_pred, y)``.
        device: where the sum lives.
        skip_unrolling: see ``Metric``.

    Example:
        >>> m = FractionalAbsoluteError()
        >>> m.update((torch.tensor([1.0, 2.0]), torch.tensor([3.0, 2.0])))
        >>> m.compute()  # (2 * 2 / 4 + 0) / 2
        0.5
    """

    def _errors(self, y_pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return 2 * (y - y_pred).abs() / (y_pred.abs() + y.abs())
