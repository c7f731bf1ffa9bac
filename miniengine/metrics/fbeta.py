"""``Fbeta``: the weighted harmonic mean of precision and recall (F1 for ``beta=1``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch

from miniengine.metrics.metric import Metric, MetricUsage, _identity
from miniengine.metrics.precision import Precision
from miniengine.metrics.recall import Recall

if TYPE_CHECKING:
    from miniengine.engine import Engine

__all__ = ["Fbeta"]


class _Fbeta(Metric):
    """Combines a per-class ``Precision`` and ``Recall``; attaching it attaches them too."""

    def __init__(self, beta: float, average: bool, precision: Precision, recall: Recall) -> None:
        self.beta, self.average = beta, average
        self.precision, self.recall = precision, recall
        self._engine: Engine | None = None
        super().__init__()

    def reset(self) -> None:
        self.precision.reset()
        self.recall.reset()
        self._updated = False

    def update(self, output: Any) -> None:
        if self._engine is not None:
            raise ValueError(
                "MetricsLambda is already attached to an engine, "
                "and MetricsLambda can't use update API while it's attached."
            )
        self.precision.update(output)
        self.recall.update(output)
        self._updated = True

    def compute(self) -> torch.Tensor | float:
        p, r = (torch.as_tensor(part.compute()).cpu() for part in (self.precision, self.recall))
        b2 = self.beta**2
        fbeta = (1.0 + b2) * p * r / (b2 * p + r + 1e-15)
        return fbeta.mean().item() if self.average else fbeta

    def attach(self, engine: Engine, name: str, usage: str | MetricUsage = "epoch_wise") -> None:
        if self._updated:
            raise ValueError(
                "The underlying metrics are already updated, can't attach while using "
                "reset/update/compute API."
            )
        usage = self._check_usage(usage)
        self._engine = engine
        # A part already attached with this usage (e.g. to log it too) is not updated twice.
        for part in (self.precision, self.recall):  # they reduce their own sums
            part._attach_updates(engine, usage)
        engine.add_event_handler(usage.COMPLETED, self.completed, name)

    def detach(self, engine: Engine, usage: str | MetricUsage = "epoch_wise") -> None:
        super().detach(engine, usage)
        self._engine = None

    def is_attached(self, engine: Engine, usage: str | MetricUsage = "epoch_wise") -> bool:
        usage = self._check_usage(usage)
        return super().is_attached(engine, usage) and all(
            engine.has_event_handler(part.started, usage.STARTED)
            and engine.has_event_handler(part.iteration_completed, usage.ITERATION_COMPLETED)
            for part in (self.precision, self.recall)
        )


def Fbeta(  # noqa: N802 - a function with a class's name, as in Ignite
    beta: float,
    average: bool = True,
    precision: Precision | None = None,
    recall: Recall | None = None,
    output_transform: Callable | None = None,
    device: str | torch.device | None = None,
) -> Metric:
    """F-beta score, ``(1 + beta^2) * P * R / (beta^2 * P + R)``, per class or averaged.

    Built on a ``Precision`` and a ``Recall`` with ``average=False``: made here, or given (then
    they keep their own ``output_transform`` and device, and may also be attached on their own).

    Args:
        beta: weight of recall, > 0 (1 gives F1).
        average: True for the mean over classes (a float), False for one value per class.
        precision: a ``Precision(average=False)`` to reuse.
        recall: a ``Recall(average=False)`` to reuse.
        output_transform: for the precision and recall made here.
        device: for the precision and recall made here.

    Example:
        >>> f1 = Fbeta(beta=1.0)
        >>> f1.update((torch.tensor([[0.9, 0.1], [0.2, 0.8], [0.3, 0.7]]), torch.tensor([0, 1, 0])))
        >>> round(f1.compute(), 4)  # both classes: P and R are 1 and 1/2, or 1/2 and 1
        0.6667
    """
    if not beta > 0:
        raise ValueError(f"Beta should be a positive integer, but given {beta}")
    for part, part_name in ((precision, "precision"), (recall, "recall")):
        if part is not None and output_transform is not None:
            raise ValueError(
                f"If {part_name} argument is provided, output_transform should be None"
            )
        if part is not None and device is not None:
            raise ValueError(f"If {part_name} argument is provided, device should be None")
    transform = output_transform or _identity
    if precision is None:
        where = recall._device if recall is not None else device or "cpu"
        precision = Precision(transform, average=False, device=where)
    elif precision._average:
        raise ValueError("Input precision metric should have average=False")
    if recall is None:
        recall = Recall(transform, average=False, device=precision._device)
    elif recall._average:
        raise ValueError("Input recall metric should have average=False")
    return _Fbeta(beta, average, precision, recall)
