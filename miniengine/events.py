"""Events, event filters and handler handles.

An event is a name (``Events.ITERATION_COMPLETED``). Calling it makes a *filtered* copy that
fires only for some counter values (``Events.ITERATION_COMPLETED(every=100)``). A filter is a
plain function ``(engine, count) -> bool``; ``every``, ``once``, ``before`` and ``after`` build
the three tiny closures below. A filtered event equals its base event: both share one handler
list in the engine.

Example:
    >>> from miniengine.events import Events
    >>> event = Events.ITERATION_COMPLETED(every=3)
    >>> [n for n in range(1, 10) if event.filter(None, n)]
    [3, 6, 9]
    >>> event == Events.ITERATION_COMPLETED
    True
"""

from __future__ import annotations

import inspect
import numbers
import weakref
from collections.abc import Callable, Iterator, Sequence
from enum import Enum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from miniengine.engine import Engine

__all__ = ["CallableEventWithFilter", "EventEnum", "Events", "EventsList", "RemovableEventHandle"]

EventFilter = Callable[[Any, int], bool]


def _named(event_filter: EventFilter, name: str) -> EventFilter:
    event_filter.__name__ = event_filter.__qualname__ = name  # shown by repr and describe()
    return event_filter


def _every(n: int) -> EventFilter:
    return _named(lambda engine, count: count % n == 0, f"every={n}")


def _once(counts: frozenset[int]) -> EventFilter:
    return _named(lambda engine, count: count in counts, f"once={sorted(counts)}")


def _between(after: int, before: float, every: int) -> EventFilter:
    # Strict bounds; `every` counts from the first value after `after`.
    return _named(
        lambda engine, count: after < count < before and (count - after - 1) % every == 0,
        f"after={after}, before={before}, every={every}",
    )


def _bind_error(fn: Callable, *args: Any, **kwargs: Any) -> str | None:
    """Why ``fn(*args, **kwargs)`` would fail to bind, or None if it would bind."""
    try:
        inspect.signature(fn).bind(*args, **kwargs)
    except TypeError as exc:
        return str(exc)
    return None


def _is_positive_int(x: Any) -> bool:
    return isinstance(x, numbers.Integral) and not isinstance(x, bool) and int(x) > 0


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

    def __init__(
        self, value: str, event_filter: EventFilter | None = None, name: str | None = None
    ) -> None:
        self.filter = event_filter
        if not hasattr(self, "_value_"):  # enum members already have both
            self._value_ = value
        if not hasattr(self, "_name_") and name is not None:
            self._name_ = name

    @property
    def name(self) -> str:
        return self._name_

    @property
    def value(self) -> str:
        return self._value_

    def __call__(
        self,
        event_filter: EventFilter | None = None,
        every: int | None = None,
        once: int | Sequence[int] | None = None,
        before: int | None = None,
        after: int | None = None,
    ) -> CallableEventWithFilter:
        """Return this event with a filter: exactly one of ``event_filter``, ``once`` or
        ``every``/``before``/``after`` (these three combine).

        Args:
            event_filter: a function ``(engine, count) -> bool``.
            every: fire when ``count % every == 0`` (within ``after``/``before`` if given).
            once: fire when ``count`` equals this positive int or is in this list.
            before: fire only when ``count < before``.
            after: fire only when ``count > after``.

        Example:
            >>> from miniengine import Events
            >>> e = Events.ITERATION_STARTED(every=2, after=3, before=9)
            >>> [n for n in range(12) if e.filter(None, n)]
            [4, 6, 8]
        """
        groups = (event_filter is not None, once is not None, (every, before, after) != (None,) * 3)
        if sum(groups) != 1:
            raise ValueError(
                "Only one of the input arguments should be specified, except before, after and "
                f"every; got event_filter={event_filter!r}, every={every!r}, once={once!r}, "
                f"before={before!r}, after={after!r}"
            )
        if event_filter is not None:
            if not callable(event_filter):
                raise TypeError(
                    f"Argument event_filter should be a callable, got {type(event_filter)}"
                )
            if (why := _bind_error(event_filter, "engine", "event")) is not None:
                raise ValueError(
                    f"Argument event_filter should accept (engine, event), but {event_filter} "
                    f"cannot: {why}"
                )
        elif once is not None:
            counts = [once] if isinstance(once, numbers.Integral) else once
            if not (isinstance(counts, Sequence) and counts and all(map(_is_positive_int, counts))):
                raise ValueError(
                    "Argument once should either be a positive integer or a list of positive "
                    f"integers, got {once!r}"
                )
            event_filter = _once(frozenset(int(c) for c in counts))
        else:
            if every is not None and not _is_positive_int(every):
                raise ValueError(
                    f"Argument every should be integer and greater than zero, got {every!r}"
                )
            for arg, val in (("before", before), ("after", after)):
                if val is not None and not (_is_positive_int(val) or val == 0):
                    raise ValueError(
                        f"Argument {arg} should be integer and greater or equal to zero, "
                        f"got {val!r}"
                    )
            if before is not None or after is not None:
                inf = float("inf")
                event_filter = _between(after or 0, inf if before is None else before, every or 1)
            elif every != 1:  # every=1 is no filter at all
                event_filter = _every(every)  # type: ignore[arg-type]
        return CallableEventWithFilter(self.value, event_filter, self.name)

    def __repr__(self) -> str:
        if self.filter is None:
            return f"Events.{self.name}"
        return f"Events.{self.name}({getattr(self.filter, '__name__', self.filter)})"

    # Equal by name, filtered or not: they share one handler list.
    def __eq__(self, other: Any) -> bool:
        if isinstance(other, CallableEventWithFilter):
            return self.name == other.name
        if isinstance(other, str):
            return self.name == other
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

    # Enum would otherwise put its own hash before ours in the MRO.
    __hash__ = CallableEventWithFilter.__hash__


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


class EventsList:
    """Several events to attach one handler to, built with ``|``.

    Example:
        >>> from miniengine import Events
        >>> both = Events.STARTED | Events.COMPLETED
        >>> len(both), both[1].name
        (2, 'COMPLETED')
    """

    def __init__(self) -> None:
        self._events: list[CallableEventWithFilter] = []

    def __or__(self, other: Any) -> EventsList:
        if not isinstance(other, CallableEventWithFilter):
            raise TypeError(
                f"Argument event should be Events or CallableEventWithFilter, got: {type(other)}"
            )
        self._events.append(other)
        return self

    def __getitem__(self, item: int) -> CallableEventWithFilter:
        return self._events[item]

    def __iter__(self) -> Iterator[CallableEventWithFilter]:
        return iter(self._events)

    def __len__(self) -> int:
        return len(self._events)


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

    def __init__(
        self,
        event_name: CallableEventWithFilter | EventsList,
        handler: Callable,
        engine: Engine,
    ) -> None:
        self.event_name = event_name
        self.handler = weakref.ref(handler)
        self.engine = weakref.ref(engine)

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
