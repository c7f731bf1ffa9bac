"""Ignite's old path of ``miniengine.handlers.base_logger``, kept for ported code.

Importing this module warns (``DeprecationWarning``), as Ignite's old module does.

Example:
    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     from miniengine.contrib.handlers.base_logger import BaseHandler
    >>> import miniengine.handlers.base_logger
    >>> BaseHandler is miniengine.handlers.base_logger.BaseHandler
    True
"""

from miniengine.contrib import _warn_moved
from miniengine.handlers.base_logger import (
    BaseHandler,
    BaseLogger,
    BaseOptimizerParamsHandler,
    BaseOutputHandler,
    BaseWeightsHandler,
    BaseWeightsScalarHandler,
)

__all__ = [
    "BaseHandler",
    "BaseLogger",
    "BaseOptimizerParamsHandler",
    "BaseOutputHandler",
    "BaseWeightsHandler",
    "BaseWeightsScalarHandler",
]

_warn_moved(__name__, "miniengine.handlers.base_logger")
