"""Frequency: exact rates with a hand-driven clock (by hand and against Ignite), bounds with the
real clock, which events reset / update / write, and two gloo processes."""

from __future__ import annotations

import time

import pytest
import torch

from miniengine.engine import Engine, Events
from miniengine.exceptions import NotComputableError
from miniengine.metrics import Frequency


class Clock:
    """A ``perf_counter`` stand-in that moves only when told to."""

    def __init__(self, now: float = 100.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch):
    """Drive the clock both libraries read: ``time.perf_counter`` (ours) and the name Ignite's
    Timer imported from ``time`` (Ignite's), if Ignite is installed."""
    fake = Clock()
    monkeypatch.setattr(time, "perf_counter", fake)
    try:
        import ignite.handlers.timing
    except ImportError:
        pass
    else:
        monkeypatch.setattr(ignite.handlers.timing, "perf_counter", fake)
    return fake


def test_rate_by_hand(clock):
    wps = Frequency()
    clock.now += 2.0
    wps.update(100)
    assert wps.compute() == 100 / 2.0
    clock.now += 1.0
    wps.update(50)
    assert wps.compute() == 150 / 3.0
    clock.now += 5.0  # no update since: the rate is still up to the last update
    assert wps.compute() == 150 / 3.0
    wps.reset()  # the clock restarts now
    clock.now += 4.0
    wps.update(torch.tensor(10))
    assert wps.compute() == 10 / 4.0


# seconds each batch takes and how many things it holds; epoch 2 repeats the batches
BATCHES = [(3.0, 10), (1.5, 7), (0.25, 100), (2.0, 1)]


def trace(engine_cls, events, metric_cls, clock, event, epochs=2):
    """(event, iteration, value or None) each time ``event`` fires, after the metric wrote."""

    def step(engine, batch):
        seconds, count = batch
        clock.now += seconds
        return {"ntokens": count}

    engine = engine_cls(step)
    engine.add_event_handler(events.EPOCH_STARTED, lambda e: setattr(clock, "now", clock.now + 9))
    metric_cls(output_transform=lambda out: out["ntokens"]).attach(engine, "wps", event)
    seen = []

    @engine.on(event)
    def note(e):
        seen.append((e.last_event_name.name, e.state.iteration, e.state.metrics.get("wps")))
        e.state.metrics.clear()

    engine.run(BATCHES, max_epochs=epochs)
    return seen


def by_hand(written, event_name="ITERATION_COMPLETED", epochs=2):
    """The running rate of each epoch, int-truncated, at the iterations ``written`` picks.

    The 9 s an EPOCH_STARTED handler adds before the metric's reset must not count."""
    seen, iteration = [], 0
    for _ in range(epochs):
        seconds = count = 0.0
        for s, c in BATCHES:
            iteration += 1
            seconds, count = seconds + s, count + c
            if written(iteration):
                seen.append((event_name, iteration, int(count / seconds)))
    return seen


CASES = {  # the event to write on, of either library's Events; the iterations written
    "every iteration": (lambda ev: ev.ITERATION_COMPLETED, lambda i: True),
    "every 3rd": (lambda ev: ev.ITERATION_COMPLETED(every=3), lambda i: i % 3 == 0),
    "each epoch": (lambda ev: ev.EPOCH_COMPLETED, lambda i: i % 4 == 0),
}


@pytest.mark.parametrize("case", list(CASES))
def test_attached_rate_by_hand_and_oracle(case, clock):
    event, written = CASES[case]
    seen = trace(Engine, Events, Frequency, clock, event(Events))
    assert seen == by_hand(written, event(Events).name)
    assert all(type(value) is int for _, _, value in seen)
    ie = pytest.importorskip("ignite.engine")
    im = pytest.importorskip("ignite.metrics")
    assert seen == trace(ie.Engine, ie.Events, im.Frequency, clock, event(ie.Events))


def test_real_clock_rate_lies_within_measured_bounds():
    """No fake clock: the rate is the count over some time between two measured intervals."""
    now = time.perf_counter
    engine = Engine(lambda e, b: len(b))
    marks: dict[str, list[float]] = {"before_reset": [], "after_reset": []}
    engine.add_event_handler(Events.EPOCH_STARTED, lambda e: marks["before_reset"].append(now()))
    wps = Frequency()
    checked = []

    # registered before attach: runs before the metric's update reads the clock
    @engine.on(Events.ITERATION_COMPLETED)
    def before_update(e):
        e.state.before_update = now()

    wps.attach(engine, "wps")
    engine.add_event_handler(Events.EPOCH_STARTED, lambda e: marks["after_reset"].append(now()))

    @engine.on(Events.ITERATION_COMPLETED)
    def check(e):
        after_update = now()
        count = 64 * ((e.state.iteration - 1) % e.state.epoch_length + 1)
        longest = after_update - marks["before_reset"][-1]
        shortest = e.state.before_update - marks["after_reset"][-1]
        assert int(count / longest) <= e.state.metrics["wps"]
        if shortest > 0:
            assert e.state.metrics["wps"] <= int(count / shortest)
        checked.append(e.state.iteration)

    engine.run([list(range(64))] * 5, max_epochs=2)
    assert checked == list(range(1, 11))


def test_attach_registers_the_three_handlers_and_detach_and_state_dict():
    engine = Engine(lambda e, b: b)
    wps = Frequency()
    every = Events.ITERATION_COMPLETED(every=5)
    wps.attach(engine, "wps", every)
    assert engine.has_event_handler(wps.started, Events.EPOCH_STARTED)
    assert engine.has_event_handler(wps.iteration_completed, Events.ITERATION_COMPLETED)
    assert engine.has_event_handler(wps.completed, every)
    assert not wps.is_attached(engine)  # as in Ignite: it does not write on EPOCH_COMPLETED
    assert dict(wps.state_dict()) == {"__metric_state_per_rank": [{}]}


def test_errors_and_device():
    with pytest.raises(NotComputableError, match="Frequency must have at least one update"):
        Frequency().compute()
    with pytest.raises(TypeError, match="Argument output_transform should be callable"):
        Frequency(output_transform=1)  # type: ignore[arg-type]
    assert Frequency(device="cpu")._device == torch.device("cpu")


# ---------------------------------------------------------------- two processes

RANK_WORK = {0: [(2.0, 30), (2.0, 10)], 1: [(1.0, 5), (5.0, 75)]}  # (seconds, count) per update


def _feed(metric, rank, clock):
    metric.reset()
    for seconds, count in RANK_WORK[rank]:
        clock.now += seconds
        metric.update(count)
    return metric.compute()


def _two_ranks(rank, out):
    # No Ignite oracle here: in a gloo child its metrics at times abort the process at exit
    # ("terminate called without an active exception"). It is compared in one process above.
    clock = Clock()
    time.perf_counter = clock  # a fresh process of its own: nothing else to restore
    seen = {"ours": _feed(Frequency(), rank, clock)}
    torch.save(seen, out / f"freq{rank}.pt")


def test_two_ranks_give_the_jobs_rate(tmp_path):
    from test_distributed import _launch  # the 2-process gloo launcher

    _launch(_two_ranks, tmp_path)
    # all counts over the mean time of a process: 40 things in 4 s and 80 in 6 s
    expected = (40 + 80) / ((4.0 + 6.0) / 2)
    for rank in range(2):
        seen = torch.load(tmp_path / f"freq{rank}.pt")
        assert seen["ours"] == expected
