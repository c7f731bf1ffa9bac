"""``SpearmanRankCorrelation``: scipy's Spearman correlation of all predictions and targets.

scipy is not a dependency of miniengine (nor of Ignite): install it to use this metric and
``KendallRankCorrelation``, which shares the base class below.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from miniengine.metrics.epoch_metric import EpochMetric
from miniengine.metrics.metric import _identity
from miniengine.metrics.regression._base import _check_output_shapes, _check_output_types

__all__ = ["SpearmanRankCorrelation"]


def _spearman_r(y_pred: torch.Tensor, y: torch.Tensor) -> Any:
    from scipy.stats import spearmanr  # type: ignore[import-untyped, import-not-found, unused-ignore]

    return spearmanr(y_pred.flatten().cpu().numpy(), y.flatten().cpu().numpy()).statistic


class _ScipyRankCorrelation(EpochMetric):
    """An ``EpochMetric`` on regression outputs ((N,) or (N, 1), float), computed by a
    ``scipy.stats`` function; refused at construction when scipy is not installed, as in
    Ignite (which checks then, not at the first ``compute``)."""

    def __init__(
        self,
        compute_fn: Callable[[torch.Tensor, torch.Tensor], Any],
        output_transform: Callable = _identity,
        check_compute_fn: bool = True,
        device: str | torch.device = "cpu",
        skip_unrolling: bool = False,
    ) -> None:
        try:
            import scipy.stats  # type: ignore[import-untyped, import-not-found, unused-ignore]  # noqa: F401
        except ImportError:
            raise ModuleNotFoundError("This module requires scipy to be installed.") from None
        super().__init__(
            compute_fn,
            output_transform=output_transform,
            check_compute_fn=check_compute_fn,
            device=device,
            skip_unrolling=skip_unrolling,
        )

    def update(self, output: Sequence[torch.Tensor]) -> None:
        """Check one batch as the other regression metrics do, then keep it.

        Args:
            output: ``(y_pred, y)``, of shape (N,) or (N, 1) each, floating point.
        """
        _check_output_shapes(output)
        _check_output_types(output)
        super().update(output)


class SpearmanRankCorrelation(_ScipyRankCorrelation):
    """Spearman's rank correlation of all predictions and targets of the period (scipy's).

    An ``EpochMetric``: ``y_pred`` and ``y`` (shape (N,) or (N, 1), floating point) are kept
    until ``compute``, which returns ``scipy.stats.spearmanr(y_pred, y).statistic`` (a numpy
    float). Raises ``ModuleNotFoundError`` when scipy is not installed, as Ignite does.

    Args:
        output_transform: maps the output to ``(y_pred, y)``.
        check_compute_fn: try ``spearmanr`` on the first batch and warn if it fails.
        device: where the kept tensors live.
        skip_unrolling: see ``Metric``.

    Example:
        >>> m = SpearmanRankCorrelation()
        >>> m.update((torch.tensor([0.5, 2.8, 1.9]), torch.tensor([0.0, 1.0, 2.0])))
        >>> m.update((torch.tensor([1.3, 6.0, 4.1]), torch.tensor([3.0, 4.0, 5.0])))
        >>> round(float(m.compute()), 6)
        0.714286
    """

    def __init__(
        self,
        output_transform: Callable = _identity,
        check_compute_fn: bool = True,
        device: str | torch.device = "cpu",
        skip_unrolling: bool = False,
    ) -> None:
        super().__init__(_spearman_r, output_transform, check_compute_fn, device, skip_unrolling)
