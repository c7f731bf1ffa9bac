"""Events, the filters that thin them out, and handler handles.

An event is a name (``Events.ITERATION_COMPLETED``). Calling it makes a *filtered* copy that
fires only for some counts (``Events.ITERATION_COMPLETED(every=100)``). A filter is called as
``filter(engine, count) -> bool``; ``every``, ``once``, ``before`` and ``after`` build one of the
small filter objects below (``Every``, ``Once``, ``Between``), which also know the next count
at which they fire, so that the engine can skip them until then. A filtered event equals its
base event: both share one handler list in the engine.

Example:
    >>> from miniengine.engine.events import Events
    >>> event = Events.ITERATION_COMPLETED(every=3)
    >>> event.filter, [n for n in range(1, 10) if event.filter(None, n)]
    (Every(every=3), [3, 6, 9])
    >>> event == Events.ITERATION_COMPLETED
    True
"""

from __future__ import annotations

import inspect
import math
import numbers
import warnings
import weakref
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from miniengine.engine.engine import Engine

__all__ = ["Between", "CallableEventWithFilter", "CountFilter", "EventEnum", "Events"]
__all__ += ["EventsList", "Every", "Once", "RemovableEventHandle", "State"]


def _bind_error(fn: Callable, *args: Any, **kwargs: Any) -> str | None:
    """Why ``fn(*args, **kwargs)`` would fail to bind, or None if it would bind."""
    try:
        inspect.signature(fn).bind(*args, **kwargs)
    except TypeError as exc:
        return str(exc)
    return None


def _signature_error(fn: Callable, what: str, passed: list, why: str) -> ValueError:
    return ValueError(
        f"Error adding {fn} '{what}': takes parameters {list(inspect.signature(fn).parameters)} "
        f"but will be called with {passed} ({why})."
    )


def _key(event: Any) -> str:
    return event if isinstance(event, str) else event._name_


def _is_int(x: Any, least: int) -> bool:
    return isinstance(x, numbers.Integral) and not isinstance(x, bool) and int(x) >= least


def _expect(ok: Any, message: str) -> None:
    if not ok:
        raise ValueError(message)


class CountFilter:
    """Base of the built-in filters: called as ``(engine, count) -> bool``; ``next_after(n)``
    is the first count above ``n`` at which the filter fires (``math.inf`` if none); ``str()``
    gives the arguments that make it.

    Example:
        >>> f = Events.ITERATION_COMPLETED(every=10).filter
        >>> isinstance(f, CountFilter), f(None, 20), f.next_after(20), str(f)
        (True, True, 30, 'every=10')
    """

    def __call__(self, engine: Any, count: int) -> bool:
        raise NotImplementedError

    def next_after(self, count: int) -> float:
        raise NotImplementedError


@dataclass(frozen=True)
class Every(CountFilter):
    """Fires at counts ``every``, ``2 * every``, ... (``Events.X(every=n)``).

    Args:
        every: a positive int.

    Example:
        >>> [n for n in range(10) if Every(4)(None, n)], Every(4).next_after(4)
        ([0, 4, 8], 8)
    """

    every: int

    def __post_init__(self) -> None:
        _expect(
            _is_int(self.every, 1),
            f"Argument every should be integer and greater than zero, got {self.every!r}",
        )

    def __call__(self, engine: Any, count: int) -> bool:
        return count % self.every == 0

    def next_after(self, count: int) -> float:
        return count + self.every - count % self.every

    def __str__(self) -> str:
        return f"every={self.every}"


@dataclass(frozen=True)
class Once(CountFilter):
    """Fires at the given counts (``Events.X(once=k)`` or ``once=[k, ...]``).

    Args:
        counts: positive ints.

    Example:
        >>> f = Once(frozenset({2, 7}))
        >>> f(None, 7), f.next_after(2), f.next_after(7), str(f)
        (True, 7, inf, 'once=[2, 7]')
    """

    counts: frozenset[int]

    def __post_init__(self) -> None:
        _expect(
            self.counts and all(_is_int(c, 1) for c in self.counts),
            "Argument once should either be a positive integer or a list of positive "
            f"integers, got {sorted(self.counts, key=str)!r}",
        )

    def __call__(self, engine: Any, count: int) -> bool:
        return count in self.counts

    def next_after(self, count: int) -> float:
        return min((c for c in self.counts if c > count), default=math.inf)

    def __str__(self) -> str:
        return f"once={sorted(self.counts)}"


@dataclass(frozen=True)
class Between(CountFilter):
    """Fires at counts strictly between ``after`` and ``before``, at every ``every``-th one
    counting from ``after + 1`` (``Events.X(after=3, every=3)`` fires at 4, 7, 10, ...).

    Args:
        after: an int >= 0.
        before: an int > after + 1, or ``math.inf``.
        every: a positive int.

    Example:
        >>> f = Between(after=3, every=3)
        >>> [n for n in range(12) if f(None, n)], f.next_after(4), str(f)
        ([4, 7, 10], 7, 'after=3, every=3')
    """

    after: int = 0
    before: float = math.inf
    every: int = 1

    def __post_init__(self) -> None:
        for name in ("after", "before"):
            value = getattr(self, name)
            _expect(
                _is_int(value, 0) or value == math.inf,
                f"Argument {name} should be integer and greater or equal to zero, got {value!r}",
            )
        Every(self.every)  # checks it
        _expect(
            self.before > self.after + 1,  # Ignite accepts it, and never fires
            f"Arguments after={self.after} and before={self.before} leave no count to fire "
            "at: the filter fires when after < count < before",
        )

    def __call__(self, engine: Any, count: int) -> bool:
        return self.after < count < self.before and (count - self.after - 1) % self.every == 0

    def next_after(self, count: int) -> float:
        n = max(count + 1, self.after + 1)
        n += -(n - self.after - 1) % self.every
        return n if n < self.before else math.inf

    def __str__(self) -> str:
        shown = [f"after={self.after}"] if self.after or self.before == math.inf else []
        shown += [f"before={self.before}"] if self.before != math.inf else []
        return ", ".join(shown + ([f"every={self.every}"] if self.every != 1 else []))


class CallableEventWithFilter:
    """An event that can be called to build a filtered copy of itself.

    Args:
        value: the event's value (``"iteration_completed"``).
        event_filter: ``(engine, count) -> bool``; the handler runs only when it is true.
        name: the event's name (``"ITERATION_COMPLETED"``); filtered copies keep it.

    Example:
        >>> from miniengine import Events
        >>> e = Events.EPOCH_COMPLETED(once=[2, 4])
        >>> e.name, e.filter(None, 2), e.filter(None, 3)
        ('EPOCH_COMPLETED', True, False)
    """

    def __init__(self, value: str, event_filter: Callable | None = None, name: str = "") -> None:
        self.filter = event_filter
        if not hasattr(self, "_value_"):  # enum members already have both
            self._value_, self._name_ = value, name

    name = property(lambda self: self._name_)
    value = property(lambda self: self._value_)

    def __call__(
        self,
        event_filter: Callable[[Any, int], bool] | None = None,
        every: int | None = None,
        once: int | Sequence[int] | None = None,
        before: int | None = None,
        after: int | None = None,
    ) -> CallableEventWithFilter:
        """This event with a filter: exactly one of ``event_filter``, ``once`` or
        ``every``/``before``/``after`` (these three combine).

        Args:
            event_filter: a function ``(engine, count) -> bool``.
            every: fire at every ``every``-th count: ``every``, ``2 * every``, ...; with
                ``after``, at ``after + 1``, ``after + 1 + every``, ...
            once: fire when ``count`` equals this positive int or is in this list.
            before: fire only when ``count < before``.
            after: fire only when ``count > after``.

        Example:
            >>> from miniengine import Events
            >>> e = Events.ITERATION_STARTED(every=2, after=3, before=9)
            >>> e.filter, [n for n in range(12) if e.filter(None, n)]
            (Between(after=3, before=9, every=2), [4, 6, 8])
        """
        _expect(
            [event_filter is not None, once is not None, (every, before, after) != (None,) * 3]
            .count(True) == 1,
            "Only one of the input arguments should be specified, except before, after and "
            f"every; got event_filter={event_filter!r}, every={every!r}, once={once!r}, "
            f"before={before!r}, after={after!r}",
        )  # fmt: skip
        if event_filter is not None:
            if not callable(event_filter):
                raise TypeError(f"Argument event_filter should be a callable, got {event_filter}")
            if why := _bind_error(event_filter, "engine", "event"):
                raise _signature_error(event_filter, "event_filter", ["engine", "event"], why)
        elif once is not None:
            event_filter = Once(frozenset(once if isinstance(once, Sequence) else [once]))
        elif before is not None or after is not None:
            event_filter = Between(after or 0, math.inf if before is None else before, every or 1)
        elif every != 1:  # every=1 is no filter at all
            event_filter = Every(every)  # type: ignore[arg-type]
        return CallableEventWithFilter(self.value, event_filter, self.name)

    @staticmethod
    def default_event_filter(engine: Any, event: int) -> bool:
        """Ignite's old "no filter": deprecated there, kept for ported code; use None.

        Args:
            engine: ignored.
            event: ignored.
        """
        warnings.warn(
            "Events.default_event_filter is deprecated and will be removed. Please, use None "
            "instead",
            stacklevel=2,
        )
        return True

    def __repr__(self) -> str:
        if isinstance(self.filter, CountFilter):
            return f"Events.{self.name}({self.filter})"
        shown = f"(event_filter={getattr(self.filter, '__name__', self.filter)})"
        return f"Events.{self.name}{shown if self.filter else ''}"

    # Equal by name, filtered or not: they share one handler list.
    def __eq__(self, other: Any) -> bool:
        if isinstance(other, CallableEventWithFilter | str):
            return self.name == getattr(other, "name", other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._name_)

    def __or__(self, other: Any) -> EventsList:
        return EventsList() | self | other


class EventEnum(CallableEventWithFilter, Enum):
    """Base class for custom events; register them with ``engine.register_events``.

    Example:
        >>> from miniengine import Engine, EventEnum
        >>> class BackpropEvents(EventEnum):
        ...     BACKWARD_STARTED = "backward_started"
        >>> engine = Engine(lambda e, b: e.fire_event(BackpropEvents.BACKWARD_STARTED))
        >>> engine.register_events(*BackpropEvents)
        >>> calls = []
        >>> _ = engine.add_event_handler(BackpropEvents.BACKWARD_STARTED, lambda: calls.append(1))
        >>> _ = engine.run([0, 1])
        >>> calls
        [1, 1]
    """

    def __new__(cls, value: str) -> EventEnum:
        obj = CallableEventWithFilter.__new__(cls)
        obj._value_ = value
        return obj

    __hash__ = CallableEventWithFilter.__hash__  # or Enum would put its own first in the MRO


class Events(EventEnum):
    """The events an ``Engine`` fires; see the ``Engine`` docstring for their order.

    Example:
        >>> from miniengine import Events
        >>> Events.EPOCH_COMPLETED.value
        'epoch_completed'
    """

    STARTED = "started"
    EPOCH_STARTED = "epoch_started"
    GET_BATCH_STARTED = "get_batch_started"
    GET_BATCH_COMPLETED = "get_batch_completed"
    DATALOADER_STOP_ITERATION = "dataloader_stop_iteration"
    ITERATION_STARTED = "iteration_started"
    ITERATION_COMPLETED = "iteration_completed"
    EPOCH_COMPLETED = "epoch_completed"
    COMPLETED = "completed"
    EXCEPTION_RAISED = "exception_raised"
    TERMINATE = "terminate"
    TERMINATE_SINGLE_EPOCH = "terminate_single_epoch"
    INTERRUPT = "interrupt"


class EventsList(list):
    """Several events to attach one handler to, built with ``|``.

    Example:
        >>> from miniengine import Events
        >>> both = Events.STARTED | Events.COMPLETED
        >>> len(both), both[1].name
        (2, 'COMPLETED')
    """

    def __or__(self, other: Any) -> EventsList:  # type: ignore[override]
        if not isinstance(other, CallableEventWithFilter):
            raise TypeError(
                f"Argument event should be Events or CallableEventWithFilter, got: {type(other)}"
            )
        self.append(other)
        return self


# The counter a filter looks at, per event name; each engine extends its own copy.
_COUNTERS = dict.fromkeys(["STARTED", "EPOCH_STARTED", "EPOCH_COMPLETED", "COMPLETED"], "epoch")
_COUNTERS |= dict.fromkeys(["GET_BATCH_STARTED", "GET_BATCH_COMPLETED"], "iteration")
_COUNTERS |= dict.fromkeys(["ITERATION_STARTED", "ITERATION_COMPLETED"], "iteration")


class State:
    """What an engine knows about its run; handlers read and write it.

    ``iteration`` and ``epoch`` count from 1 once running; ``output`` is the process function's
    last result, ``batch`` the last batch, ``metrics`` where metrics write, ``times`` the
    seconds of the last epoch and of the run. Extra attributes are welcome; the state
    survives between runs.

    Args:
        **kwargs: extra attributes to set.

    Example:
        >>> State(alpha=0.5).alpha
        0.5
    """

    event_to_attr: dict[str, str] = _COUNTERS  # an engine gives its state the engine's table

    def __init__(self, **kwargs: Any) -> None:
        self.iteration = self.epoch = 0
        self.epoch_length: int | None = None
        self.max_epochs: int | None = None
        self.max_iters: int | None = None
        self.output: Any = None
        self.batch: Any = None
        self.metrics: dict[str, Any] = {}
        self.dataloader: Iterable[Any] | None = None
        self.seed: int | None = None
        self.times: dict[str, float | None] = {"EPOCH_COMPLETED": None, "COMPLETED": None}
        self.__dict__.update(kwargs)

    def get_event_attrib_value(self, event_name: Any) -> int:
        """The counter that filters on ``event_name`` look at (``state.iteration``, ...)."""
        if (attr := self.event_to_attr.get(_key(event_name))) is None:
            raise RuntimeError(f"Unknown event name '{event_name}'")
        return getattr(self, attr)

    def __repr__(self) -> str:
        items = ((k, v) for k, v in self.__dict__.items() if k != "event_to_attr")
        shown = ((k, v if isinstance(v, int | float | str) else type(v)) for k, v in items)
        return "State:\n" + "".join(f"\t{k}: {v}\n" for k, v in shown)


class RemovableEventHandle:
    """What ``add_event_handler`` returns: ``remove()`` detaches the handler.

    Holds only weak references, so it keeps neither the engine nor the handler alive.

    Args:
        event_name: the event (or ``EventsList``) the handler was added to.
        handler: the handler.
        engine: the engine.

    Example:
        >>> from miniengine import Engine, Events
        >>> engine = Engine(lambda e, b: None)
        >>> def hello(): pass
        >>> with engine.add_event_handler(Events.STARTED, hello):
        ...     engine.has_event_handler(hello)
        True
        >>> engine.has_event_handler(hello)
        False
    """

    def __init__(self, event_name: Any, handler: Callable, engine: Engine) -> None:
        self.event_name = event_name
        self.handler, self.engine = weakref.ref(handler), weakref.ref(engine)

    def remove(self) -> None:
        """Detach the handler; does nothing if it, or the engine, is already gone."""
        handler, engine = self.handler(), self.engine()
        if handler is None or engine is None:
            return
        events = self.event_name if isinstance(self.event_name, EventsList) else [self.event_name]
        for event in events:
            if engine.has_event_handler(handler, event):
                engine.remove_event_handler(handler, event)

    def __enter__(self) -> RemovableEventHandle:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.remove()
