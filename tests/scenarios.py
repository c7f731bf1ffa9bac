"""Engine scenarios run identically on miniengine and on Ignite (the oracle).

Each scenario takes the `Engine` and `Events` of one library and returns a trace: a list of
``(event name, epoch, iteration)`` and whatever else the scenario records. The tests compare
miniengine's trace with Ignite's when pytorch-ignite is installed, and with traces written by
hand otherwise.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

BUILTINS = [
    "STARTED", "EPOCH_STARTED", "GET_BATCH_STARTED", "GET_BATCH_COMPLETED",
    "DATALOADER_STOP_ITERATION", "ITERATION_STARTED", "ITERATION_COMPLETED", "EPOCH_COMPLETED",
    "COMPLETED", "TERMINATE", "TERMINATE_SINGLE_EPOCH", "INTERRUPT",
]  # fmt: skip


def record_all(engine: Any, Events: Any, trace: list) -> None:
    """Attach a recorder to every built-in event (but EXCEPTION_RAISED, which changes behaviour)."""
    for name in BUILTINS:
        event = getattr(Events, name)

        def rec(engine: Any, *args: Any, _name: str = name, **kwargs: Any) -> None:
            trace.append((_name, engine.state.epoch, engine.state.iteration, *kwargs.values()))

        engine.add_event_handler(event, rec)


def traced(Engine: Any, Events: Any, step: Callable = lambda e, b: b) -> tuple[Any, list]:
    trace: list = []
    engine = Engine(lambda e, b: (trace.append(("step", b)), step(e, b))[1])
    record_all(engine, Events, trace)
    return engine, trace


def two_epochs(Engine, Events):
    engine, trace = traced(Engine, Events)
    engine.run([1, 2], max_epochs=2)
    return trace


def epoch_length_shorter(Engine, Events):
    engine, trace = traced(Engine, Events)
    engine.run([1, 2, 3, 4, 5], max_epochs=3, epoch_length=2)
    return trace


def epoch_length_longer(Engine, Events):
    engine, trace = traced(Engine, Events)
    engine.run([1, 2], max_epochs=2, epoch_length=3)
    return trace


def generator_unknown_length(Engine, Events):
    engine, trace = traced(Engine, Events)

    def gen():
        yield from range(3)

    state = engine.run(gen(), max_epochs=2)
    return trace + [("epoch_length", state.epoch_length)]


def generator_with_epoch_length(Engine, Events):
    engine, trace = traced(Engine, Events)
    engine.run(iter(range(100)), max_epochs=3, epoch_length=4)
    return trace


def data_none(Engine, Events):
    engine, trace = traced(Engine, Events)
    engine.run(None, max_epochs=2, epoch_length=3)
    return trace


def max_iters(Engine, Events):
    engine, trace = traced(Engine, Events)
    state = engine.run([1, 2, 3], max_iters=5)
    return trace + [("max_epochs", state.max_epochs, state.max_iters)]


def max_iters_unknown_length(Engine, Events):
    engine, trace = traced(Engine, Events)
    state = engine.run((x for x in range(4)), max_iters=3)
    return trace + [("max_epochs", state.max_epochs, state.epoch_length)]


def resume_larger_max_epochs(Engine, Events):
    engine, trace = traced(Engine, Events)
    engine.run([1, 2], max_epochs=2)
    trace.append("second run")
    engine.run([1, 2], max_epochs=3)
    trace.append("third run: same max_epochs restarts")
    engine.run([1, 2], max_epochs=3)
    return trace


def terminate_at(event_name: str, once: int, skip: bool = False):
    def scenario(Engine, Events):
        engine, trace = traced(Engine, Events)
        event = getattr(Events, event_name)
        handler = lambda e: e.terminate(skip_completed=skip)  # noqa: E731
        engine.add_event_handler(event(once=once) if once else event, handler)
        engine.run([1, 2, 3], max_epochs=3)
        trace.append("resume")
        engine.run([1, 2, 3], max_epochs=3)
        return trace

    scenario.__name__ = f"terminate_{event_name.lower()}_{once}_{skip}"
    return scenario


def terminate_in_process_function(Engine, Events):
    def step(engine, batch):
        if engine.state.iteration == 4:
            engine.terminate()
        return batch

    engine, trace = traced(Engine, Events, step)
    engine.run([1, 2, 3], max_epochs=3)
    return trace


def terminate_epoch_at(event_name: str, skip: bool = False):
    def scenario(Engine, Events):
        engine, trace = traced(Engine, Events)

        def cut(engine):
            if engine.state.iteration in (2, 7):
                engine.terminate_epoch(skip_epoch_completed=skip)

        engine.add_event_handler(getattr(Events, event_name), cut)
        engine.run([1, 2, 3], max_epochs=3)
        return trace

    scenario.__name__ = f"terminate_epoch_{event_name.lower()}_{skip}"
    return scenario


def interrupt_at(event_name: str):
    def scenario(Engine, Events):
        engine, trace = traced(Engine, Events)

        def pause(engine):
            if engine.state.iteration in (2, 5) or (event_name == "EPOCH_STARTED"):
                engine.interrupt()

        engine.add_event_handler(getattr(Events, event_name), pause)
        for _ in range(8):
            state = engine.run([1, 2, 3], max_epochs=2)
            trace.append(("returned", state.epoch, state.iteration))
        return trace

    scenario.__name__ = f"interrupt_{event_name.lower()}"
    return scenario


def exception_handled_in_iteration(Engine, Events):
    def step(engine, batch):
        if engine.state.iteration == 2:
            raise RuntimeError("boom")
        return batch

    engine, trace = traced(Engine, Events, step)
    engine.add_event_handler(
        Events.EXCEPTION_RAISED, lambda e, exc: trace.append(("exc", str(exc)))
    )
    state = engine.run([1, 2, 3], max_epochs=2)
    return trace + [("end", state.epoch, state.iteration)]


def exception_handled_in_epoch_started(Engine, Events):
    engine, trace = traced(Engine, Events)

    def bad(engine):
        if engine.state.epoch == 2:
            raise ValueError("bad epoch")

    engine.add_event_handler(Events.EPOCH_STARTED, bad)
    engine.add_event_handler(Events.EXCEPTION_RAISED, lambda e, exc: trace.append(str(exc)))
    state = engine.run([1, 2], max_epochs=3)
    return trace + [("end", state.epoch, state.iteration)]


def filters(Engine, Events):
    trace: list = []
    engine = Engine(lambda e, b: None)
    forms: dict[str, Any] = {
        "every3": Events.ITERATION_COMPLETED(every=3),
        "once": Events.ITERATION_STARTED(once=[2, 7]),
        "between": Events.ITERATION_COMPLETED(after=2, before=9),
        "every_between": Events.ITERATION_COMPLETED(every=2, after=3, before=12),
        "custom": Events.GET_BATCH_STARTED(event_filter=lambda e, n: n in (0, 5)),
        "epoch_every2": Events.EPOCH_COMPLETED(every=2),
        "started": Events.STARTED(once=0) if False else Events.EPOCH_STARTED(once=3),
    }
    for label, event in forms.items():
        engine.add_event_handler(
            event, lambda e, _l=label: trace.append((_l, e.state.epoch, e.state.iteration))
        )
    engine.add_event_handler(
        Events.EPOCH_STARTED | Events.COMPLETED(once=4),
        lambda e: trace.append(("list", e.state.epoch, e.state.iteration)),
    )
    engine.run(range(4), max_epochs=4)
    return trace


def handler_args_and_binding(Engine, Events):
    trace: list = []
    engine = Engine(lambda e, b: None)
    engine.add_event_handler(Events.STARTED, lambda: trace.append("no engine"))
    engine.add_event_handler(Events.STARTED, lambda e, a, b=0: trace.append(("args", a, b)), 1, b=2)
    engine.add_event_handler(Events.STARTED, lambda a: trace.append(("one arg", a is engine)))
    engine.add_event_handler(Events.STARTED, lambda *a: trace.append(("varargs", len(a))))
    engine.add_event_handler(
        Events.TERMINATE_SINGLE_EPOCH, lambda e, iter_counter: trace.append(("tse", iter_counter))
    )
    engine.add_event_handler(Events.ITERATION_COMPLETED(once=2), lambda e: e.terminate_epoch())
    engine.run([1, 2, 3])
    return trace


def custom_events(Engine, Events, EventEnum):
    class Custom(EventEnum):
        STEP_DONE = "step_done"
        OTHER = "other"

    trace: list = []

    def step(engine, batch):
        engine.state.steps_done += 1
        engine.fire_event(Custom.STEP_DONE)
        engine.fire_event(Custom.OTHER)

    engine = Engine(step)
    engine.register_events(*Custom, event_to_attr={Custom.STEP_DONE: "steps_done"})
    engine.add_event_handler(
        Custom.STEP_DONE(every=2), lambda e: trace.append(("even", e.state.steps_done))
    )
    engine.add_event_handler(Custom.OTHER, lambda e: trace.append(("other", e.state.iteration)))
    engine.state.steps_done = 0
    engine.run([1, 2, 3, 4, 5])
    return trace


def load_state_dict_epoch_boundary(Engine, Events):
    engine, trace = traced(Engine, Events)
    engine.load_state_dict({"epoch_length": 3, "iteration": 3, "max_epochs": 3})
    engine.run([1, 2, 3])
    return trace


def set_data_mid_run(Engine, Events):
    engine, trace = traced(Engine, Events)
    engine.add_event_handler(Events.ITERATION_COMPLETED(once=2), lambda e: e.set_data([10, 20, 30]))
    engine.run([1, 2, 3], max_epochs=2)
    return trace


SCENARIOS = [
    two_epochs, epoch_length_shorter, epoch_length_longer, generator_unknown_length,
    generator_with_epoch_length, data_none, max_iters, max_iters_unknown_length,
    resume_larger_max_epochs, terminate_in_process_function,
    terminate_at("STARTED", 0), terminate_at("EPOCH_STARTED", 2),
    terminate_at("GET_BATCH_STARTED", 4), terminate_at("GET_BATCH_COMPLETED", 4),
    terminate_at("ITERATION_STARTED", 5), terminate_at("ITERATION_COMPLETED", 5),
    terminate_at("ITERATION_COMPLETED", 5, skip=True), terminate_at("EPOCH_COMPLETED", 1),
    terminate_at("COMPLETED", 0),
    terminate_epoch_at("ITERATION_COMPLETED"), terminate_epoch_at("ITERATION_STARTED", True),
    terminate_epoch_at("GET_BATCH_STARTED"), terminate_epoch_at("GET_BATCH_COMPLETED", True),
    interrupt_at("ITERATION_COMPLETED"), interrupt_at("ITERATION_STARTED"),
    interrupt_at("GET_BATCH_STARTED"), interrupt_at("EPOCH_STARTED"),
    exception_handled_in_iteration, exception_handled_in_epoch_started, filters,
    handler_args_and_binding, load_state_dict_epoch_boundary, set_data_mid_run,
]  # fmt: skip
