"""Ignite's old path of ``CanberraMetric``, kept for code ported from Ignite.

Importing this module warns (``DeprecationWarning``), as Ignite's old module does, and names
the new one, ``miniengine.metrics.regression.canberra_metric``.

Example:
    >>> import importlib, warnings
    >>> import miniengine.metrics.regression as new
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     old = importlib.import_module(__name__)
    >>> old.CanberraMetric is new.CanberraMetric
    True
"""

from miniengine.contrib import _warn_moved
from miniengine.metrics.regression.canberra_metric import CanberraMetric

__all__ = ["CanberraMetric"]

_warn_moved(__name__, "miniengine.metrics.regression.canberra_metric")
