"""A trainer for truncated backpropagation through time: Ignite's ``contrib.engines.tbptt``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from miniengine.engine import Engine, EventEnum
from miniengine.supervised import _prepare_batch
from miniengine.utils import apply_to_tensor

__all__ = ["Tbptt_Events", "create_supervised_tbptt_trainer"]


class Tbptt_Events(EventEnum):  # noqa: N801 (Ignite's name)
    """Fired around each time chunk inside one iteration of the tbptt trainer.

    Example:
        >>> Tbptt_Events.TIME_ITERATION_STARTED.value
        'time_iteration_started'
    """

    TIME_ITERATION_STARTED = "time_iteration_started"
    TIME_ITERATION_COMPLETED = "time_iteration_completed"


def create_supervised_tbptt_trainer(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    loss_fn: torch.nn.Module | Callable[[Any, Any], torch.Tensor],
    tbtt_step: int,
    dim: int = 0,
    device: str | torch.device | None = None,
    non_blocking: bool = False,
    prepare_batch: Callable[..., tuple[Any, Any]] = _prepare_batch,
) -> Engine:
    """Make a trainer that steps the optimizer every ``tbtt_step`` time steps of a sequence.

    Each batch ``(x, y)`` is split along ``dim`` into chunks of ``tbtt_step`` (the last may be
    shorter). For each chunk: ``TIME_ITERATION_STARTED`` fires, ``model(x_t)`` (first chunk)
    or ``model(x_t, hidden)`` returns ``(y_pred, hidden)``, the loss is backpropagated through
    this chunk only (``hidden`` is detached from the previous ones), the optimizer steps,
    ``state.output`` becomes the chunk's loss, and ``TIME_ITERATION_COMPLETED`` fires. The
    iteration's output is the mean of the chunks' losses.

    Args:
        model: returns ``(y_pred, hidden)``; takes ``(x)`` or ``(x, hidden)``.
        optimizer: the optimizer.
        loss_fn: ``loss_fn(y_pred, y)``.
        tbtt_step: time steps per chunk.
        dim: the time dimension of ``x`` and ``y``.
        device: where ``prepare_batch`` moves each chunk (the model is not moved).
        non_blocking: asynchronous copies to the device.
        prepare_batch: ``(chunk, device, non_blocking) -> (x_t, y_t)``.

    Returns:
        The trainer, with ``Tbptt_Events`` registered.

    Example:
        >>> import torch
        >>> class Echo(torch.nn.Module):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.rnn = torch.nn.RNN(1, 1)
        ...     def forward(self, x, hidden=None):
        ...         return self.rnn(x, hidden)
        >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
        <torch._C.Generator object at ...>
        >>> model = Echo()
        >>> trainer = create_supervised_tbptt_trainer(
        ...     model, torch.optim.SGD(model.parameters(), lr=0.1), torch.nn.MSELoss(), 2)
        >>> chunks = []
        >>> _ = trainer.add_event_handler(
        ...     Tbptt_Events.TIME_ITERATION_COMPLETED, lambda e: chunks.append(e.state.output))
        >>> x = torch.zeros(5, 1, 1)  # 5 time steps, batch of 1, 1 feature
        >>> _ = trainer.run([(x, x)])
        >>> len(chunks)  # chunks of 2, 2 and 1 time steps
        3
    """

    def update(engine: Engine, batch: Sequence[torch.Tensor]) -> float:
        losses = []
        hidden = None
        x, y = batch
        for chunk in zip(x.split(tbtt_step, dim=dim), y.split(tbtt_step, dim=dim), strict=True):
            x_t, y_t = prepare_batch(chunk, device=device, non_blocking=non_blocking)
            engine.fire_event(Tbptt_Events.TIME_ITERATION_STARTED)
            model.train()
            optimizer.zero_grad()
            if hidden is None:
                y_pred_t, hidden = model(x_t)
            else:
                # cut the graph: this chunk's backward stops at its start
                hidden = apply_to_tensor(hidden, torch.Tensor.detach)
                y_pred_t, hidden = model(x_t, hidden)
            loss_t = loss_fn(y_pred_t, y_t)
            loss_t.backward()
            optimizer.step()
            engine.state.output = loss_t.item()
            losses.append(engine.state.output)
            engine.fire_event(Tbptt_Events.TIME_ITERATION_COMPLETED)
        return sum(losses) / len(losses)

    engine = Engine(update)
    engine.register_events(*Tbptt_Events)
    return engine
