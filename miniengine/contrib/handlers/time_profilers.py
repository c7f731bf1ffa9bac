"""Ignite's old path of ``miniengine.handlers.time_profilers``, kept for ported code.

Importing this module warns (``DeprecationWarning``), as Ignite's old module does.

Example:
    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     from miniengine.contrib.handlers.time_profilers import BasicTimeProfiler
    >>> import miniengine.handlers.time_profilers
    >>> BasicTimeProfiler is miniengine.handlers.time_profilers.BasicTimeProfiler
    True
"""

from miniengine.contrib import _warn_moved
from miniengine.handlers.time_profilers import BasicTimeProfiler, HandlersTimeProfiler

__all__ = ["BasicTimeProfiler", "HandlersTimeProfiler"]

_warn_moved(__name__, "miniengine.handlers.time_profilers")
