"""miniengine: a small, readable training-loop engine for PyTorch, compatible with Ignite.

Example:
    >>> from miniengine import Engine, Events
    >>> engine = Engine(lambda engine, batch: batch)
    >>> engine.run([1, 2, 3]).output
    3
"""

from __future__ import annotations

import importlib
from typing import Any

from miniengine.engine import Engine, State
from miniengine.events import (
    CallableEventWithFilter,
    EventEnum,
    Events,
    EventsList,
    RemovableEventHandle,
)

__version__ = "0.2.0.dev0"  # the one place the version is written (pyproject reads it)
__all__ = [
    "CallableEventWithFilter",
    "Engine",
    "EventEnum",
    "Events",
    "EventsList",
    "RemovableEventHandle",
    "RunningAverage",
    "State",
    "create_supervised_evaluator",
    "create_supervised_trainer",
]


def __getattr__(name: str) -> Any:
    # Imported on first use: metrics pull in more of torch than the core needs.
    if name == "RunningAverage":
        value = importlib.import_module("miniengine.metrics").RunningAverage
    elif name in ("create_supervised_trainer", "create_supervised_evaluator"):
        value = getattr(importlib.import_module("miniengine.supervised"), name)
    else:
        raise AttributeError(f"module 'miniengine' has no attribute {name!r}")
    globals()[name] = value  # later look-ups skip __getattr__
    return value
