"""Clustering metrics: how well the labels of a clustering separate the features.

Each batch is ``(features, labels)`` (or a dict with those keys): features (N, D) and one
integer cluster label per sample (N,). Everything of the period is kept, then scored by
scikit-learn, which is not a dependency of miniengine (nor of Ignite): these metrics import
without it but cannot be built until it is installed. Where a score is undefined (fewer than 2
clusters, or as many clusters as samples) it is nan.

Example:
    >>> import torch
    >>> from miniengine.engine import Engine
    >>> from miniengine.metrics.clustering import CalinskiHarabaszScore
    >>> engine = Engine(lambda engine, batch: batch)
    >>> CalinskiHarabaszScore().attach(engine, "ch")
    >>> x = torch.tensor([[0.0, 0.0], [2.0, 0.0], [6.0, 0.0], [8.0, 0.0]])
    >>> batch = {"features": x, "labels": torch.tensor([0, 0, 1, 1])}
    >>> engine.run([batch]).metrics["ch"]
    18.0
"""

from typing import Any

from miniengine._missing import missing_name
from miniengine.metrics.clustering.calinski_harabasz_score import CalinskiHarabaszScore
from miniengine.metrics.clustering.davies_bouldin_score import DaviesBouldinScore
from miniengine.metrics.clustering.silhouette_score import SilhouetteScore

__all__ = ["CalinskiHarabaszScore", "DaviesBouldinScore", "SilhouetteScore"]


def __getattr__(name: str) -> Any:  # any other name: a pointer to the coverage table
    raise missing_name(__name__, name)
