"""Ignite's old path of ``FractionalBias``, kept for code ported from Ignite.

Importing this module warns (``DeprecationWarning``), as Ignite's old module does, and names
the new one, ``miniengine.metrics.regression.fractional_bias``.

Example:
    >>> import importlib, warnings
    >>> import miniengine.metrics.regression as new
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     old = importlib.import_module(__name__)
    >>> old.FractionalBias is new.FractionalBias
    True
"""

from miniengine.contrib import _warn_moved
from miniengine.metrics.regression.fractional_bias import FractionalBias

__all__ = ["FractionalBias"]

_warn_moved(__name__, "miniengine.metrics.regression.fractional_bias")
