"""Ignite's old ``ignite.contrib.metrics.regression`` path: the same objects as
``miniengine.metrics.regression``.

Importing this package does not warn; importing one of its old submodules
(``miniengine.contrib.metrics.regression.r2_score``) does, with a ``DeprecationWarning`` naming
the new path, as Ignite's do. Like Ignite's, it serves the fifteen metrics that lived in contrib
before 0.5 (not ``PearsonCorrelation``, which never did).

Example:
    >>> from miniengine.contrib.metrics.regression import R2Score
    >>> import miniengine.metrics.regression
    >>> R2Score is miniengine.metrics.regression.R2Score
    True
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from miniengine._missing import missing_name

# The new modules under their names, as Ignite's package has them (importing the old
# submodule explicitly replaces the attribute with the warning module, in both libraries).
# Ignite also lists these names in __all__; here they stay out of it, because pdoc walks into
# every module named in __all__ and would document each page twice (docs/build_api.py).
from miniengine.metrics.regression import (  # noqa: F401 (attributes, not in __all__)
    CanberraMetric,
    FractionalAbsoluteError,
    FractionalBias,
    GeometricMeanAbsoluteError,
    GeometricMeanRelativeAbsoluteError,
    ManhattanDistance,
    MaximumAbsoluteError,
    MeanAbsoluteRelativeError,
    MeanError,
    MeanNormalizedBias,
    MedianAbsoluteError,
    MedianAbsolutePercentageError,
    MedianRelativeAbsoluteError,
    R2Score,
    WaveHedgesDistance,
    canberra_metric,
    fractional_absolute_error,
    fractional_bias,
    geometric_mean_absolute_error,
    geometric_mean_relative_absolute_error,
    manhattan_distance,
    maximum_absolute_error,
    mean_absolute_relative_error,
    mean_error,
    mean_normalized_bias,
    median_absolute_error,
    median_absolute_percentage_error,
    median_relative_absolute_error,
    r2_score,
    wave_hedges_distance,
)

__all__ = [
    "CanberraMetric",
    "FractionalAbsoluteError",
    "FractionalBias",
    "GeometricMeanAbsoluteError",
    "GeometricMeanRelativeAbsoluteError",
    "ManhattanDistance",
    "MaximumAbsoluteError",
    "MeanAbsoluteRelativeError",
    "MeanError",
    "MeanNormalizedBias",
    "MedianAbsoluteError",
    "MedianAbsolutePercentageError",
    "MedianRelativeAbsoluteError",
    "R2Score",
    "WaveHedgesDistance",
]


if not TYPE_CHECKING:  # hidden from type checkers, so that they still flag a missing name

    def __getattr__(name: str) -> Any:
        raise missing_name(__name__, name)
