"""Ignite's old path of ``miniengine.metrics.roc_auc``, kept for ported code.

Importing this module warns (``DeprecationWarning``), as Ignite's old module does.

Example:
    >>> import importlib, warnings
    >>> import miniengine.metrics as new
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     old = importlib.import_module(__name__)
    >>> old.ROC_AUC is new.ROC_AUC
    True
"""

from miniengine.contrib import _warn_moved
from miniengine.metrics.roc_auc import ROC_AUC, RocCurve

__all__ = ["ROC_AUC", "RocCurve"]

_warn_moved(__name__, "miniengine.metrics.roc_auc")
