"""Ignite's old path of ``MeanAbsoluteRelativeError``, kept for code ported from Ignite.

Importing this module warns (``DeprecationWarning``), as Ignite's old module does, and names
the new one, ``miniengine.metrics.regression.mean_absolute_relative_error``.

Example:
    >>> import importlib, warnings
    >>> import miniengine.metrics.regression as new
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     old = importlib.import_module(__name__)
    >>> old.MeanAbsoluteRelativeError is new.MeanAbsoluteRelativeError
    True
"""

from miniengine.contrib import _warn_moved
from miniengine.metrics.regression.mean_absolute_relative_error import MeanAbsoluteRelativeError

__all__ = ["MeanAbsoluteRelativeError"]

_warn_moved(__name__, "miniengine.metrics.regression.mean_absolute_relative_error")
