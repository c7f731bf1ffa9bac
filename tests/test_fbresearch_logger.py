"""FBResearchLogger: real runs, real log records, compared with Ignite's and with hand counts.

Most runs use a step clock: it stands still except where the data (``DATA`` s per batch) and
the process function (``STEP`` s per iteration) move it, so every time in the lines is known
and the two libraries print the same digits.
"""

from __future__ import annotations

import logging
import re
import time
from argparse import Namespace
from typing import Any

import pytest
import torch
from _logs import records_of

import miniengine.handlers.timing
from miniengine.engine import Engine, Events
from miniengine.handlers import FBResearchLogger
from miniengine.handlers.fbresearch_logger import MB

STEP, DATA = 0.5, 0.25
LOG = logging.getLogger("tests.fbresearch_logger")
LOG.propagate = False


class StepClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Batches:
    """``n`` batches (0.0, 1.0, ...) of known length; fetching one takes ``DATA`` seconds."""

    def __init__(self, clock: StepClock, n: int, data: float = DATA) -> None:
        self.clock, self.n, self.data = clock, n, data

    def __len__(self) -> int:
        return self.n

    def __iter__(self):
        for i in range(self.n):
            self.clock.advance(self.data)
            yield float(i)


@pytest.fixture
def clock(monkeypatch) -> StepClock:
    """The step clock, read by both libraries' engines and timers."""
    fake = StepClock()
    monkeypatch.setattr(time, "time", fake)
    monkeypatch.setattr(time, "perf_counter", fake)
    monkeypatch.setattr(miniengine.handlers.timing, "perf_counter", fake)
    try:
        import ignite.handlers.timing
    except ImportError:
        pass
    else:
        monkeypatch.setattr(ignite.handlers.timing, "perf_counter", fake)
    return fake


def ours() -> Namespace:
    return Namespace(Engine=Engine, Events=Events, FBResearchLogger=FBResearchLogger)


def ignites() -> Namespace:
    engine = pytest.importorskip("ignite.engine")
    fbr = pytest.importorskip("ignite.handlers.fbresearch_logger")
    return Namespace(
        Engine=engine.Engine, Events=engine.Events, FBResearchLogger=fbr.FBResearchLogger
    )


def messages(run, *args, **kwargs) -> list[str]:
    return [r.getMessage() for r in records_of(LOG, run, *args, **kwargs)]


# Scenarios: each builds a run with the given library, attaches the logger and runs it.


def training(lib: Namespace, clock: StepClock, record: list | None = None) -> None:
    """A real linear model learning y = 2x with SGD; the lr halves at each epoch's end."""
    torch.manual_seed(0)
    model = torch.nn.Linear(1, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)

    def step(engine, batch):
        x = torch.tensor([[batch]])
        loss = torch.nn.functional.mse_loss(model(x), 2 * x)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        clock.advance(STEP)
        if record is not None:
            record.append((engine.state.epoch, optimizer.param_groups[0]["lr"], loss.item()))
        return {"loss": loss.item()}

    trainer = lib.Engine(step)
    logger = lib.FBResearchLogger(LOG, show_output=True)
    logger.attach(trainer, "Train", every=2, optimizer=optimizer)

    @trainer.on(lib.Events.EPOCH_COMPLETED)
    def halve_lr(engine):
        optimizer.param_groups[0]["lr"] /= 2

    trainer.run(Batches(clock, 5), max_epochs=3)


def evaluation(lib: Namespace, clock: StepClock) -> None:
    """One epoch, every iteration, a tuple output: the shape of an evaluator's log."""

    def step(engine, batch):
        clock.advance(STEP)
        return batch, batch / 4

    evaluator = lib.Engine(step)
    lib.FBResearchLogger(LOG, show_output=True).attach(evaluator, "Eval")
    evaluator.run(Batches(clock, 3))


VALUES = {
    "int": 1,
    "bool": True,
    "scalar": torch.tensor(2.5),
    "long": torch.arange(12.0),
    "short": torch.tensor([1, 2, 3]),
    "empty": torch.tensor([]),
    "matrix": torch.zeros(2, 3),
    "none": None,
    "text": "ignored",
    "list": [1, [2, 3], {"k": 4}, None, "x"],
    "nested": {"inner": 0.25},
    "emptylist": [],
}


def values(lib: Namespace, clock: StepClock) -> None:
    """Every kind of value an output or state attribute can hold, a custom delimiter."""

    def step(engine, batch):
        clock.advance(STEP)
        engine.state.alpha = batch + 0.5
        engine.state.vector = torch.tensor([batch, -batch])
        return batch

    trainer = lib.Engine(step)
    logger = lib.FBResearchLogger(LOG, delimiter=" | ", show_output=True)
    logger.attach(
        trainer,
        "Values",
        every=2,
        output_transform=lambda out: {"out": out, **VALUES},
        state_attributes=["alpha", "missing", "vector"],
    )
    trainer.run(Batches(clock, 4), max_epochs=2)


def quiet_output(lib: Namespace, clock: StepClock) -> None:
    """show_output off: the output is not shown (nor transformed), state attributes are."""

    def step(engine, batch):
        clock.advance(STEP)
        return {"loss": batch}

    trainer = lib.Engine(step)
    logger = lib.FBResearchLogger(LOG)
    logger.attach(trainer, "Quiet", output_transform=lambda out: 1 / 0, state_attributes=["epoch"])
    trainer.run(Batches(clock, 2), max_epochs=2)


def short_epochs(lib: Namespace, clock: StepClock) -> None:
    """epoch_length shorter than the data, and ``every`` longer than an epoch."""

    def step(engine, batch):
        clock.advance(STEP)
        return batch

    trainer = lib.Engine(step)
    lib.FBResearchLogger(LOG, show_output=True).attach(trainer, "Short", every=4)
    trainer.run(Batches(clock, 5), max_epochs=4, epoch_length=3)


def terminated(lib: Namespace, clock: StepClock) -> None:
    """terminate() in the middle of the second epoch: no epoch end, but the run's end."""

    def step(engine, batch):
        clock.advance(STEP)
        if engine.state.iteration == 5:
            engine.terminate()
        return batch

    trainer = lib.Engine(step)
    lib.FBResearchLogger(LOG, show_output=True).attach(trainer, "Term", every=2)
    trainer.run(Batches(clock, 3), max_epochs=3)


def long_steps(lib: Namespace, clock: StepClock) -> None:
    """Iterations of 4000 s: the ETA and the totals pass hours and a day."""

    def step(engine, batch):
        clock.advance(4000.0)
        return batch

    trainer = lib.Engine(step)
    lib.FBResearchLogger(LOG).attach(trainer, "Long", every=10)
    trainer.run(Batches(clock, 30), max_epochs=2)


SCENARIOS = {
    "training": training,
    "evaluation": evaluation,
    "values": values,
    "quiet_output": quiet_output,
    "short_epochs": short_epochs,
    "terminated": terminated,
    "long_steps": long_steps,
}


def clock_free(line: str) -> str:
    """``line`` with the numbers that depend on the clock replaced by placeholders."""
    line = re.sub(r"(?:\d+ days?, )?\d+:\d\d:\d\d", "H:MM:SS", line)
    return re.sub(r"\d+\.\d{4} s\b", "x s", line)


# Oracle: the same runs in Ignite.


@pytest.mark.parametrize("name", SCENARIOS)
def test_lines_equal_ignites_on_a_step_clock(name, clock):
    ignite = ignites()
    theirs = messages(SCENARIOS[name], ignite, clock)
    clock.now = 1000.0
    mine = messages(SCENARIOS[name], ours(), clock)
    assert mine == theirs
    assert len(mine) > 3


@pytest.mark.parametrize("name", SCENARIOS)
def test_lines_equal_ignites_on_the_real_clock(name):
    ignite = ignites()
    # The clock only has to be movable; unpatched, the real one times the runs.
    theirs = messages(SCENARIOS[name], ignite, StepClock())
    mine = messages(SCENARIOS[name], ours(), StepClock())
    assert [clock_free(line) for line in mine] == [clock_free(line) for line in theirs]


def test_cuda_memory_field_equals_ignites(clock, monkeypatch):
    ignite = ignites()
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "max_memory_allocated", lambda *args: 3.6 * MB)
    theirs = messages(evaluation, ignite, clock)
    clock.now = 1000.0
    mine = messages(evaluation, ours(), clock)
    assert mine == theirs
    assert mine[1].endswith("  GPU Max Mem: 4 MB")


@pytest.mark.parametrize("value", list(VALUES.values()), ids=list(VALUES))
def test_each_output_value_equals_ignites(value, clock):
    ignite = ignites()

    def run(lib):
        engine = lib.Engine(lambda engine, batch: [value])
        lib.FBResearchLogger(LOG, show_output=True).attach(engine, "V")
        engine.run([0])

    theirs = messages(run, ignite)
    mine = messages(run, ours())
    assert mine == theirs


def test_several_param_groups_are_separated_unlike_ignite(clock):
    """Ignite writes ``lr [g0]: 0.10000lr [g1]: 0.01000``; the groups get the delimiter."""
    ignite = ignites()

    def run(lib):
        first, second = torch.nn.Linear(1, 1), torch.nn.Linear(1, 1)
        optimizer = torch.optim.SGD(
            [{"params": first.parameters()}, {"params": second.parameters(), "lr": 0.01}], lr=0.1
        )
        engine = lib.Engine(lambda engine, batch: None)
        lib.FBResearchLogger(LOG).attach(engine, "G", optimizer=optimizer)
        engine.run([0])

    theirs = messages(run, ignite)
    mine = messages(run, ours())
    assert mine[1] == theirs[1].replace("0.10000lr [g1]", "0.10000  lr [g1]")
    assert "  lr [g0]: 0.10000  lr [g1]: 0.01000  " in mine[1]
    assert mine[:1] + mine[2:] == theirs[:1] + theirs[2:]


def test_a_tensor_output_is_shown_unlike_ignite(clock):
    """Ignite shows a number output but drops a tensor one (``return loss``)."""
    ignite = ignites()

    def run(lib):
        engine = lib.Engine(lambda engine, batch: torch.tensor(batch))
        lib.FBResearchLogger(LOG, show_output=True).attach(engine, "T")
        engine.run([1.5])

    theirs = messages(run, ignite)
    mine = messages(run, ours())
    assert theirs[1].replace("0:00:00      I", "0:00:00    1.5000    I") == mine[1]
    assert mine[1].split("  ")[4] == "1.5000"


# Independent checks: what the lines must say, computed here.


def test_training_lines_show_positions_lr_outputs_and_times(clock):
    record: list = []
    lines = messages(training, ours(), clock, record)
    assert len(record) == 15
    iteration_lines = [line for line in lines if line.startswith("Epoch")]
    expected = []
    for iteration in range(2, 16, 2):  # every=2, counted over the run
        epoch, position = (iteration - 1) // 5 + 1, (iteration - 1) % 5 + 1
        _, lr, loss = record[iteration - 1]
        # The line comes before its own iteration is counted; the first iteration of an
        # epoch also holds the first batch's fetch (the timer starts at EPOCH_STARTED).
        iter_time = (DATA + position * STEP) / max(position - 1, 1)
        eta = int(iter_time * (5 - position))
        expected.append(
            f"Epoch [{epoch}/3]  [{position}/5]:  ETA: 0:00:{eta:02d}  lr: {lr:.5f}  "
            f"loss: {loss:.4f}    Iter time: {iter_time:.4f} s  Data prep time: {DATA:.4f} s  "
        )
    assert iteration_lines == expected
    assert [line[:22] for line in iteration_lines[:1]] == ["Epoch [1/3]  [2/5]:  E"]
    assert {line.split("  ")[3] for line in iteration_lines} == {
        "lr: 0.10000",
        "lr: 0.05000",
        "lr: 0.02500",
    }
    per_epoch = 5 * (STEP + DATA)
    assert lines[0] == "Train: start epoch [1/3]"
    assert f"Train: Epoch [1/3]  Total time: 0:00:03  ({per_epoch / 5:.4f} s / it)" in lines
    assert lines[-1] == f"Train: run completed  Total time: 0:00:{int(3 * per_epoch):02d}"
    assert len(lines) == 3 + len(expected) + 3 + 1


@pytest.mark.parametrize(
    ("every", "length", "epochs"), [(1, 3, 2), (2, 5, 3), (3, 3, 2), (4, 3, 4), (7, 2, 5)]
)
def test_positions_count_every_over_the_run(every, length, epochs):
    engine = Engine(lambda engine, batch: None)
    FBResearchLogger(LOG).attach(engine, "P", every=every)
    lines = messages(engine.run, range(length), max_epochs=epochs)
    got = [re.match(r"Epoch \[(\d+)/\d+\]  \[(\d+)/(\d+)\]:", line) for line in lines]
    got_pairs = [(int(m[1]), int(m[2])) for m in got if m]
    expected = [
        ((i - 1) // length + 1, (i - 1) % length + 1)
        for i in range(every, length * epochs + 1, every)
    ]
    assert got_pairs == expected
    assert {int(m[3]) for m in got if m} <= {length}


def test_values_lines_show_each_value(clock):
    lines = messages(values, ours(), clock)
    line = lines[1]
    # 1.25 s an iteration so far (the first holds a fetch), 2 to go.
    assert line.startswith("Epoch [1/2] | [2/4]: | ETA: 0:00:02 |  | out: 1.0000 | int: 1.0000 | ")
    fields = line.split(" | ")
    for piece in [
        "bool: 1.0000",
        "scalar: 2.5000",
        "long: [" + ", ".join(f"{i:.4f}" for i in range(10)) + ", ...]",
        "short: [1.0000, 2.0000, 3.0000]",
        "empty: []",
        "matrix: Shape[2, 3]",
        "none: ",
        "inner: 0.2500",
        "k: 4.0000",
        "list: 1.0000",
        "2.0000, 3.0000",
        "emptylist: ",
        "alpha: 1.5000 missing:  vector: [1.0000, -1.0000]",
    ]:
        assert piece in fields, piece
    assert not any("ignored" in f or "text" in f or f.startswith("x") for f in fields)
    # What a list holds inside is written before the list's own field.
    assert fields.index("2.0000, 3.0000") < fields.index("k: 4.0000") < fields.index("list: 1.0000")


def test_single_epoch_lines(clock):
    lines = messages(evaluation, ours(), clock)
    assert lines == [
        "Eval: start epoch [1/1]",
        "Epoch [1/1]  [1/3]:  ETA: 0:00:01    0.0000, 0.0000    "
        "Iter time: 0.7500 s  Data prep time: 0.2500 s  ",
        "Epoch [1/1]  [2/3]:  ETA: 0:00:01    1.0000, 0.2500    "
        "Iter time: 1.2500 s  Data prep time: 0.2500 s  ",
        "Epoch [1/1]  [3/3]:  ETA: 0:00:00    2.0000, 0.5000    "
        "Iter time: 0.8750 s  Data prep time: 0.2500 s  ",
        "Eval:   Total time: 0:00:02  (0.7500 s / it)",
    ]


def test_long_times_read_in_hours_and_days(clock):
    lines = messages(long_steps, ours(), clock)
    # At the 10th iteration: (DATA + 10 * 4000) / 9 s each, 20 to go: 88889 s.
    assert int((DATA + 10 * 4000) / 9 * 20) == 86400 + 41 * 60 + 29
    assert "ETA: 1 day, 0:41:29" in lines[1]
    assert "ETA: 11:41:45" in lines[2]
    assert lines[4] == "Long: Epoch [1/2]  Total time: 1 day, 9:20:07  (4000.2500 s / it)"
    assert lines[-1] == "Long: run completed  Total time: 2 days, 18:40:15"


def test_data_of_unknown_length_shows_no_total_and_no_eta(clock):
    """Ignite stops with an AssertionError here; the first epoch's lines leave the total out."""
    engine = Engine(lambda engine, batch: None)
    FBResearchLogger(LOG).attach(engine, "U", every=2)
    lines = messages(engine.run, iter(Batches(clock, 4)), max_epochs=1)
    assert [line.split("  ")[:3] for line in lines[1:3]] == [
        ["Epoch [1/1]", "[2]:", ""],
        ["Epoch [1/1]", "[4]:", ""],
    ]
    assert lines[3] == "U:   Total time: 0:00:01  (0.2500 s / it)"


def test_attach_registers_on_these_events():
    engine = Engine(lambda engine, batch: None)
    fbr = FBResearchLogger(LOG)
    fbr.attach(engine, "E", every=3)
    assert engine.has_event_handler(fbr.log_epoch_started, Events.EPOCH_STARTED)
    assert engine.has_event_handler(fbr.log_every, Events.ITERATION_COMPLETED)
    assert engine.has_event_handler(fbr.log_epoch_completed, Events.EPOCH_COMPLETED)
    assert engine.has_event_handler(fbr.log_completed, Events.COMPLETED)
    assert engine.has_event_handler(fbr.iter_timer.step, Events.ITERATION_COMPLETED)
    assert engine.has_event_handler(fbr.data_timer.pause, Events.GET_BATCH_COMPLETED)
    assert (fbr.name, fbr.logger, fbr.show_output, fbr.delimiter) == ("E", LOG, False, "  ")


class NoInfo:
    pass


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"logger": NoInfo()}, TypeError, "Argument logger should be a logging.Logger.*NoInfo"),
        ({"delimiter": 2}, TypeError, "Argument delimiter should be a str, got 2"),
        ({"show_output": "yes"}, TypeError, "Argument show_output should be a bool, got 'yes'"),
    ],
)
def test_constructor_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        FBResearchLogger(**{"logger": LOG, **kwargs})


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"every": 0}, ValueError, "Argument every should be integer and greater than zero, got 0"),
        ({"name": None}, TypeError, "Argument name should be a str, got None"),
        ({"output_transform": 3}, TypeError, "output_transform should be a function"),
        ({"state_attributes": "alpha"}, TypeError, "state_attributes should be a list of str"),
        ({"state_attributes": [1]}, TypeError, r"state_attributes .* got \[1\]"),
        ({"optimizer": object()}, TypeError, "Argument optimizer should be torch.optim.Optimizer"),
    ],
)
def test_attach_errors_attach_nothing(kwargs, error, match):
    engine = Engine(lambda engine, batch: None)
    fbr = FBResearchLogger(LOG)
    with pytest.raises(error, match=match):
        fbr.attach(engine, **{"name": "E", **kwargs})
    assert not engine.has_event_handler(fbr.log_epoch_started)
    assert messages(engine.run, [0]) == []


def test_any_object_with_info_is_a_logger():
    lines: list[Any] = []
    engine = Engine(lambda engine, batch: None)
    FBResearchLogger(Namespace(info=lines.append)).attach(engine, "N")
    engine.run([0, 1], max_epochs=2)
    assert len(lines) == 2 * (1 + 2 + 1) + 1


def test_a_disabled_logger_formats_nothing():
    quiet = logging.getLogger("tests.fbresearch_logger.quiet")
    quiet.propagate = False
    quiet.setLevel(logging.WARNING)
    got: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = got.append  # type: ignore[method-assign]
    quiet.addHandler(handler)
    calls: list[Any] = []
    engine = Engine(lambda engine, batch: batch)
    fbr = FBResearchLogger(quiet, show_output=True)
    fbr.attach(engine, "Q", output_transform=lambda out: calls.append(out))
    engine.run([1, 2])
    quiet.setLevel(logging.INFO)
    engine.run([3], max_epochs=1)
    quiet.removeHandler(handler)
    assert calls == [3]
    assert [r.getMessage()[:10] for r in got] == ["Q: start e", "Epoch [1/1", "Q:   Total"]
