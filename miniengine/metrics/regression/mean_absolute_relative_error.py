"""``MeanAbsoluteRelativeError``: the mean of ``|y - y_pred| / |y|``."""

from __future__ import annotations

import torch

from miniengine.exceptions import NotComputableError
from miniengine.metrics.regression._base import _BaseRegression

__all__ = ["MeanAbsoluteRelativeError"]


class MeanAbsoluteRelativeError(_BaseRegression):
    """Mean over samples of ``|y - y_pred| / |y|`` (MAPE without the factor 100).

    ``y_pred`` and ``y`` have shape (N,) or (N, 1) and a floating dtype. A batch whose ``y``
    has a 0 raises ``NotComputableError`` in ``update``, as in Ignite. Summed in float32.

    Args:
        output_transform: maps the output to ``(y_pred, y)``.
        device: where the sum lives.
        skip_unrolling: see ``Metric``.

    Example:
        >>> m = MeanAbsoluteRelativeError()
        >>> m.update((torch.tensor([1.0, 5.0]), torch.tensor([2.0, 4.0])))
        >>> m.compute()  # (1 / 2 + 1 / 4) / 2
        0.375
    """

    # Ignite's names for this one's sums differ from the other regression metrics'
    _accumulators = _state_dict_all_req_keys = (
        "_sum_of_absolute_relative_errors",
        "_num_samples",
    )

    def reset(self) -> None:
        """Forget the errors seen."""
        self._sum_of_absolute_relative_errors = torch.tensor(0.0, device=self._device)
        self._num_samples = 0

    def _update(self, y_pred: torch.Tensor, y: torch.Tensor) -> None:
        if (y == 0).any():
            raise NotComputableError("The ground truth has 0.")
        errors = (y_pred - y).abs() / y.abs()
        self._sum_of_absolute_relative_errors += errors.sum().to(self._device)
        self._num_samples += y.shape[0]

    def compute(self) -> float:
        """The mean relative error per sample."""
        if self._num_samples == 0:
            raise NotComputableError(
                "MeanAbsoluteRelativeError must have at least one sample before it can be computed."
            )
        return self._sum_of_absolute_relative_errors.item() / self._num_samples
