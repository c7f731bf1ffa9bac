"""``GeometricMeanRelativeAbsoluteError``: the geometric mean of errors relative to ``mean(y)``."""

from __future__ import annotations

import torch

from miniengine.exceptions import NotComputableError
from miniengine.metrics.regression._base import _BaseRegression, _gathered

__all__ = ["GeometricMeanRelativeAbsoluteError"]


class GeometricMeanRelativeAbsoluteError(_BaseRegression):
    """``exp(mean(log(|y - y_pred| / |y - mean(y)|)))`` over all samples of the period.

    ``y_pred`` and ``y`` have shape (N,) or (N, 1) and a floating dtype. ``mean(y)`` is over the
    whole period, so every sample is kept (on ``device``) until ``compute``.

    Args:
        output_transform: maps the output to ``(y_pred, y)``.
        device: where the kept samples live.
        skip_unrolling: see ``Metric``.

    Example:
        >>> m = GeometricMeanRelativeAbsoluteError()
        >>> m.update((torch.tensor([1.0, 3.0]), torch.tensor([0.0, 4.0])))  # mean(y) = 2
        >>> round(m.compute(), 6)  # sqrt((1 / 2) * (1 / 2))
        0.5
    """

    _state_dict_all_req_keys = ("_predictions", "_targets")

    def reset(self) -> None:
        """Forget the samples kept."""
        self._predictions: list[torch.Tensor] = []
        self._targets: list[torch.Tensor] = []

    def _update(self, y_pred: torch.Tensor, y: torch.Tensor) -> None:
        self._predictions.append(y_pred.to(self._device, copy=True))
        self._targets.append(y.to(self._device, copy=True))

    def compute(self) -> float:
        """The geometric mean relative absolute error of the samples kept (on every rank)."""
        if not self._predictions:
            raise NotComputableError(
                "GeometricMeanRelativeAbsoluteError must have at least one example before it "
                "can be computed."
            )
        y_pred = _gathered(self._predictions, self._device)
        y = _gathered(self._targets, self._device)
        relative = (y - y_pred).abs() / (y - y.mean()).abs()
        return torch.exp(relative.log().mean()).item()
