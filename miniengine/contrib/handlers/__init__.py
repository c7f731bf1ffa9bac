"""Ignite's old ``ignite.contrib.handlers`` path: the same objects as ``miniengine.handlers``.

Names are resolved on first use, as in ``miniengine.handlers``, so importing this package
costs nothing. Ignite's loggers for third-party services (ClearML, MLflow, Neptune, Polyaxon,
Visdom, Weights & Biases) are not part of miniengine; asking for one raises an error that
points to the coverage table in ``docs/differences.md``.

Example:
    >>> from miniengine.contrib.handlers import PiecewiseLinear, global_step_from_engine
    >>> import miniengine.handlers
    >>> PiecewiseLinear is miniengine.handlers.PiecewiseLinear
    True
"""

from __future__ import annotations

import importlib
from typing import Any

from miniengine._missing import missing_name

# Ignite's contrib names that miniengine.handlers has.
_FROM_HANDLERS = (
    "BasicTimeProfiler",
    "ConcatScheduler",
    "CosineAnnealingScheduler",
    "EpochOutputStore",
    "FastaiLRFinder",
    "HandlersTimeProfiler",
    "LRScheduler",
    "LinearCyclicalScheduler",
    "ParamGroupScheduler",
    "PiecewiseLinear",
    "ProgressBar",
    "TensorboardLogger",
    "create_lr_scheduler_with_warmup",
    "global_step_from_engine",
)
# As in Ignite, these names give the new modules (no warning); the old submodules of this
# package (``import miniengine.contrib.handlers.tqdm_logger``) warn.
_MODULES = {
    "tensorboard_logger": "miniengine.handlers.tensorboard_logger",
    "tqdm_logger": "miniengine.handlers.tqdm_logger",
}

__all__ = sorted(_FROM_HANDLERS)


def __getattr__(name: str) -> Any:
    if name in _FROM_HANDLERS:
        value = getattr(importlib.import_module("miniengine.handlers"), name)
    elif name in _MODULES:
        value = importlib.import_module(_MODULES[name])
    else:
        raise missing_name(__name__, name)
    globals()[name] = value  # later look-ups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted([*__all__, *_MODULES])
