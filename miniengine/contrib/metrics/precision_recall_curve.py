"""Ignite's old path of ``miniengine.metrics.precision_recall_curve``, kept for ported code.

Importing this module warns (``DeprecationWarning``), as Ignite's old module does.

Example:
    >>> import importlib, warnings
    >>> import miniengine.metrics as new
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     old = importlib.import_module(__name__)
    >>> old.PrecisionRecallCurve is new.PrecisionRecallCurve
    True
"""

from miniengine.contrib import _warn_moved
from miniengine.metrics.precision_recall_curve import (
    PrecisionRecallCurve,
    precision_recall_curve_compute_fn,
)

__all__ = ["PrecisionRecallCurve", "precision_recall_curve_compute_fn"]

_warn_moved(__name__, "miniengine.metrics.precision_recall_curve")
