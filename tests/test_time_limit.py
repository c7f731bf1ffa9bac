"""TimeLimit, tested without sleeping.

The handler measures from its creation with ``time.monotonic()``. Instead of waiting for a real
limit to pass, the tests move ``start_time`` (its documented attribute) into the past: what
the handler then sees is exactly what it would see after that much real time.
"""

from __future__ import annotations

import logging

import pytest

from miniengine.engine import Engine, Events
from miniengine.handlers import TimeLimit


def test_a_spent_budget_stops_at_the_next_event(caplog):
    limit = TimeLimit(limit_sec=5)
    trainer = Engine(lambda e, b: None)
    trainer.add_event_handler(Events.ITERATION_COMPLETED, limit)

    @trainer.on(Events.ITERATION_COMPLETED(once=4))
    def five_seconds_later(engine):
        limit.start_time -= 6  # as if the run had taken 6 s so far

    completed = []
    trainer.add_event_handler(Events.COMPLETED, lambda e: completed.append(e.state.iteration))
    with caplog.at_level(logging.INFO):
        state = trainer.run(range(10), max_epochs=3)
    # handlers run in order: the limit sees the shift from iteration 5 on
    assert state.iteration == 5
    assert completed == [5]
    assert "Reached the time limit: 5 sec. Stop training" in caplog.text


def test_within_budget_nothing_happens():
    trainer = Engine(lambda e, b: None)
    trainer.add_event_handler(Events.ITERATION_COMPLETED, TimeLimit(3600))
    assert trainer.run(range(10), max_epochs=3).iteration == 30


def test_default_and_bad_limits():
    assert TimeLimit().limit_sec == 28800
    with pytest.raises(TypeError, match="limit_sec should be an integer"):
        TimeLimit(1.5)
    with pytest.raises(ValueError, match="limit_sec should be a positive integer"):
        TimeLimit(0)
