"""The shared part of the clustering scores: keep ``(features, labels)``, ask scikit-learn."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from typing import Any

import torch

from miniengine.metrics.epoch_metric import EpochMetric
from miniengine.metrics.metric import _identity

__all__: list[str] = []


class _ClusteringScore(EpochMetric):
    """An ``EpochMetric`` on features (N, D) and cluster labels (N,), scored at ``compute`` by
    ``sklearn.metrics.<_sklearn_name>``; nan where the score is undefined (fewer than 2
    clusters, or as many clusters as samples). Refused at construction without scikit-learn."""

    required_output_keys = ("features", "labels")
    _sklearn_name: str

    def __init__(
        self,
        output_transform: Callable = _identity,
        check_compute_fn: bool = True,
        device: str | torch.device = "cpu",
        skip_unrolling: bool = False,
    ) -> None:
        try:
            importlib.import_module("sklearn.metrics")
        except ImportError:
            raise ModuleNotFoundError(
                "This module requires scikit-learn to be installed."
            ) from None
        super().__init__(self._score, output_transform, check_compute_fn, device, skip_unrolling)

    def _sklearn_kwargs(self) -> dict[str, Any]:
        return {}

    def update(self, output: Sequence[torch.Tensor]) -> None:
        """Check one batch's shapes and dtypes, then keep it.

        Args:
            output: ``(features, labels)``: features (N, D), integer cluster labels (N,).
        """
        features, labels = output[0], output[1]
        if features.ndim != 2:
            raise ValueError(
                f"Features should be of shape (batch_size, n_targets), got {tuple(features.shape)}"
            )
        if labels.ndim != 1:
            raise ValueError(f"Labels should be of shape (batch_size, ), got {tuple(labels.shape)}")
        pairs = [(features, self._predictions, "features"), (labels, self._targets, "labels")]
        for new, kept, what in pairs:
            if kept and kept[-1].dtype != new.dtype:
                raise ValueError(
                    f"Incoherent types between input {what} and stored {what}: "
                    f"{kept[-1].dtype} vs {new.dtype}"
                )
        super().update((features, labels))

    def _score(self, features: torch.Tensor, labels: torch.Tensor) -> float:
        n = labels.numel()
        if not 2 <= labels.unique().numel() < n:
            return float("nan")  # scikit-learn would raise: Ignite returns nan instead
        score_fn = getattr(importlib.import_module("sklearn.metrics"), self._sklearn_name)
        # EpochMetric keeps (N, 1) as (N,); scikit-learn wants the one feature as a column
        x = features.reshape(n, -1).cpu().numpy()
        return score_fn(x, labels.cpu().numpy(), **self._sklearn_kwargs())
