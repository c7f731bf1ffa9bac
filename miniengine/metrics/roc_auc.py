"""``ROC_AUC`` and ``RocCurve``: scikit-learn's ROC on all predictions of the period.

scikit-learn is not a dependency of miniengine (nor of Ignite): install it to use these.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from miniengine.metrics.epoch_metric import EpochMetric
from miniengine.metrics.metric import _identity

__all__ = ["ROC_AUC", "RocCurve", "roc_auc_compute_fn", "roc_auc_curve_compute_fn"]


def roc_auc_compute_fn(y_preds: torch.Tensor, y_targets: torch.Tensor) -> float:
    """``sklearn.metrics.roc_auc_score(y_targets, y_preds)`` on numpy copies.

    Args:
        y_preds: scores, shape (N,) or (N, T).
        y_targets: 0/1 labels, the same shape.

    Example:
        >>> y_preds, y_targets = torch.tensor([0.1, 0.4, 0.35, 0.8]), torch.tensor([0, 0, 1, 1])
        >>> float(roc_auc_compute_fn(y_preds, y_targets))
        0.75
    """
    from sklearn.metrics import roc_auc_score  # type: ignore[import-untyped, import-not-found, unused-ignore]

    return roc_auc_score(y_targets.cpu().numpy(), y_preds.cpu().numpy())


def roc_auc_curve_compute_fn(
    y_preds: torch.Tensor, y_targets: torch.Tensor
) -> tuple[Any, Any, Any]:
    """``sklearn.metrics.roc_curve(y_targets, y_preds)``: numpy ``(fpr, tpr, thresholds)``.

    Args:
        y_preds: scores, shape (N,).
        y_targets: 0/1 labels, shape (N,).

    Example:
        >>> fpr, tpr, _ = roc_auc_curve_compute_fn(torch.tensor([0.2, 0.9]), torch.tensor([0, 1]))
        >>> fpr.tolist(), tpr.tolist()
        ([0.0, 0.0, 1.0], [0.0, 1.0, 1.0])
    """
    from sklearn.metrics import roc_curve  # type: ignore[import-untyped, import-not-found, unused-ignore]

    return roc_curve(y_targets.cpu().numpy(), y_preds.cpu().numpy())


class _SklearnEpochMetric(EpochMetric):
    """An ``EpochMetric`` computed by a scikit-learn function (``_compute_fn``), refused at
    construction when scikit-learn is not installed, as in Ignite."""

    _compute_fn: Callable[[torch.Tensor, torch.Tensor], Any]
    _missing = "This contrib module requires scikit-learn to be installed."

    def __init__(
        self,
        output_transform: Callable = _identity,
        check_compute_fn: bool = False,
        device: str | torch.device = "cpu",
        skip_unrolling: bool = False,
    ) -> None:
        try:
            import sklearn.metrics  # type: ignore[import-untyped, import-not-found, unused-ignore]  # noqa: F401
        except ImportError:
            raise ModuleNotFoundError(self._missing) from None
        super().__init__(
            self._compute_fn,
            output_transform=output_transform,
            check_compute_fn=check_compute_fn,
            device=device,
            skip_unrolling=skip_unrolling,
        )


class ROC_AUC(_SklearnEpochMetric):  # noqa: N801 - Ignite's name
    """Area under the ROC curve of all scores and 0/1 labels of the period (scikit-learn's).

    An ``EpochMetric``: ``y_pred`` (scores or probabilities) and ``y`` of shape (N,) or
    (N, T) are kept until ``compute``, then ``sklearn.metrics.roc_auc_score`` gets them.
    Raises ``ModuleNotFoundError`` when scikit-learn is not installed, as Ignite does.

    Args:
        output_transform: maps the output to ``(y_pred, y)``.
        check_compute_fn: try ``roc_auc_score`` on the first batch and warn if it fails.
        device: where the kept tensors live.
        skip_unrolling: see ``Metric``.

    Example:
        >>> roc_auc = ROC_AUC()
        >>> roc_auc.update((torch.tensor([0.1, 0.4]), torch.tensor([0, 0])))
        >>> roc_auc.update((torch.tensor([0.35, 0.8]), torch.tensor([1, 1])))
        >>> float(roc_auc.compute())
        0.75
    """

    _compute_fn = staticmethod(roc_auc_compute_fn)


class RocCurve(_SklearnEpochMetric):
    """The ROC curve of all scores and 0/1 labels of the period: ``(fpr, tpr, thresholds)``.

    ``sklearn.metrics.roc_curve`` on the kept (N,) tensors; its arrays come back as float64
    tensors (float32 on MPS) on ``device``. Raises ``ModuleNotFoundError`` when scikit-learn is
    not installed, as Ignite does.

    Args:
        output_transform: maps the output to ``(y_pred, y)``.
        check_compute_fn: try ``roc_curve`` on the first batch and warn if it fails.
        device: where the kept tensors and the results live.
        skip_unrolling: see ``Metric``.

    Example:
        >>> roc = RocCurve()
        >>> roc.update((torch.tensor([0.2, 0.9]), torch.tensor([0, 1])))
        >>> fpr, tpr, thresholds = roc.compute()
        >>> fpr, tpr
        (tensor([0., 0., 1.], dtype=torch.float64), tensor([0., 1., 1.], dtype=torch.float64))
    """

    _compute_fn = staticmethod(roc_auc_curve_compute_fn)

    def compute(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(fpr, tpr, thresholds)`` of everything kept (on every rank's data)."""
        fpr, tpr, thresholds = super().compute()
        return _as_tensors(self, fpr, tpr, thresholds)


def _as_tensors(
    metric: EpochMetric, *arrays: Any
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    a, b, c = (
        torch.tensor(x.copy(), dtype=metric._double_dtype, device=metric._device) for x in arrays
    )
    return a, b, c
