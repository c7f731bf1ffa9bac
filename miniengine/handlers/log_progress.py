"""LogProgress: training progress as plain log lines, for runs whose output is not a terminal.

A progress bar redraws one line in place, which a CI log or a file records as an endless
line of carriage returns. ``LogProgress`` writes instead a few ordinary log records per epoch
(about ten by default, plus one when the epoch ends), through the ``logging`` module::

    Epoch [1/3]: [10/100] 10% loss=0.6931 [00:00<00:04, 22.61it/s]
    ...
    Epoch [1/3]: [100/100] 100% loss=0.2107 [00:04<00:00, 23.12it/s]

It takes the same ``attach`` arguments as ``ProgressBar``, so either can be chosen at run time
(e.g. ``ProgressBar() if sys.stderr.isatty() else LogProgress()``).
"""

from __future__ import annotations

import logging
import numbers
import sys
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch

from miniengine import distributed as idist
from miniengine.engine import Engine, Events
from miniengine.handlers.base_logger import _check_selection

__all__ = ["LogProgress"]

# The events a progress display can advance on, in the order the engine fires them.
_ORDER = [
    Events.STARTED,
    Events.EPOCH_STARTED,
    Events.ITERATION_STARTED,
    Events.ITERATION_COMPLETED,
    Events.EPOCH_COMPLETED,
    Events.COMPLETED,
]
_OPENING = {
    Events.COMPLETED: Events.STARTED,
    Events.EPOCH_COMPLETED: Events.EPOCH_STARTED,
    Events.ITERATION_COMPLETED: Events.ITERATION_STARTED,
}


def _check_events(engine: Engine, event_name: Any, closing_event_name: Any) -> None:
    """Ignite's rules for a progress display's events, with messages that say what to use."""
    if not engine.has_registered_events(event_name):
        name = getattr(event_name, "name", event_name)  # Ignite names the event by its .name
        raise ValueError(f"Logging event {name} is not in allowed events for this engine")
    if getattr(closing_event_name, "filter", None) is not None:
        raise ValueError("Closing Event should not be a filtered event")
    for name, event in (("event_name", event_name), ("closing_event_name", closing_event_name)):
        if event not in _ORDER:
            raise ValueError(
                f"Argument {name} should be one of {[e.name for e in _ORDER]} "
                f"(optionally filtered), but given {event}"
            )
    if not _ORDER.index(event_name) < _ORDER.index(closing_event_name):
        raise ValueError(
            f"Logging event {event_name} should be called before closing event {closing_event_name}"
        )


def _flatten(key: str, value: Any, out: dict[str, Any]) -> None:
    if isinstance(value, Mapping):
        for k, v in value.items():
            _flatten(f"{key}_{k}", v, out)
    elif isinstance(value, torch.Tensor) and value.ndim == 1:
        for i, v in enumerate(value.tolist()):
            out[f"{key}_{i}"] = v
    elif isinstance(value, Sequence) and not isinstance(value, str):
        for i, v in enumerate(value):
            _flatten(f"{key}_{i}", v, out)
    elif isinstance(value, torch.Tensor) and value.ndim == 0:
        out[key] = value.item()
    elif isinstance(value, (numbers.Number, str)):
        out[key] = value
    else:
        warnings.warn(
            f"Logger output_handler can not log metrics value type {type(value)}", stacklevel=4
        )


def _collect(
    engine: Engine,
    metric_names: list[str] | str | None,
    output_transform: Callable[[Any], Any] | None,
    state_attributes: list[str] | None,
) -> dict[str, Any]:
    """The chosen metrics, output and state attributes as one flat ``{name: value}`` dict."""
    chosen: dict[str, Any] = {}
    metrics = engine.state.metrics
    if metric_names == "all":
        chosen.update(metrics)
    elif metric_names:
        for name in metric_names:
            if name not in metrics:
                warnings.warn(
                    f"Provided metric name '{name}' is missing "
                    f"in engine's state metrics: {list(metrics.keys())}",
                    stacklevel=3,
                )
                continue
            chosen[name] = metrics[name]
    if output_transform is not None:
        output = output_transform(engine.state.output)
        chosen.update(output if isinstance(output, dict) else {"output": output})
    for name in state_attributes or []:
        chosen[name] = getattr(engine.state, name, None)
    flat: dict[str, Any] = {}
    for key, value in chosen.items():
        _flatten(str(key), value, flat)
    return flat


def _count_attr(event: Any) -> str:
    """The ``engine.state`` counter of a progress event (read once, at ``attach``)."""
    if event in (Events.ITERATION_STARTED, Events.ITERATION_COMPLETED):
        return "iteration"
    return "epoch"


def _counter(engine: Engine, event: Any) -> int:
    return getattr(engine.state, _count_attr(event))


def _position(count: int, bar: dict[str, Any]) -> int:
    """Events so far in this bar; from the epoch's start even in a run resumed mid-epoch."""
    total = bar["total"]
    return (count - 1) % total + 1 if total else count - bar["start"]


def _total(engine: Engine, event: Any) -> int | None:
    """How many times ``event`` fires per bar: per epoch for iterations, per run for epochs."""
    if event in (Events.ITERATION_STARTED, Events.ITERATION_COMPLETED):
        return engine.state.epoch_length
    if event in (Events.EPOCH_STARTED, Events.EPOCH_COMPLETED):
        return engine.state.max_epochs
    return 1


def _description(engine: Engine, desc: str | None, closing_event_name: Any) -> str:
    """``"Epoch [2/10]"`` style, as Ignite's ProgressBar shows it."""
    text = desc or ("Iteration" if engine.state.max_epochs == 1 else "Epoch")
    closings = _total(engine, closing_event_name)
    if closings and closings > 1:
        text += f" [{_counter(engine, closing_event_name)}/{closings}]"
    return text


def _hms(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours:d}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def _fmt(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


class _ProgressDisplay:
    """What ``LogProgress`` and ``ProgressBar`` share: ``attach``'s checks, and the rank."""

    rank: int | None

    def _shows_here(self) -> bool:
        return self.rank is None or idist.get_rank() == self.rank

    def attach(
        self,
        engine: Engine,
        metric_names: list[str] | str | None = None,
        output_transform: Callable[[Any], Any] | None = None,
        event_name: Any = Events.ITERATION_COMPLETED,
        closing_event_name: Any = Events.EPOCH_COMPLETED,
        state_attributes: list[str] | None = None,
    ) -> None:
        """Show the progress of ``engine``.

        Args:
            engine: the trainer or evaluator.
            metric_names: metric names to show, or ``"all"``.
            output_transform: ``f(engine.state.output)``: a dict of values, or one value
                (shown as ``output``).
            event_name: the event that advances the progress (may be filtered).
            closing_event_name: the event that ends a bar and shows its last state (not
                filtered).
            state_attributes: names of ``engine.state`` attributes to show.
        """
        _check_events(engine, event_name, closing_event_name)
        _check_selection(metric_names, output_transform)
        if self._shows_here():
            show = (metric_names, output_transform, state_attributes)
            self._attach(engine, show, event_name, closing_event_name)

    def _attach(self, engine: Engine, show: tuple, event_name: Any, closing: Any) -> None:
        raise NotImplementedError


_default_logger_ready = False


def _default_logger() -> logging.Logger:
    """This module's logger; it prints to stderr itself when logging is not configured."""
    global _default_logger_ready
    logger = logging.getLogger(__name__)
    if not _default_logger_ready and not logger.hasHandlers():
        # Without this, INFO records from an unconfigured program go nowhere.
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
    _default_logger_ready = True
    return logger


class LogProgress(_ProgressDisplay):
    """Log progress lines every ``every`` events and when each epoch (or run) ends.

    Each record reads ``<desc>: [n/total] p% name=value ... [elapsed<remaining, rate]``,
    where the values are the chosen metrics, the transformed output and state attributes,
    exactly as ``ProgressBar`` shows them in its postfix. Floats are shown with 4 significant
    digits. The per-event cost is a counter test; records are built only when written.

    Args:
        every: write a record every ``every`` events (default: about ten per epoch, i.e.
            ``epoch_length // 10``, or every 100 when the epoch length is unknown).
        logger: where to write (default: this module's logger, which prints to stderr when
            the program has not configured logging).
        level: the records' level.
        desc: text before the counters (default ``"Epoch [e/E]"``, or ``"Iteration"`` for
            single-epoch runs such as an evaluator; the ``[e/E]`` part is always added when
            there are several epochs).
        rank: in a distributed run, the process that logs (read at ``attach``); None for every
            process.

    Example:
        >>> import logging, sys
        >>> from miniengine.engine import Engine
        >>> log = logging.getLogger("doc.progress")
        >>> log.addHandler(logging.StreamHandler(sys.stdout)); log.setLevel(logging.INFO)
        >>> log.propagate = False
        >>> trainer = Engine(lambda engine, batch: batch / 2)
        >>> LogProgress(every=2, logger=log).attach(trainer, output_transform=lambda x: x)
        >>> _ = trainer.run([1.0, 2.0, 3.0])  # doctest: +ELLIPSIS
        Iteration: [2/3] 67% output=1 [...]
        Iteration: [3/3] 100% output=1.5 [...]
    """

    # Written once, in the shared base; named here so that the API reference shows it.
    attach = _ProgressDisplay.attach

    def __init__(
        self,
        every: int | None = None,
        logger: logging.Logger | None = None,
        level: int = logging.INFO,
        desc: str | None = None,
        rank: int | None = 0,
    ):
        if every is not None and (not isinstance(every, int) or every < 1):
            raise ValueError(f"Argument every should be a positive integer or None, got {every!r}")
        if logger is not None and not isinstance(logger, logging.Logger):
            raise TypeError(f"Argument logger should be a logging.Logger, got {type(logger)}")
        self.every = every
        self.logger = logger or _default_logger()
        self.level = level
        self.desc = desc
        self.rank = rank

    def _attach(self, engine: Engine, show: tuple, event_name: Any, closing: Any) -> None:
        attr = _count_attr(event_name)
        bar: dict[str, Any] = {}  # the open bar: start time, first count, total, every

        def opened(engine: Engine) -> None:
            total = _total(engine, event_name)
            bar.update(
                attr=attr,
                t0=time.perf_counter(),
                start=getattr(engine.state, attr),
                total=total,
                every=self.every or (max(1, total // 10) if total else 100),
            )

        def advanced(engine: Engine) -> None:
            if not bar:
                opened(engine)
            n = _position(getattr(engine.state, attr), bar)
            if n % bar["every"] == 0 and n != bar["total"]:
                self._write(engine, n, bar, show, closing)

        def closed(engine: Engine) -> None:
            if bar:
                self._write(engine, _position(getattr(engine.state, attr), bar), bar, show, closing)
            bar.clear()

        engine.add_event_handler(_OPENING[closing], opened)
        engine.add_event_handler(event_name, advanced)
        engine.add_event_handler(closing, closed)
        # A run cut short (terminate, interrupt, exception) still gets its last record.
        engine.run_end_hooks.append(lambda: closed(engine))

    def _write(
        self, engine: Engine, n: int, bar: dict[str, Any], show: tuple, closing: Any
    ) -> None:
        if not self.logger.isEnabledFor(self.level):
            return
        elapsed = time.perf_counter() - bar["t0"]
        rate = (getattr(engine.state, bar["attr"]) - bar["start"]) / elapsed if elapsed > 0 else 0.0
        total = bar["total"]
        parts = [f"{_description(engine, self.desc, closing)}:"]
        if total:
            left = (total - n) / rate if rate > 0 else 0.0
            parts.append(f"[{n}/{total}] {100 * n / total:.0f}%")
            times = f"[{_hms(elapsed)}<{_hms(left)}, {rate:.2f}it/s]"
        else:
            parts.append(f"[{n}]")
            times = f"[{_hms(elapsed)}, {rate:.2f}it/s]"
        parts += [f"{k}={_fmt(v)}" for k, v in _collect(engine, *show).items()]
        parts.append(times)
        self.logger.log(self.level, " ".join(parts))

    def log_message(self, message: str) -> None:
        """Write ``message`` to the same logger, at the same level.

        Args:
            message: the text to log.
        """
        if self._shows_here():
            self.logger.log(self.level, message)
