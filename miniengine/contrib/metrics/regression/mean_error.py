"""Ignite's old path of ``MeanError``, kept for code ported from Ignite.

Importing this module warns (``DeprecationWarning``), as Ignite's old module does, and names
the new one, ``miniengine.metrics.regression.mean_error``.

Example:
    >>> import importlib, warnings
    >>> import miniengine.metrics.regression as new
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     old = importlib.import_module(__name__)
    >>> old.MeanError is new.MeanError
    True
"""

from miniengine.contrib import _warn_moved
from miniengine.metrics.regression.mean_error import MeanError

__all__ = ["MeanError"]

_warn_moved(__name__, "miniengine.metrics.regression.mean_error")
