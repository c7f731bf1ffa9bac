"""TimeLimit: stop training gracefully once a time budget is spent."""

from __future__ import annotations

import time

from miniengine.engine import Engine
from miniengine.utils import setup_logger

__all__ = ["TimeLimit"]


class TimeLimit:
    """Terminate the engine once ``limit_sec`` seconds have passed since this handler was made.

    Attach it to ``ITERATION_COMPLETED`` (or ``EPOCH_COMPLETED``): the run then ends cleanly,
    with ``COMPLETED`` fired, at the first such event past the limit. The clock is
    ``time.monotonic()``, so changes of the system clock do not count; ``start_time`` holds
    its reading at creation. Stopping logs "Reached the time limit: ... sec. Stop training" at
    INFO on stderr (logger ``miniengine.handlers.time_limit.TimeLimit``, from ``setup_logger``).

    Args:
        limit_sec: the budget in whole seconds (default 28800, i.e. 8 hours).

    Example:
        >>> from miniengine.engine import Engine, Events
        >>> trainer = Engine(lambda engine, batch: None)
        >>> _ = trainer.add_event_handler(Events.ITERATION_COMPLETED, TimeLimit(3600))
        >>> trainer.run(range(4)).iteration
        4
    """

    def __init__(self, limit_sec: int | None = 28800):
        if not isinstance(limit_sec, int):
            raise TypeError("Argument limit_sec should be an integer.")
        if limit_sec <= 0:
            raise ValueError("Argument limit_sec should be a positive integer.")
        self.limit_sec = limit_sec
        self.start_time = time.monotonic()
        self.logger = setup_logger(f"{__name__}.{type(self).__name__}")

    def __call__(self, engine: Engine) -> None:
        if time.monotonic() - self.start_time > self.limit_sec:
            self.logger.info("Reached the time limit: %s sec. Stop training", self.limit_sec)
            engine.terminate()
