"""``MetricGroup``: several metrics fed, reset and attached as one."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from miniengine import distributed as idist
from miniengine.metrics.metric import Metric, MetricUsage, _identity

if TYPE_CHECKING:
    from miniengine.engine import Engine

__all__ = ["MetricGroup"]


class MetricGroup(Metric):
    """Metrics that share one attachment: ``compute()`` gives ``{name: metric.compute()}``.

    Each output goes through the group's ``output_transform`` (and, as for any metric, a dict
    output becomes ``(y_pred, y)`` and list outputs are unrolled), then through each metric's
    own ``output_transform``, then to its ``update``. Attached under ``name``, the group writes
    each metric's value to ``engine.state.metrics`` under its key and the whole dict under
    ``name``; as in Ignite, these values are written as ``compute()`` gives them (a 0-d tensor
    stays a tensor). ``state_dict()`` holds each metric's state under ``"metrics"``.

    Args:
        metrics: names mapped to the metrics of the group.
        output_transform: maps the output to what the metrics' own transforms expect.
        skip_unrolling: see ``Metric``.

    Example:
        >>> import torch
        >>> from miniengine.engine import Engine
        >>> from miniengine.metrics import Accuracy, Precision
        >>> group = MetricGroup({"acc": Accuracy(), "prec": Precision()})
        >>> evaluator = Engine(lambda engine, batch: batch)
        >>> group.attach(evaluator, "eval")
        >>> y_pred, y = torch.tensor([1, 0, 1, 1]), torch.tensor([1, 0, 0, 1])
        >>> metrics = evaluator.run([(y_pred, y)]).metrics
        >>> metrics["acc"], metrics["eval"]["acc"], sorted(metrics)
        (0.75, 0.75, ['acc', 'eval', 'prec'])
    """

    _state_dict_all_req_keys = ("metrics",)

    def __init__(
        self,
        metrics: dict[str, Metric],
        output_transform: Callable = _identity,
        skip_unrolling: bool = False,
    ) -> None:
        if not isinstance(metrics, Mapping):
            raise TypeError(
                f"Argument metrics should be a dictionary of names to metrics, got {type(metrics)}"
            )
        for name, metric in metrics.items():
            if not isinstance(metric, Metric):
                raise TypeError(
                    "Argument metrics should map names to Metric instances, "
                    f"got {type(metric)} for {name!r}"
                )
        self.metrics = metrics
        super().__init__(output_transform, skip_unrolling=skip_unrolling)

    def reset(self) -> None:
        """Reset every metric of the group."""
        for metric in self.metrics.values():
            metric.reset()

    def update(self, output: Any) -> None:
        """Give ``output``, through each metric's ``output_transform``, to its ``update``.

        Args:
            output: the (group-transformed) output, usually ``(y_pred, y)``.
        """
        for metric in self.metrics.values():
            metric.update(metric._output_transform(output))

    def compute(self) -> dict[str, Any]:
        """Each metric's value, under its name."""
        return {name: metric.compute() for name, metric in self.metrics.items()}

    def _attach_updates(self, engine: Engine, usage: MetricUsage) -> None:
        # the metrics reduce over ranks themselves: they need the world size of now, not of
        # when they were made (perhaps before the process group)
        for metric in self.metrics.values():
            metric._world_size = idist.get_world_size()
        super()._attach_updates(engine, usage)
