"""``MatthewsCorrCoef``: scikit-learn's Matthews correlation coefficient over the period.

scikit-learn is not a dependency of miniengine (nor of Ignite): install it to use this.
"""

from __future__ import annotations

import torch

from miniengine.metrics.roc_auc import _SklearnEpochMetric

__all__ = ["MatthewsCorrCoef", "matthews_corrcoef_compute_fn"]


def matthews_corrcoef_compute_fn(y_preds: torch.Tensor, y_targets: torch.Tensor) -> float:
    """``sklearn.metrics.matthews_corrcoef(y_targets, y_preds)`` on numpy copies of the labels.

    A (N, C) tensor holds one score (or one-hot entry) per class: its argmax is the label.
    Labels (N,) with (N, C) targets are refused: the targets' classes would be guessed.

    Args:
        y_preds: predicted labels (N,) or class scores (N, C).
        y_targets: true labels (N,) or one-hot targets (N, C).

    Example:
        >>> y_preds = torch.tensor([[0.9, 0.1], [0.3, 0.7], [0.2, 0.8], [0.6, 0.4]])
        >>> round(float(matthews_corrcoef_compute_fn(y_preds, torch.tensor([0, 1, 1, 1]))), 4)
        0.5774
    """
    if y_preds.ndim == 1 and y_targets.ndim == 2:
        raise ValueError(
            "Incoherent types between input y_pred and stored predictions: "
            "y_pred is 1D while y_target is 2D"
        )
    if y_preds.ndim == 2:
        y_preds = y_preds.argmax(dim=1)
    if y_targets.ndim == 2:
        y_targets = y_targets.argmax(dim=1)
    from sklearn.metrics import matthews_corrcoef  # type: ignore[import-untyped, import-not-found, unused-ignore]

    return matthews_corrcoef(y_targets.cpu().numpy(), y_preds.cpu().numpy())


class MatthewsCorrCoef(_SklearnEpochMetric):
    """Matthews correlation coefficient of all labels of the period (scikit-learn's).

    For two classes, ``(TP TN - FP FN) / sqrt((TP + FP) (TP + FN) (TN + FP) (TN + FN))``; for
    more, its multiclass generalisation. +1 is a perfect prediction, 0 no better than chance,
    -1 the inverse. An ``EpochMetric``: ``y_pred`` and ``y`` of shape (N,) (labels) or (N, C)
    are kept until ``compute``, where a (N, C) tensor becomes its argmax over classes (see
    ``matthews_corrcoef_compute_fn``). Raises ``ModuleNotFoundError`` when scikit-learn is not
    installed, as Ignite does.

    Args:
        output_transform: maps the output to ``(y_pred, y)``.
        check_compute_fn: try the coefficient on the first batch and warn if it fails.
        device: where the kept tensors live.
        skip_unrolling: see ``Metric``.

    Example:
        >>> mcc = MatthewsCorrCoef()
        >>> mcc.update((torch.tensor([1, 1, 1, 0]), torch.tensor([1, 0, 1, 1])))
        >>> round(float(mcc.compute()), 4)  # TP 2, TN 0, FP 1, FN 1: -1 / sqrt(3 * 3 * 1 * 1)
        -0.3333
    """

    _compute_fn = staticmethod(matthews_corrcoef_compute_fn)
    _missing = "This metric module requires scikit-learn to be installed."
