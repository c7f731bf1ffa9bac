"""Ignite's old path of ``MeanNormalizedBias``, kept for code ported from Ignite.

Importing this module warns (``DeprecationWarning``), as Ignite's old module does, and names
the new one, ``miniengine.metrics.regression.mean_normalized_bias``.

Example:
    >>> import importlib, warnings
    >>> import miniengine.metrics.regression as new
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     old = importlib.import_module(__name__)
    >>> old.MeanNormalizedBias is new.MeanNormalizedBias
    True
"""

from miniengine.contrib import _warn_moved
from miniengine.metrics.regression.mean_normalized_bias import MeanNormalizedBias

__all__ = ["MeanNormalizedBias"]

_warn_moved(__name__, "miniengine.metrics.regression.mean_normalized_bias")
