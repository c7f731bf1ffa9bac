"""Base classes for experiment loggers, and the handlers that feed them.

A *logger* owns a backend (a TensorBoard writer, a progress bar, ...). A *handler* is a callable
``handler(engine, logger, event_name)`` that reads something from the engine (output, metrics,
optimizer settings, weights) and writes it through the logger. ``logger.attach(engine, handler,
event)`` wires the two together, and arranges for ``logger._run_ended()`` to be called once
whenever a run of that engine ends, however it ends (the TensorBoard logger flushes there).
"""

from __future__ import annotations

import operator
import warnings
import weakref
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from numbers import Number
from typing import Any

import torch
from torch import nn

from miniengine.engine import Engine
from miniengine.events import EventsList, RemovableEventHandle

__all__ = [
    "BaseHandler",
    "BaseLogger",
    "BaseOptimizerParamsHandler",
    "BaseOutputHandler",
    "BaseWeightsHandler",
    "BaseWeightsScalarHandler",
    "global_step_from_engine",
]

Whitelist = list[str] | Callable[[str, nn.Parameter], bool] | None


def _check_selection(metric_names: Any, output_transform: Any) -> None:
    """Ignite's checks of what to show: output and progress handlers both make them."""
    if metric_names is not None and not (isinstance(metric_names, list) or metric_names == "all"):
        raise TypeError(
            "metric_names should be either a list or equal 'all', "
            f"got {type(metric_names)} instead."
        )
    if output_transform is not None and not callable(output_transform):
        raise TypeError(
            f"output_transform should be a function, got {type(output_transform)} instead."
        )


def _event_count(engine: Engine, event_name: Any) -> int:
    """The default step: the handled event's counter, e.g. ``state.iteration``."""
    return engine.state.get_event_attrib_value(event_name)


def global_step_from_engine(
    engine: Engine, custom_event_name: Any = None, fallback_attr: str = "epoch"
) -> Callable[[Engine, Any], int]:
    """Make a ``global_step_transform`` that reads the step from another engine.

    Typical use: an evaluator logs its metrics at the trainer's epoch.

    Args:
        engine: the engine whose counters give the step.
        custom_event_name: read this event's counter instead of the one being handled.
        fallback_attr: state attribute used when ``engine`` has no counter for the event.

    Example:
        >>> from miniengine.engine import Engine, Events
        >>> trainer = Engine(lambda engine, batch: None)
        >>> _ = trainer.run([0, 0], max_epochs=3)
        >>> step = global_step_from_engine(trainer)
        >>> step(None, Events.EPOCH_COMPLETED), step(None, Events.ITERATION_COMPLETED)
        (3, 6)
    """

    def global_step(_: Any, event_name: Any) -> int:
        event = event_name if custom_event_name is None else custom_event_name
        if event not in engine.state.event_to_attr:
            return getattr(engine.state, fallback_attr)
        return engine.state.get_event_attrib_value(event)

    return global_step


class BaseHandler(ABC):
    """A logging handler: called as ``handler(engine, logger, event_name)``.

    Args:
        (none): subclasses define their own.

    Example:
        >>> class Print(BaseHandler):
        ...     def __call__(self, engine, logger, event_name):
        ...         print(event_name)
        >>> Print()(None, None, "epoch_completed")
        epoch_completed
    """

    @abstractmethod
    def __call__(self, engine: Engine, logger: Any, event_name: Any) -> None: ...


_MISSING = object()


def _join_str(parent: str, key: Any) -> str:
    return f"{parent}/{key}"


def _join_tuple(parent: str | tuple | None, key: Any) -> tuple:
    if parent is None:
        return (key,)
    return (*parent, key) if isinstance(parent, tuple) else (parent, key)


def _flatten(out: dict, key: Any, value: Any, join: Callable, log_text: bool) -> None:
    """Store ``value`` under ``key`` in ``out``; containers become one entry per item."""
    kind = type(value)
    if kind is float or kind is int:  # by far the most common case, checked first
        out[key] = value
    elif isinstance(value, torch.Tensor) and value.ndim < 2:
        if value.ndim == 0:
            out[key] = value.item()
        else:
            for i, item in enumerate(value.tolist()):
                out[join(key, str(i))] = item
    elif isinstance(value, Number) or (log_text and isinstance(value, str)):
        out[key] = value
    elif isinstance(value, Mapping):
        for k, item in value.items():
            _flatten(out, join(key, k), item, join, log_text)
    elif isinstance(value, Sequence) and not isinstance(value, str):
        for i, item in enumerate(value):
            _flatten(out, join(key, str(i)), item, join, log_text)
    else:
        warnings.warn(f"Logger output_handler can not log metrics value type {kind}", stacklevel=4)


class BaseOutputHandler(BaseHandler):
    """Base of the handlers that log metrics, the engine's output and state attributes.

    Args:
        tag: prefix of every logged name (``"<tag>/<name>"``).
        metric_names: names in ``engine.state.metrics`` to log, or ``"all"``.
        output_transform: maps ``engine.state.output`` to a value or a dict of values.
        global_step_transform: ``(engine, event_name) -> int``; default: the event's counter.
        state_attributes: names of ``engine.state`` attributes to log.

    Example:
        >>> from types import SimpleNamespace
        >>> class Collect(BaseOutputHandler):
        ...     def __call__(self, engine, logger, event_name):
        ...         return self._setup_output_metrics_state_attrs(engine, key_tuple=False)
        >>> engine = SimpleNamespace(state=SimpleNamespace(metrics={"acc": 0.5}, output=None))
        >>> Collect("val", metric_names="all")(engine, None, None)
        {'val/acc': 0.5}
    """

    def __init__(
        self,
        tag: str,
        metric_names: str | list[str] | None = None,
        output_transform: Callable[[Any], Any] | None = None,
        global_step_transform: Callable[[Engine, Any], int] | None = None,
        state_attributes: list[str] | None = None,
    ) -> None:
        _check_selection(metric_names, output_transform)
        if output_transform is None and metric_names is None and state_attributes is None:
            raise ValueError(
                "Either metric_names, output_transform or state_attributes should be defined"
            )
        if global_step_transform is not None and not callable(global_step_transform):
            raise TypeError(
                "global_step_transform should be a function, "
                f"got {type(global_step_transform)} instead."
            )
        self.tag = tag
        self.metric_names = metric_names
        self.output_transform = output_transform
        self.global_step_transform = global_step_transform or _event_count
        self.state_attributes = state_attributes
        self._float_keys: list[tuple[str, str]] | None = None
        if isinstance(metric_names, list) and not (output_transform or state_attributes):
            self._float_keys = [(name, f"{tag}/{name}") for name in metric_names]

    def _setup_output_metrics_state_attrs(
        self, engine: Engine, log_text: bool = False, key_tuple: bool = True
    ) -> dict[Any, Any]:
        """Collect metrics, output and state attributes as one flat ``{name: number}`` dict.

        Names are ``"tag/key/i"`` strings (``key_tuple=False``) or ``(tag, key, i)`` tuples.
        Strings are kept only with ``log_text``; values of other types are warned about.
        """
        state, tag = engine.state, self.tag
        flat: dict[Any, Any] = {}
        if self._float_keys is not None and not key_tuple:
            # Fast path for logging a few float metrics every iteration; else start over below.
            metrics = state.metrics
            for name, tagged in self._float_keys:
                value = metrics.get(name)
                if type(value) is not float:
                    flat = {}
                    break
                flat[tagged] = value
            else:
                return flat
        join = _join_tuple if key_tuple else _join_str
        names = self.metric_names
        if names is not None:
            metrics = state.metrics
            for name in metrics if names == "all" else names:
                value = metrics.get(name, _MISSING)
                key = _join_tuple(tag, name) if key_tuple else f"{tag}/{name}"
                kind = type(value)
                if kind is float or kind is int:
                    flat[key] = value
                elif value is not _MISSING:
                    _flatten(flat, key, value, join, log_text)
                else:
                    warnings.warn(
                        f"Provided metric name '{name}' is missing "
                        f"in engine's state metrics: {list(metrics)}",
                        stacklevel=3,
                    )
        # Later sources overwrite earlier ones under the same name, as in Ignite.
        if self.output_transform is not None:
            output = self.output_transform(state.output)
            pairs = output.items() if isinstance(output, dict) else [("output", output)]
            for name, value in pairs:
                key = _join_tuple(tag, name) if key_tuple else f"{tag}/{name}"
                if type(value) is float:
                    flat[key] = value
                else:
                    _flatten(flat, key, value, join, log_text)
        for name in self.state_attributes or ():
            _flatten(flat, join(tag, name), getattr(state, name, None), join, log_text)
        return flat


def _global_step(step: Any) -> int:
    """Check a step returned by ``global_step_transform``: any integral value (numpy too)."""
    try:
        return operator.index(step)
    except TypeError:
        raise TypeError(
            f"global_step must be int, got {type(step)}. "
            "Please check the output of global_step_transform."
        ) from None


class BaseOptimizerParamsHandler(BaseHandler):
    """Base of the handlers that log one setting (``param_name``) of each optimizer group.

    Args:
        optimizer: a torch optimizer, or any object whose ``param_groups`` is a list/tuple.
        param_name: the key to read in each parameter group.
        tag: optional prefix of every logged name.

    Example:
        >>> class Show(BaseOptimizerParamsHandler):
        ...     def __call__(self, engine, logger, event_name):
        ...         return [group[self.param_name] for group in self.optimizer.param_groups]
        >>> optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
        >>> Show(optimizer)(None, None, None)
        [0.1]
    """

    def __init__(self, optimizer: Any, param_name: str = "lr", tag: str | None = None) -> None:
        if not isinstance(optimizer, torch.optim.Optimizer) and not isinstance(
            getattr(optimizer, "param_groups", None), Sequence
        ):
            raise TypeError(
                "Argument optimizer should be torch.optim.Optimizer or has attribute "
                f"'param_groups' as list/tuple, but given {type(optimizer)}"
            )
        self.optimizer = optimizer
        self.param_name = param_name
        self.tag = tag


class BaseWeightsHandler(BaseHandler):
    """Base of the handlers that log a model's parameters or their gradients.

    Args:
        model: the model; its parameters are chosen once, here.
        tag: optional prefix of every logged name.
        whitelist: parameter-name prefixes to keep (``["fc"]`` keeps ``fc.weight`` and
            ``fc.bias``), or a predicate ``(name, parameter) -> bool``; default: all.

    Example:
        >>> class Names(BaseWeightsHandler):
        ...     def __call__(self, engine, logger, event_name):
        ...         return [name for name, _ in self.weights]
        >>> model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 1))
        >>> Names(model, whitelist=["1."])(None, None, None)
        ['1.weight', '1.bias']
    """

    def __init__(self, model: nn.Module, tag: str | None = None, whitelist: Whitelist = None):
        if not isinstance(model, nn.Module):
            raise TypeError(
                f"Argument model should be of type torch.nn.Module, but given {type(model)}"
            )
        named = model.named_parameters()
        if whitelist is None:
            weights = list(named)
        elif callable(whitelist):
            weights = [(n, p) for n, p in named if whitelist(n, p)]
        else:
            # a lone string would otherwise be split into one-letter prefixes
            prefixes = (whitelist,) if isinstance(whitelist, str) else tuple(whitelist)
            weights = [(n, p) for n, p in named if n.startswith(prefixes)]
        self.model = model
        self.tag = tag
        self.weights = tuple(weights)


class BaseWeightsScalarHandler(BaseWeightsHandler):
    """Base of the handlers that reduce each parameter (or gradient) to one number.

    Args:
        model: the model.
        reduction: tensor -> number or 0-d tensor, e.g. ``torch.norm`` (the default).
        tag: optional prefix of every logged name.
        whitelist: as in :class:`BaseWeightsHandler`.

    Example:
        >>> class Sizes(BaseWeightsScalarHandler):
        ...     def __call__(self, engine, logger, event_name):
        ...         return [float(self.reduction(p)) for _, p in self.weights]
        >>> Sizes(torch.nn.Linear(3, 1, bias=False), reduction=torch.numel)(None, None, None)
        [3.0]
    """

    def __init__(
        self,
        model: nn.Module,
        reduction: Callable[[torch.Tensor], float | torch.Tensor] = torch.norm,
        tag: str | None = None,
        whitelist: Whitelist = None,
    ) -> None:
        super().__init__(model, tag=tag, whitelist=whitelist)
        if not callable(reduction):
            raise TypeError(f"Argument reduction should be callable, but given {type(reduction)}")
        sample = reduction(torch.ones(4, 2))  # fail now rather than at the first event
        if not (
            isinstance(sample, Number) or (isinstance(sample, torch.Tensor) and sample.ndim == 0)
        ):
            raise TypeError(
                f"Output of the reduction function should be a scalar, but got {type(sample)}"
            )
        self.reduction = reduction


class BaseLogger(ABC):
    """Base of the loggers: attaches handlers to engines, and closes (also as a context manager).

    Subclasses create their backend in ``__init__``, implement ``close()`` and the two
    ``_create_*_handler`` factories, and may override ``_run_ended()``. A logger whose
    ``_active`` is False (in a distributed run, a process that must not log) attaches nothing.

    Args:
        (none): subclasses define their own.

    Example:
        >>> from miniengine.engine import Engine, Events
        >>> class PrintLogger(BaseLogger):
        ...     def _create_output_handler(self, *args, **kwargs): ...
        ...     def _create_opt_params_handler(self, *args, **kwargs): ...
        >>> def show(engine, logger, event_name):
        ...     print(engine.state.iteration)
        >>> engine = Engine(lambda engine, batch: None)
        >>> with PrintLogger() as logger:
        ...     _ = logger.attach(engine, show, Events.ITERATION_COMPLETED(every=2))
        ...     _ = engine.run([0, 0, 0, 0])
        2
        4
    """

    _active = True

    def attach(
        self, engine: Engine, log_handler: Callable, event_name: Any, *args: Any, **kwargs: Any
    ) -> RemovableEventHandle:
        """Call ``log_handler(engine, self, event_name, *args, **kwargs)`` on each event.

        Args:
            engine: the engine to listen to.
            log_handler: the handler, e.g. an ``OutputHandler``.
            event_name: an event, a filtered event or ``a | b``; each must have a counter.
            args: more positional arguments for ``log_handler``.
            kwargs: keyword arguments for ``log_handler``.

        Returns:
            A handle whose ``remove()`` detaches the handler.
        """
        events = list(event_name) if isinstance(event_name, EventsList) else [event_name]
        for event in events:
            if event not in engine.state.event_to_attr:
                raise RuntimeError(f"Unknown event name '{event}'")
        if not self._active:  # nothing to log here: not even a handler call per event
            return RemovableEventHandle(event_name, log_handler, engine)
        self._watch(engine)
        if isinstance(event_name, EventsList):
            for event in events:
                engine.add_event_handler(event, log_handler, self, event, *args, **kwargs)
            return RemovableEventHandle(event_name, log_handler, engine)
        return engine.add_event_handler(event_name, log_handler, self, event_name, *args, **kwargs)

    def attach_output_handler(
        self, engine: Engine, event_name: Any, *args: Any, **kwargs: Any
    ) -> RemovableEventHandle:
        """Attach ``self._create_output_handler(*args, **kwargs)`` (an ``OutputHandler``).

        Args:
            engine: the engine to listen to.
            event_name: as in :meth:`attach`.
            args: arguments of the output handler.
            kwargs: keyword arguments of the output handler.
        """
        return self.attach(engine, self._create_output_handler(*args, **kwargs), event_name)

    def attach_opt_params_handler(
        self, engine: Engine, event_name: Any, *args: Any, **kwargs: Any
    ) -> RemovableEventHandle:
        """Attach ``self._create_opt_params_handler(*args, **kwargs)``.

        Args:
            engine: the engine to listen to.
            event_name: as in :meth:`attach`.
            args: arguments of the optimizer-parameters handler.
            kwargs: keyword arguments of the optimizer-parameters handler.
        """
        return self.attach(engine, self._create_opt_params_handler(*args, **kwargs), event_name)

    @abstractmethod
    def _create_output_handler(self, *args: Any, **kwargs: Any) -> Callable: ...

    @abstractmethod
    def _create_opt_params_handler(self, *args: Any, **kwargs: Any) -> Callable: ...

    def _run_ended(self) -> None:  # noqa: B027 (optional hook, not abstract)
        """Called once each time a run of an attached engine ends, in any way."""

    def _watch(self, engine: Engine) -> None:
        # One hook per engine, holding the logger weakly: the engine must not keep a logger
        # alive that nothing else uses. `__dict__` because subclasses may skip super().__init__
        # and some forward unknown attributes to their backend.
        hooks = getattr(engine, "run_end_hooks", None)
        if hooks is None:  # an engine without the hook list (e.g. Ignite's)
            return
        watched = self.__dict__.setdefault("_run_end_hooks", weakref.WeakKeyDictionary())
        if engine in watched:
            return
        ref = weakref.ref(self)

        def run_ended() -> None:
            logger = ref()
            if logger is not None:
                logger._run_ended()

        hooks.append(run_ended)
        watched[engine] = run_ended

    def close(self) -> None:
        """Stop reacting to the end of runs; subclasses also release their backend here."""
        for engine, hook in list(self.__dict__.get("_run_end_hooks", {}).items()):
            if hook in engine.run_end_hooks:
                engine.run_end_hooks.remove(hook)
        self.__dict__.pop("_run_end_hooks", None)

    def __enter__(self) -> BaseLogger:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()
