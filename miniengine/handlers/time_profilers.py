"""Time profilers: where a run's time goes, per event (``BasicTimeProfiler``) or per handler
(``HandlersTimeProfiler``), with Ignite 0.5.5's names, results and printed tables.

Neither profiler times anything itself. ``attach`` starts a ``miniengine.explain.Trace`` on
the engine (with ``per_run=True``, so that everything starts over at each STARTED and the
results cover the latest run, as Ignite's do) and the results are a view on that trace's
timings: one timing mechanism for ``explain.trace`` and the profilers. Both profilers attached
to one engine share its trace; ``profiler.trace`` is that trace (print it for the timeline).

Example:
    >>> from miniengine import Engine, Events
    >>> from miniengine.handlers import BasicTimeProfiler, HandlersTimeProfiler
    >>> engine = Engine(lambda engine, batch: sum(range(1000)))
    >>> basic, per_handler = BasicTimeProfiler(), HandlersTimeProfiler()
    >>> basic.attach(engine)
    >>> per_handler.attach(engine)
    >>> @engine.on(Events.EPOCH_COMPLETED)
    ... def log(engine):
    ...     pass
    >>> _ = engine.run(range(4), max_epochs=2)
    >>> results = basic.get_results()
    >>> results["event_handlers_names"]["EPOCH_COMPLETED_names"]
    ['log']
    >>> sorted(results["processing_stats"])
    ['max/index', 'mean', 'min/index', 'std', 'total']
    >>> [row[:2] for row in per_handler.get_results()]
    [['log', 'EPOCH_COMPLETED'], ['Total', ''], ['Processing', 'None'], ['Dataflow', 'None']]
"""

from __future__ import annotations

import csv
import os
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch

from miniengine.engine import Engine, Events
from miniengine.explain import Timings, Trace

__all__ = ["BasicTimeProfiler", "HandlersTimeProfiler"]

# Ignite's Events in the order of its enum (miniengine's lists STARTED first): results list
# the events in this order, then custom events in the order they were registered.
_IGNITE_ORDER = [
    "EPOCH_STARTED",
    "EPOCH_COMPLETED",
    "STARTED",
    "COMPLETED",
    "ITERATION_STARTED",
    "ITERATION_COMPLETED",
    "EXCEPTION_RAISED",
    "GET_BATCH_STARTED",
    "GET_BATCH_COMPLETED",
    "DATALOADER_STOP_ITERATION",
    "TERMINATE",
    "TERMINATE_SINGLE_EPOCH",
    "INTERRUPT",
]


def _profiling_trace(engine: Engine) -> Trace:
    """The trace the profilers of ``engine`` read, started on first use."""
    if not isinstance(engine, Engine):
        raise TypeError(
            f"Argument engine should be ignite.engine.Engine (here miniengine.engine.Engine), "
            f"but given {type(engine)}"
        )
    t = Trace.current(engine)
    if t is None:
        return Trace(engine, per_run=True, keep_values=True).start()
    if not (t.per_run and t.keep_values):
        raise RuntimeError(
            "A trace (miniengine.explain.trace) is on for this engine: stop it before attaching "
            "a time profiler, or attach the profiler first and read profiler.trace"
        )
    return t


def _ignite_name(handler: Callable) -> str:
    # Ignite's naming, so that the results name handlers as Ignite's do ("run.<locals>.log").
    return getattr(handler, "__qualname__", type(handler).__name__)


def _value(timings: Timings, index: int) -> float:
    values = timings.values or ()
    return values[index] if index < len(values) else 0.0


class _Profiler:
    """What both profilers share: attach, and the trace they read."""

    def __init__(self) -> None:
        self.trace: Trace | None = None

    def attach(self, engine: Engine) -> None:
        """Profile ``engine``'s runs from now on (each run's results replace the last's).

        Args:
            engine: the engine to profile.
        """
        self.trace = _profiling_trace(engine)

    def _trace(self) -> Trace:
        if self.trace is None:
            raise RuntimeError(
                f"{type(self).__name__} is not attached to an engine: call attach(engine) first"
            )
        return self.trace


# ----------------------------------------------------------------------------- per event
# The events BasicTimeProfiler reports, in Ignite's order, and those its table prints.
_BASIC_EVENTS = _IGNITE_ORDER[:6] + ["GET_BATCH_STARTED", "GET_BATCH_COMPLETED"]
_PRINTED = ["STARTED", "EPOCH_STARTED", "ITERATION_STARTED"]
_PRINTED += ["ITERATION_COMPLETED", "EPOCH_COMPLETED", "COMPLETED"]


def _basic_stats(t: Timings) -> OrderedDict[str, Any]:
    stats: OrderedDict[str, Any] = OrderedDict(total=t.total if t.n else "not yet triggered")
    if t.n > 1:
        stats["min/index"], stats["max/index"] = (t.min, t.argmin), (t.max, t.argmax)
        stats["mean"], stats["std"] = t.mean, t.std
    return stats


class BasicTimeProfiler(_Profiler):
    """Times the process function, the fetching of batches, and the handlers of each event
    taken together, over the latest run.

    ``get_results()`` gives, for each (``total``, and with two measurements or more
    ``min/index``, ``max/index``, ``mean``, ``std``; indices count the measurements from 0):

    - ``processing_stats``: each call of the process function;
    - ``dataflow_stats``: each batch fetched;
    - ``event_handlers_stats``: per event, each firing (its handlers from the first's start to
      the last's end), and ``total_time``, their sum over the events, as a 0-d tensor;
    - ``event_handlers_names``: the names of each event's handlers.


    Example:
        >>> from miniengine import Engine, Events
        >>> engine = Engine(lambda engine, batch: None)
        >>> profiler = BasicTimeProfiler()
        >>> profiler.attach(engine)
        >>> _ = engine.run([1, 2, 3], max_epochs=2)
        >>> results = profiler.get_results()
        >>> stats = results["event_handlers_stats"]
        >>> list(stats)  # doctest: +NORMALIZE_WHITESPACE
        ['EPOCH_STARTED', 'EPOCH_COMPLETED', 'STARTED', 'COMPLETED', 'ITERATION_STARTED',
         'ITERATION_COMPLETED', 'GET_BATCH_STARTED', 'GET_BATCH_COMPLETED', 'total_time']
        >>> stats["EPOCH_STARTED"]["max/index"][1] in (0, 1), list(stats["STARTED"])
        (True, ['total'])
    """

    # Ignite's public list of the events it does not time.
    events_to_ignore = [
        Events.EXCEPTION_RAISED,
        Events.TERMINATE,
        Events.TERMINATE_SINGLE_EPOCH,
        Events.DATALOADER_STOP_ITERATION,
        Events.INTERRUPT,
    ]

    def get_results(self) -> dict[str, dict[str, Any]]:
        """The statistics of the latest run so far (see the class docstring).

        Example:
            >>> from miniengine import Engine
            >>> profiler = BasicTimeProfiler()
            >>> profiler.attach(Engine(lambda engine, batch: None))
            >>> profiler.get_results()["processing_stats"]
            OrderedDict([('total', 'not yet triggered')])
        """
        t = self._trace()
        events = {e: t.event_timings.get(e, Timings()) for e in _BASIC_EVENTS}
        handler_stats: dict[str, Any] = {e: _basic_stats(times) for e, times in events.items()}
        handler_stats["total_time"] = torch.tensor(sum(times.total for times in events.values()))
        names: dict[str, list[str]] = {e + "_names": [] for e in _BASIC_EVENTS}
        for h in t.handler_timings():
            names.get(h.event + "_names", []).append(_ignite_name(h.handler))
        return OrderedDict(
            processing_stats=_basic_stats(t.processing),
            dataflow_stats=_basic_stats(t.dataflow),
            event_handlers_stats=handler_stats,
            event_handlers_names=names,
        )

    def write_results(self, output_path: str | os.PathLike) -> None:
        """Write every measurement of the latest run as CSV: one row per iteration, with its
        epoch, iteration, process-function and data times, and the times of the events around
        it (Ignite's columns: ``epoch, iteration, processing_stats, dataflow_stats,
        Event_STARTED, ...``; the run's and epoch's events are repeated on their rows).

        Args:
            output_path: the file to write (replaced if it exists).

        Example:
            >>> import os, tempfile
            >>> from miniengine import Engine
            >>> engine = Engine(lambda engine, batch: None)
            >>> profiler = BasicTimeProfiler()
            >>> profiler.attach(engine)
            >>> _ = engine.run([1, 2], max_epochs=2)
            >>> with tempfile.TemporaryDirectory() as d:
            ...     profiler.write_results(os.path.join(d, "times.csv"))
            ...     lines = open(os.path.join(d, "times.csv")).read().splitlines()
            >>> len(lines), lines[0].split(",")[:4], lines[3].split(",")[:2]
            (5, ['epoch', 'iteration', 'processing_stats', 'dataflow_stats'], ['2', '3'])
        """
        t = self._trace()
        rows = t.counts["ITERATION_STARTED"]
        per_epoch = t.engine.state.epoch_length or rows or 1
        times = {e: t.event_timings.get(e, Timings()) for e in _BASIC_EVENTS}
        run_events, epoch_events = ["STARTED", "COMPLETED"], ["EPOCH_STARTED", "EPOCH_COMPLETED"]
        iteration_events = ["ITERATION_STARTED", "ITERATION_COMPLETED"]
        iteration_events += ["GET_BATCH_STARTED", "GET_BATCH_COMPLETED"]
        with open(output_path, "w", newline="") as f:
            out = csv.writer(f)
            out.writerow(
                ["epoch", "iteration", "processing_stats", "dataflow_stats"]
                + [f"Event_{e}" for e in run_events + epoch_events + iteration_events]
            )
            for i in range(rows):
                epoch = i // per_epoch
                out.writerow(
                    [epoch + 1, i + 1, _value(t.processing, i), _value(t.dataflow, i)]
                    + [_value(times[e], 0) for e in run_events]
                    + [_value(times[e], epoch) for e in epoch_events]
                    + [_value(times[e], i) for e in iteration_events]
                )

    @staticmethod
    def print_results(results: Mapping[str, Any]) -> str:
        """Print ``get_results()``'s statistics as Ignite's table, and return the text.

        Args:
            results: what ``get_results()`` returned.

        Example:
            >>> from miniengine import Engine
            >>> engine = Engine(lambda engine, batch: None)
            >>> profiler = BasicTimeProfiler()
            >>> profiler.attach(engine)
            >>> _ = engine.run([1, 2])
            >>> text = profiler.print_results(profiler.get_results())  # doctest: +ELLIPSIS
            <BLANKLINE>
             ----------------------------------------------------
            | Time profiling stats (in seconds):                 |
             ----------------------------------------------------
            total  |  min/index  |  max/index  |  mean  |  std
            ...
            - Events.COMPLETED: []
            ...
        """

        def shown(value: Any) -> str:
            if isinstance(value, str):
                return value
            if isinstance(value, tuple):
                return f"{value[0]:.5f}/{value[1]}"
            return f"{value:.5f}"

        def row(stats: Mapping[str, Any]) -> str:
            return " | ".join(shown(v) for v in stats.values())

        events, names = results["event_handlers_stats"], results["event_handlers_names"]
        rule = " " + "-" * 52
        lines = ["", rule, f"| {'Time profiling stats (in seconds):':<51}|", rule]
        lines += ["total  |  min/index  |  max/index  |  mean  |  std", ""]
        lines += ["Processing function:", row(results["processing_stats"]), ""]
        lines += ["Dataflow:", row(results["dataflow_stats"]), ""]
        lines += ["Event handlers:", shown(events["total_time"]), ""]
        for e in _PRINTED:
            lines += [f"- Events.{e}: {names[e + '_names']}", row(events[e]), ""]
        message = "\n".join(lines)
        print(message)
        return message


# ----------------------------------------------------------------------------- per handler
def _handler_stats(t: Timings) -> list[Any]:
    if not t.n:
        return ["not triggered", ("None", "None"), ("None", "None"), "None", "None"]
    return [
        round(t.total, 5),
        (round(t.min, 5), t.argmin),
        (round(t.max, 5), t.argmax),
        round(t.mean, 5),
        round(t.std, 5) if t.n > 1 else "None",
    ]


class HandlersTimeProfiler(_Profiler):
    """Times each handler, the process function and the fetching of batches, over the latest
    run; custom events included.

    ``get_results()`` gives one row per handler and event, ``[handler, event, total,
    (min, index), (max, index), mean, std]`` (seconds rounded to 5 digits; "not triggered"
    and "None" for a handler that never ran, std "None" for one run), in Ignite's order of the
    events, then ``["Total", "", total, "", "", "", ""]`` and the rows ``Processing`` and
    ``Dataflow``. Handlers of one event that share a name (two ``Metric.completed``) make one
    row, as in Ignite; their indices count one handler's runs after the other's.


    Example:
        >>> from miniengine import Engine, Events
        >>> engine = Engine(lambda engine, batch: None)
        >>> profiler = HandlersTimeProfiler()
        >>> profiler.attach(engine)
        >>> def log(engine): pass
        >>> _ = engine.add_event_handler(Events.EPOCH_COMPLETED(every=2), log)
        >>> _ = engine.run([1, 2], max_epochs=3)
        >>> log_row, total_row, processing, dataflow = profiler.get_results()
        >>> log_row[:2], log_row[3][1], log_row[6]
        (['log', 'EPOCH_COMPLETED'], 0, 'None')
    """

    # Ignite's name (sic). Ignite cannot tell a run of a filtered handler from a skip, and
    # counts only calls that took this long; the trace knows, so this is not used.
    EVENT_FILTER_THESHOLD_TIME = 0.0001

    def _groups(self) -> list[tuple[str, str, Timings]]:
        """(handler name, event, timings) per name and event, in Ignite's order of events."""
        t = self._trace()
        order = list(dict.fromkeys([*_IGNITE_ORDER, *t.engine.event_handlers]))
        grouped: dict[tuple[str, str], list[Timings]] = {}
        for h in sorted(t.handler_timings(), key=lambda h: order.index(h.event)):
            grouped.setdefault((h.event, _ignite_name(h.handler)), []).append(h.timings)
        groups = []
        for (event, name), timings in grouped.items():
            if len(timings) > 1:  # the trace kept every value: merge them
                merged = Timings(keep=True)
                for value in (v for times in timings for v in times.values or ()):
                    merged.add(value)
                timings = [merged]
            groups.append((name, event, timings[0]))
        return groups

    def get_results(self) -> list[list[Any]]:
        """The rows of the latest run so far (see the class docstring).

        Example:
            >>> from miniengine import Engine
            >>> profiler = HandlersTimeProfiler()
            >>> profiler.attach(Engine(lambda engine, batch: None))
            >>> profiler.get_results()[-1]  # doctest: +NORMALIZE_WHITESPACE
            ['Dataflow', 'None', 'not triggered', ('None', 'None'), ('None', 'None'), 'None',
             'None']
        """
        t, groups = self._trace(), self._groups()
        rows = [[name, event, *_handler_stats(times)] for name, event, times in groups]
        total = float(sum(times.total for *_, times in groups))
        rows.append(["Total", "", round(total, 5), "", "", "", ""])
        rows.append(["Processing", "None", *_handler_stats(t.processing)])
        rows.append(["Dataflow", "None", *_handler_stats(t.dataflow)])
        return rows

    def write_results(self, output_path: str | os.PathLike) -> None:
        """Write every measurement of the latest run as CSV: a column per handler (Ignite's
        ``"name (EVENT)"``) after ``#``, ``processing_stats`` and ``dataflow_stats``; row ``k``
        holds each one's ``k``-th time, 0 where it has fewer.

        Args:
            output_path: the file to write (replaced if it exists).

        Example:
            >>> import os, tempfile
            >>> from miniengine import Engine, Events
            >>> engine = Engine(lambda engine, batch: None)
            >>> profiler = HandlersTimeProfiler()
            >>> profiler.attach(engine)
            >>> def log(engine): pass
            >>> _ = engine.add_event_handler(Events.EPOCH_COMPLETED, log)
            >>> _ = engine.run([1, 2, 3])
            >>> with tempfile.TemporaryDirectory() as d:
            ...     profiler.write_results(os.path.join(d, "times.csv"))
            ...     lines = open(os.path.join(d, "times.csv")).read().splitlines()
            >>> lines[0], len(lines), lines[2].split(",")[-1]
            ('#,processing_stats,dataflow_stats,log (EPOCH_COMPLETED)', 4, '0.0')
        """
        t = self._trace()
        headers = ["processing_stats", "dataflow_stats"]
        columns = [t.processing, t.dataflow]
        for name, event, times in self._groups():
            headers.append(f"{name} ({event})")
            columns.append(times)
        with open(output_path, "w", newline="") as f:
            out = csv.writer(f)
            out.writerow(["#", *headers])
            for i in range(max(times.n for times in columns)):
                out.writerow([i + 1, *(_value(times, i) for times in columns)])

    @staticmethod
    def print_results(results: Sequence[Sequence[Any]]) -> None:
        """Print ``get_results()``'s rows as Ignite's table (the rows are left unchanged).

        Args:
            results: what ``get_results()`` returned.

        Example:
            >>> from miniengine import Engine, Events
            >>> engine = Engine(lambda engine, batch: None)
            >>> profiler = HandlersTimeProfiler()
            >>> profiler.attach(engine)
            >>> def log(engine): pass
            >>> _ = engine.add_event_handler(Events.COMPLETED, log)
            >>> _ = engine.run([1, 2])
            >>> profiler.print_results(profiler.get_results())
            ... # doctest: +ELLIPSIS +NORMALIZE_WHITESPACE
            <BLANKLINE>
            --------------  -------------  --------------  --------------  ...
            Handler         Event Name     Total(s)        Min(s)/IDX   ...   Mean(s)  Std(s)
            --------------  -------------  --------------  --------------  ...
            log             COMPLETED      ...  None
            --------------  -------------  --------------  --------------  ...
            Total                          ...
            --------------  -------------  --------------  --------------  ...
            Processing took total ...s [min/index: ...s/..., max/index: ..., std: ...s]
            Dataflow took total ...s [min/index: ...s/..., max/index: ..., std: ...s]
            <BLANKLINE>
        """
        widths = [max(len(row[0]) for row in results) + 4, max(len(row[1]) for row in results) + 4]
        widths += [14] * 5

        def line(cells: Sequence[Any]) -> str:
            # Ignite's layout: the names left-aligned, the numbers right-aligned, 2 spaces after
            # every column (the last one too).
            return "".join(
                f"{cell:<{width}}  " if i < 2 else f"{cell:>{width}}  "
                for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
            )

        rule = "".join("-" * width + "  " for width in widths)
        headers = ["Handler", "Event Name", "Total(s)", "Min(s)/IDX", "Max(s)/IDX"]
        lines = ["", rule, line([*headers, "Mean(s)", "Std(s)"]), rule]
        for name, event, total, low, high, mean, std in results[:-3]:
            lines.append(line([name, event, total, "{}/{}".format(*low), "{}/{}".format(*high)]
                              + [mean, std]))  # fmt: skip
        lines += [rule, line(results[-3]), rule]
        for name, _, total, low, high, mean, std in results[-2:]:
            lines.append(
                f"{name} took total {total}s [min/index: {low[0]}s/{low[1]}, max/index: "
                f"{high[0]}s/{high[1]}, mean: {mean}s, std: {std}s]"
            )
        print("\n".join(lines) + "\n")
