"""FBResearchLogger: terse training log lines in the style of FAIR's research code.

Every ``every`` iterations it writes one line with the position in the epoch, an ETA for the
epoch's end, the learning rate, the chosen outputs and state attributes, and the average
iteration and data-loading times; at each epoch's start and end, and at the end of a run of
several epochs, one line more::

    Train: start epoch [1/2]
    Epoch [1/2]  [2/4]:  ETA: 0:00:02  lr: 0.10000  loss: 0.2500    Iter time: 1.2500 s  ...
    Train: Epoch [1/2]  Total time: 0:00:03  (0.7500 s / it)
    Train: run completed  Total time: 0:00:06
"""

from __future__ import annotations

import datetime
import logging
import numbers
from collections.abc import Callable, Sequence
from typing import Any

import torch

from miniengine.engine import Engine, Events
from miniengine.handlers.base_logger import _check_selection
from miniengine.handlers.timing import Timer

__all__ = ["FBResearchLogger"]

MB = 1024.0 * 1024.0


def _hms(seconds: float) -> str:
    """Whole seconds as ``H:MM:SS`` (``1 day, H:MM:SS`` past a day), as Ignite writes them."""
    return str(datetime.timedelta(seconds=int(seconds)))


def _leaf_text(value: Any) -> str | None:
    """A number or a tensor in 4 decimals; None for anything else."""
    if isinstance(value, numbers.Number):
        return f"{value:.4f}"
    if not isinstance(value, torch.Tensor):
        return None
    if value.ndim == 0:
        return f"{value.item():.4f}"
    if value.ndim > 1:
        return f"Shape{list(value.shape)}"
    shown = [f"{x:.4f}" for x in value[:10].tolist()]
    return "[" + ", ".join(shown + (["..."] if len(value) > 10 else [])) + "]"


def _place(value: Any, out: list[str], label: str = "") -> str | None:
    """Return the text of a leaf; write a container's pieces into ``out``.

    The order is Ignite's: a piece nested in a list is written before the list's own line.
    Values that are neither numbers, tensors nor containers (strings, objects) are left out.
    """
    text = _leaf_text(value)
    if text is not None:
        return label + text
    if isinstance(value, dict):
        for key, item in value.items():
            text = _place(item, out, f"{key}: ")
            if text is not None:
                out.append(text)
    elif isinstance(value, (list, tuple)):
        inline = [t for t in (_place(item, out) for item in value) if t is not None]
        if inline or (label and not value):
            out.append(label + ", ".join(inline))
    elif value is None and label:
        out.append(label)
    return None


def _texts(value: Any) -> list[str]:
    """``value`` (an output, or a dict of state attributes) as the pieces of a log line."""
    out: list[str] = []
    text = _place(value, out)
    if text is not None:
        out.append(text)
    return out


def _lr_text(optimizer: Any, delimiter: str) -> str:
    if optimizer is None:
        return ""
    groups = optimizer.param_groups
    if len(groups) == 1:
        return f"lr: {groups[0]['lr']:.5f}"
    return delimiter.join(f"lr [g{i}]: {group['lr']:.5f}" for i, group in enumerate(groups))


class FBResearchLogger:
    """Write a training run's progress, timings and values as plain log lines.

    ``attach`` makes four kinds of line, separated into fields by ``delimiter``:

    - at each epoch's start: ``<name>: start epoch [e/E]``;
    - every ``every`` iterations: ``Epoch [e/E]``, ``[i/L]:`` (the iteration within the epoch),
      ``ETA: H:MM:SS`` (to the epoch's end), the learning rate(s) (``lr: 0.10000``, or
      ``lr [g0]: ...`` per group), the output values and state attributes (numbers and scalar
      tensors in 4 decimals, short 1-d tensors in full, others as their shape), ``Iter time: x
      s`` and ``Data prep time: x s`` (averages over the epoch so far), and ``GPU Max Mem: n
      MB`` when CUDA is available. A field with nothing to show stays, empty;
    - at each epoch's end: ``<name>: Epoch [e/E]  Total time: H:MM:SS  (x s / it)`` (without
      ``Epoch [e/E]`` when the run has one epoch);
    - at the run's end, when it has more than one epoch: ``<name>: run completed  Total time:
      H:MM:SS``.

    The timers restart at each epoch, and an iteration's line is written before its own time
    is counted, as Ignite does.

    Args:
        logger: where the lines go: a ``logging.Logger`` (or any object with an ``info``
            method); they are written at INFO level.
        delimiter: the text between the fields of a line.
        show_output: show ``engine.state.output`` (after ``output_transform``) in the
            iteration lines.

    Attributes:
        iter_timer: the average time of an iteration (``Timer(average=True)``).
        data_timer: the average time of fetching a batch.

    Example:
        >>> import logging, sys, torch
        >>> from miniengine.engine import Engine
        >>> log = logging.getLogger("doc.fbresearch")
        >>> log.addHandler(logging.StreamHandler(sys.stdout)); log.setLevel(logging.INFO)
        >>> log.propagate = False
        >>> model = torch.nn.Linear(2, 1)
        >>> optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        >>> trainer = Engine(lambda engine, batch: {"loss": batch})
        >>> fbr = FBResearchLogger(log, show_output=True)
        >>> fbr.attach(trainer, "Train", every=2, optimizer=optimizer)
        >>> _ = trainer.run([0.5, 0.25, 0.125], max_epochs=2)  # doctest: +ELLIPSIS
        Train: start epoch [1/2]
        Epoch [1/2]  [2/3]:  ETA: 0:00:00  lr: 0.10000  loss: 0.2500    Iter time: ...
        Train: Epoch [1/2]  Total time: 0:00:00  (... s / it)
        Train: start epoch [2/2]
        Epoch [2/2]  [1/3]:  ETA: 0:00:00  lr: 0.10000  loss: 0.5000    Iter time: ...
        Epoch [2/2]  [3/3]:  ETA: 0:00:00  lr: 0.10000  loss: 0.1250    Iter time: ...
        Train: Epoch [2/2]  Total time: 0:00:00  (... s / it)
        Train: run completed  Total time: 0:00:00
    """

    def __init__(self, logger: Any, delimiter: str = "  ", show_output: bool = False):
        if not callable(getattr(logger, "info", None)):
            raise TypeError(
                f"Argument logger should be a logging.Logger (an object with an info method), "
                f"got {type(logger)}"
            )
        if not isinstance(delimiter, str):
            raise TypeError(f"Argument delimiter should be a str, got {delimiter!r}")
        if not isinstance(show_output, bool):
            raise TypeError(f"Argument show_output should be a bool, got {show_output!r}")
        self.logger: Any = logger
        self.delimiter = delimiter
        self.show_output = show_output
        self.iter_timer = Timer(average=True)
        self.data_timer = Timer(average=True)
        self.name: str | None = None
        self.output_transform: Callable[[Any], Any] | None = None
        self.state_attributes: list[str] | None = None
        self._epoch_first_iteration = 0

    def attach(
        self,
        engine: Engine,
        name: str,
        every: int = 1,
        output_transform: Callable[[Any], Any] | None = None,
        state_attributes: list[str] | None = None,
        optimizer: torch.optim.Optimizer | None = None,
    ) -> None:
        """Log ``engine``'s epochs, every ``every``-th iteration and the run's end.

        Args:
            engine: the trainer or evaluator to follow.
            name: the label of the epoch and run lines, e.g. ``"Train"``.
            every: write an iteration line every ``every`` iterations (counted over the run).
            output_transform: ``f(engine.state.output)``, the values to show when
                ``show_output`` is set (default: the output itself).
            state_attributes: names of ``engine.state`` attributes to show (a missing one
                shows as ``name: ``).
            optimizer: the optimizer whose learning rates to show.
        """
        # Every check comes before the first handler: a refused call attaches nothing.
        every_event = Events.ITERATION_COMPLETED(every=every)
        if not isinstance(name, str):
            raise TypeError(f"Argument name should be a str, got {name!r}")
        _check_selection(None, output_transform)
        if state_attributes is not None and not (
            isinstance(state_attributes, (list, tuple))
            and all(isinstance(a, str) for a in state_attributes)
        ):
            raise TypeError(
                f"Argument state_attributes should be a list of str or None, "
                f"got {state_attributes!r}"
            )
        if optimizer is not None and not isinstance(
            getattr(optimizer, "param_groups", None), Sequence
        ):
            raise TypeError(
                "Argument optimizer should be torch.optim.Optimizer or has attribute "
                f"'param_groups' as list/tuple, but given {type(optimizer)}"
            )
        self.name = name
        self.output_transform = output_transform
        self.state_attributes = None if state_attributes is None else list(state_attributes)

        engine.add_event_handler(Events.EPOCH_STARTED, self.log_epoch_started, engine, name)
        engine.add_event_handler(every_event, self.log_every, engine, optimizer=optimizer)
        engine.add_event_handler(Events.EPOCH_COMPLETED, self.log_epoch_completed, engine, name)
        engine.add_event_handler(Events.COMPLETED, self.log_completed, engine, name)
        # After log_every: an iteration's line reads the timers before they count it.
        spans = [
            (self.iter_timer, Events.ITERATION_STARTED, Events.ITERATION_COMPLETED),
            (self.data_timer, Events.GET_BATCH_STARTED, Events.GET_BATCH_COMPLETED),
        ]
        for timer, begin, end in spans:
            timer.reset()
            timer.attach(engine, start=Events.EPOCH_STARTED, resume=begin, pause=end, step=end)

    def log_every(self, engine: Engine, optimizer: torch.optim.Optimizer | None = None) -> None:
        """Write the line of the current iteration.

        Args:
            engine: the engine being followed.
            optimizer: the optimizer whose learning rates to show, if any.
        """
        enabled = getattr(self.logger, "isEnabledFor", None)
        if enabled is not None and not enabled(logging.INFO):
            return  # a line costs a few dozen formats: none when nobody reads it
        s = engine.state
        iter_time = self.iter_timer.value()
        if s.epoch_length is not None:
            position = (s.iteration - 1) % s.epoch_length + 1
            where = [f"[{position}/{s.epoch_length}]:"]
            where.append(f"ETA: {_hms(iter_time * (s.epoch_length - position))}")
        else:  # data of unknown length, in its first epoch: no total, so no ETA
            where = [f"[{s.iteration - self._epoch_first_iteration}]:"]
        shown: list[str] = []
        if self.show_output and s.output is not None:
            transform = self.output_transform
            shown = _texts(s.output if transform is None else transform(s.output))
        attrs = {a: getattr(s, a, None) for a in self.state_attributes or []}
        memory = ""
        if torch.cuda.is_available():
            memory = f"GPU Max Mem: {torch.cuda.max_memory_allocated() / MB:.0f} MB"
        fields = [
            f"Epoch [{s.epoch}/{s.max_epochs}]",
            *where,
            _lr_text(optimizer, self.delimiter),
            *shown,
            " ".join(_texts(attrs)),
            f"Iter time: {iter_time:.4f} s",
            f"Data prep time: {self.data_timer.value():.4f} s",
            memory,
        ]
        self.logger.info(self.delimiter.join(fields))

    def log_epoch_started(self, engine: Engine, name: str) -> None:
        """Write ``<name>: start epoch [e/E]``.

        Args:
            engine: the engine being followed.
            name: the label of the line.
        """
        self._epoch_first_iteration = engine.state.iteration
        self.logger.info(f"{name}: start epoch [{engine.state.epoch}/{engine.state.max_epochs}]")

    def log_epoch_completed(self, engine: Engine, name: str) -> None:
        """Write the epoch's total time and its time per iteration.

        Args:
            engine: the engine being followed.
            name: the label of the line.
        """
        s = engine.state
        took = s.times["EPOCH_COMPLETED"] or 0.0
        epoch = f"Epoch [{s.epoch}/{s.max_epochs}]" if (s.max_epochs or 0) > 1 else ""
        per_iteration = took / s.epoch_length if s.epoch_length else 0.0
        fields = [f"{name}: {epoch}", f"Total time: {_hms(took)}", f"({per_iteration:.4f} s / it)"]
        self.logger.info(self.delimiter.join(fields))

    def log_completed(self, engine: Engine, name: str) -> None:
        """Write the run's total time, for runs of more than one epoch.

        Args:
            engine: the engine being followed.
            name: the label of the line.
        """
        if (engine.state.max_epochs or 0) > 1:
            took = engine.state.times["COMPLETED"] or 0.0
            self.logger.info(
                self.delimiter.join([f"{name}: run completed", f"Total time: {_hms(took)}"])
            )
