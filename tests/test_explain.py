"""Tests for miniengine.explain: describe() text, filters in words, and the trace mode."""

from __future__ import annotations

import functools
import json
import math
from collections import Counter
from typing import Any

import pytest
import scenarios
import torch

from miniengine import Engine, EventEnum, Events
from miniengine.explain import Timings, Trace, describe, filter_in_words, handler_name, trace
from miniengine.metrics import RunningAverage

EVENTS = scenarios.BUILTINS  # every built-in event but EXCEPTION_RAISED


# --------------------------------------------------------------------------- describe
class BackpropEvents(EventEnum):
    BACKWARD = "backward"


def train_step(engine, batch):
    return batch


def reset(engine):
    pass


def log_loss(engine, label, every_label="-"):
    pass


def even_epochs(engine, epoch):
    return epoch % 2 == 0


def on_error(engine, exc):
    pass


def on_cut(engine, iter_counter):
    pass


def tick():
    pass


class Saver:
    def save(self, engine, prefix, keep=2):
        pass


class Printer:
    def __call__(self):
        pass


def known_engine() -> Engine:
    engine = Engine(train_step)
    engine.register_events(*BackpropEvents, event_to_attr={BackpropEvents.BACKWARD: "backwards"})
    # Added out of firing order on purpose: describe() sorts events, not handlers.
    engine.add_event_handler(Events.COMPLETED, Printer())
    engine.add_event_handler(Events.ITERATION_COMPLETED(every=100), log_loss, "train")
    engine.add_event_handler(Events.STARTED, reset)
    engine.add_event_handler(Events.EPOCH_COMPLETED(once=3), Saver().save, "ckpt", keep=1)
    engine.add_event_handler(
        Events.ITERATION_STARTED(after=3, before=9, every=2), log_loss, "warmup"
    )
    engine.add_event_handler(
        Events.ITERATION_COMPLETED(once=[10, 20, 30]), functools.partial(log_loss, label="x")
    )
    engine.add_event_handler(Events.EPOCH_STARTED(event_filter=even_epochs), reset)
    engine.add_event_handler(Events.EXCEPTION_RAISED, on_error)
    engine.add_event_handler(Events.TERMINATE_SINGLE_EPOCH, on_cut)
    engine.add_event_handler(BackpropEvents.BACKWARD(every=2), tick)
    engine.add_event_handler(Events.GET_BATCH_STARTED(before=3), tick)
    engine.add_event_handler(Events.DATALOADER_STOP_ITERATION, Engine.terminate)
    engine.add_event_handler(Events.ITERATION_STARTED(after=5), reset)
    return engine


KNOWN = """\
event                      handler call                          runs
STARTED                    reset(engine)                         always
EPOCH_STARTED              reset(engine)                         when even_epochs(engine, epoch)
GET_BATCH_STARTED          tick()                                iterations 1..2
DATALOADER_STOP_ITERATION  Engine.terminate(engine)              always
ITERATION_STARTED          log_loss(engine, 'warmup')            iterations 4..8, every 2nd
                           reset(engine)                         iterations from 6 on
process_function           train_step(engine, batch)             every iteration
ITERATION_COMPLETED        log_loss(engine, 'train')             every 100th iteration
                           partial(log_loss, label='x')(engine)  at iterations 10, 20 and 30
EPOCH_COMPLETED            Saver.save(engine, 'ckpt', keep=1)    once, at epoch 3
COMPLETED                  <Printer>()                           always
TERMINATE_SINGLE_EPOCH     on_cut(engine, iter_counter=n)        always
EXCEPTION_RAISED           on_error(engine, exception)           always
BACKWARD                   tick()                                every 2nd backwards"""


def test_describe_known_setup_matches_hand_written_text():
    assert describe(known_engine()) == KNOWN


def test_describe_bare_engine_shows_only_the_process_function():
    assert describe(Engine(train_step)) == (
        "event             handler call               runs\n"
        "process_function  train_step(engine, batch)  every iteration"
    )


def test_describe_shows_handlers_in_the_order_they_run():
    engine = Engine(train_step)
    calls: list[str] = []

    def first():
        calls.append("first")

    def second():
        calls.append("second")

    engine.add_event_handler(Events.STARTED, second)
    engine.add_event_handler(Events.STARTED, first)
    rows = describe(engine).splitlines()
    assert [r.split()[-2] for r in rows if "()" in r] == ["second()", "first()"]
    engine.run([0])
    assert calls == ["second", "first"]


def test_describe_shows_metric_methods_and_long_arguments_shortened():
    engine = Engine(train_step)
    RunningAverage(output_transform=lambda x: x).attach(engine, "loss")
    engine.add_event_handler(Events.COMPLETED, log_loss, "x" * 100)
    text = describe(engine)
    assert "RunningAverage.started(engine)" in text
    assert "RunningAverage.completed(engine, 'loss')" in text
    assert "log_loss(engine, '" + "x" * 36 + "...)" in text


@pytest.mark.parametrize(
    ("event", "counter", "words"),
    [
        (Events.ITERATION_COMPLETED(every=1), "iteration", "always"),
        (Events.ITERATION_COMPLETED(every=2), "iteration", "every 2nd iteration"),
        (Events.ITERATION_COMPLETED(every=3), "iteration", "every 3rd iteration"),
        (Events.ITERATION_COMPLETED(every=11), "iteration", "every 11th iteration"),
        (Events.ITERATION_COMPLETED(every=12), "iteration", "every 12th iteration"),
        (Events.ITERATION_COMPLETED(every=21), "iteration", "every 21st iteration"),
        (Events.ITERATION_COMPLETED(every=112), "iteration", "every 112th iteration"),
        (Events.ITERATION_COMPLETED(every=122), "iteration", "every 122nd iteration"),
        (Events.EPOCH_COMPLETED(once=3), "epoch", "once, at epoch 3"),
        (Events.EPOCH_COMPLETED(once=[4, 2]), "epoch", "at epochs 2 and 4"),
        (Events.ITERATION_STARTED(before=4), "iteration", "iterations 1..3"),
        (Events.ITERATION_STARTED(after=0), "iteration", "iterations from 1 on"),
        (Events.ITERATION_STARTED(after=2, every=5), "iteration",
         "iterations from 3 on, every 5th"),
        (Events.ITERATION_STARTED(after=3, before=5), "iteration", "once, at iteration 4"),
        (Events.ITERATION_STARTED(event_filter=even_epochs), "iteration",
         "when even_epochs(engine, iteration)"),
    ],
)  # fmt: skip
def test_filter_in_words(event, counter, words):
    assert filter_in_words(event.filter, counter) == words


@pytest.mark.parametrize(
    ("event", "first_counts"),
    [
        (Events.ITERATION_STARTED(after=3, before=9, every=2), [4, 6, 8]),
        (Events.ITERATION_STARTED(before=4), [1, 2, 3]),
        (Events.ITERATION_STARTED(after=2, every=5), [3, 8, 13]),
    ],
)
def test_filter_words_agree_with_the_filter(event, first_counts):
    # The words are read from the filter's name; check the name tells the truth.
    assert [n for n in range(1, 14) if event.filter(None, n)][:3] == first_counts


def test_a_custom_filter_named_like_a_built_in_one_is_shown_as_custom():
    def fake(engine, n):
        return True

    fake.__name__ = "every=3"
    assert filter_in_words(fake, "epoch") == "when every=3(engine, epoch)"


def test_handler_names():
    line = test_handler_names.__code__.co_firstlineno + 2
    lam = lambda e: None  # noqa: E731
    assert handler_name(lam) == f"<lambda at test_explain.py:{line}>"
    assert handler_name(reset) == "reset"
    assert handler_name(Saver().save) == "Saver.save"
    assert handler_name(Printer()) == "<Printer>"
    assert handler_name(print) == "print"
    assert handler_name([].append) == "list.append"

    def inner():
        pass

    class Local:
        def method(self):
            pass

        def __call__(self):
            pass

    assert handler_name(inner) == "inner"
    assert handler_name(Local().method) == "Local.method"
    assert handler_name(Local()) == "<Local>"
    assert handler_name(functools.partial(inner)) == "partial(inner)"


# --------------------------------------------------------------------------- trace
def run_scenario(engine: Engine, kind: str) -> Any:
    """Small runs covering each way a run goes; the same call on two engines does the same."""
    if kind == "two_epochs":
        return engine.run([1, 2, 3], max_epochs=2)
    if kind == "epoch_length":
        return engine.run([1, 2, 3, 4, 5], max_epochs=3, epoch_length=2)
    if kind == "unknown_length":
        return engine.run((i for i in range(1, 4)), max_epochs=2)
    if kind == "data_none":
        return engine.run(None, max_epochs=2, epoch_length=2)
    if kind == "max_iters":
        return engine.run([1, 2, 3], max_iters=5)
    if kind == "terminate":
        engine.add_event_handler(Events.ITERATION_COMPLETED(once=4), Engine.terminate)
        engine.run([1, 2, 3], max_epochs=3)
        return engine.run([1, 2, 3], max_epochs=3)
    if kind == "terminate_epoch":
        engine.add_event_handler(Events.ITERATION_COMPLETED(once=2), Engine.terminate_epoch)
        return engine.run([1, 2, 3], max_epochs=2)
    if kind == "interrupt":
        engine.add_event_handler(Events.ITERATION_STARTED(once=[2, 5]), Engine.interrupt)
        for _ in range(3):
            engine.run([1, 2, 3], max_epochs=2)
        return None
    if kind == "exception_handled":
        engine.add_event_handler(Events.EXCEPTION_RAISED, lambda e, exc: None)
        return engine.run([1, 0, 3], max_epochs=2)  # 1 / 0 in the step
    raise AssertionError(kind)


KINDS = [
    "two_epochs", "epoch_length", "unknown_length", "data_none", "max_iters", "terminate",
    "terminate_epoch", "interrupt", "exception_handled",
]  # fmt: skip


def step(engine, batch):
    return 1 / batch if batch is not None else None


def independent_record(kind: str) -> list[tuple[str, int, int]]:
    """The events of a run, seen by a plain handler attached to every event (no trace)."""
    engine = Engine(step)
    seen: list[tuple[str, int, int]] = []
    for name in EVENTS:

        def rec(engine, *args, _name=name, **kwargs):
            seen.append((_name, engine.state.epoch, engine.state.iteration))

        engine.add_event_handler(getattr(Events, name), rec)
    run_scenario(engine, kind)
    return seen


def traced_record(kind: str, window: int = 10_000) -> Trace:
    engine = Engine(step)  # no handlers: the engine would skip most events without the trace
    with trace(engine, window=window) as t:
        run_scenario(engine, kind)
    return t


@pytest.mark.parametrize("kind", KINDS)
def test_trace_equals_the_events_an_independent_handler_sees(kind):
    expected = independent_record(kind)
    t = traced_record(kind)
    got = [(e.event, e.epoch, e.iteration) for e in t.events if e.event != "EXCEPTION_RAISED"]
    assert got == expected
    assert len(got) > 5


@pytest.mark.parametrize("scenario", scenarios.SCENARIOS, ids=lambda s: s.__name__)
def test_library_scenarios_behave_the_same_under_trace(scenario):
    # Start the trace as the engine is made, before the scenario attaches its handlers: the
    # trace must take those in too, and the scenario must record exactly what it does
    # without the trace.
    traces: list[Trace] = []

    class TracedEngine(Engine):
        def __init__(self, process_function):
            super().__init__(process_function)
            traces.append(trace(self).start())

    plain = scenario(Engine, Events)
    under_trace = scenario(TracedEngine, Events)
    assert under_trace == plain
    ours = [(e.event, e.epoch, e.iteration) for t in traces for e in t.events]
    theirs = [entry[:3] for entry in plain if isinstance(entry, tuple) and entry[0] in EVENTS]
    if theirs:  # the scenario recorded every event: so must the trace
        assert [x for x in ours if x[0] in EVENTS] == theirs


def test_filter_skipped_handlers_are_reported_as_skipped():
    engine = Engine(step)

    def log(engine):
        pass

    engine.add_event_handler(Events.ITERATION_COMPLETED(every=3), log)
    with trace(engine) as t:
        engine.run([1, 2, 3, 4], max_epochs=2)
    calls = [
        (e.iteration, c.ran)
        for e in t.events
        if e.event == "ITERATION_COMPLETED"
        for c in e.calls
        if c.handler == "log"
    ]
    assert calls == [(n, n % 3 == 0) for n in range(1, 9)]
    assert all(c.seconds == 0 for e in t.events for c in e.calls if not c.ran)
    assert t.ran_and_skipped("log") == (2, 6)
    text = str(t)
    assert "skipped log" in text and "ran log" in text


@pytest.mark.parametrize("window", [1, 5, 17])
def test_window_keeps_the_last_events_and_counts_all(window):
    expected = independent_record("two_epochs")
    t = traced_record("two_epochs", window=window)
    assert [(e.event, e.epoch, e.iteration) for e in t.events] == expected[-window:]
    assert t.counts == Counter(name for name, _, _ in expected)
    assert t.dropped == len(expected) - window
    assert f"last {window} of {len(expected)} events" in str(t)


def snapshot(engine: Engine) -> dict[str, tuple]:
    return engine.event_handlers


def assert_same_lists(engine: Engine, before: dict[str, tuple]) -> None:
    after = engine.event_handlers
    assert after.keys() == before.keys()
    for key, entries in before.items():
        assert len(after[key]) == len(entries), key
        for a, b in zip(after[key], entries, strict=True):
            assert a.handler is b.handler and a.filter is b.filter and a[1:4] == b[1:4], key


def test_after_the_trace_the_engine_is_exactly_as_before():
    engine = known_engine()
    text, before = describe(engine), snapshot(engine)
    with trace(engine) as t:
        assert describe(engine) == text  # describe() sees through the trace
        engine.run([1, 2, 3], max_epochs=2)
    assert_same_lists(engine, before)
    assert describe(engine) == text
    assert engine.event_handlers["GET_BATCH_COMPLETED"] == ()  # the engine may skip it again
    assert t.counts["COMPLETED"] == 1


def test_outputs_are_the_same_with_and_without_trace():
    def run(traced: bool) -> list:
        torch.manual_seed(0)
        model = torch.nn.Linear(2, 1)
        opt = torch.optim.SGD(model.parameters(), lr=0.1)

        def train_step(engine, batch):
            opt.zero_grad()
            loss = model(batch).pow(2).mean()
            loss.backward()
            opt.step()
            return loss.item()

        engine = Engine(train_step)
        RunningAverage(output_transform=lambda x: x, alpha=0.5).attach(engine, "loss")
        seen: list = []
        engine.add_event_handler(
            Events.ITERATION_COMPLETED(every=2), lambda e: seen.append(e.state.metrics["loss"])
        )
        data = [torch.full((3, 2), float(i)) for i in range(4)]
        if traced:
            with trace(engine):
                engine.run(data, max_epochs=2)
        else:
            engine.run(data, max_epochs=2)
        return seen + [p.detach().clone() for p in model.parameters()]

    plain, traced = run(False), run(True)
    assert plain[:4] == traced[:4]
    assert all(torch.equal(a, b) for a, b in zip(plain[4:], traced[4:], strict=True))


def test_has_and_remove_event_handler_work_while_tracing():
    engine = Engine(step)
    calls: list[int] = []

    def once_then_gone(engine):
        calls.append(engine.state.iteration)
        engine.remove_event_handler(once_then_gone, Events.ITERATION_COMPLETED)

    def later(engine):
        pass

    engine.add_event_handler(Events.ITERATION_COMPLETED, once_then_gone)
    metric = RunningAverage(output_transform=lambda x: x)
    metric.attach(engine, "avg")
    usage = "running_batch_wise"
    assert metric.is_attached(engine, usage)
    with trace(engine) as t:
        assert engine.has_event_handler(once_then_gone, Events.ITERATION_COMPLETED)
        assert metric.is_attached(engine, usage)
        engine.add_event_handler(Events.EPOCH_COMPLETED, later)  # added while on: traced too
        engine.run([1, 2, 3], max_epochs=2)
    assert calls == [1]
    assert not engine.has_event_handler(once_then_gone)
    assert engine.has_event_handler(later, Events.EPOCH_COMPLETED)
    assert t.ran_and_skipped("later") == (2, 0)
    assert "_Timed" not in repr(engine.event_handlers)
    assert "_Recorder" not in repr(engine.event_handlers)


def test_an_escaping_exception_still_escapes_and_the_engine_is_restored():
    engine = Engine(step)

    def boom(engine):
        raise KeyError("bad")

    engine.add_event_handler(Events.EPOCH_COMPLETED, boom)
    before = snapshot(engine)
    with pytest.raises(ZeroDivisionError), trace(engine) as t:
        engine.run([1, 0])  # no EXCEPTION_RAISED handler: the trace must not add one
    assert_same_lists(engine, before)
    assert t.events[-1].event == "ITERATION_STARTED"
    with pytest.raises(KeyError), trace(engine) as t:
        engine.run([1, 2])
    last = t.events[-1]
    assert (last.event, last.calls[0].ran) == ("EPOCH_COMPLETED", True)
    assert last.calls[0].error == "KeyError: 'bad'"
    assert_same_lists(engine, before)


def test_handled_exception_is_recorded():
    engine = Engine(step)
    engine.add_event_handler(Events.EXCEPTION_RAISED, on_error)
    with trace(engine) as t:
        engine.run([1, 0, 2])
    raised = [e for e in t.events if e.event == "EXCEPTION_RAISED"]
    assert [(e.iteration, [c.handler for c in e.calls]) for e in raised] == [(2, ["on_error"])]


def test_custom_events_are_traced_with_their_own_handlers():
    def step(engine, batch):
        engine.state.backwards += 1
        engine.fire_event(BackpropEvents.BACKWARD)

    engine = Engine(step)
    engine.register_events(*BackpropEvents, event_to_attr={BackpropEvents.BACKWARD: "backwards"})
    engine.add_event_handler(BackpropEvents.BACKWARD(every=2), tick)
    engine.add_event_handler(Events.ITERATION_COMPLETED, reset)
    with trace(engine) as t:
        engine.run([1, 2, 3])
    backward = [e for e in t.events if e.event == "BACKWARD"]
    assert [[c.ran for c in e.calls] for e in backward] == [[False], [True], [False]]
    completed = [e for e in t.events if e.event == "ITERATION_COMPLETED"]
    assert all([c.handler for c in e.calls] == ["reset"] for e in completed)


def test_handler_fired_event_does_not_steal_later_calls():
    engine = Engine(step)
    engine.register_events("ping")

    def fire(engine):
        engine.fire_event("ping")

    engine.add_event_handler(Events.COMPLETED, fire)
    engine.add_event_handler(Events.COMPLETED, reset)
    with trace(engine) as t:
        engine.run([1])
    completed = next(e for e in t.events if e.event == "COMPLETED")
    assert [c.handler for c in completed.calls] == ["fire", "reset"]
    assert [e.event for e in t.events][-2:] == ["COMPLETED", "ping"]


def test_trace_arguments_are_checked():
    engine = Engine(step)
    with pytest.raises(ValueError, match="window should be a positive int, got 0"):
        trace(engine, window=0)
    with pytest.raises(TypeError, match="engine should be an Engine, got list"):
        trace([], window=3)  # type: ignore[arg-type]
    with trace(engine), pytest.raises(RuntimeError, match="already on"):
        trace(engine).start()


def test_save_writes_json_lines(tmp_path):
    engine = Engine(step)
    engine.add_event_handler(Events.ITERATION_COMPLETED(every=2), reset)
    with trace(engine, window=4) as t:
        engine.run([1, 2, 3])
    path = tmp_path / "trace.jsonl"
    t.save(path)
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [x["event"] for x in lines[:-1]] == [e.event for e in t.events]
    assert lines[-1]["kind"] == "summary"
    assert lines[-1]["counts"] == dict(t.counts)
    assert lines[-1]["dropped"] == t.dropped
    assert lines[-1]["handlers"][0] | {"seconds": 0} == {
        "event": "ITERATION_COMPLETED", "handler": "reset", "ran": 1, "skipped": 2, "seconds": 0
    }  # fmt: skip


def test_to_tensorboard_writes_text_and_scalars(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from torch.utils.tensorboard import SummaryWriter

    engine = Engine(step)
    engine.add_event_handler(Events.EPOCH_COMPLETED, reset)
    with trace(engine) as t:
        engine.run([1, 2], max_epochs=3)
    with SummaryWriter(str(tmp_path)) as writer:
        t.to_tensorboard(writer)
    acc = EventAccumulator(str(tmp_path))
    acc.Reload()
    scalars = acc.Scalars("trace/EPOCH_COMPLETED/reset_ms")
    assert [s.step for s in scalars] == [6]
    assert scalars[0].value == pytest.approx(t.handler_totals()[0]["seconds"] * 1e3, rel=1e-5)
    text = acc.Tensors("trace/text_summary")[0].tensor_proto.string_val[0].decode()
    assert "EPOCH_COMPLETED" in text and "ran reset" in text


# --------------------------------------------------------------------------- timings
def test_timings_agree_with_the_statistics_module():
    import statistics

    values = [0.3, 0.1, 0.4, 0.1, 0.5, 0.9, 0.2, 0.6]
    t = Timings(keep=True)
    for v in values:
        t.add(v)
    assert t.n == 8 and t.total == pytest.approx(sum(values))
    assert t.mean == pytest.approx(statistics.fmean(values))
    assert t.std == pytest.approx(statistics.stdev(values))
    assert (t.min, t.argmin) == (0.1, 1)  # the first of equal minima, as torch.argmin
    assert (t.max, t.argmax) == (0.9, 5)
    assert list(t.values or []) == values
    one = Timings()
    one.add(2.0)
    assert one.values is None and one.mean == 2.0 and math.isnan(one.std)


@pytest.mark.parametrize("kind", KINDS)
def test_trace_times_every_firing_batch_and_step(kind):
    expected = Counter(name for name, _, _ in independent_record(kind))
    t = traced_record(kind)
    assert {key: t.event_timings[key].n for key in EVENTS} == {key: expected[key] for key in EVENTS}
    # An interrupt at ITERATION_STARTED: the pause until the next run() is nobody's time.
    interrupted = 2 if kind == "interrupt" else 0
    assert t.processing.n == expected["ITERATION_COMPLETED"] - interrupted
    assert t.dataflow.n == expected["GET_BATCH_COMPLETED"]


def test_nested_times_contain_what_runs_inside_them():
    def busy_step(engine, batch):
        engine.fire_event("ping")

    def busy(engine):
        sum(range(5000))

    engine = Engine(busy_step)
    engine.register_events("ping")
    engine.add_event_handler("ping", busy)
    engine.add_event_handler(Events.EPOCH_COMPLETED, busy)
    engine.add_event_handler(Events.EPOCH_COMPLETED, reset)
    with trace(engine) as t:
        engine.run([1, 2, 3], max_epochs=2)
    handlers: dict[str, float] = Counter()
    for h in t.handler_timings():
        handlers[h.event] += h.timings.total
    # A firing spans its handlers, and the process function spans the events it fires.
    for key, total in handlers.items():
        assert t.event_timings[key].total >= total > 0, key
    assert t.processing.total >= t.event_timings["ping"].total
    assert t.processing.n == t.event_timings["ping"].n == 6
    assert "time (whole trace)" in str(t) and "fetching batches  6" in str(t)


def test_per_run_trace_covers_the_latest_run_and_takes_in_new_events():
    engine = Engine(step)
    engine.add_event_handler(Events.EPOCH_COMPLETED, reset)
    t = Trace(engine, per_run=True, keep_values=True).start()
    assert Trace.current(engine) is t
    engine.run([1, 2, 3], max_epochs=2)
    engine.register_events("ping")  # after the trace started: taken in at the next STARTED
    engine.add_event_handler(Events.ITERATION_COMPLETED, lambda e: e.fire_event("ping"))
    engine.run([1, 2], max_epochs=2)  # finished with the same max_epochs: a new run
    assert t.counts["ITERATION_COMPLETED"] == t.counts["ping"] == t.processing.n == 4
    assert t.ran_and_skipped("reset") == (2, 0)
    assert len(t.processing.values or []) == 4
    assert t.events[0].event == "STARTED"
    t.stop()
    assert Trace.current(engine) is None
    assert "_Closer" not in repr(engine.event_handlers)


def test_a_handler_added_mid_epoch_runs_in_place_and_is_timed_from_the_next_epoch_event():
    def run(traced: bool) -> tuple[list, Trace | None]:
        engine = Engine(step)
        calls: list = []

        def first(engine):
            calls.append(("first", engine.state.iteration))

        def added(engine):
            calls.append(("added", engine.state.iteration))

        def add(engine):
            engine.add_event_handler(Events.ITERATION_COMPLETED, added)

        engine.add_event_handler(Events.ITERATION_COMPLETED, first)
        engine.add_event_handler(Events.ITERATION_COMPLETED(once=2), add)
        if not traced:
            engine.run([1, 2, 3], max_epochs=2)
            return calls, None
        with trace(engine) as t:
            engine.run([1, 2, 3], max_epochs=2)
        return calls, t

    plain, (traced, t) = run(False)[0], run(True)
    assert traced == plain and ("added", 2) in plain
    assert t is not None and t.ran_and_skipped("added") == (3, 0)  # iterations 4 to 6
