"""``MetricsLambda``: a metric computed by a function from the values of other metrics."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Literal

import torch

from miniengine.metrics.metric import Metric, MetricUsage

if TYPE_CHECKING:
    from miniengine.engine import Engine

__all__ = ["MetricsLambda"]


class MetricsLambda(Metric):
    """``f(*args, **kwargs)`` where every metric among the arguments stands for its value.

    Resetting or updating the lambda resets or updates the metrics it depends on (each once,
    even when it appears several times). ``attach`` registers the reset and update handlers of
    those metrics (once per usage, however many lambdas share them) and the lambda's own
    ``completed``. The metrics are then attached only *partially*: their ``is_attached`` stays
    False, and they write nothing to ``engine.state.metrics`` unless attached themselves.
    Operators on metrics (``p * r``, ``cm[0]``, ``p.mean()``) build a ``MetricsLambda``.

    Args:
        f: the function; receives the values (tensors moved to the CPU) in place of the metrics.
        args: metrics or other values, passed to ``f`` positionally.
        skip_unrolling: see ``Metric``.
        metrics_result_mode: see ``Metric``.
        kwargs: metrics or other values, passed to ``f`` by keyword.

    Example:
        >>> from miniengine.engine import Engine
        >>> from miniengine.metrics import Precision, Recall
        >>> precision, recall = Precision(), Recall()
        >>> f1 = MetricsLambda(lambda p, r: 2 * p * r / (p + r), precision, recall)
        >>> same_f1 = precision * recall * 2 / (precision + recall)
        >>> engine = Engine(lambda engine, batch: batch)
        >>> f1.attach(engine, "f1"); same_f1.attach(engine, "same_f1")
        >>> y_pred, y = torch.tensor([1, 0, 1, 1]), torch.tensor([1, 0, 0, 1])
        >>> metrics = engine.run([(y_pred, y)]).metrics  # precision 2/3, recall 1
        >>> round(metrics["f1"], 6), round(metrics["same_f1"], 6)
        (0.8, 0.8)
    """

    _state_dict_all_req_keys = ("_updated", "args", "kwargs")

    def __init__(
        self,
        f: Callable[..., Any],
        *args: Any,
        skip_unrolling: bool = False,
        metrics_result_mode: Literal["flatten", "named", "both"] = "both",
        **kwargs: Any,
    ) -> None:
        if not callable(f):
            raise TypeError(f"Argument f should be callable, got {type(f)}")
        self.function = f
        self.args = list(args)  # a list, as in Ignite: its state_dict keeps it as one
        self.kwargs = kwargs
        self.engine: Engine | None = None
        self._updated = False
        super().__init__(skip_unrolling=skip_unrolling, metrics_result_mode=metrics_result_mode)

    def _dependencies(self) -> Iterator[Metric]:
        """The metrics among the arguments, each once (nested lambdas looked into)."""
        seen: set[int] = set()
        for arg in (*self.args, *self.kwargs.values()):
            for metric in arg._dependencies() if isinstance(arg, MetricsLambda) else [arg]:
                if isinstance(metric, Metric) and id(metric) not in seen:
                    seen.add(id(metric))
                    yield metric

    def reset(self) -> None:
        """Reset the metrics it depends on."""
        for metric in self._dependencies():
            metric.reset()
        self._updated = False

    def update(self, output: Any) -> None:
        """Update the metrics it depends on (not allowed while attached: the engine does it).

        Args:
            output: passed to each metric's ``update``.
        """
        if self.engine is not None:
            raise ValueError(
                "MetricsLambda is already attached to an engine, "
                "and MetricsLambda can't use update API while it's attached."
            )
        for metric in self._dependencies():
            metric.update(output)
        self._updated = True

    def compute(self) -> Any:
        """``f`` applied to the metrics' current values."""
        args = [_value_on_cpu(a) for a in self.args]
        kwargs = {k: _value_on_cpu(v) for k, v in self.kwargs.items()}
        return self.function(*args, **kwargs)

    def attach(self, engine: Engine, name: str, usage: str | MetricUsage = "epoch_wise") -> None:
        """Attach the metrics it depends on (partially) and write ``f``'s value as ``name``.

        Args:
            engine: the engine to attach to.
            name: the key in ``engine.state.metrics``.
            usage: a ``MetricUsage`` or its name.
        """
        if self._updated:
            raise ValueError(
                "The underlying metrics are already updated, can't attach while using "
                "reset/update/compute API."
            )
        super().attach(engine, name, usage)

    def _attach_updates(self, engine: Engine, usage: MetricUsage) -> None:
        self.engine = engine  # nested lambdas too: none of them may be updated by hand now
        for arg in (*self.args, *self.kwargs.values()):
            if isinstance(arg, Metric):
                arg._attach_updates(engine, usage)  # registers each handler once per event

    def detach(self, engine: Engine, usage: str | MetricUsage = "epoch_wise") -> None:
        """Stop writing the value; the metrics it depends on stay attached, as in Ignite.

        Args:
            engine: the engine to detach from.
            usage: the usage given to ``attach``.
        """
        super().detach(engine, usage)
        self.engine = None

    def is_attached(self, engine: Engine, usage: str | MetricUsage = "epoch_wise") -> bool:
        """Whether the value is written and every metric it depends on is updated.

        Args:
            engine: the engine to look at.
            usage: the usage given to ``attach``.
        """
        usage = self._check_usage(usage)
        return super().is_attached(engine, usage) and all(
            engine.has_event_handler(m.started, usage.STARTED)
            and engine.has_event_handler(m.iteration_completed, usage.ITERATION_COMPLETED)
            for m in self._dependencies()
        )


def _value_on_cpu(arg: Any) -> Any:
    value = arg.compute() if isinstance(arg, Metric) else arg
    return value.cpu() if isinstance(value, torch.Tensor) else value
