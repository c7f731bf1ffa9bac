"""``CohenKappa``: agreement between predicted and true labels beyond chance.

Ignite 0.5.5 computes it in torch (earlier versions called scikit-learn); so does miniengine.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal

import torch

from miniengine.exceptions import NotComputableError
from miniengine.metrics.confusion_matrix import ConfusionMatrix
from miniengine.metrics.epoch_metric import EpochMetric
from miniengine.metrics.metric import Metric, _identity

__all__ = ["CohenKappa"]

Weights = Literal["linear", "quadratic"] | None


def _kappa(conf: torch.Tensor, weights: Weights) -> float:
    """Kappa of a (C, C) confusion matrix (rows: true labels), as ``(p_o - p_e) / (1 - p_e)``."""
    n = conf.sum()
    if n == 0:
        raise NotComputableError(
            "CohenKappa cannot be computed on an empty confusion matrix (n == 0)."
        )
    rows, cols = conf.sum(dim=1), conf.sum(dim=0)
    if weights is None:
        p_o, p_e = conf.trace() / n, (rows * cols).sum() / (n * n)
    else:  # weighted: 1 - (weighted disagreement), weights scaled to [0, 1]
        idx = torch.arange(conf.shape[0], device=conf.device)
        w = (idx[None, :] - idx[:, None]).abs().to(conf.dtype)
        w = w if weights == "linear" else w**2
        w = w / w.max()
        expected = rows[:, None] * cols[None, :] / n  # the counts of independent labels
        p_o, p_e = 1 - (w * conf).sum() / n, 1 - (w * expected).sum() / n
    return ((p_o - p_e) / (1 - p_e).clamp(min=1e-9)).item()


def _squeezed(output: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """``(y_pred, y)`` with (N, 1) made (N,); anything else with a 2nd dimension is refused."""
    y_pred, y = (
        t.detach().squeeze(-1) if t.ndim == 2 and t.shape[1] == 1 else t.detach()
        for t in output[:2]
    )
    return y_pred, y


def _check_labels(y_pred: torch.Tensor, y: torch.Tensor) -> None:
    if y_pred.ndim > 1 or y.ndim > 1:
        raise ValueError("multilabel-indicator is not supported")


class _CohenKappaEpochMetric(EpochMetric):
    """Ignite's name for the labels kept, which its "must have at least one example" shows."""


class CohenKappa(Metric):
    """Cohen's kappa of integer labels ``y_pred`` and ``y``, shape (N,) or (N, 1).

    Without ``num_classes`` every label of the period is kept (an ``EpochMetric``) and the
    classes are ``0 .. max label``; with it, only a confusion matrix is kept. ``weights``
    ("linear" or "quadratic") counts a disagreement by how far apart the labels are. The
    matrix is float64 (float32 on MPS), as in Ignite.

    Args:
        output_transform: maps the output to ``(y_pred, y)``.
        weights: None, "linear" or "quadratic".
        check_compute_fn: without ``num_classes``, try the kappa on the first batch and warn
            if it fails.
        device: where the labels or the matrix live.
        skip_unrolling: see ``Metric``.
        num_classes: the number of classes, to keep a confusion matrix instead of the labels.

    Example:
        >>> kappa = CohenKappa()
        >>> kappa.update((torch.tensor([0, 1, 1, 0]), torch.tensor([0, 1, 0, 0])))
        >>> kappa.compute()  # p_o = 3 / 4, p_e = (3 * 2 + 1 * 2) / 16
        0.5
    """

    _state_dict_all_req_keys = ("_impl",)

    def __init__(
        self,
        output_transform: Callable = _identity,
        weights: Weights = None,
        check_compute_fn: bool = False,
        device: str | torch.device = "cpu",
        skip_unrolling: bool = False,
        num_classes: int | None = None,
    ) -> None:
        if weights not in (None, "linear", "quadratic"):
            raise ValueError("Kappa Weighting type must be None or linear or quadratic.")
        self.weights: Weights = weights
        self._impl: Metric
        if num_classes is None:
            self._impl = _CohenKappaEpochMetric(
                self._kappa_of_labels,
                check_compute_fn=check_compute_fn,
                device=device,
                skip_unrolling=skip_unrolling,
            )
        else:
            self._impl = ConfusionMatrix(num_classes, device=device, skip_unrolling=skip_unrolling)
        super().__init__(output_transform, device=device, skip_unrolling=skip_unrolling)

    def _kappa_of_labels(self, y_pred: torch.Tensor, y: torch.Tensor) -> float:
        _check_labels(y_pred, y)
        c = int(max(y_pred.max().item(), y.max().item())) + 1
        counts = torch.bincount(c * y.long() + y_pred.long(), minlength=c * c)
        return _kappa(counts.reshape(c, c).to(self._double_dtype), self.weights)

    def reset(self) -> None:
        """Forget the labels seen."""
        self._impl.reset()

    def update(self, output: Sequence[torch.Tensor]) -> None:
        """Add one batch's labels.

        Args:
            output: ``(y_pred, y)``, integer labels of shape (N,) or (N, 1).
        """
        y_pred, y = _squeezed(output)
        if isinstance(self._impl, ConfusionMatrix):
            _check_labels(y_pred, y)
            one_hot = torch.nn.functional.one_hot(y_pred.long(), self._impl.num_classes)
            self._impl.update((one_hot.float().to(self._device), y.long().to(self._device)))
        else:
            self._impl.update((y_pred, y))

    def compute(self) -> float:
        """The kappa of the labels seen (of every rank's)."""
        if isinstance(self._impl, ConfusionMatrix):
            return _kappa(self._impl.compute().to(self._double_dtype), self.weights)
        return self._impl.compute()
