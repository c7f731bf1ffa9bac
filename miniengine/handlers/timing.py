"""Timer: measure the time between engine events, in total or per step."""

from __future__ import annotations

from time import perf_counter
from typing import Any

from miniengine.engine import Engine, Events

__all__ = ["Timer"]


class Timer:
    """A stopwatch that engine events can reset, pause, resume and step.

    The timer runs from its creation (or last ``reset``). ``value()`` is the running time
    so far, or with ``average=True`` that time divided by the number of ``step()`` calls
    (at least 1).

    Args:
        average: divide the measured time by the number of steps.

    Attributes:
        total: seconds measured up to the last pause.
        step_count: number of ``step()`` calls since the last reset (a float, as in Ignite).
        running: whether time is being measured now.

    Example:
        >>> from miniengine.engine import Engine, Events
        >>> trainer = Engine(lambda engine, batch: sum(range(1000)))
        >>> timer = Timer(average=True).attach(
        ...     trainer, start=Events.STARTED, resume=Events.ITERATION_STARTED,
        ...     pause=Events.ITERATION_COMPLETED, step=Events.ITERATION_COMPLETED)
        >>> _ = trainer.run(range(5))
        >>> timer.step_count, timer.value() > 0
        (5.0, True)
    """

    def __init__(self, average: bool = False):
        self._average = average
        self.reset()

    def attach(
        self,
        engine: Engine,
        start: Any = Events.STARTED,
        pause: Any = Events.COMPLETED,
        resume: Any = None,
        step: Any = None,
    ) -> Timer:
        """Reset the timer on ``start``, pause it on ``pause``, resume it and step it.

        Args:
            engine: the engine whose events drive the timer.
            start: event that resets (and starts) the timer.
            pause: event that pauses it.
            resume: event that resumes it (default: none).
            step: event that counts one step (default: none).

        Returns:
            this timer.
        """
        engine.add_event_handler(start, self.reset)
        engine.add_event_handler(pause, self.pause)
        if resume is not None:
            engine.add_event_handler(resume, self.resume)
        if step is not None:
            engine.add_event_handler(step, self.step)
        return self

    def reset(self, *args: Any) -> Timer:
        """Set the time and step count to zero and start running."""
        self._t0 = perf_counter()
        self.total = 0.0
        self.step_count = 0.0
        self.running = True
        return self

    def pause(self, *args: Any) -> None:
        """Stop measuring; ``value()`` keeps what was measured so far."""
        if self.running:
            self.total += perf_counter() - self._t0
            self.running = False

    def resume(self, *args: Any) -> None:
        """Measure again after a pause."""
        if not self.running:
            self.running = True
            self._t0 = perf_counter()

    def step(self, *args: Any) -> None:
        """Count one step (the divisor of ``value()`` when ``average=True``)."""
        self.step_count += 1.0

    def value(self) -> float:
        """Seconds measured, or seconds per step with ``average=True``."""
        total = self.total
        if self.running:
            total += perf_counter() - self._t0
        return total / max(self.step_count, 1.0) if self._average else total
