"""Ignite's old path of ``ManhattanDistance``, kept for code ported from Ignite.

Importing this module warns (``DeprecationWarning``), as Ignite's old module does, and names
the new one, ``miniengine.metrics.regression.manhattan_distance``.

Example:
    >>> import importlib, warnings
    >>> import miniengine.metrics.regression as new
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     old = importlib.import_module(__name__)
    >>> old.ManhattanDistance is new.ManhattanDistance
    True
"""

from miniengine.contrib import _warn_moved
from miniengine.metrics.regression.manhattan_distance import ManhattanDistance

__all__ = ["ManhattanDistance"]

_warn_moved(__name__, "miniengine.metrics.regression.manhattan_distance")
