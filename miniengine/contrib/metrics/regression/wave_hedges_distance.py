"""Ignite's old path of ``WaveHedgesDistance``, kept for code ported from Ignite.

Importing this module warns (``DeprecationWarning``), as Ignite's old module does, and names
the new one, ``miniengine.metrics.regression.wave_hedges_distance``.

Example:
    >>> import importlib, warnings
    >>> import miniengine.metrics.regression as new
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     old = importlib.import_module(__name__)
    >>> old.WaveHedgesDistance is new.WaveHedgesDistance
    True
"""

from miniengine.contrib import _warn_moved
from miniengine.metrics.regression.wave_hedges_distance import WaveHedgesDistance

__all__ = ["WaveHedgesDistance"]

_warn_moved(__name__, "miniengine.metrics.regression.wave_hedges_distance")
