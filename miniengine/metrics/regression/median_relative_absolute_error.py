"""``MedianRelativeAbsoluteError``: the median of ``|y - y_pred| / |y - mean(y)|``."""

from __future__ import annotations

from collections.abc import Callable

import torch

from miniengine.metrics.epoch_metric import EpochMetric
from miniengine.metrics.metric import _identity
from miniengine.metrics.regression._base import _torch_median

__all__ = ["MedianRelativeAbsoluteError", "median_relative_absolute_error_compute_fn"]


def median_relative_absolute_error_compute_fn(y_pred: torch.Tensor, y: torch.Tensor) -> float:
    """The median of ``|y - y_pred| / |y - mean(y)|`` (``EpochMetric``'s ``compute_fn``).

    Args:
        y_pred: predictions.
        y: targets, with as many elements.

    Example:
        >>> y = torch.tensor([0.0, 2.0, 4.0])  # mean 2
        >>> median_relative_absolute_error_compute_fn(torch.tensor([1.0, 2.5, 3.0]), y)
        0.5
    """
    y = y.view_as(y_pred)
    return _torch_median((y - y_pred).abs() / (y - y.mean()).abs())


class MedianRelativeAbsoluteError(EpochMetric):
    """The median over all samples of the period of ``|y - y_pred| / |y - mean(y)|``.

    An ``EpochMetric``, as in Ignite: every sample is kept until ``compute`` (``mean(y)`` is
    the period's); shapes (N,) or (N, 1).

    Args:
        output_transform: maps the output to ``(y_pred, y)``.
        device: where the kept samples live.

    Example:
        >>> m = MedianRelativeAbsoluteError()
        >>> m.update((torch.tensor([1.0, 2.5, 3.0]), torch.tensor([0.0, 2.0, 4.0])))
        >>> m.compute()  # median of 1 / 2, 0.5 / 0, 1 / 2
        0.5
    """

    def __init__(
        self, output_transform: Callable = _identity, device: str | torch.device = "cpu"
    ) -> None:
        super().__init__(
            median_relative_absolute_error_compute_fn,
            output_transform=output_transform,
            device=device,
        )
