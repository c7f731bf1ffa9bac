"""Ignite's old ``ignite.contrib.metrics.regression`` path.

miniengine has none of Ignite's contrib regression metrics yet (``R2Score``,
``MaximumAbsoluteError``, ...); asking for one raises an error that points to the coverage
table in ``docs/differences.md``. ``miniengine.metrics`` has the common ones
(``MeanSquaredError``, ``MeanAbsoluteError``, ``RootMeanSquaredError``).

Example:
    >>> from miniengine.contrib.metrics import regression
    >>> hasattr(regression, "R2Score")
    False
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from miniengine._missing import missing_name

__all__: list[str] = []


if not TYPE_CHECKING:  # hidden from type checkers, so that they still flag a missing name

    def __getattr__(name: str) -> Any:
        raise missing_name(__name__, name)
