"""``EpochMetric``: keep every prediction and target of the period, then call a function on all."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

import torch

from miniengine import distributed as idist
from miniengine.exceptions import NotComputableError
from miniengine.metrics.metric import Metric, _identity

__all__ = ["EpochMetric", "EpochMetricWarning", "NotComputableError"]


class EpochMetricWarning(UserWarning):
    """Warns that ``compute_fn`` failed on the first batch (``check_compute_fn=True``).

    Example:
        >>> issubclass(EpochMetricWarning, UserWarning)
        True
    """


class EpochMetric(Metric):
    """``compute_fn(all_predictions, all_targets)``, for metrics that need the whole period at once.

    Predictions and targets of shape (N,) or (N, T) are kept (copied to ``device``); a (N, 1)
    tensor is kept as (N,). In a distributed run each process gathers every rank's data and
    calls ``compute_fn`` on it (Ignite calls it on rank 0 and broadcasts the result).

    Args:
        compute_fn: called as ``compute_fn(predictions, targets)`` with the concatenated tensors.
        output_transform: maps the output to ``(y_pred, y)``.
        check_compute_fn: call ``compute_fn`` on the first batch, and warn
            (``EpochMetricWarning``) if it raises.
        device: where the kept tensors live.
        skip_unrolling: see ``Metric``.

    Example:
        >>> def mse(y_pred, y):
        ...     return ((y_pred - y) ** 2).mean().item()
        >>> m = EpochMetric(mse)
        >>> m.update((torch.tensor([1.0, 2.0]), torch.tensor([1.0, 0.0])))
        >>> m.update((torch.tensor([3.0]), torch.tensor([1.0])))
        >>> round(m.compute(), 6)  # (0 + 4 + 4) / 3
        2.666667
    """

    _state_dict_all_req_keys = ("_predictions", "_targets")

    def __init__(
        self,
        compute_fn: Callable[[torch.Tensor, torch.Tensor], Any],
        output_transform: Callable = _identity,
        check_compute_fn: bool = True,
        device: str | torch.device = "cpu",
        skip_unrolling: bool = False,
    ) -> None:
        if not callable(compute_fn):
            raise TypeError(f"Argument compute_fn should be callable, got {type(compute_fn)}")
        self.compute_fn = compute_fn
        self._check_compute_fn = check_compute_fn
        super().__init__(output_transform, device=device, skip_unrolling=skip_unrolling)

    def reset(self) -> None:
        """Forget the predictions and targets kept."""
        self._predictions: list[torch.Tensor] = []
        self._targets: list[torch.Tensor] = []

    def update(self, output: Sequence[torch.Tensor]) -> None:
        """Keep one batch's predictions and targets.

        Args:
            output: ``(y_pred, y)``, each of shape (N,) or (N, T).
        """
        y_pred = self._kept(output[0], "Predictions", self._predictions, "y_pred")
        y = self._kept(output[1], "Targets", self._targets, "y")
        self._predictions.append(y_pred)
        self._targets.append(y)
        if len(self._predictions) == 1 and self._check_compute_fn:
            try:
                self.compute_fn(y_pred, y)
            except Exception as e:
                warnings.warn(
                    f"Probably, there can be a problem with `compute_fn`:\n {e}.",
                    EpochMetricWarning,
                    stacklevel=2,
                )

    def _kept(
        self, t: torch.Tensor, what: str, stored: list[torch.Tensor], arg: str
    ) -> torch.Tensor:
        """``t`` checked, (N, 1) squeezed to (N,), copied to ``device``."""
        if t.ndim not in (1, 2):
            raise ValueError(
                f"{what} should be of shape (batch_size, n_targets) or (batch_size, ), "
                f"got {tuple(t.shape)}"
            )
        if stored and stored[-1].dtype != t.dtype:
            raise ValueError(
                f"Incoherent types between input {arg} and stored {what.lower()}: "
                f"{stored[-1].dtype} vs {t.dtype}"
            )
        t = t.detach().squeeze(-1) if t.ndim == 2 and t.shape[1] == 1 else t.detach()
        return t.to(self._device, copy=True)

    def compute(self) -> Any:
        """``compute_fn`` on everything kept since the last reset (on every rank's data)."""
        if not self._predictions:
            raise NotComputableError(
                f"{type(self).__name__} must have at least one example before it can be computed."
            )
        y_pred, y = torch.cat(self._predictions), torch.cat(self._targets)
        if idist.get_world_size() > 1:  # shards may differ in size: gathered as objects
            parts = idist.all_gather((y_pred.cpu(), y.cpu()))
            y_pred = torch.cat([p for p, _ in parts]).to(self._device)
            y = torch.cat([t for _, t in parts]).to(self._device)
        return self.compute_fn(y_pred, y)
