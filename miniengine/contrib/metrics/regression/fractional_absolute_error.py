"""Ignite's old path of ``FractionalAbsoluteError``, kept for code ported from Ignite.

Importing this module warns (``DeprecationWarning``), as Ignite's old module does, and names
the new one, ``miniengine.metrics.regression.fractional_absolute_error``.

Example:
    >>> import importlib, warnings
    >>> import miniengine.metrics.regression as new
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     old = importlib.import_module(__name__)
    >>> old.FractionalAbsoluteError is new.FractionalAbsoluteError
    True
"""

from miniengine.contrib import _warn_moved
from miniengine.metrics.regression.fractional_absolute_error import FractionalAbsoluteError

__all__ = ["FractionalAbsoluteError"]

_warn_moved(__name__, "miniengine.metrics.regression.fractional_absolute_error")
