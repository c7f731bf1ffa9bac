"""``MaximumAbsoluteError``: the largest ``|y - y_pred|`` seen."""

from __future__ import annotations

import torch

from miniengine.exceptions import NotComputableError
from miniengine.metrics.regression._base import _BaseRegression

__all__ = ["MaximumAbsoluteError"]


class MaximumAbsoluteError(_BaseRegression):
    """The maximum over samples of ``|y - y_pred|``, a Python float.

    ``y_pred`` and ``y`` have shape (N,) or (N, 1) and a floating dtype. In a distributed run
    ``compute`` takes the maximum over ranks.

    Args:
        output_transform: maps the output to ``(y_pred, y)``.
        device: kept for Ignite's signature (the maximum is a Python float).
        skip_unrolling: see ``Metric``.

    Example:
        >>> m = MaximumAbsoluteError()
        >>> m.update((torch.tensor([1.0, 2.0]), torch.tensor([3.0, 2.5])))
        >>> m.update((torch.tensor([0.0]), torch.tensor([1.0])))
        >>> m.compute()
        2.0
    """

    _accumulators = ("_max_of_absolute_errors:MAX",)
    _state_dict_all_req_keys = ("_max_of_absolute_errors",)

    def reset(self) -> None:
        """Forget the errors seen."""
        self._max_of_absolute_errors: float = -1  # below any error: "nothing seen yet"

    def _update(self, y_pred: torch.Tensor, y: torch.Tensor) -> None:
        batch_max = (y_pred - y).abs().max().item()
        self._max_of_absolute_errors = max(self._max_of_absolute_errors, batch_max)

    def compute(self) -> float:
        """The largest absolute error seen."""
        if self._max_of_absolute_errors < 0:
            raise NotComputableError(
                "MaximumAbsoluteError must have at least one example before it can be computed."
            )
        return self._max_of_absolute_errors
