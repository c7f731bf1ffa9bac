"""Timer on a real engine: structural checks only, no sleeps and no timed asserts."""

from __future__ import annotations

import time

import pytest

from miniengine.engine import Engine, Events
from miniengine.handlers import Timer


def busy(engine, batch):
    return sum(range(2000))


def test_fresh_timer_runs_from_creation():
    before = time.perf_counter()
    timer = Timer()
    first = timer.value()
    assert timer.running and timer.step_count == 0.0 and timer.total == 0.0
    assert 0.0 <= first <= time.perf_counter() - before
    assert timer.value() >= first  # still running


def test_pause_freezes_and_resume_continues():
    timer = Timer()
    timer.pause()
    frozen = timer.value()
    assert not timer.running and frozen == timer.total
    sum(range(10000))
    assert timer.value() == frozen  # paused: no time counted
    timer.pause()  # pausing twice changes nothing
    assert timer.value() == frozen
    timer.resume()
    assert timer.running and timer.value() >= frozen
    timer.reset()
    assert timer.total == 0.0 and timer.step_count == 0.0 and timer.running


def test_average_is_total_over_steps():
    timer = Timer(average=True)
    assert Timer(average=True).value() >= 0.0  # no steps: divided by 1
    for _ in range(4):
        timer.step()
    timer.pause()
    assert timer.step_count == 4.0
    assert timer.value() == pytest.approx(timer.total / 4)


def test_iteration_time_on_an_engine():
    trainer = Engine(busy)
    lap = []
    # Registration order makes the windows nest: lap ⊇ whole run ⊇ the iterations.
    trainer.add_event_handler(Events.STARTED, lambda e: lap.append(time.perf_counter()))
    whole = Timer().attach(trainer)  # STARTED .. COMPLETED
    per_iter = Timer(average=True).attach(
        trainer,
        start=Events.STARTED,
        resume=Events.ITERATION_STARTED,
        pause=Events.ITERATION_COMPLETED,
        step=Events.ITERATION_COMPLETED,
    )
    trainer.add_event_handler(Events.COMPLETED, lambda e: lap.append(time.perf_counter()))
    trainer.run(range(7), max_epochs=3)
    assert per_iter.step_count == 21.0  # one step per iteration, counted independently
    assert not per_iter.running and not whole.running
    assert per_iter.value() > 0
    assert per_iter.value() == pytest.approx(per_iter.total / 21)
    assert per_iter.total <= whole.value() <= lap[1] - lap[0]
    frozen = whole.value()
    sum(range(10000))
    assert whole.value() == frozen  # paused at COMPLETED


def test_epoch_timer_restarts_each_epoch():
    trainer = Engine(busy)
    epoch_timer = Timer().attach(trainer, start=Events.EPOCH_STARTED, pause=Events.EPOCH_COMPLETED)
    total_timer = Timer().attach(trainer)
    per_epoch = []
    trainer.add_event_handler(
        Events.EPOCH_COMPLETED, lambda e: per_epoch.append(epoch_timer.value())
    )
    trainer.run(range(5), max_epochs=3)
    assert len(per_epoch) == 3 and all(v > 0 for v in per_epoch)
    assert sum(per_epoch) <= total_timer.value()
    assert epoch_timer.value() == per_epoch[-1]  # reset at each EPOCH_STARTED
