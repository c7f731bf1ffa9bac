"""The Engine: runs a process function over data and fires events to handlers.

Read it in this order: ``Engine.run`` (check the arguments, start fresh or resume, drive);
``_drive``, the one place that fires handlers and acts on terminate / interrupt / exceptions;
``_run_events`` and ``_iteration_events``, the schedule: generators that yield the events of a
run in the order of the ``Engine`` docstring's pseudocode; ``_data_ended`` and
``_new_data_iter``, the data side.
"""

from __future__ import annotations

import collections
import contextlib
import copy
import itertools
import logging
import math
import signal
import threading
import time
import warnings
from collections import OrderedDict
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from typing import Any, cast

from miniengine.engine.events import (
    _COUNTERS,
    CallableEventWithFilter,
    CountFilter,
    EventEnum,
    Events,
    EventsList,
    RemovableEventHandle,
    State,
    _bind_error,
    _expect,
    _is_int,
    _key,
    _signature_error,
)

__all__ = ["CallableEventWithFilter", "Engine", "EventEnum", "Events", "EventsList"]
__all__ += ["HandlerEntry", "RemovableEventHandle", "State"]  # State: as ignite.engine.engine

# Plain names for the events: `Events.X` costs ten times more to look up, and the loop does it
# several times an iteration.
(STARTED, EPOCH_STARTED, GET_BATCH_STARTED, GET_BATCH_COMPLETED, DATALOADER_STOP_ITERATION,
 ITERATION_STARTED, ITERATION_COMPLETED, EPOCH_COMPLETED, COMPLETED, EXCEPTION_RAISED, TERMINATE,
 TERMINATE_SINGLE_EPOCH, INTERRUPT) = Events  # fmt: skip


# The driver throws these into the schedule; BaseException, so that `except Exception` lets
# them through.
class _Terminate(BaseException):
    pass


class _TerminateEpoch(BaseException):
    pass


def _hms(seconds: float | None) -> str:
    mins, secs = divmod(seconds or 0.0, 60)
    return f"{int(mins // 60):02d}:{int(mins % 60):02d}:{secs:06.3f}"


def _length(data: Any) -> int | None:
    try:
        return len(data)
    except TypeError:  # no len(), or a DataLoader over an IterableDataset
        return None


@contextlib.contextmanager
def _sigterm_as_exit() -> Iterator[None]:
    # SIGTERM kills at once by default, and loggers lose what they have not written yet. As
    # SystemExit, it ends the run the way Ctrl-C does. Only where nobody has set a handler.
    if threading.current_thread() is not threading.main_thread() or (
        signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
    ):
        yield
        return

    def stop(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


HandlerEntry = collections.namedtuple("HandlerEntry", "handler with_engine args kwargs filter")
HandlerEntry.__doc__ = """One handler attached to an event, as the engine calls it:
``handler(engine, *event_args, *args, **kwargs, **event_kwargs)`` (without ``engine`` if
``with_engine`` is False) when ``filter`` is None or ``filter(engine, count)`` is true.
``Engine.event_handlers`` shows them; ``event_args``/``event_kwargs`` are the exception of
EXCEPTION_RAISED and the ``iter_counter`` of TERMINATE_SINGLE_EPOCH.

Args:
    handler: the function attached.
    with_engine: whether it is given the engine as its first argument.
    args: the extra positional arguments given to ``add_event_handler``.
    kwargs: the extra keyword arguments given to ``add_event_handler``.
    filter: the event's filter, ``(engine, count) -> bool``, or None.

Example:
    >>> engine = Engine(lambda e, b: None)
    >>> _ = engine.add_event_handler(Events.STARTED, print, "hello")
    >>> engine.event_handlers["STARTED"][0].args
    ('hello',)
"""


class Engine:
    """Runs ``process_function(engine, batch)`` over data, firing events to handlers.

    The run loop and the events it fires::

        STARTED
        while not done:                         # max_epochs, or max_iters, reached
            epoch += 1; EPOCH_STARTED
            repeat epoch_length times:          # or until the data ends, if its length is unknown
                batch = None; GET_BATCH_STARTED
                batch = next(data_iter)         # on StopIteration: DATALOADER_STOP_ITERATION,
                output = None                   #   then data_iter = iter(data) and retry once
                GET_BATCH_COMPLETED
                iteration += 1; ITERATION_STARTED
                output = process_function(engine, batch)
                ITERATION_COMPLETED
            EPOCH_COMPLETED
        COMPLETED

    After each of these events but COMPLETED the engine looks at its flags: ``terminate()``
    fires TERMINATE, then COMPLETED (unless ``skip_completed``); ``terminate_epoch()`` fires
    TERMINATE_SINGLE_EPOCH, then EPOCH_COMPLETED (unless ``skip_epoch_completed``) and goes on
    with the next epoch and a new data iterator; ``interrupt()`` fires INTERRUPT and ``run()``
    returns, to continue exactly there on the next ``run()``. An exception fires
    EXCEPTION_RAISED if it has handlers (inside an epoch, the rest of that epoch is skipped and
    the run goes on; elsewhere ``run()`` returns), else it escapes. With ``data=None``,
    GET_BATCH_* and DATALOADER_STOP_ITERATION are not fired.

    Args:
        process_function: called as ``process_function(engine, batch)``; what it returns
            becomes ``engine.state.output``.

    Example:
        >>> engine = Engine(lambda engine, batch: batch * 10)
        >>> @engine.on(Events.ITERATION_COMPLETED(every=2))
        ... def show(engine):
        ...     print(engine.state.epoch, engine.state.iteration, engine.state.output)
        >>> state = engine.run([1, 2, 3], max_epochs=2)
        1 2 20
        2 4 10
        2 6 30
    """

    interrupt_resume_enabled = True  # Ignite's switch: False makes interrupt() an error

    def __init__(self, process_function: Callable[[Engine, Any], Any]) -> None:
        _expect(
            callable(process_function),
            f"Engine must be given a processing function in order to run, got {process_function}",
        )
        if why := _bind_error(process_function, self, None):
            raise _signature_error(process_function, "process_function", ["engine", "batch"], why)
        self._process_function = process_function
        self.logger = logging.getLogger(f"{__name__}.{type(self).__name__}")
        self._counters = dict(_COUNTERS)
        # Plain tuples, the fields of HandlerEntry: unpacking a NamedTuple is 30% slower.
        self._handlers: dict[str, list[tuple]] = {}
        # For events whose handlers all have CountFilters: (last count, next count to look at).
        self._idle: dict[str, tuple[int, float]] = {}
        self.state = State()
        self.last_event_name: Any = None
        self.should_terminate: bool | str = False  # or "skip_completed"
        self.should_terminate_single_epoch: bool | str = False  # or "skip_epoch_completed"
        self.should_interrupt = False
        self._state_dict_user_keys: list[str] = []
        self.run_end_hooks: list[Callable[[], Any]] = []  # called however run() ends
        self._run_gen: Generator[Any, None, None] | None = None  # a run's schedule, if paused
        self._data_iter: Iterator[Any] | None = None
        self._iter_origin = 0  # state.iteration when _data_iter was made
        self._epoch_start: int | None = None  # state.iteration when this epoch began
        # From load_state_dict: (batches to skip in the data, iterations done in the epoch).
        self._resume: tuple[int, int] | None = None
        self._loaded = False
        self._reraised: BaseException | None = None
        self.register_events(*Events)

    @property
    def state(self) -> State:
        """The run's ``State``. A new one assigned here gets this engine's event counters."""
        return self._state

    @state.setter
    def state(self, state: State) -> None:
        state.event_to_attr = self._counters
        for attr in self._counters.values():
            state.__dict__.setdefault(attr, 0)
        self._state = state

    # ----------------------------------------------------------------- events and handlers
    def register_events(
        self, *event_names: str | EventEnum, event_to_attr: dict | None = None
    ) -> None:
        """Allow custom events to be fired and handled on this engine.

        Args:
            *event_names: ``EventEnum`` members or strings.
            event_to_attr: maps an event to the name of a ``state`` attribute that counts it,
                for filters such as ``every=``. The engine makes the attribute (0) but never
                increments it: the code that fires the event does.

        Example:
            >>> engine = Engine(lambda e, b: None)
            >>> engine.register_events("backward", event_to_attr={"backward": "backwards"})
            >>> engine.state.backwards
            0
        """
        _expect(
            isinstance(event_to_attr, dict | None),
            f"Expected event_to_attr to be dictionary. Got {type(event_to_attr)}.",
        )
        for index, event in enumerate(event_names):
            if not isinstance(event, str | EventEnum):
                raise TypeError(
                    f"Value at {index} of event_names should be a str or EventEnum, "
                    f"but given {event!r}"
                )
            self._handlers.setdefault(_key(event), [])
        for event, attr in (event_to_attr or {}).items():
            self._counters[_key(event)] = attr
            self.state.__dict__.setdefault(attr, 0)

    def has_registered_events(self, event: Any) -> bool:
        """Whether ``event`` (an event or its name) may be fired on this engine."""
        return isinstance(event, str | CallableEventWithFilter) and _key(event) in self._handlers

    def _allowed_key(self, event: Any) -> str:
        _expect(
            self.has_registered_events(event),
            f"Event {event!r} is not a valid event for this {type(self).__name__}; use Events "
            "or custom events registered with engine.register_events().",
        )
        return _key(event)

    def add_event_handler(
        self, event_name: Any, handler: Callable, *args: Any, **kwargs: Any
    ) -> RemovableEventHandle:
        """Call ``handler(engine, *args, **kwargs)`` each time ``event_name`` fires.

        Handlers run in the order added. The engine argument is left out if the handler's
        signature only fits that. EXCEPTION_RAISED handlers also get the exception (after the
        engine), TERMINATE_SINGLE_EPOCH handlers the keyword argument ``iter_counter``.

        Args:
            event_name: an event, a filtered event (``Events.X(every=10)``) or an ``EventsList``.
            handler: the function to call.
            *args: extra positional arguments for the handler.
            **kwargs: extra keyword arguments for the handler.

        Example:
            >>> engine = Engine(lambda e, b: None)
            >>> handle = engine.add_event_handler(Events.COMPLETED, lambda msg: print(msg), "done")
            >>> _ = engine.run([1])
            done
        """
        for event in event_name if isinstance(event_name, EventsList) else [event_name]:
            key, event_filter = self._allowed_key(event), getattr(event, "filter", None)
            _expect(
                event_filter is None or key in self._counters,
                f"Event {key} has no counter, so it cannot be filtered ({event!r}); filters work "
                "on events counted by state.iteration or state.epoch, or on custom events "
                "registered with event_to_attr.",
            )
            call_args = (Exception(), *args) if key == "EXCEPTION_RAISED" else args
            call_kwargs = (
                {**kwargs, "iter_counter": 0} if key == "TERMINATE_SINGLE_EPOCH" else kwargs
            )
            with_engine = not _bind_error(handler, self, *call_args, **call_kwargs)
            if not with_engine and (why := _bind_error(handler, *call_args, **call_kwargs)):
                raise _signature_error(handler, "handler", [*call_args, *call_kwargs], why)
            # Appended in place, as Ignite does: a handler added while its event fires runs too.
            self._handlers[key].append((handler, with_engine, args, kwargs, event_filter))
            self._handlers_changed(key)
        return RemovableEventHandle(event_name, handler, self)

    def on(self, event_name: Any, *args: Any, **kwargs: Any) -> Callable:
        """Decorator form of ``add_event_handler``; returns the function unchanged.

        Args:
            event_name: as for ``add_event_handler``.
            *args: extra positional arguments for the handler.
            **kwargs: extra keyword arguments for the handler.

        Example:
            >>> engine = Engine(lambda e, b: None)
            >>> @engine.on(Events.EPOCH_COMPLETED)
            ... def report(engine):
            ...     print("epoch", engine.state.epoch)
            >>> _ = engine.run([1, 2], max_epochs=2)
            epoch 1
            epoch 2
        """

        def decorator(f: Callable) -> Callable:
            self.add_event_handler(event_name, f, *args, **kwargs)
            return f

        return decorator

    def has_event_handler(self, handler: Callable, event_name: Any | None = None) -> bool:
        """Whether ``handler`` is attached to ``event_name`` (to any event, if None)."""
        keys = self._handlers if event_name is None else [_key(event_name)]
        return any(e[0] == handler for key in keys for e in self._handlers.get(key, []))

    def remove_event_handler(self, handler: Callable, event_name: Any) -> None:
        """Detach ``handler`` from ``event_name`` (``ValueError`` if it is not attached)."""
        key = _key(event_name)
        _expect(key in self._handlers, f"Input event name '{event_name}' does not exist")
        kept = [entry for entry in self._handlers[key] if entry[0] != handler]
        _expect(
            len(kept) < len(self._handlers[key]),
            f"Input handler '{handler}' is not found among registered event handlers",
        )
        self._handlers[key] = kept  # a new list: a firing in progress goes on undisturbed
        self._handlers_changed(key)

    @property
    def event_handlers(self) -> dict[str, tuple[HandlerEntry, ...]]:
        """What is attached to each registered event, in calling order: a read-only copy.

        Example:
            >>> engine = Engine(lambda e, b: None)
            >>> def save(engine, prefix): pass
            >>> _ = engine.add_event_handler(Events.COMPLETED(once=1), save, "ckpt")
            >>> (entry,) = engine.event_handlers["COMPLETED"]
            >>> entry.handler is save, entry.with_engine, entry.args, entry.filter
            (True, True, ('ckpt',), Once(counts=frozenset({1})))
        """
        return {k: tuple(map(HandlerEntry._make, v)) for k, v in self._handlers.items()}

    def set_event_handlers(self, event_name: Any, entries: Iterable[HandlerEntry]) -> None:
        """Replace what is attached to ``event_name`` (for tools such as ``explain.trace``).

        In place, as ``add_event_handler`` appends in place: a firing in progress goes on
        with the new entries.

        Args:
            event_name: a registered event.
            entries: ``HandlerEntry`` items, in calling order.
        """
        key = self._allowed_key(event_name)
        self._handlers[key][:] = map(tuple, entries)
        self._handlers_changed(key)

    def _handlers_changed(self, key: str) -> None:
        entries = self._handlers[key]
        if entries and all(isinstance(entry[4], CountFilter) for entry in entries):
            self._idle[key] = (0, 0)  # look at every filter at the next firing
        else:
            self._idle.pop(key, None)

    def _fire_event(self, event_name: Any, *event_args: Any, **event_kwargs: Any) -> None:
        self.last_event_name = event_name
        key = event_name if isinstance(event_name, str) else event_name._name_
        entries = self._handlers[key]
        # The count the filters see: read once per firing, as the event fires.
        count = getattr(self._state, self._counters[key]) if key in self._counters else 0
        if (idle := self._idle.get(key)) is not None:
            # Every handler here has a CountFilter: until the first count at which one of
            # them fires, no handler and no filter needs to be called.
            if idle[0] < count < idle[1]:
                return
            self._idle[key] = (count, min(e[4].next_after(count) for e in entries))
        for handler, with_engine, args, kwargs, event_filter in entries:
            if event_filter is not None and not event_filter(self, count):
                continue
            if event_args or event_kwargs:  # only EXCEPTION_RAISED and TERMINATE_SINGLE_EPOCH
                args, kwargs = event_args + args, {**kwargs, **event_kwargs}
            # Plain calls when there is nothing to unpack: three times faster than f(*a, **k).
            if args or kwargs:
                handler(self, *args, **kwargs) if with_engine else handler(*args, **kwargs)
            elif with_engine:
                handler(self)
            else:
                handler()

    def fire_event(self, event_name: Any) -> None:
        """Run the handlers of a (registered custom) event now.

        Args:
            event_name: the event.

        Example:
            >>> engine = Engine(lambda e, b: None)
            >>> engine.register_events("ping")
            >>> _ = engine.add_event_handler("ping", lambda: print("pong"))
            >>> engine.fire_event("ping")
            pong
        """
        self._allowed_key(event_name)
        self._fire_event(event_name)

    # ----------------------------------------------------------------- stopping
    def terminate(self, skip_completed: bool = False) -> None:
        """Stop the run after the current event: TERMINATE, then COMPLETED fire.

        A later ``run()`` goes on with the next epoch.

        Args:
            skip_completed: do not fire COMPLETED.

        Example:
            >>> engine = Engine(lambda e, b: None)
            >>> _ = engine.add_event_handler(Events.ITERATION_COMPLETED(once=3), Engine.terminate)
            >>> engine.run(range(10)).iteration
            3
        """
        self.logger.info(
            "Terminate signaled. Engine will stop after current iteration is finished."
        )
        self.should_terminate = "skip_completed" if skip_completed else True

    def terminate_epoch(self, skip_epoch_completed: bool = False) -> None:
        """End the epoch after the current event: TERMINATE_SINGLE_EPOCH, then EPOCH_COMPLETED
        fire, and the next epoch starts. Not allowed in STARTED and EPOCH_STARTED handlers.

        Args:
            skip_epoch_completed: do not fire EPOCH_COMPLETED for the cut epoch.

        Example:
            >>> engine = Engine(lambda e, b: None)
            >>> every2 = Events.ITERATION_COMPLETED(every=2)
            >>> _ = engine.add_event_handler(every2, Engine.terminate_epoch)
            >>> engine.run(range(5), max_epochs=3).iteration
            6
        """
        self.logger.info("Terminate current epoch is signaled.")
        self.should_terminate_single_epoch = (
            "skip_epoch_completed" if skip_epoch_completed else True
        )

    def interrupt(self) -> None:
        """Pause after the current event: INTERRUPT fires, ``run()`` returns, and the next
        ``run()`` continues exactly there.

        Example:
            >>> engine = Engine(lambda e, b: None)
            >>> _ = engine.add_event_handler(Events.ITERATION_COMPLETED(once=2), Engine.interrupt)
            >>> engine.run(range(4)).iteration, engine.run().iteration
            (2, 4)
        """
        if not self.interrupt_resume_enabled:
            raise RuntimeError(
                "Engine 'interrupt/resume' feature is disabled. Please, set "
                "Engine.interrupt_resume_enabled=True to enable it"
            )
        self.logger.info("Interrupt signaled. Engine will interrupt the run after current event.")
        self.should_interrupt = True

    # ----------------------------------------------------------------- state
    @property
    def state_dict_user_keys(self) -> list[str]:
        """Names of extra ``state`` attributes that ``state_dict()`` saves."""
        return self._state_dict_user_keys

    def state_dict(self) -> OrderedDict:
        """Ignite's keys (``epoch_length``, ``iteration``, ``max_epochs`` or ``max_iters``, the
        user keys), and where the run is, when Ignite's keys do not imply it: ``data_position``,
        the batches taken from the current data iterator, and ``epoch_iteration``, the
        iterations done in the current epoch (``epoch_length`` at an epoch's end before its
        EPOCH_COMPLETED). Both are implied by ``iteration % epoch_length`` by default.

        Example:
            >>> engine = Engine(lambda e, b: None)
            >>> _ = engine.run([1, 2, 3], max_epochs=2)
            >>> dict(engine.state_dict())  # the last iterator gave 3 batches, 6 % 3 says 0
            {'epoch_length': 3, 'iteration': 6, 'max_epochs': 2, 'data_position': 3}
        """
        s = self.state
        keys = ["epoch_length", "iteration", "max_iters" if s.max_iters else "max_epochs"]
        out = OrderedDict((k, getattr(s, k)) for k in keys + self._state_dict_user_keys)
        default = s.iteration % s.epoch_length if s.epoch_length else 0
        # (The data iterator may be gone: after a run, the one it left off.)
        position, within = self._resume or (s.iteration - self._iter_origin, default)
        if self._epoch_start is not None:  # inside an epoch
            within = s.iteration - self._epoch_start
        # Written only where they differ from what Ignite's keys imply, so that the state
        # dict of a run between epochs is Ignite's.
        for key, value in (("data_position", position), ("epoch_iteration", within)):
            if value != default:
                out[key] = value
        return out

    def load_state_dict(self, state_dict: Mapping) -> None:
        """Restore what ``state_dict()`` saved. The next ``run()`` resumes at the exact next
        batch: it skips, without events, the batches the saved run had already taken. If the
        saved run was finished, ``run()`` returns at once (unless given a larger limit).

        Args:
            state_dict: with ``epoch_length``, one of ``iteration``/``epoch``, one of
                ``max_epochs``/``max_iters``, every user key, and optionally ``data_position``
                and ``epoch_iteration``.

        Example:
            >>> engine = Engine(lambda e, b: print(b))
            >>> engine.load_state_dict({"epoch_length": 4, "iteration": 6, "max_epochs": 2})
            >>> _ = engine.run([10, 20, 30, 40])
            30
            40
        """
        iteration, within, position, limit = self._check_state_dict(state_dict)
        s, length = self.state, state_dict["epoch_length"]
        epoch = (iteration - within) // length if length else 0
        if state_dict[limit] is not None:  # checked before anything changes
            self._check_limit(
                limit, state_dict[limit], epoch if limit == "max_epochs" else iteration
            )
        for k in self._state_dict_user_keys:
            setattr(s, k, state_dict[k])
        s.epoch_length, s.iteration, s.epoch, s.max_epochs, s.max_iters = (
            length, iteration, epoch, None, None
        )  # fmt: skip
        setattr(s, limit, state_dict[limit])
        self._resume, self._loaded = (position, within), True
        self._run_gen = self._data_iter = self._epoch_start = None

    def _check_state_dict(self, sd: Any) -> tuple[Any, Any, Any, str]:
        """Check a state dict, changing nothing: (iteration, epoch_iteration, data_position,
        the limit's name)."""
        if not isinstance(sd, Mapping):
            raise TypeError(f"Argument state_dict should be a dictionary, but given {type(sd)}")
        _expect(
            "iteration" not in sd or "epoch" not in sd,
            "State dictionary should contain only one of 'iteration' or 'epoch' keys. "
            f"Found both: iteration={sd.get('iteration')}, epoch={sd.get('epoch')}.",
        )
        counter = "epoch" if "epoch" in sd else "iteration"
        length, count = cast(Any, sd.get("epoch_length")), cast(Any, sd.get(counter))
        _expect(
            not count or _is_int(length, 1),
            "epoch_length must be a positive integer to calculate missing 'iteration' or "
            f"'epoch' key. Input state_dict: {dict(sd)}",
        )
        for k in ["epoch_length", counter, *self._state_dict_user_keys]:
            user = " user" if k in self._state_dict_user_keys else ""
            message = f"Required{user} state attribute '{k}' is absent in provided state_dict"
            _expect(k in sd, f"{message} {list(sd)}")
        _expect(
            ("max_epochs" in sd) != ("max_iters" in sd),
            "state_dict should contain exactly one of '('max_epochs', 'max_iters')' keys",
        )
        for k, value, least in (("epoch_length", length, 1), (counter, count, 0)):
            ok = _is_int(value, least) or (k == "epoch_length" and value is None)
            _expect(ok, f"{k} in state_dict should be an integer >= {least}, got {value!r}")
        iteration = count * length if counter == "epoch" else count
        within = sd.get("epoch_iteration", iteration % length if length else 0)
        position = sd.get("data_position", iteration % length if length else 0)
        _expect(
            _is_int(within, 0) and within <= min(iteration, length or 0),
            "epoch_iteration in state_dict should be an integer from 0 to epoch_length and to "
            f"iteration; got {within!r} with iteration {iteration}, epoch_length {length}",
        )  # fmt: skip
        _expect(
            _is_int(position, 0) and position <= iteration,
            f"data_position in state_dict should be an integer from 0 to the iteration "
            f"({iteration}), got {position!r}",
        )
        return iteration, within, position, "max_epochs" if "max_epochs" in sd else "max_iters"

    @staticmethod
    def _check_limit(name: str, value: Any, progress: int) -> None:
        _expect(
            _is_int(value, 1),
            f"Argument {name} is invalid. Please, set a correct {name} positive value, "
            f"got {value!r}",
        )
        _expect(
            value >= progress,
            f"Argument {name} should be greater than or equal to the start "
            f"{'epoch' if name == 'max_epochs' else 'iteration'} defined in the state: {value} vs "
            f"{progress}. Please, set engine.state.{name} = None before calling engine.run() in "
            "order to restart the training from the beginning.",
        )

    @staticmethod
    def _is_done(s: State) -> bool:
        if s.max_iters is not None and s.iteration >= s.max_iters:
            return True
        if s.max_epochs is None:
            return False
        return s.epoch >= s.max_epochs or (
            s.epoch_length is not None and s.iteration >= s.epoch_length * s.max_epochs
        )

    def _epoch_end_due(self, s: State) -> bool:
        """Restored at an epoch's end, before its EPOCH_COMPLETED: that still has to fire."""
        return self._resume is not None and self._resume[1] == s.epoch_length

    # ----------------------------------------------------------------- running
    def set_data(self, data: Iterable) -> None:
        """Take the next batches from ``data`` (``epoch_length`` is unchanged).

        Args:
            data: the new data.

        Example:
            >>> engine = Engine(lambda e, b: print(b))
            >>> once = Events.ITERATION_COMPLETED(once=1)
            >>> _ = engine.add_event_handler(once, lambda e: e.set_data("xy"))
            >>> _ = engine.run("ab")
            a
            x
        """
        self.state.dataloader = data
        self._new_data_iter()

    def run(
        self,
        data: Iterable | None = None,
        max_epochs: int | None = None,
        max_iters: int | None = None,
        epoch_length: int | None = None,
    ) -> State:
        """Run over ``data``, or continue the previous run if it is not done.

        A new run (``iteration`` and ``epoch`` back to 0) starts when none was set up or the
        last one is done; otherwise the run resumes, possibly with a larger limit. A finished
        run restored by ``load_state_dict`` is not run again: ``run()`` returns at once.

        Args:
            data: an iterable of batches (re-iterable, for several epochs), or None: then each
                batch is None and ``epoch_length`` is needed.
            max_epochs: epochs in all (default 1 for a new run).
            max_iters: iterations in all, instead of ``max_epochs``.
            epoch_length: iterations per epoch (default ``len(data)``; if that is unknown, the
                first epoch ends with the data).

        Returns:
            The engine's ``state``.

        Example:
            >>> state = Engine(lambda e, b: b).run([1, 2, 3], max_epochs=2)
            >>> state.epoch, state.iteration, state.output
            (2, 6, 3)
        """
        s = self.state
        fresh, limit, value, s.epoch_length = self._plan(data, max_epochs, max_iters, epoch_length)
        if fresh:
            s.iteration = s.epoch = self._iter_origin = 0
            s.max_epochs = s.max_iters = self._run_gen = self._data_iter = self._resume = None
        setattr(s, limit, value)
        if not fresh and self._run_gen is None and self._is_done(s) and not self._epoch_end_due(s):
            self.logger.info("Engine run not resumed: it is finished (%s=%s).", limit, value)
            return s  # restored by load_state_dict, and finished: nothing to run again
        if fresh:
            self.logger.info("Engine run starting with %s=%s.", limit, value)
        else:
            self.logger.info(
                "Engine run resuming from iteration %d, epoch %d until %s %s", s.iteration,
                s.epoch, value, "iterations" if limit == "max_iters" else "epochs",
            )  # fmt: skip
        if self._data_iter is None:
            s.dataloader = data
        self._loaded = False
        with _sigterm_as_exit():
            try:
                self._run_gen = self._run_gen or self._run_events()
                if self._drive(self._run_gen):  # True: the run is over, False: interrupted
                    self._run_gen = None
            except BaseException:
                self._run_gen = None  # an escaped exception leaves the engine reusable
                raise
            finally:
                for hook in self.run_end_hooks:
                    hook()
        return s

    def _plan(self, data: Any, max_epochs: Any, max_iters: Any, epoch_length: Any) -> tuple:
        """Check run()'s arguments against the state, changing nothing: (a fresh run?, the
        limit's name and value, epoch_length)."""
        s = self.state
        self._check_run_args(data, max_epochs, max_iters, epoch_length)
        limit = "max_iters" if max_iters is not None or s.max_iters is not None else "max_epochs"
        old, given = getattr(s, limit), max_iters if limit == "max_iters" else max_epochs
        if old is not None and given is not None:
            self._check_limit(limit, given, s.epoch if limit == "max_epochs" else s.iteration)
        after = copy.copy(s)  # the state as the new limit would leave it: is that run done?
        setattr(after, limit, old if given is None else given)
        fresh = old is None or (self._is_done(after) and not self._run_gen and not self._loaded)
        if fresh:
            limit, given = (
                ("max_epochs", max_epochs or 1) if max_iters is None else ("max_iters", max_iters)
            )
            self._check_limit(limit, given, 0)
        length = epoch_length
        if length is None and data is not None and (fresh or s.epoch_length is None):
            length = _length(data)
        _expect(length != 0, "Input data has zero size. Please provide non-empty data")
        _expect(
            fresh or s.epoch_length is None or length in (None, s.epoch_length),
            f"Argument epoch_length should be same as in the state, but given {length} vs "
            f"{s.epoch_length}",
        )
        length = s.epoch_length if length is None else length
        _expect(data is not None or length, "epoch_length should be provided if data is None")
        skip, n = self._resume[0] if self._resume and not fresh else 0, _length(data)
        _expect(
            not skip or n is None or skip <= n,
            f"The state's data_position ({skip}) is beyond the length of data ({n})",
        )
        return fresh, limit, old if given is None else given, length

    def _check_run_args(self, data: Any, max_epochs: Any, max_iters: Any, epoch_length: Any):
        if data is not None and not isinstance(data, Iterable):
            raise TypeError(f"Argument data should be iterable, got {type(data).__name__}")
        _expect(
            max_epochs is None or max_iters is None,
            "Arguments max_iters and max_epochs are mutually exclusive. Please provide only "
            f"max_epochs or max_iters; got max_epochs={max_epochs}, max_iters={max_iters}.",
        )
        _expect(
            epoch_length is None or _is_int(epoch_length, 1),
            f"Argument epoch_length should be a positive int, got {epoch_length!r}",
        )
        for name, given, other in (("max_epochs", max_epochs, "max_iters"),
                                   ("max_iters", max_iters, "max_epochs")):  # fmt: skip
            _expect(
                given is None or getattr(self.state, other) is None,
                f"To switch from {other} to {name} mode during resume, you must first reset by "
                f"setting 'engine.state.{other} = None' before calling run().",
            )

    def _drive(self, events: Generator[Any, None, None]) -> bool:
        """Fire the schedule's events until the run is over (True) or interrupted (False).

        After each event (and wherever the schedule yields None) the flags are looked at:
        terminate() and terminate_epoch() are thrown into the schedule as exceptions where it
        yielded the event, and so is an exception raised by a handler: the schedule's
        try/except blocks decide what follows.
        """
        handlers = self._handlers
        error: BaseException | None = None  # to throw into the schedule where it yielded
        while True:
            try:
                event = next(events) if error is None else events.throw(error)
            except StopIteration:
                return True
            error = None
            if event is not None:
                self.last_event_name = event
                if handlers[event._name_]:
                    try:
                        self._fire_event(event)
                    except BaseException as e:
                        error = e
                        continue
            if self.should_terminate:
                error = _Terminate()
            elif self.should_terminate_single_epoch:
                error = _TerminateEpoch()
            elif self.should_interrupt:
                self.should_interrupt = False
                self._fire_event(INTERRUPT)
                return False

    def _run_events(self) -> Generator[Any, None, None]:
        """The schedule of a run: yields its events in order, those of each epoch's
        iterations through ``_iteration_events``. It fires TERMINATE, COMPLETED,
        TERMINATE_SINGLE_EPOCH and EXCEPTION_RAISED itself: no flag is looked at after them."""
        s = self.state
        self.should_terminate = self.should_terminate_single_epoch = self.should_interrupt = False
        self._reraised, s.times, start = None, dict.fromkeys(s.times), time.perf_counter()
        try:
            try:
                yield STARTED
                # A run restored at an epoch's end still has that epoch's end to run.
                due = self._epoch_end_due(s)
                while due or not self._is_done(s):
                    s.epoch, epoch_start, due = s.epoch + 1, time.perf_counter(), False
                    yield EPOCH_STARTED
                    yield from self._iteration_events(s)
                    s.times["EPOCH_COMPLETED"] = time.perf_counter() - epoch_start
                    self._epoch_start = None
                    skip = self.should_terminate_single_epoch == "skip_epoch_completed"
                    try:  # a skipped EPOCH_COMPLETED is still a place to look at the flags
                        yield None if skip else EPOCH_COMPLETED
                    except _TerminateEpoch:  # of the cut epoch, or from an EPOCH_COMPLETED
                        self.should_terminate_single_epoch = False  # handler: nothing to cut
                        yield None  # but the other flags are still looked at
                    self._epoch_completed(s, epoch_start)
            except _Terminate:
                self._fire_event(TERMINATE)
            except _TerminateEpoch:
                raise RuntimeError(
                    "The method terminate_epoch() should not be called on Event.STARTED or "
                    "Event.EPOCH_STARTED."
                ) from None
            self._completed(s, start)
        except BaseException as e:
            if e is self._reraised or isinstance(e, GeneratorExit):  # GeneratorExit: dropped
                raise
            self.logger.error("Engine run is terminating due to exception: %s", e)
            self._handle_exception(e)
        finally:
            self._data_iter = None

    def _epoch_completed(self, s: State, start: float) -> None:
        s.times["EPOCH_COMPLETED"] = took = time.perf_counter() - start
        if self.logger.isEnabledFor(logging.INFO):  # _hms would cost at every epoch
            self.logger.info("Epoch[%d] Complete. Time taken: %s", s.epoch, _hms(took))

    def _completed(self, s: State, start: float) -> None:
        s.times["COMPLETED"] = time.perf_counter() - start
        if self.should_terminate != "skip_completed":
            self._fire_event(COMPLETED)
            s.times["COMPLETED"] = time.perf_counter() - start
        self.logger.info("Engine run finished. Time taken: %s", _hms(s.times["COMPLETED"]))

    def _iteration_events(self, s: State) -> Generator[Any, None, None]:
        """The events of an epoch's iterations. They are yielded only if they have handlers
        (a yield costs more than the look), but for ITERATION_COMPLETED: after it the driver
        looks at the flags that the process function may have set."""
        has_data, counter, handlers = s.dataloader is not None, 0, self._handlers
        if self._data_iter is None:  # a new run, after terminate() or an exception, a restore
            position, counter = self._resume or (0, 0)
            self._resume = None
            self._new_data_iter(position)
        self._epoch_start = s.iteration - counter
        try:
            while counter != s.epoch_length:
                s.batch = None
                if has_data and handlers["GET_BATCH_STARTED"]:
                    yield GET_BATCH_STARTED
                try:
                    s.batch = next(self._data_iter)  # type: ignore[arg-type]
                except StopIteration:
                    if (yield from self._data_ended(s, counter)):
                        return
                s.output = None
                if has_data and handlers["GET_BATCH_COMPLETED"]:
                    yield GET_BATCH_COMPLETED
                counter += 1
                s.iteration += 1
                if handlers["ITERATION_STARTED"]:
                    yield ITERATION_STARTED
                self.last_event_name = ITERATION_STARTED
                s.output = self._process_function(self, s.batch)
                yield ITERATION_COMPLETED
                if s.iteration == s.max_iters and counter != s.epoch_length:
                    self.should_terminate = True
                    raise _Terminate
        except _TerminateEpoch:
            self._fire_event(TERMINATE_SINGLE_EPOCH, iter_counter=counter)
            self._new_data_iter()
        except Exception as e:
            self.logger.error("Current run is terminating due to exception: %s", e)
            self._handle_exception(e)

    def _data_ended(self, s: State, counter: int) -> Generator[Any, None, bool]:
        """The data iterator is used up: True ends the epoch, False means that ``s.batch``
        holds the first batch of a new iterator."""
        if s.epoch_length is None:  # unknown length: now it is known
            s.epoch_length = counter
            if s.max_iters is not None:
                s.max_epochs = math.ceil(s.max_iters / counter)
            return True
        if s.dataloader is not None:
            yield DATALOADER_STOP_ITERATION
        try:
            s.batch = next(self._new_data_iter())
        except StopIteration:  # a fresh iterator is empty too: the data is used up
            if not self._is_done(s):
                total = s.max_iters or s.epoch_length * (s.max_epochs or 0)
                warnings.warn(
                    "Data iterator can not provide data anymore but required total number of "
                    f"iterations to run is not reached. Current iteration: {s.iteration} vs "
                    f"Total iterations to run : {total}",
                    stacklevel=5,
                )
            return True
        return False

    def _new_data_iter(self, skip: int = 0) -> Iterator[Any]:
        s = self.state
        if skip and skip == _length(s.dataloader):  # the saved run had used its iterator up:
            self._data_iter, self._iter_origin = iter(()), s.iteration - skip  # the next fetch
            return self._data_iter  # ends it, as in the saved run, and makes a new one
        # A DistributedSampler shuffles by (seed, epoch): a new order each epoch, the same on
        # every rank, and the same again when a run resumes.
        if callable(set_epoch := getattr(getattr(s.dataloader, "sampler", None), "set_epoch", 0)):
            set_epoch(max(s.epoch - 1, 0))
        data = s.dataloader
        self._data_iter = (
            iter(data) if data is not None else itertools.repeat(None, s.epoch_length or 0)
        )
        for _ in itertools.islice(self._data_iter, skip):
            pass
        self._iter_origin = s.iteration - skip
        return self._data_iter

    def _handle_exception(self, e: BaseException) -> None:
        if not self._handlers["EXCEPTION_RAISED"]:
            raise e
        try:
            self._fire_event(EXCEPTION_RAISED, e)
        except BaseException as raised:
            self._reraised = raised  # so that the run level does not call the handlers again
            raise
