"""Ignite's old ``ignite.contrib.metrics`` path.

Ignite serves ``AveragePrecision``, ``CohenKappa``, ``GpuInfo``, ``PrecisionRecallCurve``,
``ROC_AUC``, ``RocCurve`` and the ``regression`` metrics here. miniengine has none of them yet
(the first five need scikit-learn or pynvml in Ignite); asking for one raises an error that
points to the coverage table in ``docs/differences.md``, rather than a bare "No module named".

Example:
    >>> import miniengine.contrib.metrics as metrics
    >>> hasattr(metrics, "ROC_AUC")
    False
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from miniengine._missing import missing_name

__all__: list[str] = []


if not TYPE_CHECKING:  # hidden from type checkers, so that they still flag a missing name

    def __getattr__(name: str) -> Any:
        raise missing_name(__name__, name)
