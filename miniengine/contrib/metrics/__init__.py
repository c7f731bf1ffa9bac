"""Ignite's old ``ignite.contrib.metrics`` path.

Ignite serves ``AveragePrecision``, ``CohenKappa``, ``GpuInfo``, ``PrecisionRecallCurve``,
``ROC_AUC``, ``RocCurve`` and the ``regression`` metrics here. miniengine has ``GpuInfo`` (the
same object as ``miniengine.metrics.GpuInfo``); asking for one of the others raises an error
that points to the coverage table in ``docs/differences.md``, rather than a bare "No module
named".

Example:
    >>> import miniengine.contrib.metrics as metrics
    >>> hasattr(metrics, "ROC_AUC")
    False
"""

from __future__ import annotations

from typing import Any

from miniengine._missing import missing_name

__all__ = ["GpuInfo"]


def __getattr__(name: str) -> Any:
    if name == "GpuInfo":  # loaded on first use, as the other lazy names of miniengine
        from miniengine.metrics.gpu_info import GpuInfo

        return GpuInfo
    raise missing_name(__name__, name)
