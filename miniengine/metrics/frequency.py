"""``Frequency``: how many things (examples, tokens) the engine processes per second."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch

from miniengine.events import Events
from miniengine.exceptions import NotComputableError
from miniengine.metrics.metric import Metric, MetricUsage, _identity

if TYPE_CHECKING:
    from miniengine.engine import Engine

__all__ = ["Frequency"]


class Frequency(Metric):
    """The count fed to ``update`` since the last reset, divided by the seconds since that reset.

    Each ``update(n)`` adds ``n`` to the count and reads the clock (``time.perf_counter``), so
    ``compute()`` is ``count / (time of the last update - time of the reset)``. Attached, it is
    reset when each epoch starts, updated after each iteration and written, truncated to an
    ``int``, on ``event_name``: a running rate within the epoch. In a distributed run, counts
    and times are summed over the processes and the rate is ``count / mean time``, the whole
    job's rate.

    Args:
        output_transform: maps the output to the count of one iteration (a number), e.g.
            ``lambda out: out["ntokens"]``.
        device: kept for Ignite's signature; the count and time are Python numbers.
        skip_unrolling: see ``Metric``.

    Example:
        >>> wps = Frequency()
        >>> wps.update(100); wps.update(28)
        >>> rate = wps.compute()  # 128 over the seconds since Frequency() was made
        >>> isinstance(rate, float) and rate > 0
        True
    """

    _accumulators = ("_n", "_elapsed")

    def __init__(
        self,
        output_transform: Callable = _identity,
        device: str | torch.device = "cpu",
        skip_unrolling: bool = False,
    ) -> None:
        super().__init__(output_transform, device=device, skip_unrolling=skip_unrolling)

    def reset(self) -> None:
        """Set the count to zero and start the clock again."""
        # looked up on the module at each call, so a test can put a fake clock there
        self._start = time.perf_counter()
        self._n: Any = 0
        self._elapsed = 0.0

    def update(self, output: Any) -> None:
        """Add ``output`` to the count and note the time.

        Args:
            output: the number of things processed in this iteration.
        """
        self._n += output
        self._elapsed = time.perf_counter() - self._start

    def compute(self) -> float:
        """Things per second, from the reset to the last update."""
        if self._elapsed == 0:
            raise NotComputableError(
                "Frequency must have at least one update before it can be computed."
            )
        return self._n / self._elapsed * self._world_size

    def completed(self, engine: Engine, name: str) -> None:
        """Write ``int(compute())`` to ``engine.state.metrics[name]``.

        Args:
            engine: the engine the metric is attached to.
            name: the key in ``engine.state.metrics``.
        """
        engine.state.metrics[name] = int(self.compute())

    def attach(  # type: ignore[override]
        self, engine: Engine, name: str, event_name: Any = Events.ITERATION_COMPLETED
    ) -> None:
        """Reset on EPOCH_STARTED, update on ITERATION_COMPLETED, write on ``event_name``.

        Args:
            engine: the engine to attach to.
            name: the key in ``engine.state.metrics``.
            event_name: when to write the rate, e.g. ``Events.ITERATION_COMPLETED(every=50)``.

        Example:
            >>> from miniengine.engine import Engine
            >>> engine = Engine(lambda engine, batch: len(batch))
            >>> Frequency().attach(engine, "examples/s", Events.EPOCH_COMPLETED)
            >>> rate = engine.run([[1, 2], [3, 4, 5]]).metrics["examples/s"]
            >>> isinstance(rate, int) and rate > 0
            True
        """
        usage = MetricUsage(Events.EPOCH_STARTED, event_name, Events.ITERATION_COMPLETED)
        self._attach_updates(engine, usage)
        engine.add_event_handler(event_name, self.completed, name)
