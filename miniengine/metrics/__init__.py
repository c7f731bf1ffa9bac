"""Metrics: values computed from the engine's outputs and written to ``engine.state.metrics``.

Each metric has ``reset()``, ``update(output)`` and ``compute()``; ``attach(engine, name)`` makes
the engine call them on the events of the chosen usage (see ``miniengine.metrics.metric``).

Example:
    >>> import torch
    >>> from miniengine.metrics import Accuracy
    >>> acc = Accuracy()
    >>> acc.update((torch.tensor([[0.9, 0.1], [0.2, 0.8]]), torch.tensor([0, 0])))
    >>> acc.compute()
    0.5
"""

from miniengine.metrics.accuracy import Accuracy
from miniengine.metrics.average import Average
from miniengine.metrics.confusion_matrix import ConfusionMatrix
from miniengine.metrics.fbeta import Fbeta
from miniengine.metrics.loss import Loss
from miniengine.metrics.metric import (
    BatchFiltered,
    BatchWise,
    EpochWise,
    Metric,
    MetricUsage,
    NotComputableError,
    RunningBatchWise,
    RunningEpochWise,
    SingleEpochRunningBatchWise,
)
from miniengine.metrics.precision import Precision
from miniengine.metrics.recall import Recall
from miniengine.metrics.running_average import RunningAverage

__all__ = [
    "Accuracy",
    "Average",
    "BatchFiltered",
    "BatchWise",
    "ConfusionMatrix",
    "EpochWise",
    "Fbeta",
    "Loss",
    "Metric",
    "MetricUsage",
    "NotComputableError",
    "Precision",
    "Recall",
    "RunningAverage",
    "RunningBatchWise",
    "RunningEpochWise",
    "SingleEpochRunningBatchWise",
]
