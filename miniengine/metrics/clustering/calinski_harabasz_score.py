"""``CalinskiHarabaszScore``: scikit-learn's Calinski-Harabasz index of the period's samples.

scikit-learn is not a dependency of miniengine (nor of Ignite): install it to use this metric.
"""

from __future__ import annotations

from miniengine.metrics.clustering._base import _ClusteringScore

__all__ = ["CalinskiHarabaszScore"]


class CalinskiHarabaszScore(_ClusteringScore):
    """Calinski-Harabasz index (variance ratio) of the features and cluster labels of the period.

    With N samples in k clusters, ``B`` the between-cluster dispersion (squared distances of
    the centroids to the overall mean, weighted by cluster size) and ``W`` the within-cluster
    dispersion (squared distances of the samples to their centroid), the index is
    ``(B / (k - 1)) / (W / (N - k))``: higher for denser, better separated clusters. The score
    is ``sklearn.metrics.calinski_harabasz_score(features, labels)`` on everything kept since
    the last reset, or nan when there are fewer than 2 clusters or as many clusters as samples.
    Raises ``ModuleNotFoundError`` without scikit-learn, as Ignite does.

    Args:
        output_transform: maps the output to ``(features, labels)``; a dict output needs the
            keys ``"features"`` and ``"labels"``. Features are (N, D), labels (N,).
        check_compute_fn: score the first batch at once and warn if scikit-learn fails on it.
        device: where the kept tensors live.
        skip_unrolling: see ``Metric``.

    Example:
        >>> import torch
        >>> m = CalinskiHarabaszScore()
        >>> m.update((torch.tensor([[0.0, 0.0], [2.0, 0.0]]), torch.tensor([0, 0])))
        >>> m.update((torch.tensor([[6.0, 0.0], [8.0, 0.0]]), torch.tensor([1, 1])))
        >>> m.compute()  # B = 2 * 3**2 + 2 * 3**2 = 36, W = 4: (36 / 1) / (4 / 2)
        18.0
    """

    _sklearn_name = "calinski_harabasz_score"
