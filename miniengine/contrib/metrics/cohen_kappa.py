"""Ignite's old path of ``miniengine.metrics.cohen_kappa``, kept for ported code.

Importing this module warns (``DeprecationWarning``), as Ignite's old module does.

Example:
    >>> import importlib, warnings
    >>> import miniengine.metrics as new
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     old = importlib.import_module(__name__)
    >>> old.CohenKappa is new.CohenKappa
    True
"""

from miniengine.contrib import _warn_moved
from miniengine.metrics.cohen_kappa import CohenKappa

__all__ = ["CohenKappa"]

_warn_moved(__name__, "miniengine.metrics.cohen_kappa")
