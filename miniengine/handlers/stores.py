"""EpochOutputStore: keep every output of the current epoch, e.g. to plot predictions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from miniengine.engine import Engine, Events

__all__ = ["EpochOutputStore"]


def _identity(x: Any) -> Any:
    return x


class EpochOutputStore:
    """Collect ``output_transform(engine.state.output)`` of every iteration of an epoch in a list.

    ``attach`` empties ``data`` when an epoch starts and appends to it after each iteration.
    Given a ``name``, it also sets ``engine.state.<name>`` to that list when the epoch completes;
    the state keeps that epoch's list (the same object, not a copy) until the next epoch
    completes. Outputs are kept as they are, tensors too (with their autograd graph, if any:
    detach them in ``output_transform``), so a long epoch can fill the memory.

    Args:
        output_transform: maps ``engine.state.output`` to what is stored, e.g. ``lambda x: x[0]``.

    Attributes:
        data: the (transformed) outputs of the epoch so far, in order.
        output_transform: the ``output_transform`` given.

    Example:
        >>> from miniengine.engine import Engine
        >>> evaluator = Engine(lambda engine, batch: (10 * batch, batch))
        >>> EpochOutputStore(output_transform=lambda out: out[0]).attach(evaluator, "preds")
        >>> evaluator.run([1, 2, 3]).preds
        [10, 20, 30]
    """

    def __init__(self, output_transform: Callable[[Any], Any] = _identity) -> None:
        if not callable(output_transform):
            raise TypeError(
                f"Argument output_transform should be callable, got {type(output_transform)}"
            )
        self.data: list[Any] = []
        self.output_transform = output_transform
        self.name: str | None = None

    def reset(self) -> None:
        """Start a new, empty list; a list already stored on a state is left as it is."""
        self.data = []

    def update(self, engine: Engine) -> None:
        """Append the transformed ``engine.state.output`` to ``data``.

        Args:
            engine: the engine whose output to store.
        """
        self.data.append(self.output_transform(engine.state.output))

    def store(self, engine: Engine) -> None:
        """Set ``engine.state.<name>`` to ``data``, ``name`` being the one given to ``attach``.

        Args:
            engine: the engine whose state gets the list.
        """
        if not self.name:
            raise RuntimeError(
                "EpochOutputStore.store needs a name: attach the store with "
                "attach(engine, name) or set its name attribute first"
            )
        setattr(engine.state, self.name, self.data)

    def attach(self, engine: Engine, name: str | None = None) -> None:
        """Empty ``data`` on EPOCH_STARTED and fill it on ITERATION_COMPLETED.

        Args:
            engine: the engine whose outputs to store.
            name: if given (and not empty), ``store`` also runs on EPOCH_COMPLETED and puts
                ``data`` on ``engine.state.<name>``.
        """
        engine.add_event_handler(Events.EPOCH_STARTED, self.reset)
        engine.add_event_handler(Events.ITERATION_COMPLETED, self.update)
        if name:
            self.name = name
            engine.add_event_handler(Events.EPOCH_COMPLETED, self.store)
