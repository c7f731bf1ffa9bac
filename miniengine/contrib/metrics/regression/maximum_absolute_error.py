"""Ignite's old path of ``MaximumAbsoluteError``, kept for code ported from Ignite.

Importing this module warns (``DeprecationWarning``), as Ignite's old module does, and names
the new one, ``miniengine.metrics.regression.maximum_absolute_error``.

Example:
    >>> import importlib, warnings
    >>> import miniengine.metrics.regression as new
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     old = importlib.import_module(__name__)
    >>> old.MaximumAbsoluteError is new.MaximumAbsoluteError
    True
"""

from miniengine.contrib import _warn_moved
from miniengine.metrics.regression.maximum_absolute_error import MaximumAbsoluteError

__all__ = ["MaximumAbsoluteError"]

_warn_moved(__name__, "miniengine.metrics.regression.maximum_absolute_error")
