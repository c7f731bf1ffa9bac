"""Ignite's old path of ``MedianAbsolutePercentageError``, kept for code ported from Ignite.

Importing this module warns (``DeprecationWarning``), as Ignite's old module does, and names
the new one, ``miniengine.metrics.regression.median_absolute_percentage_error``.

Example:
    >>> import importlib, warnings
    >>> import miniengine.metrics.regression as new
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     old = importlib.import_module(__name__)
    >>> old.MedianAbsolutePercentageError is new.MedianAbsolutePercentageError
    True
"""

from miniengine.contrib import _warn_moved
from miniengine.metrics.regression.median_absolute_percentage_error import (
    MedianAbsolutePercentageError,
)

__all__ = ["MedianAbsolutePercentageError"]

_warn_moved(__name__, "miniengine.metrics.regression.median_absolute_percentage_error")
