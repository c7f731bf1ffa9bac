"""Ignite's old path of ``miniengine.metrics.average_precision``, kept for ported code.

Importing this module warns (``DeprecationWarning``), as Ignite's old module does.

Example:
    >>> import importlib, warnings
    >>> import miniengine.metrics as new
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     old = importlib.import_module(__name__)
    >>> old.AveragePrecision is new.AveragePrecision
    True
"""

from miniengine.contrib import _warn_moved
from miniengine.metrics.average_precision import AveragePrecision

__all__ = ["AveragePrecision"]

_warn_moved(__name__, "miniengine.metrics.average_precision")
