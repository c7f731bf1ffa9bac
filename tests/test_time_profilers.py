"""Time profilers: the same engine profiled by Ignite's and by ours gives results of the same
structure (keys, events, handler names, counts of measured calls); the numbers are checked for
consistency (totals, sums, orderings), never for speed."""

from __future__ import annotations

import copy
import csv
import math
from collections import Counter
from typing import Any

import pytest
import torch

from miniengine import Engine, EventEnum, Events
from miniengine.explain import trace
from miniengine.handlers import BasicTimeProfiler, HandlersTimeProfiler

try:
    import ignite.engine as ignite_engine
    import ignite.handlers.time_profilers as ignite_profilers
except ImportError:  # the oracle tests skip
    ignite_engine = ignite_profilers = None  # type: ignore[assignment]

needs_ignite = pytest.mark.skipif(ignite_engine is None, reason="pytorch-ignite not installed")


# --------------------------------------------------------------------------- a profiled run
def busy(n: int) -> int:
    return sum(range(n))


def heavy(engine):
    busy(200_000)  # milliseconds: far above Ignite's 0.1 ms threshold for filtered handlers


def light(engine):
    pass


def with_args(engine, a, key=None):
    pass


def never(engine):
    pass


class Probe:
    def __call__(self, engine):
        pass


class Tally:
    def tick(self, engine):
        busy(5000)  # enough for its totals to show in results rounded to 10 us


def profiled_engine(lib: Any) -> Engine:
    """A run with handlers on every event, a custom event fired by the process function, a
    filtered handler, one that never runs, handlers with arguments, a callable object, and
    two handlers of one event that share a name."""

    class StepEvents(lib.EventEnum):  # type: ignore[name-defined,misc]
        BACKWARD = "backward"

    def step(engine, batch):
        busy(20_000)
        engine.fire_event(StepEvents.BACKWARD)
        return batch

    engine = lib.Engine(step)
    engine.register_events(*StepEvents)
    ev = lib.Events
    for event in (ev.STARTED, ev.EPOCH_STARTED, ev.GET_BATCH_STARTED, ev.GET_BATCH_COMPLETED,
                  ev.ITERATION_STARTED, ev.ITERATION_COMPLETED, ev.EPOCH_COMPLETED, ev.COMPLETED,
                  StepEvents.BACKWARD):  # fmt: skip
        engine.add_event_handler(event, light)
    engine.add_event_handler(ev.EPOCH_COMPLETED(every=2), heavy)
    engine.add_event_handler(ev.EPOCH_STARTED(once=99), never)
    engine.add_event_handler(ev.ITERATION_STARTED, with_args, 1, key=2)
    engine.add_event_handler(ev.COMPLETED, Probe())
    engine.add_event_handler(ev.ITERATION_COMPLETED, Tally().tick)
    engine.add_event_handler(ev.ITERATION_COMPLETED, Tally().tick)
    return engine


class _Lib:
    def __init__(self, engine_module: Any) -> None:
        self.Engine, self.Events = engine_module.Engine, engine_module.Events
        self.EventEnum = engine_module.EventEnum


OURS = _Lib(__import__("miniengine"))
DATA, EPOCHS = [1, 2, 3, 4], 3


def run_profiled(lib: _Lib, profiler_class: type, runs: int = 1) -> tuple[Any, Any]:
    engine = profiled_engine(lib)
    profiler = profiler_class()
    profiler.attach(engine)
    for _ in range(runs):  # a finished run restarts: the results cover the latest only
        engine.run(DATA, max_epochs=EPOCHS)
    return profiler, engine


def ignite_name(handler: Any) -> str:
    return getattr(handler, "__qualname__", type(handler).__name__)


def structure(value: Any) -> Any:
    """The value with every number replaced by its type: what must equal Ignite's."""
    if isinstance(value, dict):
        return [(k, structure(v)) for k, v in value.items()]
    if isinstance(value, list | tuple):
        return type(value)(structure(v) for v in value)
    if isinstance(value, torch.Tensor):
        return ("tensor", tuple(value.shape))
    if isinstance(value, float | int) and not isinstance(value, bool):
        return "number"
    return value


# --------------------------------------------------------------------------- BasicTimeProfiler
@needs_ignite
@pytest.mark.parametrize("runs", [1, 2])
def test_basic_results_have_ignites_structure_and_counts(runs):
    ours, _ = run_profiled(OURS, BasicTimeProfiler, runs)
    theirs, _ = run_profiled(_Lib(ignite_engine), ignite_profilers.BasicTimeProfiler, runs)
    assert structure(ours.get_results()) == structure(theirs.get_results())
    # Counts of measured firings: Ignite keeps a tensor slot per firing.
    for event, times in theirs.event_handlers_times.items():
        assert ours.trace.event_timings[event.name].n == int((times > 0).sum()), event
    assert ours.trace.processing.n == int((theirs.processing_times > 0).sum()) == 12
    assert ours.trace.dataflow.n == int((theirs.dataflow_times > 0).sum()) == 12


@needs_ignite
def test_basic_names_equal_ignites_with_handlers_added_after_attach():
    def build(lib: _Lib, profiler_class: type) -> dict:
        engine = lib.Engine(lambda engine, batch: None)
        profiler = profiler_class()
        profiler.attach(engine)
        engine.add_event_handler(lib.Events.STARTED, light)  # after attach, as Ignite's tests do
        engine.add_event_handler(lib.Events.EPOCH_COMPLETED(every=2), heavy)
        engine.run(DATA, max_epochs=2)
        return profiler.get_results()["event_handlers_names"]

    ours = build(OURS, BasicTimeProfiler)
    assert ours == build(_Lib(ignite_engine), ignite_profilers.BasicTimeProfiler)
    assert ours["STARTED_names"] == ["light"] and ours["EPOCH_COMPLETED_names"] == ["heavy"]


def test_basic_numbers_are_consistent():
    profiler, engine = run_profiled(OURS, BasicTimeProfiler)
    results = profiler.get_results()
    stats = results["event_handlers_stats"]
    events = [key for key in stats if key != "total_time"]
    assert stats["total_time"].item() == pytest.approx(sum(stats[e]["total"] for e in events))
    for s in [results["processing_stats"], results["dataflow_stats"]] + [stats[e] for e in events]:
        assert s["total"] > 0
        if len(s) > 1:
            (low, i), (high, j), n = s["min/index"], s["max/index"], round(s["total"] / s["mean"])
            assert 0 < low <= s["mean"] <= high and 0 <= i < n and 0 <= j < n and s["std"] >= 0
    # The process function's busy loop dwarfs taking an item from a list; the every-2nd-epoch
    # heavy handler dwarfs a light handler on every epoch start.
    assert results["processing_stats"]["total"] > results["dataflow_stats"]["total"]
    assert stats["EPOCH_COMPLETED"]["max/index"][1] == 1  # epoch 2, the heavy one's only run
    assert stats["EPOCH_COMPLETED"]["total"] > stats["EPOCH_STARTED"]["total"]


@needs_ignite
def test_basic_print_is_ignites_text():
    profiler, _ = run_profiled(OURS, BasicTimeProfiler)
    results = profiler.get_results()
    ours = BasicTimeProfiler.print_results(results)
    theirs = ignite_profilers.BasicTimeProfiler.print_results(copy.deepcopy(results))
    assert ours == theirs
    assert "- Events.ITERATION_COMPLETED: ['light', 'Tally.tick', 'Tally.tick']" in ours
    # An unrun profiler prints "not yet triggered", like Ignite's before its first run.
    fresh = BasicTimeProfiler()
    fresh.attach(Engine(lambda engine, batch: None))
    assert fresh.print_results(fresh.get_results()).count("not yet triggered") == 8


def test_basic_csv_has_a_row_per_iteration(tmp_path):
    profiler, _ = run_profiled(OURS, BasicTimeProfiler)
    path = tmp_path / "basic.csv"
    profiler.write_results(path)
    rows = list(csv.reader(path.open()))
    assert rows[0] == ["epoch", "iteration", "processing_stats", "dataflow_stats",
                       "Event_STARTED", "Event_COMPLETED", "Event_EPOCH_STARTED",
                       "Event_EPOCH_COMPLETED", "Event_ITERATION_STARTED",
                       "Event_ITERATION_COMPLETED", "Event_GET_BATCH_STARTED",
                       "Event_GET_BATCH_COMPLETED"]  # fmt: skip
    body = [[float(x) for x in row] for row in rows[1:]]
    assert [(r[0], r[1]) for r in body] == [(i // 4 + 1, i + 1) for i in range(12)]
    results = profiler.get_results()
    columns = list(zip(*body, strict=True))
    assert sum(columns[2]) == pytest.approx(results["processing_stats"]["total"])
    assert sum(columns[3]) == pytest.approx(results["dataflow_stats"]["total"])
    # Epoch values repeat on their epoch's rows: each epoch's sum counted epoch_length times.
    epoch_total = results["event_handlers_stats"]["EPOCH_COMPLETED"]["total"]
    assert sum(columns[7]) == pytest.approx(4 * epoch_total)
    # Epoch 2's EPOCH_COMPLETED ran the heavy handler: its rows, iterations 5 to 8, hold the max.
    assert [i for i, v in enumerate(columns[7]) if v == max(columns[7])] == [4, 5, 6, 7]
    assert list(columns[2]) == list(profiler.trace.processing.values)  # in iteration order
    assert len(set(columns[4])) == 1 and columns[4][0] > 0


# --------------------------------------------------------------------------- HandlersTimeProfiler
def _our_counts(profiler: HandlersTimeProfiler) -> Counter:
    counts: Counter = Counter()
    for h in profiler.trace.handler_timings():
        counts[(ignite_name(h.handler), h.event)] += h.timings.n
    return counts


@needs_ignite
@pytest.mark.parametrize("runs", [1, 2])
def test_handlers_results_have_ignites_rows_and_counts(runs):
    ours, _ = run_profiled(OURS, HandlersTimeProfiler, runs)
    theirs, _ = run_profiled(_Lib(ignite_engine), ignite_profilers.HandlersTimeProfiler, runs)
    our_rows, their_rows = ours.get_results(), theirs.get_results()
    assert structure(our_rows) == structure(their_rows)
    assert [r[:2] for r in our_rows] == [r[:2] for r in their_rows]
    assert ["never", "EPOCH_STARTED", "not triggered"] in [r[:3] for r in our_rows]
    their_counts = {
        (name, getattr(event, "name", str(event))): len(times)
        for event, by_name in theirs.event_handlers_times.items()
        for name, times in by_name.items()
    }
    assert dict(_our_counts(ours)) == their_counts
    assert their_counts[("Tally.tick", "ITERATION_COMPLETED")] == 24  # two handlers, one row
    assert ours.trace.processing.n == ours.trace.dataflow.n == 12
    # Ignite bug, not copied: each run adds its processing and dataflow timers again, so the
    # k-th run measures every iteration k times (and its totals grow k-fold).
    assert len(theirs.processing_times) == len(theirs.dataflow_times) == 12 * runs


def test_handlers_numbers_are_consistent():
    profiler, _ = run_profiled(OURS, HandlersTimeProfiler)
    *rows, total, processing, dataflow = profiler.get_results()
    ran = [r for r in rows if r[2] != "not triggered"]
    assert total[2] == pytest.approx(sum(r[2] for r in ran), abs=1e-5 * len(ran))
    for name, _, tot, (low, i), (high, j), mean, std in ran + [processing, dataflow]:
        assert tot >= 0 and low <= mean <= high and i >= 0 and j >= 0, name
        assert std == "None" or std >= 0
    by_name = {(r[0], r[1]): r for r in rows}
    heavy_row = by_name[("heavy", "EPOCH_COMPLETED")]
    light_row = by_name[("light", "EPOCH_STARTED")]
    assert heavy_row[6] == "None" and heavy_row[3][1] == 0  # one run: no std, index 0
    assert heavy_row[2] > light_row[2]
    assert processing[2] > dataflow[2]
    handlers = profiler.trace.handler_timings()
    ticks = [h.timings for h in handlers if isinstance(getattr(h.handler, "__self__", 0), Tally)]
    assert len(ticks) == 2 and by_name[("Tally.tick", "ITERATION_COMPLETED")][2] == pytest.approx(
        sum(t.total for t in ticks), abs=1e-5
    )  # one row for both
    # The process function's time includes the handlers of the event it fires.
    assert processing[2] >= by_name[("light", "BACKWARD")][2]


def test_a_fast_filtered_handler_is_counted_every_time_it_runs():
    # Ignite keeps only the runs of a filtered handler that took 0.1 ms or more (it cannot
    # tell a run from a skip); the trace knows which calls ran.
    engine = Engine(lambda engine, batch: None)
    profiler = HandlersTimeProfiler()
    profiler.attach(engine)
    engine.add_event_handler(Events.ITERATION_COMPLETED(every=3), light)
    engine.run(range(10))
    (row, *_) = profiler.get_results()
    assert row[:2] == ["light", "ITERATION_COMPLETED"]
    assert _our_counts(profiler)[("light", "ITERATION_COMPLETED")] == 3  # iterations 3, 6, 9


@needs_ignite
def test_handlers_print_is_ignites_text(capsys):
    profiler, _ = run_profiled(OURS, HandlersTimeProfiler)
    rows = profiler.get_results()
    kept = copy.deepcopy(rows)
    HandlersTimeProfiler.print_results(rows)
    ours = capsys.readouterr().out
    assert rows == kept  # Ignite's print changes the rows it is given; ours does not
    ignite_profilers.HandlersTimeProfiler.print_results(copy.deepcopy(rows))
    assert ours == capsys.readouterr().out
    assert "Processing took total" in ours and "Tally.tick" in ours


def test_handlers_csv_has_a_column_per_row_and_a_line_per_call(tmp_path):
    profiler, _ = run_profiled(OURS, HandlersTimeProfiler)
    path = tmp_path / "handlers.csv"
    profiler.write_results(path)
    header, *body = list(csv.reader(path.open()))
    rows = profiler.get_results()[:-3]
    named = [f"{r[0]} ({r[1]})" for r in rows]
    assert header == ["#", "processing_stats", "dataflow_stats", *named]
    assert len(body) == 24  # the longest column: the two Tally.tick handlers, 12 runs each
    columns = {name: [float(x) for x in col] for name, *col in zip(*[header] + body, strict=True)}
    assert columns["#"] == list(range(1, 25))
    for name, event, total, *_ in rows:
        values = columns[f"{name} ({event})"]
        expected = 0 if total == "not triggered" else total
        assert sum(values) == pytest.approx(expected, abs=1e-5), name
    assert sum(v > 0 for v in columns["processing_stats"]) == 12


# --------------------------------------------------------------------------- attach
def test_both_profilers_share_one_trace_and_see_the_same_times():
    engine = profiled_engine(OURS)
    basic, per_handler = BasicTimeProfiler(), HandlersTimeProfiler()
    basic.attach(engine)
    per_handler.attach(engine)
    basic.attach(engine)  # attaching again changes nothing
    engine.run(DATA, max_epochs=EPOCHS)
    assert basic.trace is per_handler.trace
    assert basic.get_results()["processing_stats"]["total"] == pytest.approx(
        per_handler.get_results()[-2][2], abs=1e-5
    )


def test_intermediate_results_during_a_run(capsys):
    engine = Engine(lambda engine, batch: busy(1000))
    profiler = BasicTimeProfiler()
    profiler.attach(engine)
    seen: list = []

    @engine.on(Events.ITERATION_COMPLETED(every=3))
    def peek(engine):
        results = profiler.get_results()
        seen.append(results["event_handlers_stats"]["ITERATION_COMPLETED"])
        profiler.print_results(results)

    engine.run(range(5), max_epochs=2)
    assert "nan" not in capsys.readouterr().out
    # The firing in progress is not counted yet: 2, 5, 8 before the 3rd, 6th and 9th end.
    assert [round(s["total"] / s["mean"]) if "mean" in s else 1 for s in seen] == [2, 5, 8]


def test_wrong_uses_get_clear_errors():
    profiler = BasicTimeProfiler()
    with pytest.raises(TypeError, match=r"Argument engine should be ignite\.engine\.Engine \(here"):
        profiler.attach(None)  # type: ignore[arg-type]
    with pytest.raises(RuntimeError, match="not attached to an engine: call attach"):
        profiler.get_results()
    engine = Engine(lambda engine, batch: None)
    with trace(engine), pytest.raises(RuntimeError, match="A trace .* is on for this engine"):
        HandlersTimeProfiler().attach(engine)


def test_unknown_epoch_length_is_fine():
    # Ignite's BasicTimeProfiler needs the data's length to size its tensors; ours does not.
    engine = Engine(lambda engine, batch: batch)
    profiler = BasicTimeProfiler()
    profiler.attach(engine)
    engine.run(iter(range(5)))
    results = profiler.get_results()
    assert round(results["processing_stats"]["total"] / results["processing_stats"]["mean"]) == 5
    assert not math.isnan(results["dataflow_stats"]["std"])


def test_custom_event_registered_after_attach_is_profiled():
    engine = Engine(lambda engine, batch: engine.fire_event("ping"))
    profiler = HandlersTimeProfiler()
    profiler.attach(engine)
    engine.register_events("ping")  # the trace takes it in at the next STARTED
    engine.add_event_handler("ping", light)
    engine.run(range(3))
    assert profiler.get_results()[0][:2] == ["light", "ping"]
    assert _our_counts(profiler)[("light", "ping")] == 3


def test_custom_enum_events_keep_their_enum_name():
    class Ev(EventEnum):
        PING = "ping"

    engine = Engine(lambda engine, batch: engine.fire_event(Ev.PING))
    engine.register_events(*Ev)
    engine.add_event_handler(Ev.PING, light)
    profiler = HandlersTimeProfiler()
    profiler.attach(engine)
    engine.run(range(2))
    assert profiler.get_results()[0][:2] == ["light", "PING"]
