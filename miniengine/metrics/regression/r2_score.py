"""``R2Score``: the coefficient of determination."""

from __future__ import annotations

import torch

from miniengine.metrics.metric import _need_examples
from miniengine.metrics.regression._base import _BaseRegression

__all__ = ["R2Score"]


class R2Score(_BaseRegression):
    """``1 - sum((y - y_pred)^2) / sum((y - mean(y))^2)``, from running sums.

    ``y_pred`` and ``y`` have shape (N,) or (N, 1) and a floating dtype. The denominator is
    computed as ``sum(y^2) - sum(y)^2 / N`` from float32 sums, as in Ignite: constant targets
    give a division by zero (``ZeroDivisionError``) or a huge value from rounding.

    Args:
        output_transform: maps the output to ``(y_pred, y)``.
        device: where the sums live.
        skip_unrolling: see ``Metric``.

    Example:
        >>> m = R2Score()
        >>> m.update((torch.tensor([1.0, 2.0, 4.0]), torch.tensor([1.0, 3.0, 5.0])))
        >>> round(m.compute(), 6)  # 1 - 2 / 8
        0.75
    """

    _accumulators = _state_dict_all_req_keys = (
        "_num_examples",
        "_sum_of_errors",
        "_y_sq_sum",
        "_y_sum",
    )

    def reset(self) -> None:
        """Forget the samples seen."""
        self._num_examples = 0
        self._sum_of_errors = torch.tensor(0.0, device=self._device)
        self._y_sq_sum = torch.tensor(0.0, device=self._device)
        self._y_sum = torch.tensor(0.0, device=self._device)

    def _update(self, y_pred: torch.Tensor, y: torch.Tensor) -> None:
        self._num_examples += y.shape[0]
        self._sum_of_errors += ((y_pred - y) ** 2).sum().to(self._device)
        self._y_sum += y.sum().to(self._device)
        self._y_sq_sum += (y**2).sum().to(self._device)

    def compute(self) -> float:
        """The R^2 of the samples seen."""
        _need_examples(self._num_examples, "R2Score")
        total = self._y_sq_sum.item() - self._y_sum.item() ** 2 / self._num_examples
        return 1 - self._sum_of_errors.item() / total
