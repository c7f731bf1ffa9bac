"""``MedianAbsolutePercentageError``: the median of ``100 |y - y_pred| / |y|``."""

from __future__ import annotations

from collections.abc import Callable

import torch

from miniengine.metrics.epoch_metric import EpochMetric
from miniengine.metrics.metric import _identity
from miniengine.metrics.regression._base import _torch_median

__all__ = ["MedianAbsolutePercentageError", "median_absolute_percentage_error_compute_fn"]


def median_absolute_percentage_error_compute_fn(y_pred: torch.Tensor, y: torch.Tensor) -> float:
    """100 times the median of ``|y - y_pred| / |y|`` (``EpochMetric``'s ``compute_fn``).

    Args:
        y_pred: predictions.
        y: targets, with as many elements.

    Example:
        >>> y = torch.tensor([1.0, 2.0, 4.0])
        >>> median_absolute_percentage_error_compute_fn(torch.tensor([1.5, 2.0, 5.0]), y)
        25.0
    """
    y = y.view_as(y_pred)
    return 100.0 * _torch_median((y - y_pred).abs() / y.abs())


class MedianAbsolutePercentageError(EpochMetric):
    """100 times the median over all samples of the period of ``|y - y_pred| / |y|``.

    An ``EpochMetric``, as in Ignite: every sample is kept until ``compute``; shapes (N,) or
    (N, 1). A target of 0 gives an infinite (or NaN) relative error, no exception.

    Args:
        output_transform: maps the output to ``(y_pred, y)``.
        device: where the kept samples live.

    Example:
        >>> m = MedianAbsolutePercentageError()
        >>> m.update((torch.tensor([1.5, 2.0, 5.0]), torch.tensor([1.0, 2.0, 4.0])))
        >>> m.compute()  # median of 50 %, 0 %, 25 %
        25.0
    """

    def __init__(
        self, output_transform: Callable = _identity, device: str | torch.device = "cpu"
    ) -> None:
        super().__init__(
            median_absolute_percentage_error_compute_fn,
            output_transform=output_transform,
            device=device,
        )
