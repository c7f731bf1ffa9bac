"""The core: ``Engine``, ``State`` and ``Events``, laid out as ``ignite.engine`` is.

``miniengine.engine.engine`` holds the engine and the run loop, ``miniengine.engine.events``
the events and their filters. This package also offers Ignite's ``create_supervised_*``
functions (defined in ``miniengine.supervised``) and ``DeterministicEngine`` (in
``miniengine.engine.deterministic``), loaded on first use, so that
``from miniengine.engine import create_supervised_trainer`` works as Ignite's import does.

Example:
    >>> from miniengine.engine import Engine, Events
    >>> Engine(lambda engine, batch: batch).run([1, 2]).output
    2
"""

from __future__ import annotations

import importlib
from typing import Any

from miniengine._missing import missing_name
from miniengine.engine.engine import Engine, HandlerEntry, State
from miniengine.engine.events import (
    CallableEventWithFilter,
    EventEnum,
    Events,
    EventsList,
    RemovableEventHandle,
)

_SUPERVISED = (
    "create_supervised_evaluator",
    "create_supervised_trainer",
    "supervised_evaluation_step",
    "supervised_evaluation_step_amp",
    "supervised_training_step",
    "supervised_training_step_amp",
    "supervised_training_step_apex",
    "supervised_training_step_tpu",
)

__all__ = [
    "CallableEventWithFilter",
    "DeterministicEngine",
    "Engine",
    "EventEnum",
    "Events",
    "EventsList",
    "HandlerEntry",
    "RemovableEventHandle",
    "State",
    *_SUPERVISED,
]


def __getattr__(name: str) -> Any:
    # Loaded on first use: both import torch, which the core does not (a second of start-up)
    if name in _SUPERVISED or name == "DeterministicEngine":
        home = "miniengine.supervised" if name in _SUPERVISED else "miniengine.engine.deterministic"
        value = getattr(importlib.import_module(home), name)
        globals()[name] = value  # later look-ups skip __getattr__
        return value
    raise missing_name(__name__, name)
