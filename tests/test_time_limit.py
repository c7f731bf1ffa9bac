"""TimeLimit, tested without sleeping.

The handler measures from its creation with ``time.monotonic()``. Instead of waiting for a real
limit to pass, the tests move ``start_time`` (its documented attribute) into the past: what
the handler then sees is exactly what it would see after that much real time.
"""

from __future__ import annotations

import re

import pytest
from _logs import records_of

from miniengine.engine import Engine, Events
from miniengine.handlers import TimeLimit


def spend(limit, trainer, engine_events) -> None:
    @trainer.on(engine_events.ITERATION_COMPLETED(once=4))
    def five_seconds_later(engine):
        limit.start_time -= 6  # as if the run had taken 6 s so far


def test_a_spent_budget_stops_at_the_next_event(capsys):
    limit = TimeLimit(limit_sec=5)
    trainer = Engine(lambda e, b: None)
    trainer.add_event_handler(Events.ITERATION_COMPLETED, limit)
    spend(limit, trainer, Events)
    completed = []
    trainer.add_event_handler(Events.COMPLETED, lambda e: completed.append(e.state.iteration))
    capsys.readouterr()
    state = trainer.run(range(10), max_epochs=3)
    # handlers run in order: the limit sees the shift from iteration 5 on
    assert state.iteration == 5
    assert completed == [5]
    # on stderr with no logging set up, as Ignite's
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} miniengine.handlers.time_limit.TimeLimit INFO: "
        r"Reached the time limit: 5 sec. Stop training\n",
        capsys.readouterr().err,
    )


def test_same_stop_and_message_as_ignite():
    ignite_handlers = pytest.importorskip("ignite.handlers")
    ignite_engine = pytest.importorskip("ignite.engine")
    seen = []
    for handler_cls, engine_cls, events in (
        (ignite_handlers.TimeLimit, ignite_engine.Engine, ignite_engine.Events),
        (TimeLimit, Engine, Events),
    ):
        limit = handler_cls(limit_sec=5)
        trainer = engine_cls(lambda e, b: None)
        trainer.add_event_handler(events.ITERATION_COMPLETED, limit)
        spend(limit, trainer, events)
        records = records_of(limit.logger, trainer.run, range(10), max_epochs=3)
        logged = [(r.levelname, r.getMessage(), r.name.split(".", 1)[1]) for r in records]
        seen.append((trainer.state.iteration, logged))
    assert seen[0] == seen[1]


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
