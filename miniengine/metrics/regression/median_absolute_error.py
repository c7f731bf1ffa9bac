"""``MedianAbsoluteError``: the median of ``|y - y_pred|``."""

from __future__ import annotations

from collections.abc import Callable

import torch

from miniengine.metrics.epoch_metric import EpochMetric
from miniengine.metrics.metric import _identity
from miniengine.metrics.regression._base import _torch_median

__all__ = ["MedianAbsoluteError", "median_absolute_error_compute_fn"]


def median_absolute_error_compute_fn(y_pred: torch.Tensor, y: torch.Tensor) -> float:
    """The median of ``|y - y_pred|`` (``EpochMetric``'s ``compute_fn``).

    Args:
        y_pred: predictions.
        y: targets, with as many elements.

    Example:
        >>> median_absolute_error_compute_fn(torch.tensor([1.0, 2.0, 3.0]), torch.zeros(3))
        2.0
    """
    return _torch_median((y.view_as(y_pred) - y_pred).abs())


class MedianAbsoluteError(EpochMetric):
    """The median over all samples of the period of ``|y - y_pred|``.

    An ``EpochMetric``, as in Ignite: every sample is kept until ``compute``; shapes (N,) or
    (N, 1). An even count gives the mean of the two middle errors.

    Args:
        output_transform: maps the output to ``(y_pred, y)``.
        device: where the kept samples live.

    Example:
        >>> m = MedianAbsoluteError()
        >>> m.update((torch.tensor([1.0, 2.0, 3.0, 10.0]), torch.zeros(4)))
        >>> m.compute()  # (2 + 3) / 2
        2.5
    """

    def __init__(
        self, output_transform: Callable = _identity, device: str | torch.device = "cpu"
    ) -> None:
        super().__init__(
            median_absolute_error_compute_fn, output_transform=output_transform, device=device
        )
