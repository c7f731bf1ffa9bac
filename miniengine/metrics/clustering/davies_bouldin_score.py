"""``DaviesBouldinScore``: scikit-learn's Davies-Bouldin index of all samples of the period.

scikit-learn is not a dependency of miniengine (nor of Ignite): install it to use this metric.
"""

from __future__ import annotations

from miniengine.metrics.clustering._base import _ClusteringScore

__all__ = ["DaviesBouldinScore"]


class DaviesBouldinScore(_ClusteringScore):
    """Davies-Bouldin index of the features and cluster labels of the period.

    Each cluster's spread ``s`` is the mean distance of its members to its centroid; the index
    is the mean, over clusters ``i``, of ``max over j != i of (s_i + s_j) / d(c_i, c_j)``. It is
    at least 0, and lower for tighter, better separated clusters. The score is
    ``sklearn.metrics.davies_bouldin_score(features, labels)`` on everything kept since the
    last reset, or nan when there are fewer than 2 clusters or as many clusters as samples.
    Raises ``ModuleNotFoundError`` without scikit-learn, as Ignite does.

    Args:
        output_transform: maps the output to ``(features, labels)``; a dict output needs the
            keys ``"features"`` and ``"labels"``. Features are (N, D), labels (N,).
        check_compute_fn: score the first batch at once and warn if scikit-learn fails on it.
        device: where the kept tensors live.
        skip_unrolling: see ``Metric``.

    Example:
        >>> import torch
        >>> m = DaviesBouldinScore()
        >>> m.update((torch.tensor([[0.0, 0.0], [2.0, 0.0]]), torch.tensor([0, 0])))
        >>> m.update((torch.tensor([[6.0, 0.0], [8.0, 0.0]]), torch.tensor([1, 1])))
        >>> round(m.compute(), 4)  # spreads 1 and 1, centroids 6 apart: (1 + 1) / 6
        0.3333
    """

    _sklearn_name = "davies_bouldin_score"
