"""``Loss``: the average of a loss function over all examples seen."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from miniengine.metrics.metric import Metric, _identity, _need_examples

__all__ = ["Loss"]


class Loss(Metric):
    """Average of ``loss_fn(y_pred, y)`` over examples, each batch weighted by its size.

    ``loss_fn`` must return the batch's mean loss (a 0-d tensor); it runs without autograd.
    A batch of size 0 is skipped (a mean over no examples would be NaN, and stay in the sum).

    Args:
        loss_fn: called as ``loss_fn(y_pred, y, **kwargs)``.
        output_transform: maps the output to ``(y_pred, y)`` or ``(y_pred, y, kwargs)``; a dict
            output needs the keys "y_pred", "y" and "criterion_kwargs".
        batch_size: called on ``y`` to count its examples.
        device: where the sum lives.
        skip_unrolling: see ``Metric``.

    Example:
        >>> loss = Loss(torch.nn.functional.mse_loss)
        >>> loss.update((torch.tensor([1.0, 3.0]), torch.tensor([0.0, 0.0])))  # mean 5, 2 examples
        >>> loss.update((torch.tensor([2.0]), torch.tensor([0.0])))  # mean 4, 1 example
        >>> round(loss.compute(), 4)
        4.6667
    """

    required_output_keys = ("y_pred", "y", "criterion_kwargs")
    _accumulators = _state_dict_all_req_keys = ("_sum", "_num_examples")

    def __init__(
        self,
        loss_fn: Callable,
        output_transform: Callable = _identity,
        batch_size: Callable = len,
        device: str | torch.device = "cpu",
        skip_unrolling: bool = False,
    ) -> None:
        super().__init__(output_transform, device=device, skip_unrolling=skip_unrolling)
        self._loss_fn = loss_fn
        self._batch_size = batch_size

    def reset(self) -> None:
        """Forget the losses seen."""
        self._sum = torch.tensor(0.0, device=self._device)
        self._num_examples = 0

    def update(self, output: Sequence[Any]) -> None:
        """Add one batch's loss.

        Args:
            output: ``(y_pred, y)`` or ``(y_pred, y, kwargs)``.
        """
        if len(output) == 2:
            (y_pred, y), kwargs = output, {}
        else:
            y_pred, y, kwargs = output
        n = self._batch_size(y)
        if n == 0:
            return
        with torch.no_grad():
            average_loss = self._loss_fn(y_pred, y, **kwargs).detach()
        if average_loss.ndim != 0:
            raise ValueError("loss_fn did not return the average loss.")
        self._sum += average_loss.to(self._device) * n
        self._num_examples += n

    def compute(self) -> float:
        """The mean loss per example."""
        _need_examples(self._num_examples, "Loss")
        return self._sum.item() / self._num_examples
