"""The ``Metric`` base class and the usages that decide when a metric resets, updates and writes.

A metric is three methods, ``reset()``, ``update(output)`` and ``compute()``; ``attach`` hooks them
to an engine's events. Which events is the job of a *usage*, given as an object (``EpochWise()``)
or by its ``usage_name``:

=================================== ================= =================== ===================
usage_name                          reset on          update on           write on
=================================== ================= =================== ===================
"epoch_wise" (default)              EPOCH_STARTED     ITERATION_COMPLETED EPOCH_COMPLETED
"batch_wise"                        ITERATION_STARTED ITERATION_COMPLETED ITERATION_COMPLETED
"running_batch_wise"                STARTED           ITERATION_COMPLETED ITERATION_COMPLETED
"single_epoch_running_batch_wise"   EPOCH_STARTED     ITERATION_COMPLETED ITERATION_COMPLETED
"running_epoch_wise"                STARTED           EPOCH_COMPLETED     EPOCH_COMPLETED
=================================== ================= =================== ===================
"""

from __future__ import annotations

import functools
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from numbers import Number
from typing import TYPE_CHECKING, Any, Literal

import torch

from miniengine import distributed as idist
from miniengine.events import CallableEventWithFilter, Events

if TYPE_CHECKING:
    from miniengine.engine import Engine

__all__ = [
    "BatchFiltered",
    "BatchWise",
    "EpochWise",
    "Metric",
    "MetricUsage",
    "NotComputableError",
    "RunningBatchWise",
    "RunningEpochWise",
    "SingleEpochRunningBatchWise",
    "reinit__is_reduced",
    "sync_all_reduce",
]


class NotComputableError(RuntimeError):
    """Raised by ``compute()`` when a metric has not seen enough data to give a value.

    Example:
        >>> issubclass(NotComputableError, RuntimeError)
        True
    """


class MetricUsage:
    """The three events a metric is reset on, updated on and written on.

    Args:
        started: event that calls ``Metric.started`` (reset).
        completed: event that calls ``Metric.completed`` (compute and write).
        iteration_completed: event that calls ``Metric.iteration_completed`` (update).

    Example:
        >>> usage = MetricUsage(Events.STARTED, Events.COMPLETED, Events.ITERATION_COMPLETED)
        >>> usage.COMPLETED.name
        'COMPLETED'
    """

    usage_name: str

    def __init__(
        self,
        started: CallableEventWithFilter,
        completed: CallableEventWithFilter,
        iteration_completed: CallableEventWithFilter,
    ) -> None:
        self.STARTED = started
        self.COMPLETED = completed
        self.ITERATION_COMPLETED = iteration_completed


class EpochWise(MetricUsage):
    """Reset each epoch, update each iteration, write at the end of the epoch (the default).

    Example:
        >>> EpochWise.usage_name, EpochWise().STARTED.name
        ('epoch_wise', 'EPOCH_STARTED')
    """

    usage_name = "epoch_wise"

    def __init__(self) -> None:
        super().__init__(Events.EPOCH_STARTED, Events.EPOCH_COMPLETED, Events.ITERATION_COMPLETED)


class RunningEpochWise(EpochWise):
    """Reset once per run, update and write at the end of each epoch.

    Example:
        >>> RunningEpochWise.usage_name, RunningEpochWise().ITERATION_COMPLETED.name
        ('running_epoch_wise', 'EPOCH_COMPLETED')
    """

    usage_name = "running_epoch_wise"

    def __init__(self) -> None:
        MetricUsage.__init__(self, Events.STARTED, Events.EPOCH_COMPLETED, Events.EPOCH_COMPLETED)


class BatchWise(MetricUsage):
    """Reset, update and write within every iteration: the value of one batch.

    Example:
        >>> BatchWise.usage_name, BatchWise().STARTED.name
        ('batch_wise', 'ITERATION_STARTED')
    """

    usage_name = "batch_wise"

    def __init__(self) -> None:
        super().__init__(
            Events.ITERATION_STARTED, Events.ITERATION_COMPLETED, Events.ITERATION_COMPLETED
        )


class RunningBatchWise(BatchWise):
    """Reset once per run, update and write every iteration (``RunningAverage``'s default).

    Example:
        >>> RunningBatchWise.usage_name, RunningBatchWise().STARTED.name
        ('running_batch_wise', 'STARTED')
    """

    usage_name = "running_batch_wise"

    def __init__(self) -> None:
        MetricUsage.__init__(
            self, Events.STARTED, Events.ITERATION_COMPLETED, Events.ITERATION_COMPLETED
        )


class SingleEpochRunningBatchWise(BatchWise):
    """Like ``RunningBatchWise`` but reset at the start of every epoch.

    Example:
        >>> SingleEpochRunningBatchWise().STARTED.name
        'EPOCH_STARTED'
    """

    usage_name = "single_epoch_running_batch_wise"

    def __init__(self) -> None:
        MetricUsage.__init__(
            self, Events.EPOCH_STARTED, Events.ITERATION_COMPLETED, Events.ITERATION_COMPLETED
        )


class BatchFiltered(MetricUsage):
    """Epoch-wise, but updated only on a filtered ``ITERATION_COMPLETED``.

    Args:
        args: positional arguments for ``Events.ITERATION_COMPLETED(...)``.
        kwargs: keyword arguments for it, e.g. ``every=2``.

    Example:
        >>> BatchFiltered(every=2).ITERATION_COMPLETED == Events.ITERATION_COMPLETED
        True
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        update_event = Events.ITERATION_COMPLETED(*args, **kwargs)
        super().__init__(Events.EPOCH_STARTED, Events.EPOCH_COMPLETED, update_event)


_USAGES = {
    u.usage_name: u
    for u in (EpochWise, RunningEpochWise, BatchWise, RunningBatchWise, SingleEpochRunningBatchWise)
}


def _identity(x: Any) -> Any:
    return x


def _is_batch_list(x: Any) -> bool:
    return isinstance(x, Sequence) and all(isinstance(t, (torch.Tensor, Number)) for t in x)


def _batched(x: Any, device: torch.device | None = None) -> torch.Tensor:
    return x.unsqueeze(0) if isinstance(x, torch.Tensor) else torch.tensor([x], device=device)


def _summed_over_ranks(compute: Callable, attrs: Sequence[str] | None = None) -> Callable:
    """Wrap ``compute`` so that it sees ``attrs`` (default: ``_accumulators``) reduced over ranks.

    The local values are put back afterwards: updates may go on and ``compute`` stays
    repeatable. An attribute may name its reduction, e.g. ``"_max:MAX"`` (default SUM).
    """

    @functools.wraps(compute)
    def wrapper(self: Metric, *args: Any, **kwargs: Any) -> Any:
        names = self._accumulators if attrs is None else attrs
        # _reducing: a subclass's compute calling super().compute() must not reduce twice
        if self._world_size == 1 or self._reducing or not names:
            return compute(self, *args, **kwargs)
        local = {}
        self._reducing = True
        try:
            for spec in names:
                name, _, op = spec.partition(":")
                local[name] = value = getattr(self, name)
                if isinstance(value, torch.Tensor):
                    value = value.clone()  # all_reduce works in place
                setattr(self, name, idist.all_reduce(value, op or "SUM"))
            return compute(self, *args, **kwargs)
        finally:
            self._reducing = False
            for name, value in local.items():
                setattr(self, name, value)

    return wrapper


def sync_all_reduce(*attrs: str) -> Callable[[Callable], Callable]:
    """Decorator for a ``compute`` that must see ``attrs`` summed over ranks (Ignite's helper).

    miniengine's own metrics list their sums in ``_accumulators`` instead; this is for metrics
    written for Ignite. ``"name:OP"`` picks another reduction: MIN, MAX or PRODUCT.

    Args:
        attrs: names of the attributes to reduce.

    Example:
        >>> class Total(Metric):
        ...     def reset(self): self.total = 0
        ...     def update(self, output): self.total += output
        ...     @sync_all_reduce("total")
        ...     def compute(self): return self.total
        >>> t = Total(); t.update(2); t.compute()  # one process: nothing to reduce
        2
    """
    return functools.partial(_summed_over_ranks, attrs=attrs)


def reinit__is_reduced(func: Callable) -> Callable:  # noqa: N802 - Ignite's name
    """Decorator kept for metrics written for Ignite: returns ``func`` unchanged.

    Ignite marks the metric "not yet reduced" after ``reset``/``update``; miniengine never keeps
    reduced values, so there is nothing to mark.

    Args:
        func: a metric's ``reset`` or ``update``.

    Example:
        >>> f = lambda self: None
        >>> reinit__is_reduced(f) is f
        True
    """
    return func


class Metric(ABC):
    """Base class of all metrics: subclasses write ``reset``, ``update`` and ``compute``.

    The engine's output reaches ``update`` through ``output_transform``. A dict output is turned
    into a tuple of its ``required_output_keys`` (``("y_pred", "y")`` by default); a pair of lists
    ``([y_pred_1, ...], [y_1, ...])`` is fed one item at a time unless ``skip_unrolling``.

    Subclasses keep their running sums as attributes named in ``_accumulators``. In a
    distributed run (``miniengine.distributed``), every subclass's ``compute`` sees them summed
    over all processes: ``Metric`` wraps it when the subclass is defined. The world size is
    read when the metric is made and when it is attached, not at each call.

    Args:
        output_transform: maps ``engine.state.output`` to what ``update`` expects.
        device: where the accumulators live.
        skip_unrolling: pass list outputs to ``update`` as they are.
        metrics_result_mode: where a dict result goes in ``state.metrics``: its items at top level
            ("flatten"), the dict under the metric's name ("named"), or both ("both").

    Example:
        >>> class Count(Metric):
        ...     def reset(self): self.n = 0
        ...     def update(self, output): self.n += 1
        ...     def compute(self): return self.n
        >>> m = Count()
        >>> m.update(None); m.update(None); m.compute()
        2
    """

    required_output_keys: tuple[str, ...] | None = ("y_pred", "y")
    _accumulators: tuple[str, ...] = ()
    _world_size = 1
    _reducing = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "compute" in cls.__dict__:
            cls.compute = _summed_over_ranks(cls.__dict__["compute"])  # type: ignore[method-assign]

    def __init__(
        self,
        output_transform: Callable = _identity,
        device: str | torch.device = "cpu",
        skip_unrolling: bool = False,
        metrics_result_mode: Literal["flatten", "named", "both"] = "both",
    ) -> None:
        if not callable(output_transform):
            raise TypeError(
                f"Argument output_transform should be callable, got {type(output_transform)}"
            )
        modes = ("flatten", "named", "both")
        if metrics_result_mode not in modes:
            raise ValueError(
                f"Argument metrics_result_mode should be one of {modes}, got {metrics_result_mode}"
            )
        self._output_transform = output_transform
        self._device = torch.device(device)
        self._skip_unrolling = skip_unrolling
        self._metrics_result_mode = metrics_result_mode
        # MPS has no float64
        self._double_dtype = torch.float32 if self._device.type == "mps" else torch.float64
        self._world_size = idist.get_world_size()
        self.reset()

    @abstractmethod
    def reset(self) -> None:
        """Forget everything seen so far."""

    @abstractmethod
    def update(self, output: Any) -> None:
        """Take one batch's (transformed) output into account.

        Args:
            output: usually ``(y_pred, y)``.
        """

    @abstractmethod
    def compute(self) -> Any:
        """The metric's value over everything seen since the last reset."""

    def started(self, engine: Engine) -> None:
        """Handler for the usage's STARTED event: reset.

        Args:
            engine: the engine the metric is attached to.
        """
        self.reset()

    def iteration_completed(self, engine: Engine) -> None:
        """Handler that feeds ``engine.state.output`` to ``update`` (without autograd).

        Args:
            engine: the engine the metric is attached to.
        """
        # Subclasses written for Ignite may add grad-carrying tensors to their sums: no graph.
        with torch.no_grad():
            self._feed(self._output_transform(engine.state.output))

    def _feed(self, output: Any) -> None:
        if isinstance(output, Mapping):
            output = self._pick_keys(output)
        if (
            not self._skip_unrolling
            and isinstance(output, Sequence)
            and all(_is_batch_list(o) for o in output)
        ):
            self._update_unrolled(output)
        else:
            self.update(output)

    def _pick_keys(self, output: Mapping) -> tuple:
        keys = self.required_output_keys
        if keys is None:
            raise TypeError(
                f"Transformed engine output for {type(self).__name__} metric should be a "
                f"tuple/list, but given {type(output)}"
            )
        if not all(k in output for k in keys):
            raise ValueError(
                "When transformed engine's output is a mapping, "
                f"it should contain {keys} keys, but given {list(output.keys())}"
            )
        return tuple(output[k] for k in keys)

    def _update_unrolled(self, output: Sequence) -> None:
        if not (len(output) == 2 and len(output[0]) == len(output[1])):
            lengths = ", ".join(str(len(o)) for o in output)
            raise ValueError(
                f"Output should have 2 items of the same length, got {len(output)} and {lengths}"
            )
        for y_pred, y in zip(output[0], output[1], strict=True):
            y_pred = _batched(y_pred)
            self.update((y_pred, _batched(y, y_pred.device)))

    def completed(self, engine: Engine, name: str) -> None:
        """Handler that computes the value and writes it to ``engine.state.metrics[name]``.

        A 0-d tensor is written as a Python number, other tensors are moved to the CPU, and a
        dict result is spread according to ``metrics_result_mode``.

        Args:
            engine: the engine the metric is attached to.
            name: the key in ``engine.state.metrics``.
        """
        result = self.compute()
        metrics = engine.state.metrics
        if isinstance(result, Mapping):
            mode = self._metrics_result_mode
            if mode != "flatten" and name in result:
                raise ValueError(
                    f"Argument name '{name}' is conflicting with mapping keys: {list(result)}"
                )
            if mode != "named":
                metrics.update(result)
            if mode != "flatten":
                metrics[name] = result
            return
        if isinstance(result, torch.Tensor):
            if result.ndim == 0:
                result = result.item()
            elif result.device.type != "cpu":
                result = result.cpu()
        metrics[name] = result

    def _check_usage(self, usage: str | MetricUsage) -> MetricUsage:
        if isinstance(usage, str):
            if usage not in _USAGES:
                raise ValueError(
                    "Argument usage should be '(Running)EpochWise.usage_name' or "
                    f"'((SingleEpoch)Running)BatchWise.usage_name', got {usage}"
                )
            return _USAGES[usage]()
        if not isinstance(usage, MetricUsage):
            raise TypeError(f"Unhandled usage type {type(usage)}")
        return usage

    def attach(self, engine: Engine, name: str, usage: str | MetricUsage = "epoch_wise") -> None:
        """Register the metric's handlers so that ``engine.state.metrics[name]`` gets its value.

        Args:
            engine: the engine to attach to.
            name: the key in ``engine.state.metrics``.
            usage: a ``MetricUsage`` or its ``usage_name``, e.g. ``"batch_wise"``.

        Example:
            >>> from miniengine.engine import Engine
            >>> from miniengine.metrics import Average
            >>> engine = Engine(lambda engine, batch: batch)
            >>> Average().attach(engine, "mean")
            >>> engine.run([1.0, 2.0, 6.0]).metrics["mean"]
            3.0
        """
        usage = self._check_usage(usage)
        self._attach_updates(engine, usage)
        engine.add_event_handler(usage.COMPLETED, self.completed, name)

    def _attach_updates(self, engine: Engine, usage: MetricUsage) -> None:
        """Register ``started`` and ``iteration_completed``, the handlers that fill the sums."""
        self._world_size = idist.get_world_size()  # the process group may be newer than us
        _add_once(engine, usage.STARTED, self.started)
        _add_once(engine, usage.ITERATION_COMPLETED, self.iteration_completed)

    def detach(self, engine: Engine, usage: str | MetricUsage = "epoch_wise") -> None:
        """Remove the handlers that ``attach`` registered for this usage.

        Args:
            engine: the engine to detach from.
            usage: the usage given to ``attach``.

        Example:
            >>> from miniengine.engine import Engine
            >>> from miniengine.metrics import Average
            >>> engine, mean = Engine(lambda engine, batch: batch), Average()
            >>> mean.attach(engine, "mean"); mean.detach(engine)
            >>> mean.is_attached(engine), engine.run([1.0]).metrics
            (False, {})
        """
        usage = self._check_usage(usage)
        _remove_if_added(engine, usage.COMPLETED, self.completed)
        _remove_if_added(engine, usage.STARTED, self.started)
        _remove_if_added(engine, usage.ITERATION_COMPLETED, self.iteration_completed)

    def is_attached(self, engine: Engine, usage: str | MetricUsage = "epoch_wise") -> bool:
        """Whether the metric writes its value on this engine with this usage.

        Args:
            engine: the engine to look at.
            usage: the usage given to ``attach``.

        Example:
            >>> from miniengine.engine import Engine
            >>> from miniengine.metrics import Average
            >>> engine, mean = Engine(lambda engine, batch: batch), Average()
            >>> mean.attach(engine, "mean", usage="batch_wise")
            >>> mean.is_attached(engine), mean.is_attached(engine, "batch_wise")
            (False, True)
        """
        return engine.has_event_handler(self.completed, self._check_usage(usage).COMPLETED)


def _add_once(engine: Engine, event: Any, handler: Callable[..., Any]) -> None:
    # a metric can be attached twice with one usage (by a wrapper and by the user): update it once
    if not engine.has_event_handler(handler, event):
        engine.add_event_handler(event, handler)


def _remove_if_added(engine: Engine, event: Any, handler: Callable[..., Any]) -> None:
    if engine.has_event_handler(handler, event):
        engine.remove_event_handler(handler, event)
