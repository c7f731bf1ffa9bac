"""Ignite's old path of ``miniengine.handlers.param_scheduler``, kept for ported code.

Importing this module warns (``DeprecationWarning``), as Ignite's old module does.

Example:
    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     from miniengine.contrib.handlers.param_scheduler import ConcatScheduler
    >>> import miniengine.handlers.param_scheduler
    >>> ConcatScheduler is miniengine.handlers.param_scheduler.ConcatScheduler
    True
"""

from miniengine.contrib import _warn_moved
from miniengine.handlers.param_scheduler import (
    ConcatScheduler,
    CosineAnnealingScheduler,
    CyclicalScheduler,
    LinearCyclicalScheduler,
    LRScheduler,
    ParamGroupScheduler,
    ParamScheduler,
    PiecewiseLinear,
    create_lr_scheduler_with_warmup,
)

__all__ = [
    "ConcatScheduler",
    "CosineAnnealingScheduler",
    "CyclicalScheduler",
    "LRScheduler",
    "LinearCyclicalScheduler",
    "ParamGroupScheduler",
    "ParamScheduler",
    "PiecewiseLinear",
    "create_lr_scheduler_with_warmup",
]

_warn_moved(__name__, "miniengine.handlers.param_scheduler")
