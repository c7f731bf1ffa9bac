"""Ignite's old path of ``R2Score``, kept for code ported from Ignite.

Importing this module warns (``DeprecationWarning``), as Ignite's old module does, and names
the new one, ``miniengine.metrics.regression.r2_score``.

Example:
    >>> import importlib, warnings
    >>> import miniengine.metrics.regression as new
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     old = importlib.import_module(__name__)
    >>> old.R2Score is new.R2Score
    True
"""

from miniengine.contrib import _warn_moved
from miniengine.metrics.regression.r2_score import R2Score

__all__ = ["R2Score"]

_warn_moved(__name__, "miniengine.metrics.regression.r2_score")
