"""Ignite's old ``ignite.contrib.metrics`` path: the same objects as ``miniengine.metrics``.

Ignite serves ``AveragePrecision``, ``CohenKappa``, ``GpuInfo``, ``PrecisionRecallCurve``,
``ROC_AUC``, ``RocCurve``, the ``regression`` metrics, and the new modules under their old names
(``roc_auc``, ...), here; so does miniengine. Importing this package does not warn; importing one
of its old submodules (``miniengine.contrib.metrics.roc_auc``) does, as Ignite's do. The names
are loaded on first use, so that importing the package stays cheap.

Example:
    >>> import miniengine.contrib.metrics as old
    >>> from miniengine.metrics import ROC_AUC
    >>> old.ROC_AUC is ROC_AUC
    True
"""

from __future__ import annotations

import importlib
from typing import Any

from miniengine._missing import missing_name

# name -> the miniengine.metrics module that holds it
_NAMES = {
    "AveragePrecision": "average_precision",
    "CohenKappa": "cohen_kappa",
    "GpuInfo": "gpu_info",
    "PrecisionRecallCurve": "precision_recall_curve",
    "ROC_AUC": "roc_auc",
    "RocCurve": "roc_auc",
}
_MODULES = ("average_precision", "cohen_kappa", "gpu_info", "precision_recall_curve", "roc_auc")

__all__ = sorted(_NAMES)


def __getattr__(name: str) -> Any:
    if name in _NAMES:
        return getattr(importlib.import_module(f"miniengine.metrics.{_NAMES[name]}"), name)
    if name in _MODULES:  # Ignite binds the new module here until the old one is imported
        return importlib.import_module(f"miniengine.metrics.{name}")
    if name == "regression":
        return importlib.import_module(f"{__name__}.regression")
    raise missing_name(__name__, name)
