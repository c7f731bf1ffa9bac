"""``PearsonCorrelation``: the correlation coefficient of predictions and targets."""

from __future__ import annotations

from collections.abc import Callable

import torch

from miniengine.metrics.metric import _identity, _need_examples
from miniengine.metrics.regression._base import _BaseRegression

__all__ = ["PearsonCorrelation"]


class PearsonCorrelation(_BaseRegression):
    """``cov(y_pred, y) / max(std(y_pred) * std(y), eps)``, from running float32 sums.

    ``y_pred`` and ``y`` have shape (N,) or (N, 1) and a floating dtype. The variances are
    ``mean(x^2) - mean(x)^2``, clamped at 0 against rounding; ``eps`` keeps constant inputs
    from dividing by zero (they give 0.0).

    Args:
        eps: the smallest denominator.
        output_transform: maps the output to ``(y_pred, y)``.
        device: where the sums live.

    Example:
        >>> m = PearsonCorrelation()
        >>> m.update((torch.tensor([1.0, 2.0, 3.0]), torch.tensor([2.0, 4.0, 6.5])))
        >>> round(m.compute(), 4)
        0.9979
    """

    _accumulators = _state_dict_all_req_keys = (
        "_sum_of_y_preds",
        "_sum_of_ys",
        "_sum_of_y_pred_squares",
        "_sum_of_y_squares",
        "_sum_of_products",
        "_num_examples",
    )

    def __init__(
        self,
        eps: float = 1e-8,
        output_transform: Callable = _identity,
        device: str | torch.device = "cpu",
    ) -> None:
        super().__init__(output_transform, device=device)
        self.eps = eps

    def reset(self) -> None:
        """Forget the samples seen."""
        self._sum_of_y_preds = torch.tensor(0.0, device=self._device)
        self._sum_of_ys = torch.tensor(0.0, device=self._device)
        self._sum_of_y_pred_squares = torch.tensor(0.0, device=self._device)
        self._sum_of_y_squares = torch.tensor(0.0, device=self._device)
        self._sum_of_products = torch.tensor(0.0, device=self._device)
        self._num_examples = 0

    def _update(self, y_pred: torch.Tensor, y: torch.Tensor) -> None:
        self._sum_of_y_preds += y_pred.sum().to(self._device)
        self._sum_of_ys += y.sum().to(self._device)
        self._sum_of_y_pred_squares += y_pred.square().sum().to(self._device)
        self._sum_of_y_squares += y.square().sum().to(self._device)
        self._sum_of_products += (y_pred * y).sum().to(self._device)
        self._num_examples += y.shape[0]

    def compute(self) -> float:
        """The Pearson correlation of the samples seen."""
        n = self._num_examples
        _need_examples(n, "PearsonCorrelation")
        # the same float32 operations, in the same order, as Ignite: the same rounding
        cov = self._sum_of_products / n - self._sum_of_y_preds * self._sum_of_ys / (n * n)
        pred_mean, y_mean = self._sum_of_y_preds / n, self._sum_of_ys / n
        pred_var = (self._sum_of_y_pred_squares / n - pred_mean * pred_mean).clamp(min=0.0)
        y_var = (self._sum_of_y_squares / n - y_mean * y_mean).clamp(min=0.0)
        return (cov / (pred_var * y_var).sqrt().clamp(min=self.eps)).item()
