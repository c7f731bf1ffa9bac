"""See a run: ``describe(engine)`` lists what is attached, ``trace(engine)`` records what happens.

``describe`` reads the engine's handler table and prints it in the order the run loop fires
the events, with each filter in words. ``trace`` records, while it is on, every event that
fires, at which epoch and iteration, and for each handler whether it ran or a filter skipped
it and how long it took. It works by swapping the engine's handler lists for timed copies and
putting the originals back on exit, so when no trace is on nothing in the engine changes and
a run costs exactly what it did.

Example:
    >>> from miniengine import Engine, Events
    >>> from miniengine.explain import describe, trace
    >>> def step(engine, batch): pass
    >>> def log(engine): pass
    >>> engine = Engine(step)
    >>> _ = engine.add_event_handler(Events.ITERATION_COMPLETED(every=2), log)
    >>> print(describe(engine))
    event                handler call         runs
    process_function     step(engine, batch)  every iteration
    ITERATION_COMPLETED  log(engine)          every 2nd iteration
    >>> with trace(engine) as t:
    ...     _ = engine.run([1, 2, 3])
    >>> t.counts["ITERATION_COMPLETED"], t.ran_and_skipped("log")
    (3, (1, 2))
"""

from __future__ import annotations

import functools
import json
import operator
import os
import re
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from miniengine.engine import Engine

__all__ = [
    "HandlerCall",
    "Trace",
    "TracedEvent",
    "describe",
    "filter_in_words",
    "handler_name",
    "trace",
]

# The order the run loop fires the built-in events in (see the Engine docstring); the events
# that end or break a run come last. Custom events follow in the order they were registered.
FIRING_ORDER = [
    "STARTED",
    "EPOCH_STARTED",
    "GET_BATCH_STARTED",
    "DATALOADER_STOP_ITERATION",
    "GET_BATCH_COMPLETED",
    "ITERATION_STARTED",
    "ITERATION_COMPLETED",
    "EPOCH_COMPLETED",
    "COMPLETED",
    "TERMINATE_SINGLE_EPOCH",
    "TERMINATE",
    "INTERRUPT",
    "EXCEPTION_RAISED",
]


# ----------------------------------------------------------------------------- describe
def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _plural(counter: str) -> str:
    return counter if counter.endswith("s") else counter + "s"


def _listed(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def filter_in_words(event_filter: Callable | None, counter: str | None = "iteration") -> str:
    """Say in words when a filter lets a handler run.

    Filters made by ``every``/``once``/``before``/``after`` are recognised by the names
    ``miniengine.events`` gives them; any other filter is shown by its function name.

    Args:
        event_filter: a filter ``(engine, count) -> bool``, or None (no filter).
        counter: the ``state`` attribute the filter is given (``"iteration"``, ``"epoch"``).

    Example:
        >>> from miniengine import Events
        >>> filter_in_words(Events.ITERATION_COMPLETED(every=100).filter)
        'every 100th iteration'
        >>> filter_in_words(Events.EPOCH_COMPLETED(once=3).filter, "epoch")
        'once, at epoch 3'
        >>> filter_in_words(Events.ITERATION_STARTED(after=3, before=9, every=2).filter)
        'iterations 4..8, every 2nd'
    """
    if event_filter is None:
        return "always"
    counter = counter or "count"
    name = getattr(event_filter, "__name__", type(event_filter).__name__)
    if getattr(event_filter, "__module__", None) != "miniengine.events":
        return f"when {name}(engine, {counter})"
    if m := re.fullmatch(r"every=(\d+)", name):
        return f"every {_ordinal(int(m[1]))} {counter}"
    if m := re.fullmatch(r"once=\[([\d, ]+)\]", name):
        counts = m[1].split(", ")
        if len(counts) == 1:
            return f"once, at {counter} {counts[0]}"
        return f"at {_plural(counter)} {_listed(counts)}"
    if m := re.fullmatch(r"after=(\d+), before=(\d+|inf), every=(\d+)", name):
        first, every = int(m[1]) + 1, int(m[3])
        last = None if m[2] == "inf" else int(m[2]) - 1
        if last is None:
            span = f"{_plural(counter)} from {first} on"
        elif first > last:
            return f"never (after {counter} {m[1]} and before {m[2]})"
        else:
            span = f"{_plural(counter)} {first}..{last}"
        return span if every == 1 else f"{span}, every {_ordinal(every)}"
    return f"when {name}(engine, {counter})"


def _local(qualname: str) -> str:
    return qualname.rsplit("<locals>.", 1)[-1]  # "main.<locals>.log" -> "log"


def _short_repr(value: Any, limit: int = 40) -> str:
    text = repr(value)
    if text.startswith("<") and " object at 0x" in text:  # the default repr says no more
        return f"<{_local(type(value).__qualname__)}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def handler_name(handler: Any) -> str:
    """A readable name for a handler: ``log_loss``, ``<Checkpoint>``, ``RunningAverage.completed``.

    Functions by their qualified name without the ``<locals>`` of an enclosing function,
    bound methods as ``Class.method`` (the instance's class), ``functools.partial`` as
    ``partial(name, args)``, other callable objects as ``<Class>``, lambdas with their place.

    Args:
        handler: anything callable.

    Example:
        >>> import functools
        >>> from miniengine import Engine
        >>> handler_name(Engine.terminate), handler_name(functools.partial(print, "hi"))
        ('Engine.terminate', "partial(print, 'hi')")
    """
    if isinstance(handler, functools.partial):
        parts = [handler_name(handler.func), *map(_short_repr, handler.args)]
        parts += [f"{k}={_short_repr(v)}" for k, v in handler.keywords.items()]
        return f"partial({', '.join(parts)})"
    self = getattr(handler, "__self__", None)
    if self is not None and not isinstance(self, type) and hasattr(handler, "__func__"):
        return f"{_local(type(self).__qualname__)}.{handler.__func__.__name__}"
    qualname = getattr(handler, "__qualname__", None)
    if not isinstance(qualname, str):
        return f"<{_local(type(handler).__qualname__)}>"
    name = _local(qualname)
    code = getattr(handler, "__code__", None)
    if name == "<lambda>" and code is not None:  # otherwise every lambda looks the same
        return f"<lambda at {os.path.basename(code.co_filename)}:{code.co_firstlineno}>"
    return name


def _call(key: str, entry: tuple) -> str:
    handler, with_engine, args, kwargs = entry[:4]
    # The engine adds the exception, or the keyword iter_counter, to these two events' calls.
    parts = ["engine"] if with_engine else []
    parts += ["exception"] if key == "EXCEPTION_RAISED" else []
    parts += [_short_repr(a) for a in args]
    parts += [f"{k}={_short_repr(v)}" for k, v in kwargs.items()]
    parts += ["iter_counter=n"] if key == "TERMINATE_SINGLE_EPOCH" else []
    return f"{handler_name(handler)}({', '.join(parts)})"


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    lines = ["  ".join([*map(str.ljust, row[:-1], widths), row[-1]]) for row in rows]
    return "\n".join(line.rstrip() for line in lines)


def _events_in_order(engine: Engine) -> list[str]:
    custom = [key for key in engine._event_handlers if key not in FIRING_ORDER]
    return [key for key in FIRING_ORDER if key in engine._event_handlers] + custom


def describe(engine: Engine) -> str:
    """A table of every event that has handlers, in the order the run loop fires them.

    Each row shows a handler, in the order it runs, as the engine will call it (with its extra
    arguments), and when it runs (its filter in words). Events without handlers are left out;
    the process function is shown where the loop calls it, between ITERATION_STARTED and
    ITERATION_COMPLETED.

    Args:
        engine: the engine to describe.

    Returns:
        The table as text.

    Example:
        >>> from miniengine import Engine, Events
        >>> def train_step(engine, batch): pass
        >>> engine = Engine(train_step)
        >>> def save(engine, prefix): pass
        >>> _ = engine.add_event_handler(Events.EPOCH_COMPLETED(once=3), save, "ckpt")
        >>> _ = engine.add_event_handler(Events.COMPLETED, Engine.terminate)
        >>> print(describe(engine))
        event             handler call               runs
        process_function  train_step(engine, batch)  every iteration
        EPOCH_COMPLETED   save(engine, 'ckpt')       once, at epoch 3
        COMPLETED         Engine.terminate(engine)   always
    """
    rows = [["event", "handler call", "runs"]]
    for key in _events_in_order(engine):
        if key == "ITERATION_COMPLETED":
            call = f"{handler_name(engine._process_function)}(engine, batch)"
            rows.append(["process_function", call, "every iteration"])
        for i, entry in enumerate(_original_entries(engine._event_handlers[key])):
            when = filter_in_words(entry[4], engine._counters.get(key))
            rows.append([key if i == 0 else "", _call(key, entry), when])
    return _table(rows)


# ----------------------------------------------------------------------------- trace
@dataclass
class HandlerCall:
    """One handler at one firing of an event.

    Args:
        handler: the handler's readable name (see ``handler_name``).
        ran: False if its filter skipped it.
        seconds: how long it took (0 if skipped).
        error: the exception it raised, as text, if any.

    Example:
        >>> HandlerCall("log", ran=False).ran
        False
    """

    handler: str
    ran: bool
    seconds: float = 0.0
    error: str | None = None


@dataclass
class TracedEvent:
    """One firing of an event, as ``Trace`` recorded it.

    Args:
        event: the event's name (``"ITERATION_COMPLETED"``).
        epoch: ``state.epoch`` when it fired.
        iteration: ``state.iteration`` when it fired.
        at: seconds from the start of the trace to the firing.
        calls: its handlers, in the order they were called or skipped.

    Example:
        >>> TracedEvent("STARTED", 0, 0, 0.0).calls
        []
    """

    event: str
    epoch: int
    iteration: int
    at: float
    calls: list[HandlerCall] = field(default_factory=list)


class _Timed:
    """Stands in for one handler entry while a trace is on: applies the filter itself (so it
    can record a skip), calls the handler as ``Engine._fire_event`` would, and times it."""

    def __init__(self, trace: Trace, key: str, entry: tuple) -> None:
        self.trace, self.key, self.entry = trace, key, entry
        self.name = handler_name(entry[0])
        self.ran = self.skipped = 0
        self.seconds = 0.0

    def __call__(self, engine: Engine, *event_args: Any, **event_kwargs: Any) -> None:
        handler, with_engine, args, kwargs, event_filter = self.entry
        record = self.trace._current.get(self.key)
        counter = engine._counters.get(self.key)  # a filtered event always has one
        count = getattr(engine.state, counter) if counter else None
        if event_filter is not None and not event_filter(engine, count):
            self.skipped += 1
            if record is not None:
                record.calls.append(HandlerCall(self.name, ran=False))
            return
        args, kwargs = event_args + args, {**kwargs, **event_kwargs}
        call = HandlerCall(self.name, ran=True)
        start = time.perf_counter()
        try:
            handler(engine, *args, **kwargs) if with_engine else handler(*args, **kwargs)
        except BaseException as e:
            call.error = f"{type(e).__name__}: {e}"
            raise
        finally:
            call.seconds = time.perf_counter() - start
            self.ran += 1
            self.seconds += call.seconds
            if record is not None:
                record.calls.append(call)

    # has_event_handler / remove_event_handler compare entries with `==`: while traced,
    # the stand-in must still count as the handler it stands for.
    def __eq__(self, other: object) -> bool:
        return other is self or self.entry[0] == other

    def __hash__(self) -> int:
        return hash(self.entry[0])


def _original_entries(entries: list[tuple]) -> list[tuple]:
    """The handler entries as they were before tracing (describe() works while tracing too)."""
    return [e[0].entry if isinstance(e[0], _Timed) else e for e in entries if not _is_marker(e)]


def _is_marker(entry: tuple) -> bool:
    return isinstance(entry[0], _Recorder)


class _Recorder:
    """First entry of each traced handler list: notes the event, and wraps handlers that were
    added since the trace started so that they are timed too."""

    def __init__(self, trace: Trace, key: str) -> None:
        self.trace, self.key = trace, key

    def __call__(self, engine: Engine, *event_args: Any, **event_kwargs: Any) -> None:
        t = self.trace
        s = engine.state
        # Per event, so that a handler firing another event does not steal the later calls.
        record = TracedEvent(self.key, s.epoch, s.iteration, time.perf_counter() - t._start)
        t._current[self.key] = record
        t._window.append(record)
        t.counts[self.key] += 1
        entries = engine._event_handlers[self.key]
        # Replacing later items of the list being iterated is safe: its length is unchanged.
        for i, entry in enumerate(entries):
            if not isinstance(entry[0], _Timed | _Recorder):
                entries[i] = t._wrap(self.key, entry)


class Trace:
    """Records the timeline of runs of an engine; use it through ``trace(engine)``.

    While on, every event fires (even those without handlers, which the engine otherwise
    skips), so ``engine.last_event_name`` follows every event. Handlers are called exactly as
    without the trace, in the same order, with the same filters. An EXCEPTION_RAISED recorder
    is added only if that event already has handlers, since having one changes what the engine
    does with an exception.

    Memory is bounded: ``events`` keeps the last ``window`` firings; ``counts`` and the handler
    totals cover the whole trace.

    Args:
        engine: the engine to trace.
        window: how many of the latest firings ``events`` keeps (a positive int).

    Example:
        >>> from miniengine import Engine, Events
        >>> engine = Engine(lambda engine, batch: None)
        >>> t = Trace(engine, window=2).start()
        >>> _ = engine.run([0, 0])
        >>> t.stop()
        >>> [(e.event, e.epoch, e.iteration) for e in t.events], t.dropped
        ([('EPOCH_COMPLETED', 1, 2), ('COMPLETED', 1, 2)], 10)
    """

    def __init__(self, engine: Engine, window: int = 1000) -> None:
        if not isinstance(engine, Engine):
            raise TypeError(f"Argument engine should be an Engine, got {type(engine).__name__}")
        if isinstance(window, bool) or not isinstance(window, int) or window < 1:
            raise ValueError(f"Argument window should be a positive int, got {window!r}")
        self.engine = engine
        self.window = window
        self.counts: Counter[str] = Counter()
        self._window: deque[TracedEvent] = deque(maxlen=window)
        self._timed: list[_Timed] = []
        self._current: dict[str, TracedEvent] = {}
        self._saved: dict[str, list[tuple]] | None = None
        self._start = 0.0

    # ------------------------------------------------------------------ on / off
    def _wrap(self, key: str, entry: tuple) -> tuple:
        timed = _Timed(self, key, entry)
        self._timed.append(timed)
        return (timed, True, (), {}, None)

    def start(self) -> Trace:
        """Start recording (the ``with`` statement calls this); returns the trace."""
        if self._saved is not None:
            raise RuntimeError("This trace is already on")
        handlers = self.engine._event_handlers
        if any(_is_marker(e) for entries in handlers.values() for e in entries):
            raise RuntimeError("Another trace is already on for this engine")
        self._saved = dict(handlers)
        self._start = time.perf_counter()
        for key, entries in self._saved.items():
            if key == "EXCEPTION_RAISED" and not entries:
                continue  # a handler here would swallow exceptions the run should raise
            recorder: tuple = (_Recorder(self, key), True, (), {}, None)
            handlers[key] = [recorder, *(self._wrap(key, e) for e in entries)]
        return self

    def stop(self) -> None:
        """Stop recording and give the engine back its handler lists.

        A list nobody changed during the trace is put back as the very same list object;
        handlers added or removed meanwhile stay added or removed.
        """
        if self._saved is None:
            return
        handlers = self.engine._event_handlers
        for key, original in self._saved.items():
            current = _original_entries(handlers.get(key, []))
            same = len(current) == len(original) and all(map(operator.is_, current, original))
            handlers[key] = original if same else current
        self._saved = None
        self._current = {}

    def __enter__(self) -> Trace:
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()

    # ------------------------------------------------------------------ results
    @property
    def events(self) -> list[TracedEvent]:
        """The latest firings (at most ``window``), oldest first."""
        return list(self._window)

    @property
    def dropped(self) -> int:
        """How many firings fell out of the window."""
        return sum(self.counts.values()) - len(self._window)

    def ran_and_skipped(self, handler: str) -> tuple[int, int]:
        """How often handlers of this name ran, and were skipped by a filter, in the whole trace.

        Args:
            handler: a name as ``handler_name`` gives it.
        """
        timed = [t for t in self._timed if t.name == handler]
        return sum(t.ran for t in timed), sum(t.skipped for t in timed)

    def handler_totals(self) -> list[dict[str, Any]]:
        """Per handler, over the whole trace: event, name, runs, skips and seconds."""
        return [
            {
                "event": t.key,
                "handler": t.name,
                "ran": t.ran,
                "skipped": t.skipped,
                "seconds": t.seconds,
            }
            for t in self._timed
        ]

    def timeline(self, events: list[TracedEvent] | None = None, times: bool = True) -> str:
        """The firings as a table: time, epoch, iteration, event, and its handlers below it.

        Args:
            events: the firings to show; default all of ``events``.
            times: show when each event fired and how long each handler took.

        Example:
            >>> from miniengine import Engine, Events
            >>> engine = Engine(lambda engine, batch: None)
            >>> _ = engine.add_event_handler(Events.EPOCH_STARTED(once=2), print)
            >>> with trace(engine) as t:
            ...     _ = engine.run([0])
            >>> print(t.timeline(t.events[:2], times=False))
            epoch  iter  event / handler
            0      0     STARTED
            1      0     EPOCH_STARTED
                           skipped print
        """
        rows = [(["at ms"] if times else []) + ["epoch", "iter", "event / handler", ""]]
        for ev in self._window if events is None else events:
            at = [f"{ev.at * 1e3:.3f}"] if times else []
            rows.append([*at, str(ev.epoch), str(ev.iteration), ev.event, ""])
            for c in ev.calls:
                took = f"{c.seconds * 1e3:.3f} ms" if c.ran and times else ""
                took += f"  raised {c.error}" if c.error else ""
                what = f"  ran {c.handler}" if c.ran else f"  skipped {c.handler}"
                rows.append([*([""] if times else []), "", "", what, took])
        return _table(rows)

    def __str__(self) -> str:
        shown = len(self._window)
        lines = [
            f"timeline: last {shown} of {shown + self.dropped} events "
            "(ms from the start of the trace)",
            self.timeline(),
            "",
            "events fired (whole trace)",
        ]
        order = _events_in_order(self.engine) + list(self.counts)
        fired = [key for key in dict.fromkeys(order) if key in self.counts]
        lines.append(_table([[key, str(self.counts[key])] for key in fired]))
        if self._timed:
            lines += ["", "handlers (whole trace)"]
            rows = [["event", "handler", "ran", "skipped", "total ms"]]
            rows += [
                [t.key, t.name, str(t.ran), str(t.skipped), f"{t.seconds * 1e3:.3f}"]
                for t in self._timed
            ]
            lines.append(_table(rows))
        return "\n".join(lines)

    def to_tensorboard(self, writer: Any, step: int | None = None, tag: str = "trace") -> None:
        """Write the trace as text, and each handler's total milliseconds as a scalar.

        Args:
            writer: a ``SummaryWriter`` (or anything with ``add_text`` and ``add_scalar``,
                such as ``TensorboardLogger``).
            step: the global step to write at; default ``engine.state.iteration``.
            tag: prefix of the tags: ``<tag>`` for the text, ``<tag>/<EVENT>/<handler>_ms``.

        Example:
            >>> import tempfile
            >>> from torch.utils.tensorboard import SummaryWriter
            >>> from miniengine import Engine
            >>> engine = Engine(lambda engine, batch: None)
            >>> with tempfile.TemporaryDirectory() as d, trace(engine) as t:
            ...     _ = engine.run([0])
            ...     with SummaryWriter(d) as w:
            ...         t.to_tensorboard(w)
        """
        step = self.engine.state.iteration if step is None else step
        # Four leading spaces make TensorBoard's markdown show the table as preformatted.
        writer.add_text(tag, "\n".join("    " + line for line in str(self).splitlines()), step)
        for t in self._timed:
            name = re.sub(r"[^A-Za-z0-9_.\-]+", "_", t.name).strip("_")
            writer.add_scalar(f"{tag}/{t.key}/{name}_ms", t.seconds * 1e3, step)

    def save(self, path: str | os.PathLike) -> None:
        """Write the trace as JSON lines: one line per kept event, then one summary line.

        Args:
            path: the file to write (replaced if it exists).

        Example:
            >>> import json, os, tempfile
            >>> from miniengine import Engine
            >>> engine = Engine(lambda engine, batch: None)
            >>> with trace(engine) as t:
            ...     _ = engine.run([0])
            >>> with tempfile.TemporaryDirectory() as d:
            ...     t.save(os.path.join(d, "trace.jsonl"))
            ...     lines = open(os.path.join(d, "trace.jsonl")).read().splitlines()
            >>> json.loads(lines[0])["event"], json.loads(lines[-1])["counts"]["COMPLETED"]
            ('STARTED', 1)
        """
        with open(path, "w") as f:
            for ev in self._window:
                f.write(json.dumps({"kind": "event", **asdict(ev)}) + "\n")
            summary = {
                "kind": "summary",
                "counts": dict(self.counts),
                "dropped": self.dropped,
                "handlers": self.handler_totals(),
            }
            f.write(json.dumps(summary) + "\n")


def trace(engine: Engine, window: int = 1000) -> Trace:
    """Trace ``engine``'s runs inside a ``with`` block; see ``Trace``.

    Args:
        engine: the engine to trace.
        window: how many of the latest event firings to keep.

    Returns:
        A ``Trace``: ``print()`` it, read ``.events`` and ``.counts``, or use
        ``.save(path)`` / ``.to_tensorboard(writer)``.

    Example:
        >>> from miniengine import Engine, Events
        >>> engine = Engine(lambda engine, batch: None)
        >>> with trace(engine) as t:
        ...     _ = engine.run([0, 0], max_epochs=2)
        >>> [e.event for e in t.events][:4]
        ['STARTED', 'EPOCH_STARTED', 'GET_BATCH_STARTED', 'GET_BATCH_COMPLETED']
        >>> t.counts["ITERATION_STARTED"], t.counts["DATALOADER_STOP_ITERATION"]
        (4, 1)
    """
    return Trace(engine, window)
