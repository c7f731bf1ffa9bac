"""``SilhouetteScore``: scikit-learn's mean silhouette coefficient of all samples of the period.

scikit-learn is not a dependency of miniengine (nor of Ignite): install it to use this metric.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch

from miniengine.metrics.clustering._base import _ClusteringScore
from miniengine.metrics.metric import _identity

__all__ = ["SilhouetteScore"]


class SilhouetteScore(_ClusteringScore):
    """Mean silhouette coefficient of the features and cluster labels of the period.

    For each sample, ``a`` is its mean distance to the other members of its cluster and ``b``
    its mean distance to the members of the nearest other cluster; its coefficient is
    ``(b - a) / max(a, b)``, in [-1, 1], near 1 for well separated clusters. The score is
    ``sklearn.metrics.silhouette_score(features, labels, **silhouette_kwargs)`` on everything
    kept since the last reset, or nan when there are fewer than 2 clusters or as many clusters
    as samples. Raises ``ModuleNotFoundError`` without scikit-learn, as Ignite does.

    Args:
        output_transform: maps the output to ``(features, labels)``; a dict output needs the
            keys ``"features"`` and ``"labels"``. Features are (N, D), labels (N,).
        check_compute_fn: score the first batch at once and warn if scikit-learn fails on it.
        device: where the kept tensors live.
        skip_unrolling: see ``Metric``.
        silhouette_kwargs: more keyword arguments for ``sklearn.metrics.silhouette_score``
            (``metric``, ``sample_size``, ``random_state``, ...).

    Example:
        >>> m = SilhouetteScore()
        >>> m.update((torch.tensor([[0.0, 0.0], [2.0, 0.0]]), torch.tensor([0, 0])))
        >>> m.update((torch.tensor([[6.0, 0.0], [8.0, 0.0]]), torch.tensor([1, 1])))
        >>> round(m.compute(), 4)  # (5/7 + 3/5 + 3/5 + 5/7) / 4
        0.6571
    """

    def __init__(
        self,
        output_transform: Callable = _identity,
        check_compute_fn: bool = True,
        device: str | torch.device = "cpu",
        skip_unrolling: bool = False,
        silhouette_kwargs: dict | None = None,
    ) -> None:
        if silhouette_kwargs is not None and not isinstance(silhouette_kwargs, Mapping):
            raise TypeError(
                "Argument silhouette_kwargs should be a dict of keyword arguments or None, "
                f"got {silhouette_kwargs!r}"
            )
        self._extra_kwargs = dict(silhouette_kwargs or {})
        super().__init__(output_transform, check_compute_fn, device, skip_unrolling)

    _sklearn_name = "silhouette_score"

    def _sklearn_kwargs(self) -> dict[str, Any]:
        return self._extra_kwargs
