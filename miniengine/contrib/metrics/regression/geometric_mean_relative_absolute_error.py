"""Ignite's old path of ``GeometricMeanRelativeAbsoluteError``, kept for code ported from Ignite.

Importing this module warns (``DeprecationWarning``), as Ignite's old module does, and names
the new one, ``miniengine.metrics.regression.geometric_mean_relative_absolute_error``.

Example:
    >>> import importlib, warnings
    >>> import miniengine.metrics.regression as new
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     old = importlib.import_module(__name__)
    >>> old.GeometricMeanRelativeAbsoluteError is new.GeometricMeanRelativeAbsoluteError
    True
"""

from miniengine.contrib import _warn_moved
from miniengine.metrics.regression.geometric_mean_relative_absolute_error import (
    GeometricMeanRelativeAbsoluteError,
)

__all__ = ["GeometricMeanRelativeAbsoluteError"]

_warn_moved(__name__, "miniengine.metrics.regression.geometric_mean_relative_absolute_error")
