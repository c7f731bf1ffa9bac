"""``PrecisionRecallCurve``: scikit-learn's precision-recall curve on the period's predictions.

scikit-learn is not a dependency of miniengine (nor of Ignite): install it to use this.
"""

from __future__ import annotations

from typing import Any

import torch

from miniengine.metrics.roc_auc import _as_tensors, _SklearnEpochMetric

__all__ = ["PrecisionRecallCurve", "precision_recall_curve_compute_fn"]


def precision_recall_curve_compute_fn(
    y_preds: torch.Tensor, y_targets: torch.Tensor
) -> tuple[Any, Any, Any]:
    """``sklearn.metrics.precision_recall_curve(y_targets, y_preds)``: numpy arrays.

    Args:
        y_preds: scores, shape (N,).
        y_targets: 0/1 labels, shape (N,).

    Example:
        >>> y_preds, y_targets = torch.tensor([0.2, 0.9]), torch.tensor([0, 1])
        >>> p, r, t = precision_recall_curve_compute_fn(y_preds, y_targets)
        >>> p.tolist(), r.tolist(), len(t)
        ([0.5, 1.0, 1.0], [1.0, 1.0, 0.0], 2)
    """
    from sklearn.metrics import precision_recall_curve  # type: ignore[import-untyped, import-not-found, unused-ignore]

    return precision_recall_curve(y_targets.cpu().numpy(), y_preds.cpu().numpy())


class PrecisionRecallCurve(_SklearnEpochMetric):
    """The precision-recall curve of the period: ``(precision, recall, thresholds)``.

    ``sklearn.metrics.precision_recall_curve`` on the kept (N,) tensors; its arrays come back
    as float64 tensors (float32 on MPS) on ``device``. Raises ``ModuleNotFoundError`` when
    scikit-learn is not installed, as Ignite does.

    Args:
        output_transform: maps the output to ``(y_pred, y)``.
        check_compute_fn: try the curve on the first batch and warn if it fails.
        device: where the kept tensors and the results live.
        skip_unrolling: see ``Metric``.

    Example:
        >>> pr = PrecisionRecallCurve()
        >>> pr.update((torch.tensor([0.2, 0.9]), torch.tensor([0, 1])))
        >>> precision, recall, thresholds = pr.compute()
        >>> precision.tolist(), recall.tolist()
        ([0.5, 1.0, 1.0], [1.0, 1.0, 0.0])
    """

    _compute_fn = staticmethod(precision_recall_curve_compute_fn)
    _missing = "This module requires scikit-learn to be installed."

    def compute(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(precision, recall, thresholds)`` of everything kept (on every rank's data)."""
        precision, recall, thresholds = super().compute()
        return _as_tensors(self, precision, recall, thresholds)
