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

Metrics combine like numbers: ``precision * recall * 2 / (precision + recall)``, ``cm[0]``,
``precision.mean()`` each give a ``MetricsLambda`` (see ``miniengine.metrics.metrics_lambda``).
"""

from __future__ import annotations

import functools
import operator
import traceback
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from numbers import Number
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import torch

from miniengine import distributed as idist
from miniengine.events import CallableEventWithFilter, Events
from miniengine.exceptions import NotComputableError

if TYPE_CHECKING:
    from miniengine.engine import Engine
    from miniengine.metrics.metrics_lambda import MetricsLambda

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


def _need_examples(count: int, name: str) -> None:
    if count == 0:
        raise NotComputableError(
            f"{name} must have at least one example before it can be computed."
        )


def _same_dtype_and_shape(y_pred: Any, y: Any) -> None:
    """The image metrics' (PSNR, SSIM) first check of a batch, in Ignite's words."""
    if y_pred.dtype != y.dtype:
        raise TypeError(
            "Expected y_pred and y to have the same data type. "
            f"Got y_pred: {y_pred.dtype} and y: {y.dtype}."
        )
    if y_pred.shape != y.shape:
        raise ValueError(
            "Expected y_pred and y to have the same shape. "
            f"Got y_pred: {y_pred.shape} and y: {y.shape}."
        )


_STATE_KEY = "__metric_state_per_rank"


def _saved_value(value: Any, name: str) -> Any:
    """A copy of one state attribute in types ``torch.load(weights_only=True)`` reads back."""
    if isinstance(value, Metric):
        return value._state_dict_per_rank()
    if isinstance(value, torch.Tensor):
        return value.detach().clone()  # updates add in place: the saved state must not change
    if isinstance(value, np.generic):  # e.g. RunningAverage's fast 0-d values
        return torch.from_numpy(np.asarray(value))
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, Mapping):
        return {k: _saved_value(v, name) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_saved_value(v, name) for v in value]
    raise TypeError(
        "Found attribute of unsupported type. Currently, supported types include numeric types, "
        f"tensor, Metric or sequence/mapping of metrics. Attribute {name!r} holds {type(value)}"
    )


def _restore_value(current: Any, saved: Any, device: torch.device | None, name: str) -> Any:
    """The value to set for a state attribute: ``saved``, with the metrics in it loaded in place."""
    if isinstance(current, Metric):
        if not isinstance(saved, Mapping):
            raise ValueError(
                f"State attribute {name!r} is a metric here, but the state_dict holds {saved!r}: "
                "load it into a metric made with the same arguments"
            )
        current._load_state_dict_per_rank(saved)
        return current
    if isinstance(current, (list, tuple)) and any(isinstance(c, Metric) for c in current):
        if not isinstance(saved, Sequence) or len(saved) != len(current):
            raise ValueError(
                f"State attribute {name!r} holds {len(current)} items; the state_dict has {saved!r}"
            )
        pairs = zip(current, saved, strict=True)
        return type(current)(_restore_value(c, v, device, name) for c, v in pairs)
    if isinstance(current, Mapping) and any(isinstance(c, Metric) for c in current.values()):
        if not isinstance(saved, Mapping) or set(saved) != set(current):
            raise ValueError(
                f"State attribute {name!r} has the keys {list(current)}; the state_dict: {saved!r}"
            )
        return {k: _restore_value(c, saved[k], device, name) for k, c in current.items()}
    if isinstance(saved, Mapping) and not isinstance(current, Mapping):
        raise ValueError(
            f"State attribute {name!r} is {current!r} here, but the state_dict holds a dict there "
            "(a metric's state?): load it into a metric made with the same arguments"
        )
    return _on_device(saved, device)


def _on_device(saved: Any, device: torch.device | None) -> Any:
    if isinstance(saved, torch.Tensor):
        return saved if device is None else saved.to(device)
    if isinstance(saved, Mapping):
        return {k: _on_device(v, device) for k, v in saved.items()}
    if isinstance(saved, (list, tuple)):
        return [_on_device(v, device) for v in saved]
    return saved


def _resumes_mid_period(engine: Engine) -> bool:
    """Whether the reset event now firing is one only a resumed run fires.

    A resumed run fires STARTED again, and EPOCH_STARTED for the epoch it re-enters; in an
    uninterrupted run neither would have fired at this point.
    """
    s, event = engine.state, engine.last_event_name
    if event == Events.STARTED:
        return s.iteration > 0
    if event == Events.EPOCH_STARTED and s.epoch_length:
        return s.iteration % s.epoch_length != 0
    return False


def _as_lambda(f: Callable[..., Any], *args: Any, **kwargs: Any) -> MetricsLambda:
    from miniengine.metrics.metrics_lambda import MetricsLambda  # it subclasses Metric

    return MetricsLambda(f, *args, **kwargs)


def _operator(op: Callable[[Any, Any], Any], reflected: bool = False) -> Callable[..., Any]:
    def method(self: Metric, other: Any) -> MetricsLambda:
        return _as_lambda(op, other, self) if reflected else _as_lambda(op, self, other)

    return method


def _unary(op: Callable[[Any], Any]) -> Callable[..., Any]:
    def method(self: Metric) -> MetricsLambda:
        return _as_lambda(op, self)

    return method


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
    # what ``state_dict`` saves: the attributes Ignite 0.5.5 saves for the same metric
    _state_dict_all_req_keys: tuple[str, ...] = ()
    __state_dict_key_per_rank = _STATE_KEY  # Ignite's (mangled) name for it
    _world_size = 1
    _reducing = False
    _restored = False  # set by load_state_dict: the next reset of a resumed run keeps the state

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

        Right after ``load_state_dict``, a resumed run's own STARTED, or the EPOCH_STARTED of the
        epoch it re-enters mid-way, keeps the loaded state instead: the run continues exactly.

        Args:
            engine: the engine the metric is attached to.
        """
        if self._restored:
            self._restored = False
            if _resumes_mid_period(engine):
                return
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

    def state_dict(self) -> OrderedDict[str, Any]:
        """What the metric has accumulated, for a checkpoint: Ignite 0.5.5's format.

        ``{"__metric_state_per_rank": [state of rank 0, ...]}``; each state holds the attributes
        named in ``_state_dict_all_req_keys`` (a metric inside, e.g. ``RunningAverage``'s
        ``src``, as its own state). Tensors are copied; everything loads with
        ``torch.load(weights_only=True)``. In a distributed run every rank gets every state.

        Example:
            >>> from miniengine.metrics import Accuracy
            >>> acc = Accuracy()
            >>> acc.update((torch.tensor([1, 0, 1]), torch.tensor([1, 1, 1])))
            >>> state = acc.state_dict()
            >>> list(state), dict(state["__metric_state_per_rank"][0])
            (['__metric_state_per_rank'], {'_num_correct': tensor(2), '_num_examples': 3})
        """
        state = self._state_dict_per_rank()
        ranks = idist.all_gather(state) if idist.get_world_size() > 1 else [state]
        return OrderedDict([(_STATE_KEY, ranks)])

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore what ``state_dict`` saved (this rank's part of it).

        The next reset that only a resumed run fires (its STARTED, or the EPOCH_STARTED of the
        epoch it re-enters mid-way) is skipped, so a run resumed from a checkpoint continues
        with the loaded values; Ignite resets them there.

        Args:
            state_dict: a dict made by ``state_dict``.

        Example:
            >>> from miniengine.metrics import Accuracy
            >>> acc, copy = Accuracy(), Accuracy()
            >>> acc.update((torch.tensor([1, 0, 1]), torch.tensor([1, 1, 1])))
            >>> copy.load_state_dict(acc.state_dict())
            >>> copy.compute()
            0.6666666666666666
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(
                f"Argument state_dict should be a dictionary, but given {type(state_dict)}"
            )
        if not (len(state_dict) == 1 and _STATE_KEY in state_dict):
            raise ValueError(
                "Incorrect state_dict object. Argument state_dict should be a dictionary provided "
                f"by Metric.state_dict(). Expected single key: {_STATE_KEY}, but given "
                f"{state_dict.keys()}"
            )
        ranks, world_size = state_dict[_STATE_KEY], idist.get_world_size()
        if not isinstance(ranks, Sequence) or len(ranks) != world_size:
            got = len(ranks) if isinstance(ranks, Sequence) else type(ranks)
            raise ValueError(
                "Incorrect state_dict object. Argument state_dict should be a dictionary provided "
                "by Metric.state_dict(). Expected a list of state_dicts of size equal world_size: "
                f"{world_size}, but got {got}"
            )
        self._load_state_dict_per_rank(ranks[idist.get_rank()])

    def _state_dict_per_rank(self) -> OrderedDict[str, Any]:
        state: OrderedDict[str, Any] = OrderedDict()
        for name in self._state_dict_all_req_keys:
            if name not in self.__dict__:
                raise ValueError(
                    "Found a value in _state_dict_all_req_keys that is not among metric "
                    f"attributes: {name}"
                )
            state[name] = _saved_value(self.__dict__[name], name)
        return state

    def _load_state_dict_per_rank(self, state: Mapping[str, Any]) -> None:
        if not isinstance(state, Mapping):
            raise TypeError(f"Argument state_dict should be a dictionary, but given {type(state)}")
        for name in self._state_dict_all_req_keys:
            if name not in state:
                raise ValueError(
                    f"Required state attribute '{name}' is absent in provided state_dict "
                    f"'{state.keys()}'"
                )
        device = getattr(self, "_device", None)  # None: a subclass that skipped our __init__
        for name in self._state_dict_all_req_keys:
            value = _restore_value(getattr(self, name), state[name], device, name)
            setattr(self, name, value)
        self._restored = True

    # Arithmetic: each operator gives a MetricsLambda computing it on the metrics' values.
    __add__ = _operator(operator.add)
    __radd__ = _operator(operator.add, reflected=True)
    __sub__ = _operator(operator.sub)
    __rsub__ = _operator(operator.sub, reflected=True)
    __mul__ = _operator(operator.mul)
    __rmul__ = _operator(operator.mul, reflected=True)
    __pow__ = _operator(operator.pow)
    __rpow__ = _operator(operator.pow, reflected=True)
    __mod__ = _operator(operator.mod)
    __rmod__ = _operator(operator.mod, reflected=True)
    __truediv__ = _operator(operator.truediv)
    __rtruediv__ = _operator(operator.truediv, reflected=True)
    __floordiv__ = _operator(operator.floordiv)
    __rfloordiv__ = _operator(operator.floordiv, reflected=True)
    __neg__ = _unary(operator.neg)
    __pos__ = _unary(operator.pos)
    __abs__ = _unary(operator.abs)

    def __getitem__(self, index: Any) -> MetricsLambda:
        """``metric[i]``: a ``MetricsLambda`` giving ``metric.compute()[i]``.

        Args:
            index: anything the value can be indexed with.

        Example:
            >>> from miniengine.metrics import Precision
            >>> first = Precision()[0]  # the precision of class 0
            >>> type(first).__name__
            'MetricsLambda'
        """
        return _as_lambda(operator.itemgetter(index), self)

    def __getattr__(self, attr: str) -> Callable[..., MetricsLambda]:
        """``metric.mean()``, ``metric.item()``, ...: a method of the value, as a ``MetricsLambda``.

        Only public names: a missing private attribute stays an ``AttributeError``.

        Args:
            attr: the name of a method of the metric's value (usually a tensor).

        Example:
            >>> from miniengine.metrics import Precision
            >>> type(Precision().mean()).__name__
            'MetricsLambda'
        """
        if attr.startswith("_"):
            raise AttributeError(f"'{type(self).__name__}' object has no attribute '{attr}'")
        where = traceback.extract_stack(limit=2)[0]  # the line that wrote ``metric.<attr>``

        def call(value: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                method = getattr(value, attr)
            except AttributeError:
                raise AttributeError(
                    f"Metric result of type '{type(value)}' has no attribute '{attr}'. Note: "
                    f"'{attr}' was accessed on the metric at {where.filename}:{where.lineno}"
                ) from None
            return method(*args, **kwargs)

        def lambda_of(*args: Any, **kwargs: Any) -> MetricsLambda:
            return _as_lambda(call, self, *args, **kwargs)

        return lambda_of


def _add_once(engine: Engine, event: Any, handler: Callable[..., Any]) -> None:
    # a metric can be attached twice with one usage (by a wrapper and by the user): update it once
    if not engine.has_event_handler(handler, event):
        engine.add_event_handler(event, handler)


def _remove_if_added(engine: Engine, event: Any, handler: Callable[..., Any]) -> None:
    if engine.has_event_handler(handler, event):
        engine.remove_event_handler(handler, event)
