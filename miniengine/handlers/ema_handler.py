"""EMAHandler: keep an exponential moving average (EMA) of a model's weights while it trains.

At each event it is attached to (``ITERATION_COMPLETED`` by default), every parameter of the
EMA model moves towards the online model's::

    ema = (1 - momentum) * ema + momentum * online      # ema.mul_(1 - m).add_(online, alpha=m)

with the same tensor operations as Ignite 0.5.5, so the EMA weights are Ignite's bit for bit.
The momentum in use is in ``engine.state.<name>`` (``ema_momentum`` by default); with
``momentum_warmup`` and ``warmup_iters`` it goes linearly from ``momentum_warmup`` to
``momentum`` over the first ``warmup_iters`` events.

Two things differ from Ignite 0.5.5 (docs/differences.md, "Ignite bugs that miniengine fixes"):
the warm-up writes ``engine.state.<name>``, the attribute the update reads (Ignite writes
``ema_momentum`` whatever the name, so a handler attached under another name never warms up);
and buffers are copied into the EMA model's own tensors (Ignite makes the EMA model's buffers
share the online model's memory, so loading a state dict into the EMA model overwrites the
online model's buffers).
"""

from __future__ import annotations

import warnings
from copy import deepcopy
from typing import Any

import torch
import torch.nn as nn

from miniengine.engine import Engine, Events
from miniengine.handlers.param_scheduler import BaseParamScheduler
from miniengine.handlers.state_param_scheduler import LambdaStateScheduler

__all__ = ["EMAHandler"]

_BUFFER_MODES = ("copy", "update", "ema_train")


class _WarmUp:
    """The momentum at each event of the warm-up: a straight line from ``start`` at event 1 to
    ``end`` at event ``steps``, held at ``end`` afterwards.

    Args:
        start: the momentum at the first event.
        steps: the event at which ``end`` is reached.
        end: the momentum after the warm-up.

    Example:
        >>> warmup = _WarmUp(start=0.5, steps=3, end=0.1)
        >>> [round(warmup(i), 6) for i in range(1, 5)]
        [0.5, 0.3, 0.1, 0.1]
    """

    def __init__(self, start: float, steps: int, end: float) -> None:
        self.start, self.steps, self.end = start, steps, end

    def __call__(self, event_index: int) -> float:
        # Written as Ignite's arithmetic, operation for operation: the momenta are then equal
        # to the last bit, and so are the EMA weights.
        line = self.start + (self.end - self.start) * (event_index - 1) / max(1, self.steps - 1)
        return sorted((self.start, line, self.end))[1]  # clamped between the two


class EMAHandler:
    r"""Keep ``ema_model``, an exponential moving average of ``model``'s weights.

    The EMA model starts as a deep copy of the model. At each event it is attached to, each of
    its parameters becomes ``(1 - momentum) * ema + momentum * online``, with the momentum
    read from ``engine.state.<name>``. Evaluate with ``ema_model``; train ``model``.

    Args:
        model: the online model. A ``DistributedDataParallel`` model is unwrapped (its
            ``module`` is averaged); an ``nn.DataParallel`` one is not (the EMA model is then
            an ``nn.DataParallel`` too).
        momentum: the update momentum after the warm-up, strictly between 0 and 1.
        momentum_warmup: the momentum at the first update. The warm-up happens only when both
            ``momentum_warmup`` and ``warmup_iters`` are given (as in Ignite).
        warmup_iters: the number of updates over which the momentum goes linearly from
            ``momentum_warmup`` to ``momentum``.
        handle_buffers: what happens to the buffers (BatchNorm's running statistics, ...) at
            each update: ``"copy"`` copies the online model's; ``"update"`` averages them like
            the parameters (integer and bool buffers, such as ``num_batches_tracked``, are
            copied); ``"ema_train"`` leaves them alone and puts
            the EMA model in train mode (so that it updates them itself when run).

    Attributes:
        ema_model: the averaged model: a deep copy of ``model`` whose parameters do not
            require grad, in eval mode (train mode with ``"ema_train"``).
        model: the online model (``model.module`` for a ``DistributedDataParallel``).
        momentum: the momentum after the warm-up.
        handle_buffers: as given.
        momentum_scheduler: with a warm-up, the ``LambdaStateScheduler`` that ``attach``
            created last (``None`` until then); without one the attribute does not exist, as
            in Ignite.

    Resuming: save ``model`` and ``ema_model`` with the trainer, load them into a new model and
    into ``handler.ema_model``, then ``attach``. Each ``attach`` starts the warm-up again; to
    continue it instead, save ``handler.momentum_scheduler.state_dict()`` and load it into the
    new ``handler.momentum_scheduler`` after ``attach``.

    Raises:
        ValueError: ``momentum`` not in (0, 1), ``model`` not an ``nn.Module``, or an unknown
            ``handle_buffers`` (messages start with Ignite's words).

    Example:
        >>> import torch
        >>> from miniengine.engine import Engine
        >>> model = torch.nn.Linear(2, 1, bias=False)
        >>> _ = torch.nn.init.ones_(model.weight)
        >>> ema = EMAHandler(model, momentum=0.5)
        >>> trainer = Engine(lambda engine, batch: model.weight.data.add_(1.0))
        >>> ema.attach(trainer)
        >>> _ = trainer.run([0, 1, 2, 3])
        >>> model.weight.tolist(), ema.ema_model.weight.tolist(), trainer.state.ema_momentum
        ([[5.0, 5.0]], [[4.0625, 4.0625]], 0.5)
    """

    momentum_scheduler: BaseParamScheduler | None

    def __init__(
        self,
        model: nn.Module,
        momentum: float = 0.0002,
        momentum_warmup: float | None = None,
        warmup_iters: int | None = None,
        handle_buffers: str = "copy",
    ) -> None:
        if not 0 < momentum < 1:
            raise ValueError(f"Invalid momentum: {momentum}")
        self.momentum = momentum
        self._warmup: _WarmUp | None = None
        if momentum_warmup is not None and warmup_iters is not None:
            self.momentum_scheduler = None
            self._warmup = _WarmUp(momentum_warmup, warmup_iters, momentum)

        if not isinstance(model, nn.Module):
            raise ValueError(
                "model should be an instance of nn.Module or its subclasses, but got "
                f"model: {model.__class__.__name__}"
            )
        if isinstance(model, nn.parallel.DistributedDataParallel):
            model = model.module
        self.model = model

        self.ema_model = deepcopy(model)
        for param in self.ema_model.parameters():
            param.detach_()

        if handle_buffers not in _BUFFER_MODES:
            raise ValueError(
                "handle_buffers can only be one of 'copy', 'update', 'ema_train', but got "
                f"{handle_buffers}"
            )
        self.handle_buffers = handle_buffers
        if handle_buffers == "ema_train":
            self.ema_model.train()
        else:
            self.ema_model.eval()

    @torch.no_grad()
    def _average(self, engine: Engine, name: str) -> None:
        """Move the EMA model towards the online model, with ``engine.state.<name>``."""
        momentum = getattr(engine.state, name)
        ema, online = self.ema_model, self.model
        for ema_p, model_p in zip(ema.parameters(), online.parameters(), strict=False):
            ema_p.mul_(1.0 - momentum).add_(model_p.data, alpha=momentum)

        if self.handle_buffers == "ema_train":
            return
        for ema_b, model_b in zip(ema.buffers(), online.buffers(), strict=False):
            if ema_b.shape != model_b.shape:  # resized in the online model: take the new one
                ema_b.data = model_b.detach().clone().to(ema_b.device)
            elif self.handle_buffers == "update" and (
                ema_b.is_floating_point() or ema_b.is_complex()
            ):
                ema_b.mul_(1.0 - momentum).add_(model_b.data, alpha=momentum)
            else:
                ema_b.copy_(model_b.data)

    def attach(
        self,
        engine: Engine,
        name: str = "ema_momentum",
        warn_if_exists: bool = True,
        event: Any = Events.ITERATION_COMPLETED,
    ) -> None:
        """Update the EMA model (and, with a warm-up, first the momentum) at each ``event``.

        Sets ``engine.state.<name>`` to ``momentum`` unless the state already has it: then it
        is kept (a state restored from a checkpoint) and, with ``warn_if_exists``, a
        ``UserWarning`` says so (it may also be another handler's attribute: give each EMA
        handler of a trainer its own ``name``). With a warm-up, each ``attach`` starts a new
        schedule that writes ``engine.state.<name>`` before the update.

        Args:
            engine: the trainer.
            name: the attribute of ``engine.state`` that holds the momentum.
            warn_if_exists: warn when ``engine.state`` already has ``name``.
            event: when to update: an event, a filtered event
                (``Events.ITERATION_COMPLETED(every=5)``) or an ``EventsList``.

        Example:
            >>> import torch
            >>> from miniengine.engine import Engine, Events
            >>> model = torch.nn.Linear(2, 1)
            >>> ema = EMAHandler(model, momentum=0.1, momentum_warmup=0.5, warmup_iters=3)
            >>> trainer = Engine(lambda engine, batch: None)
            >>> ema.attach(trainer, name="gen_momentum")
            >>> seen = []
            >>> @trainer.on(Events.ITERATION_COMPLETED)
            ... def record(engine):
            ...     seen.append(round(engine.state.gen_momentum, 6))
            >>> _ = trainer.run(range(4))
            >>> seen
            [0.5, 0.3, 0.1, 0.1]
        """
        if hasattr(engine.state, name):
            if warn_if_exists:
                warnings.warn(
                    f"Attribute '{name}' already exists in Engine.state. It might because 1. the "
                    f"engine has loaded its state dict or 2. {name} is already created by other "
                    "handlers. Turn off this warning by setting warn_if_exists to False.",
                    category=UserWarning,
                    stacklevel=2,
                )
        else:
            setattr(engine.state, name, self.momentum)

        if self._warmup is not None:
            # the momentum first, then the EMA model (handlers run in the order added)
            self.momentum_scheduler = LambdaStateScheduler(self._warmup, name)
            self.momentum_scheduler.attach(engine, event)
        engine.add_event_handler(event, self._average, name)
