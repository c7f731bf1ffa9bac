"""``GeometricMeanAbsoluteError``: the geometric mean of ``|y - y_pred|``."""

from __future__ import annotations

import torch

from miniengine.metrics.metric import _need_examples
from miniengine.metrics.regression._base import _SumOfErrors

__all__ = ["GeometricMeanAbsoluteError"]


class GeometricMeanAbsoluteError(_SumOfErrors):
    """``exp(mean(log |y - y_pred|))``: the geometric mean of the absolute errors.

    ``y_pred`` and ``y`` have shape (N,) or (N, 1) and a floating dtype. The logs are summed
    in float32, as in Ignite; one exact prediction makes the result 0.

    Args:
        output_transform: maps the output to ``(y_pred, y)``.
        device: where the sum lives.
        skip_unrolling: see ``Metric``.

    Example:
        >>> m = GeometricMeanAbsoluteError()
        >>> m.update((torch.tensor([0.0, 0.0]), torch.tensor([1.0, 4.0])))
        >>> round(m.compute(), 6)  # sqrt(1 * 4)
        2.0
    """

    def _errors(self, y_pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return (y - y_pred).abs().log()

    def compute(self) -> float:
        """The geometric mean of the absolute errors seen."""
        _need_examples(self._num_examples, "GeometricMeanAbsoluteError")
        return torch.exp(self._sum_of_errors / self._num_examples).item()
