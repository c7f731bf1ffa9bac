"""Tests for miniengine.as_loop: the written loop does what engine.run does, and reads as a loop.

The contract: on two engines built alike, ``as_loop(engine).run(...)`` and ``engine.run(...)``
call the same handlers with the same arguments, in the same order, at the same counters (and
with the same ``last_event_name``), and leave the same state and flags. The oracle is the engine
itself (whose traces tests/test_engine.py compares with Ignite's): the shared scenarios, hand
written ones, and random engines from hypothesis.
"""

from __future__ import annotations

import functools
import logging
import re
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from miniengine import Engine, EventEnum, Events
from miniengine.as_loop import LoopSource, LoopSourceError, as_loop
from miniengine.handlers import Checkpoint, DiskSaver, LogProgress
from miniengine.metrics import RunningAverage, SingleEpochRunningBatchWise

sys.path.insert(0, str(Path(__file__).parent))
import scenarios  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


class LoopEngine(Engine):
    """An engine whose run() is its written loop; for a run that the loop refuses as a resume,
    the engine's own run() (so that a scenario's second, resumed run continues the loop's)."""

    def run(self, data=None, max_epochs=None, max_iters=None, epoch_length=None):
        try:
            return as_loop(self).run(data, max_epochs, max_iters, epoch_length)
        except LoopSourceError as e:
            if "would resume" not in str(e):
                raise
            return super().run(data, max_epochs, max_iters, epoch_length)


def _plain(value: Any) -> Any:
    """Comparable form of a state value (tensors as lists)."""
    if isinstance(value, torch.Tensor):
        return ("tensor", value.tolist())
    if isinstance(value, Engine):
        return "<engine>"
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(map(_plain, value))
    return value


def _final(engine: Engine) -> dict[str, Any]:
    """The state and the flags a run leaves (times and the data object itself aside)."""
    kept = {k: _plain(v) for k, v in vars(engine.state).items()}
    for k in ("times", "dataloader", "event_to_attr"):
        kept.pop(k)
    kept["flags"] = (
        engine.should_terminate,
        engine.should_terminate_single_epoch,
        engine.should_interrupt,
    )
    return kept


def _run(engine: Engine, use_loop: bool, make_data, **kwargs) -> tuple[Any, list[str]]:
    """Run one way; the outcome: ('ok', final state) or ('raised', type, message), and the
    warnings raised."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            if use_loop:
                as_loop(engine).run(make_data(), **kwargs)
            else:
                engine.run(make_data(), **kwargs)
            outcome: Any = ("ok", _final(engine))
        except Exception as e:
            outcome = ("raised", type(e).__name__, str(e))
    return outcome, [str(w.message) for w in caught]


def assert_same_run(build, make_data, **kwargs) -> list:
    """Build two engines alike with ``build() -> (engine, trace)``, run one with engine.run
    and one with its written loop; everything they did must be equal. Returns the trace."""
    engine, trace = build()
    twin, twin_trace = build()
    expected = _run(engine, False, make_data, **kwargs)
    got = _run(twin, True, make_data, **kwargs)
    assert _plain(twin_trace) == _plain(trace)
    assert got == expected
    assert len(trace) > 0
    return trace


def recorder(trace: list, label: str):
    """A handler that records what it is called with, and what the engine says."""

    def record(engine, *args, **kwargs):
        s = engine.state
        event = engine.last_event_name
        trace.append((label, getattr(event, "name", event), s.epoch, s.iteration, s.batch,
                      s.output, args, kwargs))  # fmt: skip

    return record


# ----------------------------------------------------------------------------- scenarios
FITTING = [
    s for s in scenarios.SCENARIOS
    if not s.__name__.startswith("interrupt_") and s.__name__ != "set_data_mid_run"
]  # fmt: skip


@pytest.mark.parametrize("scenario", FITTING, ids=lambda s: s.__name__)
def test_shared_scenarios_trace_the_same(scenario):
    # Scenarios that run again after terminate() resume with engine.run(): that continues the
    # loop's run exactly as it continues its own, or the traces would differ.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert scenario(LoopEngine, Events) == scenario(Engine, Events)


def test_custom_events_fired_by_the_process_function():
    ours = scenarios.custom_events(LoopEngine, Events, EventEnum)
    assert ours == scenarios.custom_events(Engine, Events, EventEnum)
    assert ("even", 2) in ours and ("other", 5) in ours


def test_scenarios_that_do_not_fit_raise():
    with pytest.raises(LoopSourceError, match=r"engine.interrupt\(\) was called"):
        scenarios.interrupt_at("ITERATION_COMPLETED")(LoopEngine, Events)
    with pytest.raises(LoopSourceError, match=r"engine.set_data\(\) was called"):
        scenarios.set_data_mid_run(LoopEngine, Events)


# ----------------------------------------------------------------------------- by hand
def _every_event(plan=None):
    """An engine with a recorder on every event the loop writes; ``plan()`` gives, for each
    engine built, ``flow(engine, event_name)``, called by each recorder, and ``step(engine)``,
    called by the process function (to terminate, cut an epoch, raise)."""

    def build():
        trace: list = []
        flow, step = plan() if plan else (None, None)

        def process(engine, batch):
            trace.append(("step", engine.state.iteration, batch))
            if step is not None:
                step(engine)
            return batch

        engine = Engine(process)
        for name in scenarios.BUILTINS + ["EXCEPTION_RAISED"]:
            if name == "INTERRUPT":
                continue
            record = recorder(trace, name)

            def handler(engine, *args, _record=record, _name=name, **kwargs):
                _record(engine, *map(repr, args), **kwargs)
                if flow is not None:
                    flow(engine, _name)

            engine.add_event_handler(getattr(Events, name), handler)
        return engine, trace

    return build


DATA = {
    "list": lambda: [1, 2, 3],
    "generator": lambda: (x for x in range(5)),
    "none": lambda: None,
}


@pytest.mark.parametrize(
    ("data", "kwargs"),
    [
        ("list", {"max_epochs": 3}),
        ("list", {"max_epochs": 2, "epoch_length": 2}),
        ("list", {"max_epochs": 2, "epoch_length": 5}),
        ("list", {"max_iters": 7}),
        ("generator", {"max_epochs": 2}),
        ("generator", {"max_iters": 4}),
        ("generator", {"max_epochs": 3, "epoch_length": 2}),
        ("none", {"max_epochs": 2, "epoch_length": 3}),
    ],
)
def test_every_event_with_every_kind_of_data(data, kwargs):
    trace = assert_same_run(_every_event(), DATA[data], **kwargs)
    assert {t[0] for t in trace} >= {"STARTED", "ITERATION_COMPLETED", "COMPLETED"}


def test_the_fullest_loop_keeps_to_100_columns():
    engine, _ = _every_event()()
    engine.run_end_hooks.append(lambda: None)
    source = as_loop(engine).source
    assert "exception_raised(engine, e)" in source and "hook()" in source
    assert max(map(len, source.splitlines())) <= 100


def test_an_empty_restart_warns_as_the_engine_does():
    made = []

    def data():  # a generator: after one pass it is empty
        made.append(1)
        return (x for x in range(2))

    assert_same_run(_every_event(), data, max_epochs=3, epoch_length=2)


@pytest.mark.parametrize(
    "when",
    [
        ("STARTED", 0, "terminate"),
        ("EPOCH_STARTED", 2, "terminate"),
        ("GET_BATCH_STARTED", 4, "terminate"),
        ("GET_BATCH_COMPLETED", 4, "terminate_epoch"),
        ("DATALOADER_STOP_ITERATION", 3, "terminate_epoch"),
        ("ITERATION_STARTED", 5, "terminate_epoch_skip"),
        ("ITERATION_COMPLETED", 5, "terminate"),
        ("ITERATION_COMPLETED", 2, "terminate_skip"),
        ("EPOCH_COMPLETED", 3, "terminate"),
        ("EPOCH_COMPLETED", 3, "terminate_epoch"),
        ("TERMINATE_SINGLE_EPOCH", 2, "terminate"),
        ("TERMINATE_SINGLE_EPOCH", 2, "terminate_epoch_skip"),
        ("TERMINATE", 4, "terminate_skip"),
        ("COMPLETED", 9, "terminate"),
        ("STARTED", 0, "terminate_epoch"),
        ("EPOCH_STARTED", 1, "terminate_epoch"),
        ("ITERATION_COMPLETED", 4, "raise"),
        ("EPOCH_STARTED", 2, "raise"),
        ("EXCEPTION_RAISED", 2, "raise"),
        ("EXCEPTION_RAISED", 2, "terminate"),
        ("TERMINATE_SINGLE_EPOCH", 2, "raise"),
    ],  # fmt: skip
    ids=lambda w: "-".join(map(str, w)),
)
def test_terminate_terminate_epoch_and_exceptions_anywhere(when):
    """At one event and iteration a handler stops the run, cuts the epoch or raises; the
    process function cuts the epoch at iteration 2 (so that TERMINATE_SINGLE_EPOCH fires) and
    raises at iteration 2 for the EXCEPTION_RAISED cases."""
    event, iteration, action = when

    def plan():
        done: set = set()

        def act(engine, name):
            if name == event and engine.state.iteration >= iteration and name not in done:
                done.add(name)
                _act(engine, action)

        def step(engine):
            cut = event == "TERMINATE_SINGLE_EPOCH" and engine.state.iteration == 2
            if cut or (event == "EXCEPTION_RAISED" and engine.state.iteration == 2):
                _act(engine, "terminate_epoch" if cut else "raise")

        return act, step

    assert_same_run(_every_event(plan), DATA["list"], max_epochs=4)


def _act(engine: Engine, action: str) -> None:
    if action == "raise":
        raise ValueError(f"bad at {engine.state.iteration}")
    if action.startswith("terminate_epoch"):
        engine.terminate_epoch(skip_epoch_completed=action.endswith("skip"))
    else:
        engine.terminate(skip_completed=action.endswith("skip"))


def test_a_re_raising_exception_handler_is_called_once():
    def build():
        trace: list = []

        def step(engine, batch):
            raise KeyError(batch)

        engine = Engine(step)

        @engine.on(Events.EXCEPTION_RAISED)
        def again(engine, e):
            trace.append(repr(e))
            raise RuntimeError("handler gave up") from e

        return engine, trace

    trace = assert_same_run(build, DATA["list"])
    assert trace == ["KeyError(1)"]


def test_handlers_with_arguments_without_engine_and_every_filter():
    tensor = torch.ones(2)

    def build():
        trace: list = []
        engine = Engine(lambda engine, batch: batch * 2)
        every_kind = [
            Events.ITERATION_COMPLETED(every=3),
            Events.ITERATION_STARTED(once=[2, 7]),
            Events.ITERATION_COMPLETED(once=4),
            Events.ITERATION_COMPLETED(after=2, before=9),
            Events.ITERATION_COMPLETED(every=2, after=3, before=12),
            Events.ITERATION_COMPLETED(after=5),
            Events.GET_BATCH_STARTED(event_filter=lambda e, n: n in (0, 5)),
            Events.EPOCH_COMPLETED(every=2),
            Events.EPOCH_STARTED(once=3),
            Events.COMPLETED(once=4),
        ]
        for i, event in enumerate(every_kind):
            engine.add_event_handler(event, recorder(trace, f"filter{i}"))
        engine.add_event_handler(Events.STARTED, lambda: trace.append("no engine"))
        engine.add_event_handler(Events.STARTED, recorder(trace, "args"), 1, "two", k=(3, 4.5))
        engine.add_event_handler(Events.STARTED, lambda t, *, k: trace.append((t is tensor, k)),
                                 tensor, k=None)  # fmt: skip
        engine.add_event_handler(Events.EPOCH_STARTED, functools.partial(trace.append, "partial"))
        engine.add_event_handler(
            Events.TERMINATE_SINGLE_EPOCH, recorder(trace, "cut"), iter_counter=-1, x=1
        )
        engine.add_event_handler(Events.ITERATION_COMPLETED(once=6), Engine.terminate_epoch)
        engine.add_event_handler(Events.ITERATION_COMPLETED, trace.append)
        return engine, trace

    trace = assert_same_run(build, lambda: range(4), max_epochs=4)
    assert (True, None) in trace and "partial" in trace
    assert ("cut", "TERMINATE_SINGLE_EPOCH", 2, 6, 1, 2, (), {"x": 1, "iter_counter": 2}) in trace


def test_metrics_and_progress_lines():
    def build():
        trace: list = []
        engine = Engine(lambda engine, batch: float(batch))
        RunningAverage(alpha=0.5, output_transform=lambda x: x).attach(engine, "avg")
        RunningAverage(alpha=0.5, output_transform=lambda x: x).attach(
            engine, "epoch_avg", usage=SingleEpochRunningBatchWise()
        )
        log = logging.getLogger(f"test_as_loop.{id(trace)}")
        log.propagate, log.level = False, logging.INFO
        log.addHandler(_ListHandler(trace))
        LogProgress(every=2, logger=log).attach(engine, metric_names="all")
        engine.add_event_handler(Events.ITERATION_COMPLETED(every=3), Engine.terminate_epoch)
        return engine, trace

    trace = assert_same_run(build, lambda: [4, 0, 8, 0, 2], max_epochs=3)
    assert any("avg=" in line for line in trace)


class _ListHandler(logging.Handler):
    def __init__(self, out: list) -> None:
        super().__init__()
        self.out = out

    def emit(self, record: logging.LogRecord) -> None:
        self.out.append(re.sub(r" \[[^\]]*it/s\]$", "", record.getMessage()))  # no times


class _Shuffled:
    """Data with a sampler that records when it is told the epoch, and when a pass starts."""

    def __init__(self, log: list) -> None:
        self.log = log
        self.sampler = SimpleNamespace(set_epoch=lambda epoch: log.append(("set_epoch", epoch)))

    def __len__(self) -> int:
        return 3

    def __iter__(self):
        self.log.append("iter")
        return iter(range(3))


def test_a_sampler_is_told_the_epoch_at_the_same_moments():
    logs: list = []

    def build():
        log: list = []
        logs.append(log)
        engine = Engine(lambda engine, batch: log.append(("step", batch)))
        engine.add_event_handler(Events.ITERATION_COMPLETED(once=5), Engine.terminate_epoch)
        engine.add_event_handler(Events.EPOCH_STARTED, recorder(log, "epoch"))
        return engine, log

    engine, _ = build()
    engine.run(_Shuffled(logs[0]), max_epochs=4, epoch_length=2)
    twin, _ = build()
    as_loop(twin).run(_Shuffled(logs[1]), max_epochs=4, epoch_length=2)
    assert logs[1] == logs[0]
    # A pass for epoch 1, one when the data ends in epoch 2, one after the cut in epoch 3.
    assert [x for x in logs[0] if x[0] == "set_epoch"] == [("set_epoch", e) for e in (0, 1, 2)]


def test_the_state_as_handlers_see_it_mid_run():
    def build():
        trace: list = []
        engine = Engine(lambda engine, batch: torch.tensor([batch]))

        @engine.on(Events.ITERATION_COMPLETED)
        def snapshot(engine):
            s = engine.state
            trace.append((s.epoch_length, s.max_epochs, s.max_iters, s.output.tolist()))

        return engine, trace

    assert_same_run(build, lambda: iter(range(5)), max_iters=7)


# ----------------------------------------------------------------------------- random engines
COUNTED = ["STARTED", "EPOCH_STARTED", "GET_BATCH_STARTED", "GET_BATCH_COMPLETED",
           "ITERATION_STARTED", "ITERATION_COMPLETED", "EPOCH_COMPLETED", "COMPLETED"]  # fmt: skip
UNCOUNTED = ["DATALOADER_STOP_ITERATION", "TERMINATE", "TERMINATE_SINGLE_EPOCH", "EXCEPTION_RAISED"]
ACTIONS = ["terminate", "terminate_skip", "terminate_epoch", "terminate_epoch_skip", "raise"]

filters = st.one_of(
    st.none(),
    st.builds(lambda n: {"every": n}, st.integers(1, 4)),
    st.builds(lambda c: {"once": c}, st.lists(st.integers(1, 8), min_size=1, max_size=3)),
    st.builds(lambda a, b: {"after": a, "before": a + b}, st.integers(0, 4), st.integers(2, 6)),
    st.builds(lambda k: {"event_filter": lambda e, n: n % k == 1}, st.integers(2, 3)),
)
handlers = st.lists(
    st.one_of(
        st.tuples(st.sampled_from(COUNTED), filters),
        st.tuples(st.sampled_from(UNCOUNTED), st.none()),
    ),
    max_size=8,
)
actions = st.lists(
    st.tuples(st.sampled_from(COUNTED + UNCOUNTED + ["step"]), st.integers(0, 8),
              st.sampled_from(ACTIONS)),
    max_size=3,
)  # fmt: skip
runs = st.sampled_from([
    ("list", {"max_epochs": 3}), ("list", {"max_iters": 5}), ("list", {"epoch_length": 2}),
    ("list", {"max_epochs": 2, "epoch_length": 4}), ("generator", {"max_epochs": 2}),
    ("generator", {"max_iters": 4}), ("none", {"max_epochs": 2, "epoch_length": 2}),
])  # fmt: skip


@settings(max_examples=150, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])  # fmt: skip
@given(handlers=handlers, actions=actions, run=runs)
def test_random_engines_run_the_same(handlers, actions, run):
    """Random handlers and filters; at random (event, iteration)s a handler, or the process
    function, stops the run, cuts the epoch or raises, once each."""

    def build():
        trace: list = []
        done: set = set()

        def act(engine, where):
            for i, (at, iteration, action) in enumerate(actions):
                if at == where and engine.state.iteration >= iteration and i not in done:
                    done.add(i)
                    _act(engine, action)

        def step(engine, batch):
            trace.append(("step", engine.state.iteration, batch))
            act(engine, "step")
            return batch

        engine = Engine(step)
        for i, (name, event_filter) in enumerate(handlers):
            record = recorder(trace, f"h{i}")

            def handler(engine, *args, _record=record, _name=name, **kwargs):
                _record(engine, *map(repr, args), **kwargs)
                act(engine, _name)

            event = getattr(Events, name)
            engine.add_event_handler(event(**event_filter) if event_filter else event, handler)
        return engine, trace

    data, kwargs = run
    engine, trace = build()
    twin, twin_trace = build()
    expected = _run(engine, False, DATA[data], **kwargs)
    assert _run(twin, True, DATA[data], **kwargs) == expected
    assert twin_trace == trace


# ----------------------------------------------------------------------------- the text
@settings(max_examples=200, deadline=None, database=None)
@given(
    form=st.one_of(
        st.builds(dict, every=st.integers(1, 12)),
        st.builds(dict, once=st.lists(st.integers(1, 40), min_size=1, max_size=4)),
        st.builds(
            dict, after=st.integers(0, 10), before=st.integers(12, 40), every=st.integers(1, 5)
        ),  # fmt: skip
        st.builds(dict, after=st.integers(0, 10), every=st.integers(1, 5)),
        st.builds(dict, before=st.integers(2, 30)),
    )
)
def test_each_filter_becomes_the_if_it_stands_for(form):
    event = Events.ITERATION_COMPLETED(**form)
    engine = Engine(lambda engine, batch: None)
    engine.add_event_handler(event, lambda: None)
    source = as_loop(engine).source
    conditions = [line.strip() for line in source.splitlines() if line.strip().startswith("if ")]
    condition = [c for c in conditions if "state.iteration" in c and "max_iters" not in c]
    if event.filter is None:  # every=1
        assert condition == []
        return
    (text,) = condition
    for n in range(60):
        state = SimpleNamespace(iteration=n)
        assert eval(text[3:-1], {"state": state}) == event.filter(None, n), (text, n)


def test_filters_read_as_a_person_writes_them():
    engine = Engine(lambda engine, batch: None)

    def keep_if_odd(engine, count):
        return count % 2 == 1

    def log(engine):
        pass

    engine.add_event_handler(Events.ITERATION_COMPLETED(every=100), log)
    engine.add_event_handler(Events.EPOCH_COMPLETED(once=[5, 2]), log)
    engine.add_event_handler(Events.ITERATION_STARTED(after=3, before=9, every=2), log)
    engine.add_event_handler(Events.EPOCH_STARTED(event_filter=keep_if_odd), log)
    source = as_loop(engine).source
    for line in [
        "if state.iteration % 100 == 0:",
        "if state.epoch in (2, 5):",
        "if 3 < state.iteration < 9 and (state.iteration - 4) % 2 == 0:",
        "if keep_if_odd(engine, state.epoch):",
    ]:
        lines = [text.strip() for text in source.splitlines()]
        assert lines[lines.index(line) + 1] == "log(engine)", line


def test_events_without_handlers_are_left_out():
    plain = as_loop(Engine(lambda engine, batch: batch)).source
    compile(plain, "plain", "exec")
    code = plain.split("def run(", 1)[1]
    for left_out in ("last_event_name", "exception_raised", "run_end_hooks", "data is not None",
                     "reraised", "TERMINATE_EPOCH_TOO_EARLY", "\n    try:"):  # fmt: skip
        assert left_out not in code
    run = code.split("\ndef finished", 1)[0]
    assert len([line for line in run.splitlines() if line.strip()]) <= 55


def test_the_process_function_handlers_and_objects_are_named():
    def train_step(engine, batch):
        return batch

    engine = Engine(train_step)
    tensor = torch.zeros(1)
    RunningAverage(output_transform=lambda x: x).attach(engine, "loss")
    engine.add_event_handler(Events.COMPLETED, lambda e, t: None, tensor)
    loop = as_loop(engine)
    assert "state.output = train_step(engine, state.batch)  # the process function" in loop.source
    assert "running_average.completed(engine, 'loss')" in loop.source
    assert "on_completed(engine, tensor)" in loop.source
    assert loop.namespace["tensor"] is tensor
    assert "#   on_completed: <lambda at test_as_loop.py:" in loop.source


def test_a_traceback_shows_the_written_line():
    def step(engine, batch):
        raise ValueError("bad batch")

    with pytest.raises(ValueError) as info:
        as_loop(Engine(step)).run([1])
    lines = [entry.statement for entry in info.traceback if "as_loop of step" in str(entry.path)]
    assert "state.output = step(engine, state.batch)" in str(lines[-1])


def test_the_atari_gan_engine_reads_as_its_loop(tmp_path):
    """The engine of examples/atari_gan/engine.py, captured where its main() calls run()."""
    pytest.importorskip("gymnasium")
    pytest.importorskip("ale_py")
    capture = textwrap.dedent(
        """
        import runpy
        from miniengine.engine import Engine
        from miniengine.as_loop import as_loop

        class Captured(BaseException):
            pass

        def capture(self, *args, **kwargs):
            print(as_loop(self).source)
            raise Captured

        Engine.run = capture
        try:
            runpy.run_module("examples.atari_gan.engine", run_name="__main__")
        except Captured:
            pass
        """
    )
    args = ["--iterations", "3", "--device", "cpu", "--threads", "1", "--batch-size", "2"]
    args += ["--seed", "0", "--logdir", str(tmp_path), "--report-every", "7"]
    args += ["--image-every", "11", "--checkpoint-every", "13"]
    done = subprocess.run([sys.executable, "-c", capture, *args], cwd=REPO, capture_output=True,
                          text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    source = done.stdout[done.stdout.index('"""What engine.run') :]
    run = source.split("def run(", 1)[1].split("\ndef finished", 1)[0]
    expected_in_order = [
        "engine.last_event_name = Events.STARTED",
        "running_average.started(engine)",
        "running_average_2.started(engine)",
        "while not engine.should_terminate and not finished(state):",
        "log_progress_opened(engine)",
        "while epoch_iteration != state.epoch_length:",
        "state.output = process_function(engine, state.batch)",
        "engine.last_event_name = Events.ITERATION_COMPLETED",
        "running_average.iteration_completed(engine)",
        "running_average.completed(engine, 'avg_loss_gen')",
        "running_average_2.completed(engine, 'avg_loss_dis')",
        "output_handler(engine, tensorboard_logger, Events.ITERATION_COMPLETED)",
        "log_progress_advanced(engine)",
        "if state.iteration % 7 == 0:\n" + " " * 20 + "report(engine)",
        "if state.iteration % 11 == 0:\n" + " " * 20 + "images(engine)",
        "stop_on_ctrl_c(engine)",
        "if state.iteration % 13 == 0:\n"
        + " " * 20
        + "flush(engine)\n"
        + " " * 20
        + "checkpoint(engine)",
        "if engine.should_terminate or engine.should_terminate_single_epoch:",
        "log_progress_closed(engine)",
        'if engine.should_terminate != "skip_completed":',
        "last_images(engine)",
        "flush(engine)",
        "checkpoint(engine)",
        "for hook in engine.run_end_hooks:",
    ]
    at = 0
    for piece in expected_in_order:
        found = run.find(piece, at)
        assert found >= 0, f"{piece!r} missing after {run[at - 80 : at]!r}"
        at = found + len(piece)
    for absent in ("GET_BATCH", "ITERATION_STARTED", "TERMINATE_SINGLE_EPOCH =", "exception_raised",
                   "Events.TERMINATE\n"):  # fmt: skip
        assert absent not in run
    assert max(map(len, source.splitlines())) <= 100


# ----------------------------------------------------------------------------- refusals
def test_a_resume_is_refused_and_says_why():
    engine = Engine(lambda engine, batch: None)
    engine.add_event_handler(Events.ITERATION_COMPLETED(once=2), Engine.terminate)
    as_loop(engine).run([1, 2, 3], max_epochs=2)
    with pytest.raises(LoopSourceError, match=r"would resume this run \(epoch 1, iteration 2"):
        as_loop(engine).run([1, 2, 3], max_epochs=2)
    engine.state.max_epochs = None  # as the message says: then it is a new run
    assert as_loop(engine).run([1, 2, 3], max_epochs=2).iteration == 2


def test_after_a_finished_run_a_new_run_starts_as_the_engine_starts_one():
    engine = Engine(lambda engine, batch: batch)
    as_loop(engine).run([1, 2], max_epochs=2)
    assert as_loop(engine).run([1, 2], max_epochs=2).iteration == 4
    with pytest.raises(LoopSourceError, match="would resume"):  # a larger limit continues
        as_loop(engine).run([1, 2], max_epochs=3)


def test_bad_arguments_get_the_engine_s_errors():
    for kwargs in [
        {"data": 3},
        {"data": [1], "max_epochs": 1, "max_iters": 1},
        {"data": [1], "epoch_length": 0},
        {"data": [1], "max_iters": -1},
        {"data": []},
        {"data": None},
    ]:
        with pytest.raises((TypeError, ValueError)) as ours:
            as_loop(Engine(lambda engine, batch: None)).run(**kwargs)
        with pytest.raises((TypeError, ValueError)) as theirs:
            Engine(lambda engine, batch: None).run(**kwargs)
        assert (type(ours.value), str(ours.value)) == (type(theirs.value), str(theirs.value))


def test_changed_handlers_are_refused_before_and_after_the_run():
    engine = Engine(lambda engine, batch: None)
    loop = as_loop(engine)
    handle = engine.add_event_handler(Events.COMPLETED, lambda: None)
    with pytest.raises(LoopSourceError, match="call as_loop"):
        loop.run([1])
    handle.remove()
    engine.add_event_handler(
        Events.ITERATION_COMPLETED(once=1),
        lambda e: e.add_event_handler(Events.EPOCH_COMPLETED, lambda: None),
    )
    with pytest.raises(LoopSourceError, match="attached to or removed from the engine during"):
        as_loop(engine).run([1])


def test_a_checkpoint_of_the_engine_is_refused_at_once(tmp_path):
    engine = Engine(lambda engine, batch: None)
    checkpoint = Checkpoint({"engine": engine}, DiskSaver(tmp_path, require_empty=False))
    engine.add_event_handler(Events.ITERATION_COMPLETED(every=2), checkpoint)
    with pytest.raises(LoopSourceError, match=r"state_dict\(\) was called at epoch 1, iteration 2"):
        as_loop(engine).run([1, 2, 3])
    assert list(tmp_path.iterdir()) == []
    assert engine.state_dict()["iteration"] == 2  # the engine's own method is back


def test_a_refusal_swallowed_by_an_exception_handler_still_raises():
    engine = Engine(lambda engine, batch: None)
    engine.add_event_handler(Events.ITERATION_COMPLETED(once=1), lambda e: e.interrupt())
    engine.add_event_handler(Events.EXCEPTION_RAISED, lambda e, exc: None)
    with pytest.raises(LoopSourceError, match="interrupt"):
        as_loop(engine).run([1, 2])
    bypass = Engine(lambda engine, batch: None)  # the unbound method sets the flag directly
    bypass.add_event_handler(Events.ITERATION_COMPLETED(once=1), Engine.interrupt)
    with pytest.raises(LoopSourceError, match="ran on to the end"):
        as_loop(bypass).run([1, 2])


# ----------------------------------------------------------------------------- cost
def test_nothing_imports_the_writer_until_it_is_used():
    code = (
        "import sys, miniengine, miniengine.explain, miniengine.handlers, miniengine.metrics\n"
        "print('miniengine.as_loop' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.strip() == "False", done.stderr


def test_loop_source_prints_as_its_source():
    loop = as_loop(Engine(lambda engine, batch: None))
    assert isinstance(loop, LoopSource) and str(loop) == loop.source
