"""The Engine: runs a process function over data and fires events to handlers."""

from __future__ import annotations

import importlib
import itertools
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from typing import Any

from miniengine.events import (
    CallableEventWithFilter,
    EventEnum,
    Events,
    EventsList,
    RemovableEventHandle,
    _bind_error,
)

__all__ = ["Engine", "State", "Events", "EventEnum", "CallableEventWithFilter", "EventsList"]
__all__ += ["RemovableEventHandle"]  # and, imported lazily, the _SUPERVISED names at the end

# The counter a filter looks at, per event name; `register_events` extends a per-engine copy.
_COUNTERS = {e: "epoch" for e in ("STARTED", "EPOCH_STARTED", "EPOCH_COMPLETED", "COMPLETED")}
_COUNTERS |= {e: "iteration" for e in ("GET_BATCH_STARTED", "GET_BATCH_COMPLETED")}
_COUNTERS |= {e: "iteration" for e in ("ITERATION_STARTED", "ITERATION_COMPLETED")}


class _Terminate(Exception):
    pass


class _TerminateEpoch(Exception):
    pass


def _key(event: Any) -> str:
    return event if isinstance(event, str) else event._name_


def _hms(seconds: float) -> str:
    mins, secs = divmod(seconds, 60)
    return f"{int(mins // 60):02d}:{int(mins % 60):02d}:{secs:06.3f}"


def _length(data: Any) -> int | None:
    try:
        return len(data)
    except TypeError:  # no len(), or a DataLoader over an IterableDataset
        return None


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

    event_to_attr: dict[str, str] = _COUNTERS  # the engine puts its own table on its state

    def get_event_attrib_value(self, event_name: Any) -> int:
        """The counter that filters on ``event_name`` look at (``state.iteration``, ...)."""
        if (attr := self.event_to_attr.get(_key(event_name))) is None:
            raise RuntimeError(f"Unknown event name '{event_name}'")
        return getattr(self, attr)

    def __repr__(self) -> str:
        items = ((k, v) for k, v in self.__dict__.items() if k != "event_to_attr")
        shown = ((k, v if isinstance(v, int | float | str) else type(v)) for k, v in items)
        return "State:\n" + "".join(f"\t{k}: {v}\n" for k, v in shown)


class Engine:
    """Runs ``process_function(engine, batch)`` over data, firing events to handlers.

    The run loop and the events it fires::

        STARTED
        while not done:                         # max_epochs, or max_iters, reached
            epoch += 1; EPOCH_STARTED
            repeat epoch_length times:          # or until the data ends, if its length is unknown
                GET_BATCH_STARTED
                batch = next(data_iter)         # on StopIteration: DATALOADER_STOP_ITERATION,
                GET_BATCH_COMPLETED             #   then data_iter = iter(data) and retry
                iteration += 1; ITERATION_STARTED
                output = process_function(engine, batch)
                ITERATION_COMPLETED
            EPOCH_COMPLETED
        COMPLETED

    After each event's handlers the engine checks its flags: ``terminate()`` fires TERMINATE,
    then COMPLETED (unless ``skip_completed``); ``terminate_epoch()`` fires
    TERMINATE_SINGLE_EPOCH, then EPOCH_COMPLETED (unless ``skip_epoch_completed``) and goes on
    with the next epoch; ``interrupt()`` fires INTERRUPT and ``run()`` returns, to continue
    exactly there on the next ``run()``. An exception fires EXCEPTION_RAISED if it has
    handlers (inside an epoch, the rest of that epoch is skipped and the run goes on;
    elsewhere ``run()`` returns), else it escapes. With ``data=None``, GET_BATCH_* and
    DATALOADER_STOP_ITERATION are not fired.

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

    def __init__(self, process_function: Callable[[Engine, Any], Any]) -> None:
        if not callable(process_function):
            raise ValueError(f"Engine needs a process function, got {process_function!r}")
        if why := _bind_error(process_function, self, None):
            raise ValueError(f"process_function must accept (engine, batch): {why}")
        self._process_function = process_function
        self.logger = logging.getLogger(f"{__name__}.{type(self).__name__}")
        self.state = State()
        self.last_event_name: Any = None
        self.should_terminate: bool | str = False  # or "skip_completed"
        self.should_terminate_single_epoch: bool | str = False  # or "skip_epoch_completed"
        self.should_interrupt = False
        self._state_dict_user_keys: list[str] = []
        # event name -> [(handler, with_engine, args, kwargs, filter)]. A removal
        # replaces the list, so that a firing in progress goes on undisturbed.
        self._event_handlers: dict[str, list[tuple]] = {}
        self._counters = self.state.event_to_attr = dict(_COUNTERS)
        self._on_run_end: list[Callable[[], Any]] = []  # flushers, called however run() ends
        self._run_gen: Generator[State, None, State] | None = None
        self._data_iter: Iterator[Any] | None = None
        self._iter_origin = 0  # state.iteration when _data_iter was made
        self._resume_position: int | None = None  # batches to skip, set by load_state_dict
        self._reraised: BaseException | None = None
        self.register_events(*Events)

    # ----------------------------------------------------------------- events and handlers
    def register_events(self, *event_names: str | EventEnum, event_to_attr: dict | None = None):
        """Allow custom events to be fired and handled on this engine.

        Args:
            *event_names: ``EventEnum`` members or strings.
            event_to_attr: maps an event to the ``state`` attribute that counts it (then
                filters such as ``every=`` work on it).

        Example:
            >>> engine = Engine(lambda e, b: None)
            >>> engine.register_events("backward", event_to_attr={"backward": "backwards"})
            >>> engine.state.backwards
            0
        """
        if not isinstance(event_to_attr, dict | None):
            raise ValueError(f"Expected event_to_attr to be dictionary. Got {type(event_to_attr)}.")
        for index, event in enumerate(event_names):
            if not isinstance(event, str | EventEnum):
                raise TypeError(
                    f"Value at {index} of event_names should be a str or EventEnum, "
                    f"but given {event!r}"
                )
            self._event_handlers.setdefault(_key(event), [])
        for event, attr in (event_to_attr or {}).items():
            self._counters[_key(event)] = attr
            if not hasattr(self.state, attr):
                setattr(self.state, attr, 0)

    def has_registered_events(self, event: Any) -> bool:
        """Whether ``event`` (an event or its name) may be fired on this engine."""
        return _key(event) in self._event_handlers

    def _allowed_key(self, event: Any) -> str:
        if isinstance(event, str | CallableEventWithFilter) and self.has_registered_events(event):
            return _key(event)
        raise ValueError(
            f"Event {event!r} is not a valid event for this {type(self).__name__}; use Events "
            "or custom events registered with engine.register_events()."
        )

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
        if isinstance(event_name, EventsList):
            for event in event_name:
                self.add_event_handler(event, handler, *args, **kwargs)
            return RemovableEventHandle(event_name, handler, self)
        key = self._allowed_key(event_name)
        event_filter, counter = getattr(event_name, "filter", None), self._counters.get(key)
        if event_filter is not None and counter is None:
            raise ValueError(
                f"Event {key} has no counter, so it cannot be filtered ({event_name!r}); filters "
                "work on events counted by state.iteration or state.epoch, or on custom events "
                "registered with event_to_attr."
            )
        call_args = (Exception(), *args) if key == "EXCEPTION_RAISED" else args
        call_kwargs = {**kwargs, "iter_counter": 0} if key == "TERMINATE_SINGLE_EPOCH" else kwargs
        with_engine = not _bind_error(handler, self, *call_args, **call_kwargs)
        if not with_engine and (why := _bind_error(handler, *call_args, **call_kwargs)):
            raise ValueError(
                f"Error adding {handler} 'handler': it cannot be called with "
                f"{['engine', *call_args, *call_kwargs]}, with or without the engine ({why})."
            )
        self._event_handlers[key].append((handler, with_engine, args, kwargs, event_filter))
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
        if event_name is None:
            lists: Iterable[list] = self._event_handlers.values()
        else:
            lists = [self._event_handlers.get(_key(event_name), [])]
        return any(entry[0] == handler for entries in lists for entry in entries)

    def remove_event_handler(self, handler: Callable, event_name: Any) -> None:
        """Detach ``handler`` from ``event_name`` (``ValueError`` if it is not attached)."""
        key = _key(event_name)
        if key not in self._event_handlers:
            raise ValueError(f"Input event name '{event_name}' does not exist")
        kept = [entry for entry in self._event_handlers[key] if entry[0] != handler]
        if len(kept) == len(self._event_handlers[key]):
            raise ValueError(
                f"Input handler '{handler}' is not found among registered event handlers"
            )
        self._event_handlers[key] = kept

    def _fire_event(self, event_name: Any, *event_args: Any, **event_kwargs: Any) -> None:
        self.last_event_name = event_name
        key = _key(event_name)
        # The count the filters see: read once per firing, as the event fires.
        count = getattr(self.state, self._counters[key]) if key in self._counters else None
        for handler, with_engine, args, kwargs, event_filter in self._event_handlers[key]:
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
        self._fire_event(self._allowed_key(event_name))

    def describe(self) -> str:
        """A table of the handlers on each event, in firing order, with filters in words.

        Example:
            >>> def step(engine, batch): pass
            >>> engine = Engine(step)
            >>> _ = engine.add_event_handler(Events.EPOCH_COMPLETED(every=2), Engine.terminate)
            >>> print(engine.describe())
            event             handler call              runs
            process_function  step(engine, batch)       every iteration
            EPOCH_COMPLETED   Engine.terminate(engine)  every 2nd epoch
        """
        from miniengine.explain import describe

        return describe(self)

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
        self.logger.info("Interrupt signaled. Engine will interrupt the run after current event.")
        self.should_interrupt = True

    def _paused(self) -> bool:
        """Act on the flags after an event; True means INTERRUPT fired: yield now."""
        if self.should_terminate:
            raise _Terminate
        if self.should_terminate_single_epoch:
            raise _TerminateEpoch
        if self.should_interrupt:
            self.should_interrupt = False
            self._fire_event(Events.INTERRUPT)
            return True
        return False

    def _handle_exception(self, e: BaseException) -> None:
        if not self._event_handlers["EXCEPTION_RAISED"]:
            raise e
        try:
            self._fire_event(Events.EXCEPTION_RAISED, e)
        except BaseException as raised:
            self._reraised = raised  # so that the outer level does not call the handlers again
            raise

    # ----------------------------------------------------------------- state
    @property
    def state_dict_user_keys(self) -> list[str]:
        """Names of extra ``state`` attributes that ``state_dict()`` saves."""
        return self._state_dict_user_keys

    def state_dict(self) -> OrderedDict:
        """Ignite's keys (``epoch_length``, ``iteration``, ``max_epochs`` or ``max_iters``, the
        user keys) and ``data_position``: batches taken so far from the current data iterator.

        Example:
            >>> engine = Engine(lambda e, b: None)
            >>> _ = engine.run([1, 2, 3], max_epochs=2)
            >>> dict(engine.state_dict())
            {'epoch_length': 3, 'iteration': 6, 'max_epochs': 2, 'data_position': 0}
        """
        s = self.state
        keys = ["epoch_length", "iteration", "max_iters" if s.max_iters else "max_epochs"]
        out = OrderedDict((k, getattr(s, k)) for k in keys + self._state_dict_user_keys)
        if self._data_iter is not None:
            out["data_position"] = s.iteration - self._iter_origin
        else:
            out["data_position"] = s.iteration % s.epoch_length if s.epoch_length else 0
        return out

    def load_state_dict(self, state_dict: Mapping) -> None:
        """Restore what ``state_dict()`` saved. The next ``run()`` resumes at the exact next
        batch: it skips, without events, the batches the saved run had already taken.

        Args:
            state_dict: with ``epoch_length``, one of ``iteration``/``epoch``, one of
                ``max_epochs``/``max_iters``, and every user key.

        Example:
            >>> engine = Engine(lambda e, b: print(b))
            >>> engine.load_state_dict({"epoch_length": 4, "iteration": 6, "max_epochs": 2})
            >>> _ = engine.run([10, 20, 30, 40])
            30
            40
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(
                f"Argument state_dict should be a dictionary, but given {type(state_dict)}"
            )
        sd, s = dict(state_dict), self.state
        for k in ["epoch_length", *self._state_dict_user_keys]:
            if k not in sd:
                raise ValueError(
                    f"Required state attribute '{k}' is absent in provided state_dict '{list(sd)}'"
                )
        for group in (("iteration", "epoch"), ("max_epochs", "max_iters")):
            if sum(k in sd for k in group) != 1:
                raise ValueError(f"state_dict should contain exactly one of '{group}' keys")
        length = sd["epoch_length"]
        if length is not None and not (isinstance(length, int) and length > 0):
            raise ValueError(f"epoch_length should be a positive integer, got {length!r}")
        if (sd.get("iteration") or sd.get("epoch")) and not length:
            raise ValueError(f"epoch_length must be a positive integer to resume mid-run: {sd}")
        iteration = sd["iteration"] if "iteration" in sd else sd["epoch"] * length
        epoch = iteration // length if length else 0
        limit = "max_epochs" if "max_epochs" in sd else "max_iters"
        if sd[limit] is not None:  # checked before anything changes
            self._check_limit(limit, sd[limit], epoch if limit == "max_epochs" else iteration)
        for k in self._state_dict_user_keys:
            setattr(s, k, sd[k])
        s.epoch_length, s.iteration, s.epoch = length, iteration, epoch
        s.max_epochs = s.max_iters = None
        setattr(s, limit, sd[limit])
        self._resume_position = sd.get("data_position", iteration % length if length else 0)
        self._run_gen = self._data_iter = None

    @staticmethod
    def _check_limit(name: str, value: Any, progress: int) -> None:
        if not isinstance(value, int) or value < 1:
            raise ValueError(
                f"Argument {name} is invalid. Please, set a correct {name} positive value, "
                f"got {value!r}"
            )
        if value < progress:
            what = "epoch" if name == "max_epochs" else "iteration"
            raise ValueError(
                f"Argument {name} should be greater than or equal to the start {what} defined "
                f"in the state: {value} vs {progress}. Please, set engine.state.{name} = None "
                "before calling engine.run() in order to restart the training from the beginning."
            )

    def _set_limit(self, name: str, value: int | None) -> None:
        if value is not None:
            progress = self.state.epoch if name == "max_epochs" else self.state.iteration
            self._check_limit(name, value, progress)
            setattr(self.state, name, value)

    @staticmethod
    def _is_done(s: State) -> bool:
        if s.max_iters is not None and s.iteration >= s.max_iters:
            return True
        if s.max_epochs is None:
            return False
        return s.epoch >= s.max_epochs or (
            s.epoch_length is not None and s.iteration >= s.epoch_length * s.max_epochs
        )

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

    def _new_data_iter(self) -> Iterator[Any]:
        s = self.state
        data = s.dataloader
        # A DistributedSampler shuffles by (seed, epoch): a new order each epoch, the same on
        # every rank, and the same again when a run resumes.
        if callable(set_epoch := getattr(getattr(data, "sampler", None), "set_epoch", None)):
            set_epoch(max(s.epoch - 1, 0))
        self._data_iter = (
            iter(data) if data is not None else itertools.repeat(None, s.epoch_length or 0)
        )
        self._iter_origin = s.iteration
        return self._data_iter

    def run(
        self,
        data: Iterable | None = None,
        max_epochs: int | None = None,
        max_iters: int | None = None,
        epoch_length: int | None = None,
    ) -> State:
        """Run over ``data``, or continue the previous run if it is not done.

        A new run (``iteration`` and ``epoch`` back to 0) starts when none was set up or the
        last one is done; otherwise the run resumes, possibly with a larger limit.

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
        if data is not None and not isinstance(data, Iterable):
            raise TypeError(f"Argument data should be iterable, got {type(data).__name__}")
        if max_epochs is not None and max_iters is not None:
            raise ValueError(
                "Arguments max_iters and max_epochs are mutually exclusive. Please provide only "
                f"max_epochs or max_iters; got max_epochs={max_epochs}, max_iters={max_iters}."
            )
        if epoch_length is not None and not (isinstance(epoch_length, int) and epoch_length > 0):
            raise ValueError(
                f"Argument epoch_length should be a positive int, got {epoch_length!r}"
            )
        for name, value, other in [("max_epochs", max_epochs, "max_iters"),
                                   ("max_iters", max_iters, "max_epochs")]:  # fmt: skip
            if value is not None and getattr(s, other) is not None:
                raise ValueError(
                    f"To switch from {other} to {name} mode during resume, you must first reset "
                    f"by setting 'engine.state.{other} = None' before calling run()."
                )
            if getattr(s, name) is not None:
                self._set_limit(name, value)
        fresh = (s.max_epochs is None and s.max_iters is None) or (
            self._is_done(s) and self._run_gen is None
        )
        if epoch_length is None and data is not None and (fresh or s.epoch_length is None):
            epoch_length = _length(data)
        if epoch_length == 0:
            raise ValueError("Input data has zero size. Please provide non-empty data")
        if not fresh and s.epoch_length and epoch_length not in (None, s.epoch_length):
            raise ValueError(
                "Argument epoch_length should be same as in the state, "
                f"but given {epoch_length} vs {s.epoch_length}"
            )
        if data is None and epoch_length is None and s.epoch_length is None:
            raise ValueError("epoch_length should be provided if data is None")
        s.epoch_length = s.epoch_length if epoch_length is None else epoch_length
        if fresh:
            if max_iters is None:
                limit, value = "max_epochs", 1 if max_epochs is None else max_epochs
            else:
                limit, value = "max_iters", max_iters
            self._check_limit(limit, value, 0)  # before anything changes
            s.iteration = s.epoch = 0
            s.max_epochs = s.max_iters = None
            setattr(s, limit, value)
            self._run_gen = self._data_iter = self._resume_position = None
            limit = f"max_iters={max_iters}" if max_iters else f"max_epochs={s.max_epochs}"
            self.logger.info("Engine run starting with %s.", limit)
        else:
            until = f"{s.max_iters} iterations" if s.max_iters else f"{s.max_epochs} epochs"
            self.logger.info(
                "Engine run resuming from iteration %d, epoch %d until %s",
                s.iteration, s.epoch, until,
            )  # fmt: skip
        if self._data_iter is None:
            s.dataloader = data
        if self._run_gen is None:
            self._run_gen = self._run()
        try:
            return next(self._run_gen)  # it yields on interrupt
        except StopIteration as stop:
            self._run_gen = None
            return stop.value
        except BaseException:
            self._run_gen = None  # an escaped exception leaves the engine reusable
            raise
        finally:
            for flush in self._on_run_end:
                flush()

    def _run(self) -> Generator[State, None, State]:
        s = self.state
        self.should_terminate = self.should_terminate_single_epoch = self.should_interrupt = False
        self._reraised = None
        s.times = {"EPOCH_COMPLETED": None, "COMPLETED": None}
        start = time.perf_counter()
        try:
            try:
                self._fire_event(Events.STARTED)
                if self._paused():
                    yield s
                while not self._is_done(s) and not self.should_terminate:
                    s.epoch += 1
                    epoch_start = time.perf_counter()
                    self._fire_event(Events.EPOCH_STARTED)
                    if self._paused():
                        yield s
                    yield from self._run_epoch()
                    s.times["EPOCH_COMPLETED"] = time.perf_counter() - epoch_start
                    if self.should_terminate_single_epoch != "skip_epoch_completed":
                        self._fire_event(Events.EPOCH_COMPLETED)
                        s.times["EPOCH_COMPLETED"] = time.perf_counter() - epoch_start
                    self.should_terminate_single_epoch = False  # the epoch is over anyway
                    if self._paused():
                        yield s
                    if self.logger.isEnabledFor(logging.INFO):
                        took = _hms(s.times["EPOCH_COMPLETED"] or 0.0)
                        self.logger.info("Epoch[%d] Complete. Time taken: %s", s.epoch, took)
            except _Terminate:
                self._fire_event(Events.TERMINATE)
            except _TerminateEpoch:
                raise RuntimeError(
                    "The method terminate_epoch() should not be called on Event.STARTED or "
                    "Event.EPOCH_STARTED."
                ) from None
            s.times["COMPLETED"] = time.perf_counter() - start
            if self.should_terminate != "skip_completed":
                self._fire_event(Events.COMPLETED)
                s.times["COMPLETED"] = time.perf_counter() - start
            self.logger.info("Engine run finished. Time taken: %s", _hms(s.times["COMPLETED"] or 0))
        except BaseException as e:
            self._data_iter = None
            if e is self._reraised or isinstance(e, GeneratorExit):  # GeneratorExit: dropped
                raise
            self.logger.error("Engine run is terminating due to exception: %s", e)
            self._handle_exception(e)
        self._data_iter = None
        return s

    def _run_epoch(self) -> Iterator[State]:
        s, handlers = self.state, self._event_handlers
        has_data = s.dataloader is not None
        counter = 0  # iterations in this epoch
        if self._data_iter is None:
            # A new run, or one after terminate() or an escaped exception, starts a whole
            # epoch; after load_state_dict() it starts mid-epoch, skipping the used batches.
            skip = self._resume_position or 0
            if skip and skip == _length(s.dataloader):
                # The saved run had used up its iterator: as it would have, the next fetch
                # hits StopIteration, fires DATALOADER_STOP_ITERATION and makes a new one.
                self._data_iter, self._iter_origin = iter(()), s.iteration - skip
            else:
                for _ in itertools.islice(self._new_data_iter(), skip):
                    pass
                self._iter_origin -= skip
            if self._resume_position is not None and s.epoch_length:
                counter = s.iteration % s.epoch_length
        self._resume_position = None
        restarted = False
        try:
            while True:
                s.batch = None
                try:
                    if has_data and not restarted and handlers["GET_BATCH_STARTED"]:
                        self._fire_event(Events.GET_BATCH_STARTED)
                        if self._paused():
                            yield s
                    s.batch = next(self._data_iter)  # type: ignore[arg-type]
                    s.output = None
                    if has_data and handlers["GET_BATCH_COMPLETED"]:
                        self._fire_event(Events.GET_BATCH_COMPLETED)
                        if self._paused():
                            yield s
                    counter += 1
                    restarted = False
                except StopIteration:
                    if s.epoch_length is None:  # unknown length: now it is known
                        s.epoch_length = counter
                        if s.max_iters is not None:
                            s.max_epochs = -(-s.max_iters // counter)
                        break
                    if restarted:  # a fresh iterator is empty too: the data is used up
                        if not self._is_done(s):
                            total = s.max_iters or s.epoch_length * (s.max_epochs or 0)
                            self.logger.warning(
                                "Data iterator can not provide data anymore but required total "
                                "number of iterations to run is not reached. Current iteration: "
                                f"{s.iteration} vs Total iterations to run : {total}"
                            )
                        break
                    if has_data and handlers["DATALOADER_STOP_ITERATION"]:
                        self._fire_event(Events.DATALOADER_STOP_ITERATION)
                        if self._paused():
                            yield s
                    self._new_data_iter()
                    restarted = True
                    continue
                s.iteration += 1
                if handlers["ITERATION_STARTED"]:
                    self._fire_event(Events.ITERATION_STARTED)
                    if self._paused():
                        yield s
                s.output = self._process_function(self, s.batch)
                if handlers["ITERATION_COMPLETED"]:
                    self._fire_event(Events.ITERATION_COMPLETED)
                # Checked even without handlers: the process function may have set a flag.
                stop = self.should_terminate or self.should_terminate_single_epoch
                if (stop or self.should_interrupt) and self._paused():
                    yield s
                if counter == s.epoch_length:
                    break
                if s.iteration == s.max_iters:
                    self.should_terminate = True
                    raise _Terminate
        except _TerminateEpoch:
            self._fire_event(Events.TERMINATE_SINGLE_EPOCH, iter_counter=counter)
            self._new_data_iter()
        except _Terminate:
            raise
        except Exception as e:
            self.logger.error("Current run is terminating due to exception: %s", e)
            self._handle_exception(e)


def __getattr__(name: str) -> Any:
    # Ignite exposes these from ignite.engine; import them only when asked for.
    if name in _SUPERVISED:
        return getattr(importlib.import_module("miniengine.supervised"), name)
    raise AttributeError(f"module 'miniengine.engine' has no attribute {name!r}")


_SUPERVISED: tuple[str, ...] = ("create_supervised_trainer", "create_supervised_evaluator")
_SUPERVISED += ("supervised_training_step", "supervised_training_step_amp")
_SUPERVISED += ("supervised_evaluation_step", "supervised_evaluation_step_amp")
