"""``KendallRankCorrelation``: scipy's Kendall tau of all predictions and targets.

scipy is not a dependency of miniengine (nor of Ignite): install it to use this metric.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import torch

from miniengine.metrics.metric import _identity
from miniengine.metrics.regression.spearman_correlation import _ScipyRankCorrelation

__all__ = ["KendallRankCorrelation"]


def _kendall_tau(y_pred: torch.Tensor, y: torch.Tensor, variant: str) -> Any:
    from scipy.stats import kendalltau  # type: ignore[import-untyped, import-not-found, unused-ignore]

    p, t = y_pred.flatten().cpu().numpy(), y.flatten().cpu().numpy()
    return kendalltau(p, t, variant=variant).statistic


class KendallRankCorrelation(_ScipyRankCorrelation):
    """Kendall's tau of all predictions and targets of the period (scipy's, variant b or c).

    An ``EpochMetric``: ``y_pred`` and ``y`` (shape (N,) or (N, 1), floating point) are kept
    until ``compute``, which returns ``scipy.stats.kendalltau(y_pred, y, variant=variant)``'s
    statistic (a numpy float). Tau-b corrects for ties in both; tau-c is for tables that are
    not square. Raises ``ModuleNotFoundError`` when scipy is not installed, as Ignite does
    (before looking at ``variant``).

    Args:
        variant: ``"b"`` or ``"c"``.
        output_transform: maps the output to ``(y_pred, y)``.
        check_compute_fn: try ``kendalltau`` on the first batch and warn if it fails.
        device: where the kept tensors live.
        skip_unrolling: see ``Metric``.

    Example:
        >>> m = KendallRankCorrelation()
        >>> m.update((torch.tensor([0.5, 2.8, 1.9]), torch.tensor([0.0, 1.0, 2.0])))
        >>> m.update((torch.tensor([1.3, 6.0, 4.1]), torch.tensor([3.0, 4.0, 5.0])))
        >>> round(float(m.compute()), 6)  # (11 concordant - 4 discordant) / 15 pairs
        0.466667
    """

    def __init__(
        self,
        variant: str = "b",
        output_transform: Callable = _identity,
        check_compute_fn: bool = True,
        device: str | torch.device = "cpu",
        skip_unrolling: bool = False,
    ) -> None:
        tau = partial(_kendall_tau, variant=variant)
        super().__init__(tau, output_transform, check_compute_fn, device, skip_unrolling)
        if variant not in ("b", "c"):
            raise ValueError(f"variant accepts 'b' or 'c', got {variant!r}.")
        self.variant = variant
