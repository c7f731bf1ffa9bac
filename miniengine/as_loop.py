"""``as_loop(engine)``: the plain loop that ``engine.run`` amounts to, written out, and runnable.

``describe`` lists what is attached and ``trace`` records what happened; ``as_loop`` writes the
Python a person would write instead of the engine: the epochs and the batches, the process
function, and each handler called where the engine calls it, under the ``if`` its filter stands
for. ``LoopSource.run`` compiles that very text and runs it on the same engine, so the text is
not an illustration: it is what ran.

The writer is small functions, one per construct: ``_condition`` writes a filter's ``if``,
``_call`` a handler's call, ``_event`` one event's handlers; ``_Writer``'s methods write the
parts of the run (``started``, ``epochs``, ``iterations``, ``fetch``, ``iteration``,
``epoch_end``, ``ending``) in the order of the ``Engine`` docstring's pseudocode. Events without
handlers are left out, and so is what only they need. ``_Names`` gives the engine's objects
(handlers, filters, arguments that are not literals) the names the text calls them by, and
binds those names for ``run``.

Example:
    >>> from miniengine import Engine, Events
    >>> def step(engine, batch):
    ...     return batch * 10
    >>> engine = Engine(step)
    >>> @engine.on(Events.ITERATION_COMPLETED(every=2))
    ... def log(engine):
    ...     print(engine.state.iteration, engine.state.output)
    >>> loop = as_loop(engine)
    >>> [line.strip() for line in loop.source.splitlines() if "log(" in line or "% 2" in line]
    ['if state.iteration % 2 == 0:', 'log(engine)']
    >>> loop.run([1, 2, 3, 4]).iteration
    2 20
    4 40
    4
"""

from __future__ import annotations

import builtins
import contextlib
import copy
import keyword
import linecache
import math
import numbers
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from miniengine.engine import Engine, Events, HandlerEntry, State
from miniengine.engine.events import Between, CallableEventWithFilter, Every, Once
from miniengine.explain import handler_name

__all__ = ["LoopSource", "LoopSourceError", "as_loop"]

# The events the written loop fires itself, in the order the run loop fires them.
_LOOP_EVENTS = [
    "STARTED", "EPOCH_STARTED", "GET_BATCH_STARTED", "DATALOADER_STOP_ITERATION",
    "GET_BATCH_COMPLETED", "ITERATION_STARTED", "ITERATION_COMPLETED", "TERMINATE_SINGLE_EPOCH",
    "EPOCH_COMPLETED", "TERMINATE", "COMPLETED", "EXCEPTION_RAISED",
]  # fmt: skip

# Names the written text uses for itself; the engine's objects get other ones.
_OWN_NAMES = {
    "run", "finished", "new_data_iter", "warn_data_used_up", "exception_raised",
    "TERMINATE_EPOCH_TOO_EARLY", "engine", "data", "max_epochs", "max_iters", "epoch_length",
    "state", "data_iter", "epoch_iteration", "epoch_start", "run_start", "reraised", "raised",
    "e", "hook", "set_epoch", "itertools", "math", "time", "warnings", "Events",
}  # fmt: skip

# The engine's methods that a plain loop cannot honour while it runs, and why.
_REFUSED = {
    "interrupt": "a plain loop cannot pause and continue later",
    "set_data": "the loop reads the data it was given, and would not follow new data",
    "state_dict": "the loop does not tell the engine where it is in the data, so a checkpoint "
    "of the engine would not resume at the right batch",
    "load_state_dict": "a plain loop cannot restart from a saved position",
}

_STOP = "if engine.should_terminate or engine.should_terminate_single_epoch:"


class LoopSourceError(RuntimeError):
    """What ``LoopSource.run`` raises where the written loop cannot do what ``engine.run`` does.

    Example:
        >>> from miniengine import Engine
        >>> engine = Engine(lambda engine, batch: None)
        >>> engine.load_state_dict({"epoch_length": 2, "iteration": 1, "max_epochs": 2})
        >>> as_loop(engine).run([1, 2])  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        miniengine.as_loop.LoopSourceError: engine.run() would resume this run ...
    """


# ----------------------------------------------------------------------------- names
def _snake(name: str) -> str:
    name = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()


def _identifier(text: str) -> str:
    text = re.sub(r"\W+", "_", text).strip("_") or "obj"
    return "_" + text if text[0].isdigit() else text


def _literal(value: Any) -> str | None:
    """The value as Python text that makes an equal, immutable value; None if there is none."""
    if value is None or type(value) in (bool, int, str, bytes):
        return repr(value)
    if type(value) is float and math.isfinite(value):
        return repr(value)
    if type(value) is tuple:
        items = [text for text in map(_literal, value) if text is not None]
        if len(items) == len(value):
            return f"({items[0]},)" if len(items) == 1 else f"({', '.join(items)})"
    if isinstance(value, Events) and value.filter is None:  # the enum member itself
        return f"Events.{value.name}"
    return None


def _reserved(name: str) -> bool:
    return name in _OWN_NAMES or keyword.iskeyword(name) or hasattr(builtins, name)


class _Names:
    """Names for the engine's objects in the written text, and the namespace that binds them.

    The same object always gets the same name; names never clash with the text's own names,
    with Python's keywords, or with a builtin (unless the object is that builtin).
    """

    def __init__(self) -> None:
        self.namespace: dict[str, Any] = {}
        self.notes: list[str] = []  # "name: what it is", for the text's header
        self._by_id: dict[int, str] = {}

    def bind(self, obj: Any, wanted: str, what: str) -> str:
        if id(obj) in self._by_id:
            return self._by_id[id(obj)]
        if getattr(builtins, wanted, None) is obj:
            return wanted  # print stays print
        base = _identifier(wanted)
        name, n = base, 2
        while name in self.namespace or _reserved(name):
            name, n = f"{base}_{n}", n + 1
        self.namespace[name] = obj
        self._by_id[id(obj)] = name
        if what != name:
            self.notes.append(f"{name}: {what}")
        return name

    def value(self, value: Any) -> str:
        """An argument: a literal where one makes an equal value, else a bound name."""
        text = _literal(value)
        if text is not None:
            return text
        if isinstance(value, CallableEventWithFilter):
            return self.bind(value, f"{value.name.lower()}_event", repr(value))
        return self.bind(value, _snake(type(value).__name__), f"<{type(value).__name__}>")

    def callable(self, fn: Any, fallback: str) -> str:
        """A handler, filter or process function, called by this name (or ``obj.method``)."""
        owner, func = getattr(fn, "__self__", None), getattr(fn, "__func__", None)
        if owner is not None and func is not None and not isinstance(owner, type):
            if getattr(owner, func.__name__, None) == fn:  # obj.method is this very method
                kind = type(owner).__name__
                return f"{self.bind(owner, _snake(kind), f'<{kind}>')}.{func.__name__}"
        what = handler_name(fn)
        qualname = getattr(fn, "__qualname__", None)
        if isinstance(qualname, str) and getattr(fn, "__code__", None) is not None:
            outer, _, name = qualname.rpartition(".<locals>.")
            if name == "<lambda>":
                return self.bind(fn, fallback, what)
            outer = outer.replace(".<locals>", "")
            owner = outer.split(".")[-2:-1]
            if owner and owner[0][:1].isupper():  # made in a method: LogProgress._attach
                what = f"{name}, made by {outer}()"
                name = f"{_snake(owner[0])}_{name}"
            return self.bind(fn, name.rsplit(".", 1)[-1], what)
        if hasattr(fn, "func") and hasattr(fn, "args"):  # functools.partial
            return self.bind(fn, f"{getattr(fn.func, '__name__', 'partial')}_partial", what)
        plain = getattr(fn, "__name__", None)
        if isinstance(plain, str) and plain.isidentifier():
            return self.bind(fn, plain, what)
        return self.bind(fn, _snake(type(fn).__name__), what)


# ----------------------------------------------------------------------------- one event
def _condition(event_filter: Any, counter: str, names: _Names, key: str) -> str | None:
    """The ``if`` that a filter stands for (None: no filter); ``counter`` is ``state.<attr>``."""
    n = f"state.{counter}"
    if event_filter is None:
        return None
    if type(event_filter) is Every:
        return f"{n} % {event_filter.every} == 0"
    if type(event_filter) is Once:
        counts = sorted(event_filter.counts)
        return f"{n} == {counts[0]}" if len(counts) == 1 else f"{n} in {tuple(counts)}"
    if type(event_filter) is Between:
        after, before, every = event_filter.after, event_filter.before, event_filter.every
        span = f"{n} > {after}" if before == math.inf else f"{after} < {n} < {int(before)}"
        return span if every == 1 else f"{span} and ({n} - {after + 1}) % {every} == 0"
    fn = names.callable(event_filter, f"{key.lower()}_filter")
    return f"{fn}(engine, {n})"


def _call(key: str, entry: HandlerEntry, names: _Names) -> str:
    """A handler's call, as ``Engine._fire_event`` makes it."""
    parts = ["engine"] if entry.with_engine else []
    parts += ["e"] if key == "EXCEPTION_RAISED" else []  # the exception, after the engine
    parts += [names.value(a) for a in entry.args]
    kwargs = dict(entry.kwargs)
    if key == "TERMINATE_SINGLE_EPOCH":
        kwargs.pop("iter_counter", None)  # the engine's own iter_counter wins
    if all(k.isidentifier() and not keyword.iskeyword(k) for k in kwargs):
        parts += [f"{k}={names.value(v)}" for k, v in kwargs.items()]
    else:
        parts.append("**{" + ", ".join(f"{k!r}: {names.value(v)}" for k, v in kwargs.items()) + "}")
    parts += ["iter_counter=epoch_iteration"] if key == "TERMINATE_SINGLE_EPOCH" else []
    return f"{names.callable(entry.handler, 'on_' + key.lower())}({', '.join(parts)})"


def _event(key: str, entries: tuple[HandlerEntry, ...], names: _Names, counter: str) -> list[str]:
    """The handlers of one event, in order, each under its filter's ``if``; handlers in a row
    with equal built-in filters share one ``if`` (the engine reads the count once per event)."""
    lines = [f"engine.last_event_name = Events.{key}"]
    shared: Any = object()  # the filter of the open `if`, if any
    for entry in entries:
        condition = _condition(entry.filter, counter, names, key)
        call = _call(key, entry, names)
        if condition is None:
            lines.append(call)
        elif type(entry.filter) in (Every, Once, Between) and entry.filter == shared:
            lines.append("    " + call)
        else:
            lines += [f"if {condition}:", "    " + call]
        shared = entry.filter if type(entry.filter) in (Every, Once, Between) else object()
    return lines


# ----------------------------------------------------------------------------- the run
def _indent(lines: list[str], depth: int = 1) -> list[str]:
    return [("    " * depth + line) if line else line for line in lines]


class _Writer:
    """Writes the run function for one engine's handler table."""

    def __init__(self, engine: Engine, names: _Names) -> None:
        self.names = names
        self.counters = engine.state.event_to_attr
        table = engine.event_handlers
        self.handlers = {key: table.get(key, ()) for key in _LOOP_EVENTS}
        self.process = names.callable(engine._process_function, "process_function")
        self.hooks = bool(engine.run_end_hooks)

    def has(self, key: str) -> bool:
        return bool(self.handlers[key])

    def event(self, key: str) -> list[str]:
        """The event's handlers; nothing at all if it has none."""
        if not self.has(key):
            return []
        return _event(key, self.handlers[key], self.names, self.counters.get(key, "iteration"))

    def checked(self, key: str, check: list[str]) -> list[str]:
        """An event's handlers, then what the engine does with the flags they may have set."""
        return self.event(key) + check if self.has(key) else []

    def with_data(self, key: str, check: list[str]) -> list[str]:
        lines = self.checked(key, check)
        if not lines:
            return []
        return [f"if data is not None:  # {key} fires only with data"] + _indent(lines)

    # The parts of the run, in the order the engine runs them.
    def run(self) -> list[str]:
        body = self.started() + self.epochs() + self.ending()
        catch, hooks = self.has("EXCEPTION_RAISED"), self.hooks
        setup = [
            "state = engine.state  # the run's State: handlers read and write it",
            "state.iteration = state.epoch = 0",
            "state.max_epochs, state.max_iters = max_epochs, max_iters",
            "state.epoch_length, state.dataloader = epoch_length, data",
            "state.times = dict.fromkeys(state.times)  # seconds of the last epoch, of the run",
            "engine.should_terminate = engine.should_terminate_single_epoch = False",
            "engine.should_interrupt = False",
            "data_iter = None  # made as the first epoch starts, then continued across epochs",
            *(["reraised = None  # raised by an EXCEPTION_RAISED handler: not handled twice"]
              if catch else []),
            "run_start = time.perf_counter()",
        ]  # fmt: skip
        if not (catch or hooks):
            return setup + body + ["return state"]
        lines = setup + ["try:"] + _indent(body)
        if catch:
            lines += [
                "except BaseException as e:  # EXCEPTION_RAISED: the run ends, without COMPLETED",
                "    if e is reraised:",
                "        raise",
                "    exception_raised(engine, e)",
            ]
        if hooks:
            lines += [
                "finally:",
                "    for hook in engine.run_end_hooks:  # called however the run ends",
                "        hook()",
            ]
        return lines + ["return state"]

    def started(self) -> list[str]:
        return self.checked(
            "STARTED",
            [
                "if engine.should_terminate_single_epoch and not engine.should_terminate:",
                "    raise RuntimeError(TERMINATE_EPOCH_TOO_EARLY)",
            ],
        )

    def epochs(self) -> list[str]:
        begin = [
            "state.epoch += 1",
            "epoch_start = time.perf_counter()",
            *self.checked(
                "EPOCH_STARTED",
                [
                    "if engine.should_terminate:",
                    "    break",
                    "if engine.should_terminate_single_epoch:",
                    "    raise RuntimeError(TERMINATE_EPOCH_TOO_EARLY)",
                ],
            ),
            "if data_iter is None:  # the first epoch: a first pass over the data",
            "    data_iter = new_data_iter(state)",
            "epoch_iteration = 0  # iterations done in this epoch",
        ]
        header = "while not engine.should_terminate and not finished(state):"
        return [header] + _indent(begin + self.iterations() + self.epoch_end())

    def iterations(self) -> list[str]:
        loop = ["while epoch_iteration != state.epoch_length:"]
        loop += _indent(self.fetch() + self.iteration())
        cut = [
            "if engine.should_terminate:",
            "    break",
            "if engine.should_terminate_single_epoch:  # terminate_epoch(): the epoch ends here",
            *_indent(self.event("TERMINATE_SINGLE_EPOCH")),
            "    data_iter = new_data_iter(state)  # the next epoch starts a new pass",
        ]
        if not self.has("EXCEPTION_RAISED"):
            return loop + cut
        return [
            "try:",
            *_indent(loop),
            "except Exception as e:  # EXCEPTION_RAISED: the rest of this epoch is skipped",
            "    try:",
            "        exception_raised(engine, e)",
            "    except BaseException as raised:",
            "        reraised = raised",
            "        raise",
            "else:",
            *_indent(cut),
        ]

    def fetch(self) -> list[str]:
        stop = [_STOP, "    break"]
        return [
            "state.batch = None",
            *self.with_data("GET_BATCH_STARTED", stop),
            "try:",
            "    state.batch = next(data_iter)",
            "except StopIteration:  # the data ended",
            "    if state.epoch_length is None:  # of unknown length: it ends the epoch",
            "        state.epoch_length = epoch_iteration",
            "        if state.max_iters is not None:",
            "            state.max_epochs = math.ceil(state.max_iters / epoch_iteration)",
            "        break",
            *_indent(self.with_data("DATALOADER_STOP_ITERATION", stop)),
            "    data_iter = new_data_iter(state)  # a new pass over the data",
            "    try:",
            "        state.batch = next(data_iter)",
            "    except StopIteration:  # empty too: the data is used up",
            "        warn_data_used_up(state)",
            "        break",
            "state.output = None",
            *self.with_data("GET_BATCH_COMPLETED", stop),
        ]

    def iteration(self) -> list[str]:
        return [
            "epoch_iteration += 1",
            "state.iteration += 1",
            *self.checked("ITERATION_STARTED", [_STOP, "    break"]),
            f"state.output = {self.process}(engine, state.batch)"
            + ("" if self.process == "process_function" else "  # the process function"),
            *self.event("ITERATION_COMPLETED"),
            _STOP,  # after ITERATION_COMPLETED always: the process function may have set them
            "    break",
            "if state.iteration == state.max_iters and epoch_iteration != state.epoch_length:",
            "    engine.should_terminate = True  # max_iters reached mid-epoch: stop",
            "    break",
        ]

    def epoch_end(self) -> list[str]:
        took = 'state.times["EPOCH_COMPLETED"] = time.perf_counter() - epoch_start'
        lines = [took]
        # Handlers of these events may call terminate() before EPOCH_COMPLETED's flags are read.
        if any(map(self.has, ["EPOCH_COMPLETED", "TERMINATE_SINGLE_EPOCH", "EXCEPTION_RAISED"])):
            lines += [
                'if engine.should_terminate_single_epoch != "skip_epoch_completed":',
                *_indent(
                    self.event("EPOCH_COMPLETED") + ["if engine.should_terminate:", "    break"]
                ),
            ]
        lines.append("engine.should_terminate_single_epoch = False")
        return lines + ([took] if self.has("EPOCH_COMPLETED") else [])

    def ending(self) -> list[str]:
        took = 'state.times["COMPLETED"] = time.perf_counter() - run_start'
        lines = []
        if self.has("TERMINATE"):
            lines += ["if engine.should_terminate:", *_indent(self.event("TERMINATE"))]
        lines.append(took)
        if self.has("COMPLETED"):
            lines += [
                'if engine.should_terminate != "skip_completed":',
                *_indent(self.event("COMPLETED") + [took]),
            ]
        return lines


# The helpers every written loop has, after its run function.
_HELPERS = '''

def finished(state):
    """Whether the run is done: max_iters, or else max_epochs, reached."""
    if state.max_iters is not None and state.iteration >= state.max_iters:
        return True
    return state.max_epochs is not None and state.epoch >= state.max_epochs


def new_data_iter(state):
    """A new pass over the data: epoch_length batches of None if there is no data."""
    # A DistributedSampler shuffles by (seed, epoch): told the epoch, it shuffles anew.
    set_epoch = getattr(getattr(state.dataloader, "sampler", None), "set_epoch", None)
    if callable(set_epoch):
        set_epoch(max(state.epoch - 1, 0))
    if state.dataloader is None:
        return itertools.repeat(None, state.epoch_length or 0)
    return iter(state.dataloader)


def warn_data_used_up(state):
    if not finished(state):
        total = state.max_iters or state.epoch_length * (state.max_epochs or 0)
        warnings.warn(
            "Data iterator can not provide data anymore but required total number of "
            f"iterations to run is not reached. Current iteration: {state.iteration} vs "
            f"Total iterations to run : {total}",
            stacklevel=4,
        )
'''

_TOO_EARLY = """
TERMINATE_EPOCH_TOO_EARLY = (
    "The method terminate_epoch() should not be called on Event.STARTED or Event.EPOCH_STARTED."
)
"""


def _header(engine: Engine, names: _Names) -> list[str]:
    """The text's docstring and imports, the names it binds, and what it does not write."""
    custom = [k for k, v in engine.event_handlers.items() if v and k not in Events.__members__]
    lines = [
        '"""What engine.run(data, max_epochs, max_iters, epoch_length) does with this engine.',
        "",
        "Written by miniengine.explain.as_loop(engine); its .run() runs this very text. Where",
        "a line `engine.last_event_name = Events.X` stands, the engine fires X: X's handlers",
        "follow, in the order they were attached, each under the `if` its filter stands for.",
        "Events without handlers are left out. After each event whose handlers ran, and after",
        "every iteration, the loop looks at the flags that terminate() and terminate_epoch() set.",
        '"""',
        "",
        "import itertools",
        "import math",
        "import time",
        "import warnings",
        "",
        "from miniengine import Events",
        "",
    ]
    if names.notes:
        lines.append("# The engine's objects, by the names used here:")
        lines += [f"#   {note}" for note in names.notes]
    lines += [
        "# Not written: a run that engine.run() would resume (after terminate() mid-run,",
        "# interrupt() or load_state_dict()), which LoopSource.run refuses; while this runs,",
        "# engine.interrupt(), set_data(), state_dict() and load_state_dict() raise",
        "# LoopSourceError. Left out: the engine's log messages, and its SIGTERM as SystemExit.",
    ]
    if custom:
        lines += [
            f"# Custom events ({', '.join(custom)}) fire where engine.fire_event() is called,",
            "# through the engine's own dispatch: their handlers are not written here.",
        ]
    if engine.event_handlers.get("INTERRUPT"):
        lines.append("# INTERRUPT has handlers, but a plain loop cannot pause: see above.")
    return lines


def _source(engine: Engine, names: _Names) -> str:
    writer = _Writer(engine, names)
    body = writer.run()
    uses_too_early = any("TERMINATE_EPOCH_TOO_EARLY" in line for line in body)
    lines = _header(engine, names)
    lines += ["", "", "def run(engine, data, max_epochs, max_iters, epoch_length):"]
    lines += _indent(
        [
            '"""The arguments come checked and completed as engine.run completes them:',
            "max_epochs is 1 unless max_iters is given; epoch_length is len(data) unless given",
            '(None if data has no length: the first epoch then ends with the data)."""',
        ]
        + body
    )
    text = "\n".join(lines) + "\n" + _HELPERS
    if writer.has("EXCEPTION_RAISED"):
        text += "\n\ndef exception_raised(engine, e):\n"
        text += '    """EXCEPTION_RAISED: its handlers get the exception."""\n'
        text += "\n".join(_indent(writer.event("EXCEPTION_RAISED"))) + "\n"
    if uses_too_early:
        text += "\n" + _TOO_EARLY
    return text


# ----------------------------------------------------------------------------- running it
def _length(data: Any) -> int | None:
    try:
        return len(data)
    except TypeError:
        return None


def _positive_int(x: Any) -> bool:
    return isinstance(x, numbers.Integral) and not isinstance(x, bool) and int(x) >= 1


def _check_limit(name: str, value: Any, progress: int) -> None:
    """As ``engine.run`` checks ``max_epochs`` / ``max_iters``, with its words."""
    if not _positive_int(value):
        raise ValueError(
            f"Argument {name} is invalid. Please, set a correct {name} positive value, "
            f"got {value!r}"
        )
    if value < progress:
        raise ValueError(
            f"Argument {name} should be greater than or equal to the start "
            f"{'epoch' if name == 'max_epochs' else 'iteration'} defined in the state: {value} vs "
            f"{progress}. Please, set engine.state.{name} = None before calling engine.run() in "
            "order to restart the training from the beginning."
        )


def _check_run_args(
    s: State, data: Any, max_epochs: Any, max_iters: Any, epoch_length: Any
) -> None:
    """As ``engine.run`` checks its arguments, with its words."""
    if data is not None and not isinstance(data, Iterable):
        raise TypeError(f"Argument data should be iterable, got {type(data).__name__}")
    if max_epochs is not None and max_iters is not None:
        raise ValueError(
            "Arguments max_iters and max_epochs are mutually exclusive. Please provide only "
            f"max_epochs or max_iters; got max_epochs={max_epochs}, max_iters={max_iters}."
        )
    if epoch_length is not None and not _positive_int(epoch_length):
        raise ValueError(f"Argument epoch_length should be a positive int, got {epoch_length!r}")
    for name, given, other in (("max_epochs", max_epochs, "max_iters"),
                               ("max_iters", max_iters, "max_epochs")):  # fmt: skip
        if given is not None and getattr(s, other) is not None:
            raise ValueError(
                f"To switch from {other} to {name} mode during resume, you must first reset "
                f"by setting 'engine.state.{other} = None' before calling run()."
            )


class LoopSource:
    """The loop ``as_loop(engine)`` wrote: ``.source`` to read, ``.run(...)`` to run it.

    The text is written once, from the handlers attached when ``as_loop`` was called; ``run``
    refuses to run it if they have changed since (call ``as_loop`` again).

    Args:
        engine: the engine whose run to write out.

    Example:
        >>> from miniengine import Engine, Events
        >>> engine = Engine(lambda engine, batch: batch)
        >>> def say(text):
        ...     print(text)
        >>> _ = engine.add_event_handler(Events.EPOCH_COMPLETED(once=2), say, "epoch 2 done")
        >>> loop = LoopSource(engine)
        >>> "if state.epoch == 2:" in loop.source and "say('epoch 2 done')" in loop.source
        True
        >>> loop.run([1, 2], max_epochs=3).epoch
        epoch 2 done
        3
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._names = _Names()
        self.source = _source(engine, self._names)
        self._snapshot = self._attached()
        self._refused: str | None = None
        self.filename = f"<as_loop of {handler_name(engine._process_function)} {id(self):x}>"

    @property
    def namespace(self) -> dict[str, Any]:
        """The engine's objects that the text calls by name (a copy)."""
        return dict(self._names.namespace)

    def __str__(self) -> str:
        return self.source

    def _attached(self) -> list[Any]:
        """What the text was written from: compared field by field, by identity."""
        handlers = self.engine.event_handlers
        entries = [entry for key in _LOOP_EVENTS for entry in handlers.get(key, ())]
        fields = [field for entry in entries for field in entry]
        lengths = [len(handlers.get(key, ())) for key in _LOOP_EVENTS]
        return [*fields, *lengths, self.engine._process_function, bool(self.engine.run_end_hooks)]

    def _changed(self) -> bool:
        now = self._attached()
        return len(now) != len(self._snapshot) or any(
            a is not b and not (type(a) in (int, bool) and a == b)
            for a, b in zip(now, self._snapshot, strict=True)
        )

    def run(
        self,
        data: Iterable | None = None,
        max_epochs: int | None = None,
        max_iters: int | None = None,
        epoch_length: int | None = None,
    ) -> State:
        """Run the written loop on the engine, as ``engine.run(...)`` would run a new run.

        Args:
            data: as for ``engine.run``.
            max_epochs: as for ``engine.run``.
            max_iters: as for ``engine.run``.
            epoch_length: as for ``engine.run``.

        Returns:
            The engine's ``state``.

        Raises:
            LoopSourceError: the handlers changed since ``as_loop``; the run would be a resume;
                or, during the run, something the loop cannot do (``interrupt()``,
                ``set_data()``, ``state_dict()``, ``load_state_dict()``, handlers attached to
                or removed from the loop's events).

        Example:
            >>> from miniengine import Engine
            >>> as_loop(Engine(lambda engine, batch: batch)).run([1, 2, 3], max_iters=5).output
            2
        """
        if self._changed():
            raise LoopSourceError(
                "The engine's handlers (or its process function or run_end_hooks) changed "
                "since as_loop(engine) wrote this loop: call as_loop(engine) again."
            )
        code = compile(self.source, self.filename, "exec")
        # Tracebacks through the written loop show its lines.
        linecache.cache[self.filename] = (
            len(self.source), None, self.source.splitlines(True), self.filename
        )  # fmt: skip
        namespace = {"__name__": "miniengine.as_loop.written", **self._names.namespace}
        exec(code, namespace)
        args = self._plan(namespace["finished"], data, max_epochs, max_iters, epoch_length)
        self._refused = None
        with self._refusing():
            state = namespace["run"](self.engine, data, *args)
        self._check_after()
        return state

    def _plan(self, finished: Callable, data: Any, max_epochs: Any, max_iters: Any,
              epoch_length: Any) -> tuple[int | None, int | None, int | None]:  # fmt: skip
        """Check the arguments as ``engine.run`` does, and complete them for a new run."""
        s = self.engine.state
        _check_run_args(s, data, max_epochs, max_iters, epoch_length)
        limit = "max_iters" if max_iters is not None or s.max_iters is not None else "max_epochs"
        old, given = getattr(s, limit), max_iters if limit == "max_iters" else max_epochs
        if old is not None:
            if given is not None:
                _check_limit(limit, given, s.epoch if limit == "max_epochs" else s.iteration)
            after = copy.copy(s)
            setattr(after, limit, old if given is None else given)
            if not finished(after) or self.engine.last_event_name is Events.INTERRUPT:
                raise LoopSourceError(
                    f"engine.run() would resume this run (epoch {s.epoch}, iteration "
                    f"{s.iteration}, {limit}={getattr(after, limit)}), after terminate(), "
                    "interrupt() or load_state_dict(); as_loop writes new runs only. Resume with "
                    f"engine.run(), or start anew: set engine.state.{limit} = None first."
                )
        if max_iters is None:
            max_epochs = max_epochs or 1
            _check_limit("max_epochs", max_epochs, 0)
        else:
            _check_limit("max_iters", max_iters, 0)
        length = epoch_length
        if length is None and data is not None:
            length = _length(data)
        if length == 0:
            raise ValueError("Input data has zero size. Please provide non-empty data")
        length = s.epoch_length if length is None else length
        if data is None and not length:
            raise ValueError("epoch_length should be provided if data is None")
        return max_epochs, max_iters, length

    @contextlib.contextmanager
    def _refusing(self) -> Iterator[None]:
        """While the loop runs, the engine's methods that it cannot honour raise."""
        engine, saved = self.engine, {}
        for method, why in _REFUSED.items():
            if method in vars(engine):
                saved[method] = vars(engine)[method]
            setattr(engine, method, self._refuse(method, why))
        try:
            yield
        finally:
            for method in _REFUSED:
                delattr(engine, method)
                if method in saved:
                    setattr(engine, method, saved[method])

    def _refuse(self, method: str, why: str) -> Callable[..., Any]:
        def refuse(*args: Any, **kwargs: Any) -> Any:
            self._refused = (
                f"engine.{method}() was called at epoch {self.engine.state.epoch}, iteration "
                f"{self.engine.state.iteration} of a run of the loop as_loop wrote: {why}. "
                "Use engine.run() for this run."
            )
            raise LoopSourceError(self._refused)

        return refuse

    def _check_after(self) -> None:
        """What the loop could not honour, if the run ended normally all the same (say, an
        EXCEPTION_RAISED handler took the error): the run did not do what engine.run does."""
        if self._refused is not None:
            raise LoopSourceError(self._refused)
        if self.engine.should_interrupt:
            raise LoopSourceError(
                f"interrupt() was called during the run ({_REFUSED['interrupt']}): the loop "
                "ran on to the end instead. Use engine.run() for this run."
            )
        if self._changed():
            raise LoopSourceError(
                "Handlers were attached to or removed from the engine during the run: the loop "
                "called only those attached when as_loop(engine) wrote it, where engine.run() "
                "would have called the new ones too."
            )


def as_loop(engine: Engine) -> LoopSource:
    """Write out the plain loop that ``engine.run`` amounts to for ``engine``, and run it.

    ``.source`` is Python: a loop over epochs and one over batches, counted as the engine
    counts them, the process function, each handler where the engine calls it under the ``if``
    its filter stands for, and the flags of ``terminate()`` / ``terminate_epoch()``.
    ``.run(data, max_epochs=None, max_iters=None, epoch_length=None)`` runs exactly that text
    on ``engine`` and returns ``engine.state``.

    Args:
        engine: the engine, with its handlers attached.

    Returns:
        A ``LoopSource``.

    Example:
        >>> from miniengine import Engine, Events
        >>> engine = Engine(lambda engine, batch: batch)
        >>> def say(text):
        ...     print(text)
        >>> _ = engine.add_event_handler(Events.ITERATION_COMPLETED(once=[2, 5]), say, "hi")
        >>> loop = as_loop(engine)
        >>> print([line.strip() for line in loop.source.splitlines() if "in (2, 5)" in line][0])
        if state.iteration in (2, 5):
        >>> loop.run(range(3), max_epochs=2).iteration
        hi
        hi
        6
    """
    return LoopSource(engine)
