"""Ignite's old path of ``GeometricMeanAbsoluteError``, kept for code ported from Ignite.

Importing this module warns (``DeprecationWarning``), as Ignite's old module does, and names
the new one, ``miniengine.metrics.regression.geometric_mean_absolute_error``.

Example:
    >>> import importlib, warnings
    >>> import miniengine.metrics.regression as new
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     old = importlib.import_module(__name__)
    >>> old.GeometricMeanAbsoluteError is new.GeometricMeanAbsoluteError
    True
"""

from miniengine.contrib import _warn_moved
from miniengine.metrics.regression.geometric_mean_absolute_error import GeometricMeanAbsoluteError

__all__ = ["GeometricMeanAbsoluteError"]

_warn_moved(__name__, "miniengine.metrics.regression.geometric_mean_absolute_error")
