"""See a run: ``describe(engine)`` lists what is attached, ``trace(engine)`` records what happens.

``describe`` reads the engine's handler table and prints it in the order the run loop fires
the events, with each filter in words. ``trace`` records, while it is on, every event that
fires, at which epoch and iteration, and for each handler whether it ran or a filter skipped
it and how long it took. It works by swapping the engine's handler lists for timed copies and
putting the originals back on exit, so when no trace is on nothing in the engine changes and
a run costs exactly what it did. It also keeps running timings (``Timings``) of every event,
handler, process-function call and batch fetched, for the whole trace: the time profilers of
``miniengine.handlers`` are views on them.

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
import math
import os
import re
import time
from array import array
from collections import Counter, deque
from collections.abc import Callable, Iterable, MutableSequence
from dataclasses import asdict, dataclass, field
from typing import Any

from miniengine.engine import Engine, HandlerEntry
from miniengine.engine.events import Between, Every, Once

__all__ = [
    "HandlerCall",
    "HandlerTimings",
    "as_loop",
    "Timings",
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

    The built-in filters (``Every``, ``Once``, ``Between`` of ``miniengine.engine.events``)
    are described from their fields; any other filter by its function name.

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
    if isinstance(event_filter, Every):
        return f"every {_ordinal(event_filter.every)} {counter}"
    if isinstance(event_filter, Once):
        counts = [str(c) for c in sorted(event_filter.counts)]
        if len(counts) == 1:
            return f"once, at {counter} {counts[0]}"
        return f"at {_plural(counter)} {_listed(counts)}"
    if isinstance(event_filter, Between):
        first, every = event_filter.after + 1, event_filter.every
        if event_filter.before == math.inf:
            span = f"{_plural(counter)} from {first} on"
        elif (last := int(event_filter.before) - 1) == first:
            return f"once, at {counter} {first}"
        else:
            span = f"{_plural(counter)} {first}..{last}"
        return span if every == 1 else f"{span}, every {_ordinal(every)}"
    name = getattr(event_filter, "__name__", type(event_filter).__name__)
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


def _call(key: str, entry: HandlerEntry) -> str:
    handler, with_engine, args, kwargs, _ = entry
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
    registered = engine.event_handlers
    custom = [key for key in registered if key not in FIRING_ORDER]
    return [key for key in FIRING_ORDER if key in registered] + custom


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
    handlers, counters = engine.event_handlers, engine.state.event_to_attr
    for key in _events_in_order(engine):
        if key == "ITERATION_COMPLETED":
            call = f"{handler_name(engine._process_function)}(engine, batch)"
            rows.append(["process_function", call, "every iteration"])
        for i, entry in enumerate(_original_entries(handlers[key])):
            when = filter_in_words(entry.filter, counters.get(key))
            rows.append([key if i == 0 else "", _call(key, entry), when])
    return _table(rows)


# ----------------------------------------------------------------------------- trace
class Timings:
    """Running statistics of measured durations: count, total, min and max (with the index of
    the measurement), mean and standard deviation, in constant memory.

    The mean and variance are updated with Welford's method, which stays accurate over
    millions of values. ``std`` is the sample standard deviation (divided by ``n - 1``, as
    ``torch.std``); it is nan with fewer than two values.

    Args:
        keep: also keep every value, in order, in ``values`` (8 bytes each).

    Example:
        >>> t = Timings()
        >>> for seconds in (0.5, 0.25, 1.0):
        ...     t.add(seconds)
        >>> t.n, t.total, (t.min, t.argmin), (t.max, t.argmax), round(t.mean, 4), round(t.std, 4)
        (3, 1.75, (0.25, 1), (1.0, 2), 0.5833, 0.3819)
    """

    def __init__(self, keep: bool = False) -> None:
        self.n = 0
        self.total = self.mean = 0.0
        self.min, self.max = math.inf, -math.inf
        self.argmin = self.argmax = -1
        self._m2 = 0.0  # sum of squared distances from the mean
        self.values: MutableSequence[float] | None = array("d") if keep else None

    def add(self, seconds: float) -> None:
        """Add one measurement.

        Args:
            seconds: the duration measured.
        """
        if seconds < self.min:
            self.min, self.argmin = seconds, self.n
        if seconds > self.max:
            self.max, self.argmax = seconds, self.n
        self.n += 1
        self.total += seconds
        delta = seconds - self.mean
        self.mean += delta / self.n
        self._m2 += delta * (seconds - self.mean)
        if self.values is not None:
            self.values.append(seconds)

    @property
    def std(self) -> float:
        """The sample standard deviation (nan with fewer than two values)."""
        return math.sqrt(self._m2 / (self.n - 1)) if self.n > 1 else math.nan

    def __repr__(self) -> str:
        return f"Timings(n={self.n}, total={self.total:.6f})"


@dataclass(frozen=True)
class HandlerTimings:
    """How long one handler took each time it ran, as ``Trace.handler_timings`` gives it.

    Args:
        event: the event's name.
        handler: the handler, as it was attached.
        timings: its running times (``timings.n`` is how often it ran).
        skipped: how often its filter skipped it.

    Example:
        >>> h = HandlerTimings("COMPLETED", print, Timings(), skipped=0)
        >>> h.event, h.timings.n
        ('COMPLETED', 0)
    """

    event: str
    handler: Callable
    timings: Timings
    skipped: int


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

    def __init__(self, trace: Trace, key: str, entry: HandlerEntry) -> None:
        self.trace, self.key, self.entry = trace, key, entry
        self.name = handler_name(entry.handler)
        self.skipped = 0
        self.timings = Timings(trace.keep_values)

    ran = property(lambda self: self.timings.n)
    seconds = property(lambda self: self.timings.total)

    def __call__(self, engine: Engine, *event_args: Any, **event_kwargs: Any) -> None:
        handler, with_engine, args, kwargs, event_filter = self.entry
        record = self.trace._current.get(self.key)
        counter = engine.state.event_to_attr.get(self.key)  # a filtered event always has one
        count = getattr(engine.state, counter) if counter else 0
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
            self.timings.add(call.seconds)
            if record is not None:
                record.calls.append(call)

    # has_event_handler / remove_event_handler compare entries with `==`: while traced,
    # the stand-in must still count as the handler it stands for.
    def __eq__(self, other: object) -> bool:
        return other is self or self.entry.handler == other

    def __hash__(self) -> int:
        return hash(self.entry.handler)


def _original_entries(entries: Iterable[HandlerEntry]) -> list[HandlerEntry]:
    """The handler entries as they were before tracing (describe() works while tracing too)."""
    return [
        e.handler.entry if isinstance(e.handler, _Timed) else e
        for e in entries
        if not _is_marker(e)
    ]


def _is_marker(entry: HandlerEntry) -> bool:
    return isinstance(entry.handler, _Recorder | _Closer)


# The events at which the trace looks for handlers added since it started, and wraps them so
# that they are timed too (reading the handler table at every firing would cost more than all
# the rest of the trace); until then they run untimed, in their place.
_LOOK_AT = {"STARTED", "EPOCH_STARTED", "EPOCH_COMPLETED", "COMPLETED"}


class _Recorder:
    """First entry of each traced handler list: notes the event, and measures the time since
    the event before it (the process function, fetching a batch)."""

    def __init__(self, trace: Trace, key: str) -> None:
        self.trace, self.key = trace, key
        self.entry = HandlerEntry(self, True, (), {}, None)
        self.closer = HandlerEntry(_Closer(trace, key), True, (), {}, None)

    def __call__(self, engine: Engine, *event_args: Any, **event_kwargs: Any) -> None:
        t, key = self.trace, self.key
        if key == "STARTED" and t.per_run:
            t.reset()
        elif key in _LOOK_AT:
            t._instrument()
        now = time.perf_counter()
        if key == "ITERATION_COMPLETED":
            t._add_time_since("ITERATION_STARTED", t.processing, now)
        elif key == "GET_BATCH_COMPLETED":
            t._add_time_since("GET_BATCH_STARTED", t.dataflow, now)
        elif key == "INTERRUPT":
            t._ended.clear()  # run() returns: the pause until the next run() is nobody's time
        t._began[key] = now
        s = engine.state
        # Per event, so that a handler firing another event does not steal the later calls.
        record = TracedEvent(key, s.epoch, s.iteration, now - t._start)
        t._current[key] = record
        t._window.append(record)
        t.counts[key] += 1


class _Closer:
    """Last entry of each traced handler list: the event's handlers are done."""

    def __init__(self, trace: Trace, key: str) -> None:
        self.trace, self.key = trace, key

    def __call__(self, engine: Engine, *event_args: Any, **event_kwargs: Any) -> None:
        t, now = self.trace, time.perf_counter()
        t._ended[self.key] = now
        if (began := t._began.pop(self.key, None)) is not None:
            t.event_timings[self.key].add(now - began)


class Trace:
    """Records the timeline of runs of an engine; use it through ``trace(engine)``.

    While on, every event fires (even those without handlers, which the engine otherwise
    skips), so ``engine.last_event_name`` follows every event. Handlers are called exactly as
    without the trace, in the same order, with the same filters. An EXCEPTION_RAISED recorder
    is added only if that event already has handlers, since having one changes what the engine
    does with an exception. Handlers added and events registered while the trace is on are
    taken in at the next STARTED, EPOCH_STARTED, EPOCH_COMPLETED or COMPLETED; until then
    they run in their place, untimed.

    Memory is bounded: ``events`` keeps the last ``window`` firings; ``counts``, the handler
    totals and the timings cover the whole trace.

    Timings (``Timings``: count, total, min, max, mean, std), for the whole trace:

    - ``event_timings[event]``: each firing, from the start of its first handler to the end of
      its last (tiny but not zero for an event without handlers);
    - ``handler_timings()``: each run of each handler;
    - ``processing``: each call of the process function, measured from the end of the
      ITERATION_STARTED handlers to the start of the ITERATION_COMPLETED ones (so it includes
      the handlers of events that the process function fires);
    - ``dataflow``: each batch fetched, from the end of the GET_BATCH_STARTED handlers to the
      start of the GET_BATCH_COMPLETED ones.

    ``miniengine.handlers.BasicTimeProfiler`` and ``HandlersTimeProfiler`` are views on these.

    Args:
        engine: the engine to trace.
        window: how many of the latest firings ``events`` keeps (a positive int).
        per_run: forget what was recorded at each STARTED, so that everything covers the
            latest run only.
        keep_values: also keep every measured time in the timings' ``values`` (8 bytes per
            measurement), not only their running statistics.

    Example:
        >>> from miniengine import Engine, Events
        >>> engine = Engine(lambda engine, batch: None)
        >>> t = Trace(engine, window=2).start()
        >>> _ = engine.run([0, 0])
        >>> t.stop()
        >>> [(e.event, e.epoch, e.iteration) for e in t.events], t.dropped
        ([('EPOCH_COMPLETED', 1, 2), ('COMPLETED', 1, 2)], 10)
        >>> t.processing.n, t.dataflow.n, t.event_timings["EPOCH_STARTED"].n
        (2, 2, 1)
    """

    def __init__(
        self, engine: Engine, window: int = 1000, per_run: bool = False, keep_values: bool = False
    ) -> None:
        if not isinstance(engine, Engine):
            raise TypeError(f"Argument engine should be an Engine, got {type(engine).__name__}")
        if isinstance(window, bool) or not isinstance(window, int) or window < 1:
            raise ValueError(f"Argument window should be a positive int, got {window!r}")
        self.engine = engine
        self.window = window
        self.per_run, self.keep_values = per_run, keep_values
        self.counts: Counter[str] = Counter()
        self.event_timings: dict[str, Timings] = {}
        self.processing, self.dataflow = Timings(keep_values), Timings(keep_values)
        self._window: deque[TracedEvent] = deque(maxlen=window)
        self._timed: list[_Timed] = []
        self._current: dict[str, TracedEvent] = {}
        self._on = False
        self._start = 0.0
        # When each event's latest firing began (its handlers not all done yet) and ended.
        self._began: dict[str, float] = {}
        self._ended: dict[str, float] = {}

    @staticmethod
    def current(engine: Engine) -> Trace | None:
        """The trace that is on for ``engine``, or None.

        Args:
            engine: an engine.

        Example:
            >>> from miniengine import Engine
            >>> engine = Engine(lambda engine, batch: None)
            >>> with trace(engine) as t:
            ...     Trace.current(engine) is t
            True
            >>> Trace.current(engine) is None
            True
        """
        for entries in engine.event_handlers.values():
            for entry in entries:
                if isinstance(entry.handler, _Recorder):
                    return entry.handler.trace
        return None

    # ------------------------------------------------------------------ on / off
    def _wrap(self, key: str, entry: HandlerEntry) -> HandlerEntry:
        timed = _Timed(self, key, entry)
        self._timed.append(timed)
        return HandlerEntry(timed, True, (), {}, None)

    def _instrument(self) -> None:
        """Give each event a recorder first, a closer last and timed stand-ins for its handlers
        in between; for an event traced already, wrap the handlers added since.

        The lists are changed in place: a firing in progress goes on with the new list.
        """
        for key, entries in self.engine.event_handlers.items():
            if key == "EXCEPTION_RAISED" and not entries:
                continue  # a handler here would swallow exceptions the run should raise
            recorder = entries[0].handler if entries else None
            if not isinstance(recorder, _Recorder):
                recorder = _Recorder(self, key)
            elif entries[-1].handler is recorder.closer.handler and all(
                isinstance(e.handler, _Timed) for e in entries[1:-1]
            ):
                continue  # nothing new
            self.event_timings.setdefault(key, Timings(self.keep_values))
            wrapped = [
                e if isinstance(e.handler, _Timed) else self._wrap(key, e)
                for e in entries
                if not _is_marker(e)
            ]
            self.engine.set_event_handlers(key, [recorder.entry, *wrapped, recorder.closer])

    def _add_time_since(self, key: str, timings: Timings, now: float) -> None:
        if (ended := self._ended.pop(key, None)) is not None:
            timings.add(now - ended)

    def start(self) -> Trace:
        """Start recording (the ``with`` statement calls this); returns the trace."""
        if self._on:
            raise RuntimeError("This trace is already on")
        if Trace.current(self.engine) is not None:
            raise RuntimeError("Another trace is already on for this engine")
        self._on = True
        self._start = time.perf_counter()
        self._instrument()
        return self

    def stop(self) -> None:
        """Stop recording and give the engine back its handler lists.

        A list nobody changed during the trace is put back as the very same list object;
        handlers added or removed meanwhile stay added or removed.
        """
        if not self._on:
            return
        for key, entries in self.engine.event_handlers.items():
            if any(_is_marker(e) for e in entries):
                self.engine.set_event_handlers(key, _original_entries(entries))
        self._on = False
        self._current, self._began, self._ended = {}, {}, {}

    def reset(self) -> None:
        """Forget what was recorded (firings, counts, timings); a trace that is on stays on.

        Example:
            >>> from miniengine import Engine
            >>> engine = Engine(lambda engine, batch: None)
            >>> with trace(engine) as t:
            ...     _ = engine.run([0, 0])
            ...     t.reset()
            ...     _ = engine.run([0])
            >>> t.counts["ITERATION_COMPLETED"], t.processing.n
            (1, 1)
        """
        keep = self.keep_values
        self.counts.clear()
        self._window.clear()
        self._current, self._began, self._ended = {}, {}, {}
        self.event_timings = {key: Timings(keep) for key in self.event_timings}
        self.processing, self.dataflow = Timings(keep), Timings(keep)
        # Handlers removed since the trace started are forgotten too.
        self._timed = [
            e.handler
            for entries in self.engine.event_handlers.values()
            for e in entries
            if isinstance(e.handler, _Timed) and e.handler.trace is self
        ]
        for timed in self._timed:
            timed.timings, timed.skipped = Timings(keep), 0
        self._start = time.perf_counter()
        if self._on:
            self._instrument()

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

    def handler_timings(self) -> list[HandlerTimings]:
        """Per handler, over the whole trace: its event, the handler itself, its running times
        and how often a filter skipped it; in the order the handlers were first traced.

        Example:
            >>> from miniengine import Engine, Events
            >>> engine = Engine(lambda engine, batch: None)
            >>> def log(engine): pass
            >>> _ = engine.add_event_handler(Events.ITERATION_COMPLETED(every=2), log)
            >>> with trace(engine) as t:
            ...     _ = engine.run([0, 0, 0])
            >>> [(h.event, h.handler.__name__, h.timings.n, h.skipped) for h in t.handler_timings()]
            [('ITERATION_COMPLETED', 'log', 1, 2)]
        """
        return [HandlerTimings(t.key, t.entry.handler, t.timings, t.skipped) for t in self._timed]

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
        steps = [("process_function", self.processing), ("fetching batches", self.dataflow)]
        if any(timings.n for _, timings in steps):
            lines += ["", "time (whole trace)"]
            rows = [["", "calls", "total ms", "mean ms", "max ms"]]
            rows += [
                [what, str(t.n), *(f"{x * 1e3:.3f}" for x in (t.total, t.mean, t.max))]
                for what, t in steps
                if t.n
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


def as_loop(engine: Engine) -> Any:
    """The plain PyTorch loop that ``engine`` runs, as source code you can read and run.

    Built by ``miniengine.as_loop``, imported only here, when asked for: an engine that never
    calls this pays nothing for it.

    Args:
        engine: the engine, with its handlers attached.

    Returns:
        An object with ``.source`` (the loop as text) and ``.run(data, ...)`` (which runs
        exactly that text on the engine and returns ``engine.state``).

    Example:
        >>> from miniengine import Engine, Events
        >>> engine = Engine(lambda engine, batch: batch)
        >>> _ = engine.add_event_handler(Events.EPOCH_COMPLETED, lambda e: print(e.state.output))
        >>> loop = as_loop(engine)
        >>> _ = loop.run([1, 2, 3], max_epochs=2)
        3
        3
    """
    from miniengine.as_loop import as_loop as build

    return build(engine)
