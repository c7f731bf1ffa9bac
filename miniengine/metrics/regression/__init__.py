"""Regression metrics: errors, distances and correlations of predictions (N,) against targets.

Each takes ``(y_pred, y)`` of shape (N,) or (N, 1), floating point, and computes what Ignite
0.5.5's metric of the same name computes, with the same accumulator dtypes and error messages.
``SpearmanRankCorrelation`` and ``KendallRankCorrelation`` are computed by scipy, which is not a
dependency of miniengine (nor of Ignite): they import, but cannot be built until it is installed.

Example:
    >>> import torch
    >>> from miniengine.metrics.regression import R2Score
    >>> r2 = R2Score()
    >>> r2.update((torch.tensor([1.0, 2.0, 3.0]), torch.tensor([1.0, 2.0, 3.0])))
    >>> r2.compute()
    1.0
"""

from typing import Any

from miniengine._missing import missing_name
from miniengine.metrics.regression.canberra_metric import CanberraMetric
from miniengine.metrics.regression.fractional_absolute_error import FractionalAbsoluteError
from miniengine.metrics.regression.fractional_bias import FractionalBias
from miniengine.metrics.regression.geometric_mean_absolute_error import (
    GeometricMeanAbsoluteError,
)
from miniengine.metrics.regression.geometric_mean_relative_absolute_error import (
    GeometricMeanRelativeAbsoluteError,
)
from miniengine.metrics.regression.kendall_correlation import KendallRankCorrelation
from miniengine.metrics.regression.manhattan_distance import ManhattanDistance
from miniengine.metrics.regression.maximum_absolute_error import MaximumAbsoluteError
from miniengine.metrics.regression.mean_absolute_relative_error import MeanAbsoluteRelativeError
from miniengine.metrics.regression.mean_error import MeanError
from miniengine.metrics.regression.mean_normalized_bias import MeanNormalizedBias
from miniengine.metrics.regression.median_absolute_error import MedianAbsoluteError
from miniengine.metrics.regression.median_absolute_percentage_error import (
    MedianAbsolutePercentageError,
)
from miniengine.metrics.regression.median_relative_absolute_error import (
    MedianRelativeAbsoluteError,
)
from miniengine.metrics.regression.pearson_correlation import PearsonCorrelation
from miniengine.metrics.regression.r2_score import R2Score
from miniengine.metrics.regression.spearman_correlation import SpearmanRankCorrelation
from miniengine.metrics.regression.wave_hedges_distance import WaveHedgesDistance

__all__ = [
    "CanberraMetric",
    "FractionalAbsoluteError",
    "FractionalBias",
    "GeometricMeanAbsoluteError",
    "GeometricMeanRelativeAbsoluteError",
    "KendallRankCorrelation",
    "ManhattanDistance",
    "MaximumAbsoluteError",
    "MeanAbsoluteRelativeError",
    "MeanError",
    "MeanNormalizedBias",
    "MedianAbsoluteError",
    "MedianAbsolutePercentageError",
    "MedianRelativeAbsoluteError",
    "PearsonCorrelation",
    "R2Score",
    "SpearmanRankCorrelation",
    "WaveHedgesDistance",
]


def __getattr__(name: str) -> Any:  # any other name: a pointer to the coverage table
    raise missing_name(__name__, name)
