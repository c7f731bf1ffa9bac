"""``AveragePrecision``: scikit-learn's average precision on all predictions of the period.

scikit-learn is not a dependency of miniengine (nor of Ignite): install it to use this.
"""

from __future__ import annotations

import torch

from miniengine.metrics.roc_auc import _SklearnEpochMetric

__all__ = ["AveragePrecision", "average_precision_compute_fn"]


def average_precision_compute_fn(y_preds: torch.Tensor, y_targets: torch.Tensor) -> float:
    """``sklearn.metrics.average_precision_score(y_targets, y_preds)`` on numpy copies.

    Args:
        y_preds: scores, shape (N,) or (N, T).
        y_targets: 0/1 labels, the same shape.

    Example:
        >>> y_preds = torch.tensor([0.1, 0.4, 0.35, 0.8])
        >>> round(float(average_precision_compute_fn(y_preds, torch.tensor([0, 0, 1, 1]))), 4)
        0.8333
    """
    from sklearn.metrics import average_precision_score  # type: ignore[import-untyped, import-not-found, unused-ignore]

    return average_precision_score(y_targets.cpu().numpy(), y_preds.cpu().numpy())


class AveragePrecision(_SklearnEpochMetric):
    """Average precision of all scores and 0/1 labels of the period (scikit-learn's).

    An ``EpochMetric``: ``y_pred`` (scores) and ``y`` of shape (N,) or (N, T) are kept until
    ``compute``, then ``sklearn.metrics.average_precision_score`` gets them. Raises
    ``ModuleNotFoundError`` when scikit-learn is not installed, as Ignite does.

    Args:
        output_transform: maps the output to ``(y_pred, y)``.
        check_compute_fn: try the score on the first batch and warn if it fails.
        device: where the kept tensors live.
        skip_unrolling: see ``Metric``.

    Example:
        >>> ap = AveragePrecision()
        >>> ap.update((torch.tensor([0.1, 0.4, 0.35, 0.8]), torch.tensor([0, 0, 1, 1])))
        >>> round(float(ap.compute()), 4)  # (1 + 2 / 3) / 2
        0.8333
    """

    _compute_fn = staticmethod(average_precision_compute_fn)
