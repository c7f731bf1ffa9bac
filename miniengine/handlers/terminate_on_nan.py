"""TerminateOnNan: stop the run as soon as the output holds a NaN or an infinity."""

from __future__ import annotations

import cmath
import math
import numbers
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch

from miniengine.engine import Engine
from miniengine.utils import setup_logger

__all__ = ["TerminateOnNan"]


def _all_finite(x: Any) -> bool:
    """True if every number and tensor in ``x`` (nested in lists, tuples, dicts) is finite."""
    if isinstance(x, torch.Tensor):
        if not (x.is_floating_point() or x.is_complex()):
            return True
        if x.numel() == 1:  # the usual loss: .item() is several times cheaper than isfinite()
            x = x.item()
        else:
            return bool(torch.isfinite(x).all())
    if isinstance(x, complex):
        return cmath.isfinite(x)
    if isinstance(x, numbers.Number):
        return math.isfinite(x)  # type: ignore[arg-type]
    if isinstance(x, (str, bytes)):
        return True
    if isinstance(x, Mapping):
        return all(_all_finite(v) for v in x.values())
    if isinstance(x, Sequence):
        return all(_all_finite(v) for v in x)
    raise TypeError(f"x must contain numbers, tensors, dicts or lists; found {type(x)}")


class TerminateOnNan:
    """Terminate the engine when its output contains a NaN or an infinite value.

    Attach it to ``ITERATION_COMPLETED``. The output may be a number, a tensor, or lists,
    tuples and dicts of them; one non-finite element anywhere stops the run, with a warning
    on stderr from the ``miniengine.handlers.terminate_on_nan.TerminateOnNan`` logger (made by
    ``miniengine.utils.setup_logger``, as Ignite's).

    Args:
        output_transform: picks what to check from ``engine.state.output``.

    Example:
        >>> from miniengine.engine import Engine, Events
        >>> trainer = Engine(lambda engine, batch: 2.0 * batch)
        >>> _ = trainer.add_event_handler(Events.ITERATION_COMPLETED, TerminateOnNan())
        >>> trainer.run([1.0, 2.0, float("inf"), 0.5], max_epochs=2).iteration
        3
    """

    def __init__(self, output_transform: Callable[[Any], Any] = lambda x: x):
        if not callable(output_transform):
            raise TypeError(
                f"Argument output_transform should be callable, but given {type(output_transform)}"
            )
        self._output_transform = output_transform
        self.logger = setup_logger(f"{__name__}.{type(self).__name__}")

    def __call__(self, engine: Engine) -> None:
        output = self._output_transform(engine.state.output)
        if not _all_finite(output):
            self.logger.warning(
                "%s: Output '%s' contains NaN or Inf. Stop training", type(self).__name__, output
            )
            engine.terminate()
