"""Ignite's old path of ``miniengine.handlers.tensorboard_logger``, kept for ported code.

Importing this module warns (``DeprecationWarning``), as Ignite's old module does.

Example:
    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     from miniengine.contrib.handlers.tensorboard_logger import TensorboardLogger
    >>> import miniengine.handlers.tensorboard_logger
    >>> TensorboardLogger is miniengine.handlers.tensorboard_logger.TensorboardLogger
    True
"""

from miniengine.contrib import _warn_moved
from miniengine.handlers.tensorboard_logger import (
    GradsHistHandler,
    GradsScalarHandler,
    OptimizerParamsHandler,
    OutputHandler,
    TensorboardLogger,
    WeightsHistHandler,
    WeightsScalarHandler,
    global_step_from_engine,  # noqa: F401 (importable here, as in Ignite)
)

__all__ = [
    "TensorboardLogger",
    "GradsHistHandler",
    "GradsScalarHandler",
    "OptimizerParamsHandler",
    "OutputHandler",
    "WeightsHistHandler",
    "WeightsScalarHandler",
]

_warn_moved(__name__, "miniengine.handlers.tensorboard_logger")
