"""The Engine: runs a process function over data and fires events to handlers."""

from __future__ import annotations

import importlib
import itertools
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping
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
__all__ += ["RemovableEventHandle"]  # and, lazily, create_supervised_trainer / _evaluator

# The counter a filter looks at, per event name; `register_events` extends a per-engine copy.
_COUNTERS = dict.fromkeys(["STARTED", "EPOCH_STARTED", "EPOCH_COMPLETED", "COMPLETED"], "epoch")
_COUNTERS |= dict.fromkeys(
    ["GET_BATCH_STARTED", "GET_BATCH_COMPLETED", "ITERATION_STARTED", "ITERATION_COMPLETED"],
    "iteration",
)


class _Terminate(Exception):
    pass


class _TerminateEpoch(Exception):
    pass


def _key(event: Any) -> str:
    return event if isinstance(event, str) else event._name_


def _hms(seconds: float) -> str:
    mins, secs = divmod(seconds, 60)
    return f"{int(mins // 60):02d}:{int(mins % 60):02d}:{secs:06.3f}"


class State:
    """What an engine knows about its run; handlers read and write it.

    ``iteration`` and ``epoch`` count globally from 1 once running (0 before). ``output`` is
    the process function's last result, ``batch`` the last batch, ``metrics`` a dict that
    metrics write into, ``times`` the seconds taken by the last epoch and by the whole run.
    Any other attribute may be added; the state survives between runs.

    Args:
        **kwargs: extra attributes to set.

    Example:
        >>> from miniengine import State
        >>> State(alpha=0.5).alpha
        0.5
    """

    def __init__(self, **kwargs: Any) -> None:
        self.iteration = 0
        self.epoch = 0
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

    def __repr__(self) -> str:
        def show(v: Any) -> Any:
            return v if isinstance(v, int | float | str) else type(v)

        return "State:\n" + "".join(f"\t{k}: {show(v)}\n" for k, v in self.__dict__.items())


class Engine:
    """Runs ``process_function(engine, batch)`` over data, firing events to handlers.

    The run loop, with the events it fires (``run()`` returns early on ``interrupt()`` and
    continues exactly there on the next ``run()``)::

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
    TERMINATE_SINGLE_EPOCH then EPOCH_COMPLETED (unless ``skip_epoch_completed``) and starts the
    next epoch. An exception fires EXCEPTION_RAISED if it has handlers (inside an epoch the rest
    of that epoch is skipped and the run goes on; elsewhere ``run()`` returns), else it escapes.
    GET_BATCH_* and DATALOADER_STOP_ITERATION are not fired when ``data`` is None.

    Args:
        process_function: called as ``process_function(engine, batch)`` each iteration; what
            it returns becomes ``engine.state.output``.

    Example:
        >>> from miniengine import Engine, Events
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
        if process_function is None or not callable(process_function):
            raise ValueError(
                "Engine must be given a processing function in order to run, "
                f"got {process_function!r}"
            )
        if (why := _bind_error(process_function, self, None)) is not None:
            raise ValueError(
                f"Error adding {process_function} 'process_function': it must accept "
                f"(engine, batch) ({why})."
            )
        self._process_function = process_function
        self.logger = logging.getLogger(f"{__name__}.{type(self).__name__}")
        self.state = State()
        self.last_event_name: Any = None
        self.should_terminate: bool | str = False  # or "skip_completed"
        self.should_terminate_single_epoch: bool | str = False  # or "skip_epoch_completed"
        self.should_interrupt = False
        self._state_dict_user_keys: list[str] = []
        # event name -> [(handler, with_engine, args, kwargs, filter, counter)]; a removal
        # replaces the list, so a firing in progress is not disturbed.
        self._event_handlers: dict[str, list[tuple]] = {}
        self._counters = dict(_COUNTERS)
        self._on_run_end: list[Callable[[], Any]] = []  # flushers: called however run() ends
        self._run_gen: Iterator[State] | None = None
        self._data_iter: Iterator[Any] | None = None
        self._iter_origin = 0  # state.iteration when _data_iter was made
        self._resume_position: int | None = None  # batches to skip, set by load_state_dict
        self._reraised: BaseException | None = None
        self.register_events(*Events)

    # ----------------------------------------------------------------- events and handlers
    def register_events(
        self, *event_names: str | EventEnum, event_to_attr: dict | None = None
    ) -> None:
        """Allow custom events to be fired and handled on this engine.

        Args:
            *event_names: ``EventEnum`` members or strings.
            event_to_attr: maps an event to the ``state`` attribute that counts it, which
                filters (``every=``...) on that event then use.

        Example:
            >>> from miniengine import Engine
            >>> engine = Engine(lambda e, b: None)
            >>> engine.register_events("backward", event_to_attr={"backward": "backwards"})
            >>> engine.state.backwards
            0
        """
        if not (event_to_attr is None or isinstance(event_to_attr, dict)):
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
        """Whether ``event`` may be fired on this engine.

        Args:
            event: an event or event name.

        Example:
            >>> from miniengine import Engine, Events
            >>> Engine(lambda e, b: None).has_registered_events(Events.STARTED)
            True
        """
        return _key(event) in self._event_handlers

    def _assert_allowed_event(self, event: Any) -> str:
        if not isinstance(event, str | CallableEventWithFilter) or not self.has_registered_events(
            event
        ):
            raise ValueError(
                f"Event {event!r} is not a valid event for this {type(self).__name__}; "
                "use Events or register custom events with engine.register_events()."
            )
        return _key(event)

    def add_event_handler(
        self, event_name: Any, handler: Callable, *args: Any, **kwargs: Any
    ) -> RemovableEventHandle:
        """Call ``handler`` each time ``event_name`` fires (handlers run in the order added).

        The handler is called as ``handler(engine, *args, **kwargs)``, or without the engine if
        its signature only fits that; EXCEPTION_RAISED handlers also get the exception after
        the engine, TERMINATE_SINGLE_EPOCH handlers the keyword ``iter_counter``.

        Args:
            event_name: an event, a filtered event (``Events.X(every=10)``) or an ``EventsList``.
            handler: the function to call.
            *args: extra positional arguments for the handler.
            **kwargs: extra keyword arguments for the handler.

        Example:
            >>> from miniengine import Engine, Events
            >>> engine = Engine(lambda e, b: None)
            >>> handle = engine.add_event_handler(Events.COMPLETED, lambda msg: print(msg), "done")
            >>> _ = engine.run([1])
            done
            >>> handle.remove()
        """
        if isinstance(event_name, EventsList):
            for event in event_name:
                self.add_event_handler(event, handler, *args, **kwargs)
            return RemovableEventHandle(event_name, handler, self)
        key = self._assert_allowed_event(event_name)
        event_filter = getattr(event_name, "filter", None)
        counter = self._counters.get(key)
        if event_filter is not None and counter is None:
            raise ValueError(
                f"Event {key} has no counter, so it cannot be filtered ({event_name!r}); "
                "filters work on events counted by state.iteration or state.epoch, or on custom "
                "events registered with event_to_attr."
            )
        event_args: tuple = (Exception(),) if key == "EXCEPTION_RAISED" else ()
        event_kwargs = {"iter_counter": 0} if key == "TERMINATE_SINGLE_EPOCH" else {}
        call_args, call_kwargs = (*event_args, *args), {**kwargs, **event_kwargs}
        with_engine = _bind_error(handler, self, *call_args, **call_kwargs) is None
        if not with_engine and (why := _bind_error(handler, *call_args, **call_kwargs)):
            raise ValueError(
                f"Error adding {handler} 'handler': it cannot be called with "
                f"{['engine', *call_args, *call_kwargs]} nor without the engine ({why})."
            )
        entry = (handler, with_engine, args, kwargs, event_filter, counter)
        self._event_handlers[key].append(entry)
        return RemovableEventHandle(event_name, handler, self)

    def on(self, event_name: Any, *args: Any, **kwargs: Any) -> Callable:
        """Decorator form of ``add_event_handler``; returns the function unchanged.

        Args:
            event_name: as for ``add_event_handler``.
            *args: extra positional arguments for the handler.
            **kwargs: extra keyword arguments for the handler.

        Example:
            >>> from miniengine import Engine, Events
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
        """Whether ``handler`` is attached to ``event_name`` (to any event if None).

        Args:
            handler: the handler.
            event_name: the event, or None.

        Example:
            >>> from miniengine import Engine, Events
            >>> engine = Engine(lambda e, b: None)
            >>> engine.has_event_handler(print, Events.STARTED)
            False
        """
        if event_name is None:
            lists: Iterable[list] = self._event_handlers.values()
        else:
            lists = [self._event_handlers.get(_key(event_name), [])]
        return any(entry[0] == handler for entries in lists for entry in entries)

    def remove_event_handler(self, handler: Callable, event_name: Any) -> None:
        """Detach ``handler`` from ``event_name``.

        Args:
            handler: the handler.
            event_name: the event it was added to.

        Example:
            >>> from miniengine import Engine, Events
            >>> engine = Engine(lambda e, b: None)
            >>> _ = engine.add_event_handler(Events.STARTED, print)
            >>> engine.remove_event_handler(print, Events.STARTED)
        """
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
        for handler, with_engine, args, kwargs, event_filter, counter in self._event_handlers[
            _key(event_name)
        ]:
            if event_filter is not None and not event_filter(self, getattr(self.state, counter)):
                continue
            if event_args or event_kwargs:  # only EXCEPTION_RAISED, TERMINATE_SINGLE_EPOCH
                args, kwargs = event_args + args, {**kwargs, **event_kwargs}
            if with_engine:
                handler(self, *args, **kwargs)
            else:
                handler(*args, **kwargs)

    def fire_event(self, event_name: Any) -> None:
        """Run the handlers of a (registered custom) event now.

        Args:
            event_name: the event.

        Example:
            >>> from miniengine import Engine
            >>> engine = Engine(lambda e, b: None)
            >>> engine.register_events("ping")
            >>> _ = engine.add_event_handler("ping", lambda: print("pong"))
            >>> engine.fire_event("ping")
            pong
        """
        self._assert_allowed_event(event_name)
        self._fire_event(event_name)

    # ----------------------------------------------------------------- stopping
    def terminate(self, skip_completed: bool = False) -> None:
        """Stop the run after the current event: fires TERMINATE, then COMPLETED.

        A later ``run()`` continues with the next epoch.

        Args:
            skip_completed: do not fire COMPLETED.

        Example:
            >>> from miniengine import Engine, Events
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
        """End the current epoch after the current event and go on with the next one.

        Fires TERMINATE_SINGLE_EPOCH, then EPOCH_COMPLETED. Not allowed in STARTED or
        EPOCH_STARTED handlers.

        Args:
            skip_epoch_completed: do not fire EPOCH_COMPLETED for the cut epoch.

        Example:
            >>> from miniengine import Engine, Events
            >>> engine = Engine(lambda e, b: None)
            >>> _ = engine.add_event_handler(Events.ITERATION_COMPLETED(every=2),
            ...                              Engine.terminate_epoch)
            >>> engine.run(range(5), max_epochs=3).iteration
            6
        """
        self.logger.info("Terminate current epoch is signaled.")
        self.should_terminate_single_epoch = (
            "skip_epoch_completed" if skip_epoch_completed else True
        )

    def interrupt(self) -> None:
        """Pause the run after the current event: fires INTERRUPT and ``run()`` returns.

        The next ``run()`` continues exactly where this one stopped.

        Example:
            >>> from miniengine import Engine, Events
            >>> engine = Engine(lambda e, b: None)
            >>> _ = engine.add_event_handler(Events.ITERATION_COMPLETED(once=2), Engine.interrupt)
            >>> engine.run(range(4)).iteration, engine.run().iteration
            (2, 4)
        """
        self.logger.info("Interrupt signaled. Engine will interrupt the run after current event.")
        self.should_interrupt = True

    def _paused(self) -> bool:
        """Act on the flags after an event; True means: fired INTERRUPT, yield now."""
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
            self._reraised = raised  # so the outer level does not call the handlers again
            raise

    # ----------------------------------------------------------------- state
    @property
    def state_dict_user_keys(self) -> list[str]:
        """Names of extra ``state`` attributes that ``state_dict()`` saves."""
        return self._state_dict_user_keys

    def state_dict(self) -> OrderedDict:
        """Ignite's keys (``epoch_length``, ``iteration``, ``max_epochs`` or ``max_iters``, the
        user keys) plus ``data_position``: batches already taken from the current data iterator.

        Example:
            >>> from miniengine import Engine
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
        """Restore what ``state_dict()`` saved; the next ``run()`` resumes at the exact next
        batch (skipping, without events, the batches the saved run had already taken).

        Args:
            state_dict: needs ``epoch_length``, one of ``iteration``/``epoch``, one of
                ``max_epochs``/``max_iters``, and every user key.

        Example:
            >>> from miniengine import Engine
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
        sd = dict(state_dict)
        for required in ["epoch_length", *self._state_dict_user_keys]:
            if required not in sd:
                raise ValueError(
                    f"Required state attribute '{required}' is absent in provided state_dict "
                    f"'{list(sd)}'"
                )
        for group in (("iteration", "epoch"), ("max_epochs", "max_iters")):
            if sum(k in sd for k in group) != 1:
                raise ValueError(f"state_dict should contain exactly one of '{group}' keys")
        epoch_length = sd["epoch_length"]
        if not (epoch_length is None or (isinstance(epoch_length, int) and epoch_length > 0)):
            raise ValueError(f"epoch_length should be a positive integer, got {epoch_length!r}")
        if (sd.get("iteration") or sd.get("epoch")) and not epoch_length:
            raise ValueError(
                f"epoch_length must be a positive integer to resume mid-run; got state_dict {sd}"
            )
        s = self.state
        for k in self._state_dict_user_keys:
            setattr(s, k, sd[k])
        s.epoch_length = epoch_length
        s.iteration = sd["iteration"] if "iteration" in sd else sd["epoch"] * epoch_length
        s.epoch = s.iteration // epoch_length if epoch_length else 0
        s.max_epochs = s.max_iters = None
        if "max_epochs" in sd:
            self._set_limit("max_epochs", sd["max_epochs"])
        else:
            self._set_limit("max_iters", sd["max_iters"])
        position = sd.get("data_position", s.iteration % epoch_length if epoch_length else 0)
        self._resume_position = position
        self._run_gen = self._data_iter = None

    def _set_limit(self, name: str, value: int | None) -> None:
        progress = "epoch" if name == "max_epochs" else "iteration"
        if value is None:
            return
        if not isinstance(value, int) or value < 1:
            raise ValueError(
                f"Argument {name} is invalid. Please, set a correct {name} positive value, "
                f"got {value!r}"
            )
        if value < getattr(self.state, progress):
            raise ValueError(
                f"Argument {name} should be greater than or equal to the start {progress} "
                f"defined in the state: {value} vs {getattr(self.state, progress)}. Please, set "
                f"engine.state.{name} = None before calling engine.run() in order to restart the "
                "training from the beginning."
            )
        setattr(self.state, name, value)

    @staticmethod
    def _is_done(s: State) -> bool:
        return (
            (s.max_iters is not None and s.iteration >= s.max_iters)
            or (
                s.epoch_length is not None
                and s.max_epochs is not None
                and s.iteration >= s.epoch_length * s.max_epochs
            )
            or (s.max_epochs is not None and s.epoch >= s.max_epochs)
        )

    # ----------------------------------------------------------------- running
    def set_data(self, data: Iterable) -> None:
        """Take the next batches from ``data`` (``epoch_length`` is unchanged).

        Args:
            data: the new data, iterable.

        Example:
            >>> from miniengine import Engine, Events
            >>> engine = Engine(lambda e, b: print(b))
            >>> _ = engine.add_event_handler(Events.ITERATION_COMPLETED(once=1),
            ...                              lambda e: e.set_data("xy"))
            >>> _ = engine.run("ab")
            a
            x
        """
        self.state.dataloader = data
        self._new_data_iter()

    def _new_data_iter(self) -> None:
        s = self.state
        self._data_iter = (
            itertools.repeat(None, s.epoch_length or 0)
            if s.dataloader is None
            else iter(s.dataloader)
        )
        self._iter_origin = s.iteration

    @staticmethod
    def _length(data: Iterable) -> int | None:
        try:
            return len(data)  # type: ignore[arg-type]
        except TypeError:  # no len(), or a DataLoader over an IterableDataset
            return None

    def run(
        self,
        data: Iterable | None = None,
        max_epochs: int | None = None,
        max_iters: int | None = None,
        epoch_length: int | None = None,
    ) -> State:
        """Run over ``data``, or continue the previous run if it is not done.

        A new run starts when none was set up or the last one is done (``iteration`` and
        ``epoch`` restart at 0); otherwise the run resumes, possibly with a larger
        ``max_epochs``/``max_iters``.

        Args:
            data: an iterable of batches (re-iterable for several epochs), or None (then
                ``epoch_length`` is needed and each batch is None).
            max_epochs: how many epochs in all (default 1 for a new run).
            max_iters: how many iterations in all; excludes ``max_epochs``.
            epoch_length: iterations per epoch (default ``len(data)``; if that is unknown, the
                first epoch ends when the data does).

        Returns:
            The engine's ``state``.

        Example:
            >>> from miniengine import Engine
            >>> state = Engine(lambda e, b: b).run([1, 2, 3], max_epochs=2)
            >>> state.epoch, state.iteration, state.output
            (2, 6, 3)
        """
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
        s = self.state
        for new, old, other in (
            ("max_iters", "max_epochs", max_iters),
            ("max_epochs", "max_iters", max_epochs),
        ):
            if other is not None and getattr(s, old) is not None:
                raise ValueError(
                    f"To switch from {old} to {new} mode during resume, you must first reset by "
                    f"setting 'engine.state.{old} = None' before calling run()."
                )
        if s.max_epochs is not None:
            self._set_limit("max_epochs", max_epochs)
        if s.max_iters is not None:
            self._set_limit("max_iters", max_iters)

        fresh = (s.max_epochs is None and s.max_iters is None) or (
            self._is_done(s) and self._run_gen is None
        )
        if fresh:
            if epoch_length is None and data is not None:
                epoch_length = self._length(data)
            epoch_length = epoch_length or s.epoch_length
            if epoch_length is None and data is None:
                raise ValueError("epoch_length should be provided if data is None")
            if epoch_length is not None and epoch_length < 1:
                raise ValueError("Input data has zero size. Please provide non-empty data")
            s.iteration = s.epoch = 0
            s.max_epochs = None if max_iters is not None else (max_epochs or 1)
            s.max_iters = max_iters
            s.epoch_length = epoch_length
            self._run_gen = self._data_iter = self._resume_position = None
            if self.logger.isEnabledFor(logging.INFO):
                limit = f"max_iters={max_iters}" if max_iters else f"max_epochs={s.max_epochs}"
                self.logger.info(f"Engine run starting with {limit}.")
        else:
            if s.epoch_length is not None:
                if epoch_length is not None and epoch_length != s.epoch_length:
                    raise ValueError(
                        "Argument epoch_length should be same as in the state, "
                        f"but given {epoch_length} vs {s.epoch_length}"
                    )
            else:
                if epoch_length is None and data is not None:
                    epoch_length = self._length(data)
                if epoch_length is not None:
                    s.epoch_length = epoch_length
            if s.epoch_length is None and data is None:
                raise ValueError("epoch_length should be provided if data is None")
            if self.logger.isEnabledFor(logging.INFO):
                until = f"{s.max_iters} iterations" if s.max_iters else f"{s.max_epochs} epochs"
                self.logger.info(
                    f"Engine run resuming from iteration {s.iteration}, epoch {s.epoch} "
                    f"until {until}"
                )
        if self._data_iter is None:
            s.dataloader = data
        if self._run_gen is None:
            self._run_gen = self._run()
        try:
            return next(self._run_gen)  # yields on interrupt
        except StopIteration as stop:
            self._run_gen = None
            return stop.value
        except BaseException:
            self._run_gen = None  # an escaped exception leaves the engine reusable
            raise
        finally:
            for flush in self._on_run_end:
                flush()

    def _run(self) -> Iterator[State]:
        s, handlers = self.state, self._event_handlers
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
                    yield from self._run_epoch(handlers)
                    s.times["EPOCH_COMPLETED"] = time.perf_counter() - epoch_start
                    if self.should_terminate_single_epoch != "skip_epoch_completed":
                        self._fire_event(Events.EPOCH_COMPLETED)
                        s.times["EPOCH_COMPLETED"] = time.perf_counter() - epoch_start
                    self.should_terminate_single_epoch = False  # the epoch is over anyway
                    if self._paused():
                        yield s
                    if self.logger.isEnabledFor(logging.INFO):
                        took = _hms(s.times["EPOCH_COMPLETED"] or 0.0)
                        self.logger.info(f"Epoch[{s.epoch}] Complete. Time taken: {took}")
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
            self.logger.info(f"Engine run finished. Time taken: {_hms(s.times['COMPLETED'])}")
        except BaseException as e:
            self._data_iter = None
            if e is self._reraised or isinstance(e, GeneratorExit):  # GeneratorExit: dropped
                raise
            self.logger.error(f"Engine run is terminating due to exception: {e}")
            self._handle_exception(e)
        self._data_iter = None
        return s

    def _run_epoch(self, handlers: dict[str, list]) -> Iterator[State]:
        s = self.state
        has_data = s.dataloader is not None
        # A fresh run, or one after terminate() / an escaped exception, starts a full epoch;
        # after load_state_dict() it starts mid-epoch, skipping the batches already used.
        counter = 0
        if self._data_iter is None:
            self._new_data_iter()
            if self._resume_position is not None:
                counter = s.iteration % s.epoch_length if s.epoch_length else 0
                skip = self._resume_position
                if skip and skip == self._length(s.dataloader):  # saved at the end of the data
                    skip = 0
                for _ in itertools.islice(self._data_iter, skip):  # type: ignore[arg-type]
                    pass
                self._iter_origin -= skip
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
                    if s.epoch_length is None:  # unknown length: now we know it
                        s.epoch_length = counter
                        if s.max_iters is not None:
                            s.max_epochs = -(-s.max_iters // counter)
                        break
                    if restarted:  # a fresh iterator is empty too: the data is used up
                        if not self._is_done(s):
                            self.logger.warning(
                                "Data iterator can not provide data anymore but required total "
                                "number of iterations to run is not reached. Current iteration: "
                                f"{s.iteration} vs Total iterations to run : "
                                f"{s.max_iters or s.epoch_length * (s.max_epochs or 0)}"
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
                # The process function may have called terminate() etc. too.
                if (
                    self.should_terminate
                    or self.should_terminate_single_epoch
                    or self.should_interrupt
                ) and self._paused():
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
            self.logger.error(f"Current run is terminating due to exception: {e}")
            self._handle_exception(e)


def __getattr__(name: str) -> Any:
    # Ignite exposes these from ignite.engine; import them only when asked for.
    if name in ("create_supervised_trainer", "create_supervised_evaluator"):
        return getattr(importlib.import_module("miniengine.supervised"), name)
    raise AttributeError(f"module 'miniengine.engine' has no attribute {name!r}")
