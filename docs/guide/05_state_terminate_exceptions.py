"""Stage 5: the State, stopping a run with terminate(), and exceptions.

Filters are left out here to keep the engine short; stage 4 showed them.
"""

from collections import defaultdict
from types import SimpleNamespace

from common import make_data, make_model, train_step

import miniengine

NAMES = ["STARTED", "EPOCH_STARTED", "ITERATION_STARTED", "ITERATION_COMPLETED",
         "EPOCH_COMPLETED", "COMPLETED", "TERMINATE", "EXCEPTION_RAISED"]  # fmt: skip
Events = SimpleNamespace(**{name: name for name in NAMES})  # this stage's events are strings


class _Terminate(Exception):
    """Raised after an event's handlers when one of them called terminate()."""


class State:
    def __init__(self) -> None:
        self.epoch = 0
        self.iteration = 0
        self.output = None


class Engine:
    def __init__(self, process_function) -> None:
        self.process_function = process_function
        self.state = State()
        self.handlers = defaultdict(list)
        self.should_terminate = False

    def add_event_handler(self, event, handler, *args) -> None:
        self.handlers[event].append((handler, args))

    def terminate(self) -> None:
        self.should_terminate = True  # only a flag: the run stops after the current event

    def fire_event(self, event, *event_args) -> None:
        for handler, args in self.handlers[event]:
            handler(self, *event_args, *args)
        if self.should_terminate and event not in (Events.TERMINATE, Events.COMPLETED):
            raise _Terminate

    def run(self, data, max_epochs: int = 1) -> State:
        s = self.state
        try:
            self.fire_event(Events.STARTED)
            while s.epoch < max_epochs:
                s.epoch += 1
                self.fire_event(Events.EPOCH_STARTED)
                try:
                    for batch in data:
                        s.iteration += 1
                        self.fire_event(Events.ITERATION_STARTED)
                        s.output = self.process_function(self, batch)
                        self.fire_event(Events.ITERATION_COMPLETED)
                except _Terminate:
                    raise
                except Exception as e:  # inside an epoch: handlers see it, the epoch ends
                    if not self.handlers[Events.EXCEPTION_RAISED]:
                        raise
                    self.fire_event(Events.EXCEPTION_RAISED, e)
                self.fire_event(Events.EPOCH_COMPLETED)
        except _Terminate:
            self.fire_event(Events.TERMINATE)  # no EPOCH_COMPLETED for the epoch that was cut
        self.fire_event(Events.COMPLETED)
        return s


def scenario(Engine, Events):
    """Train, stop at iteration 6, fail once at iteration 3: the events that fire."""
    data = make_data()
    model, optimizer = make_model()

    def step(engine, batch):
        if engine.state.iteration == 3:
            raise ValueError("a bad batch")
        return train_step(model, optimizer, batch)

    engine = Engine(step)
    seen = []
    for name in NAMES[:-1]:

        def record(engine, name=name):
            seen.append((name, engine.state.epoch, engine.state.iteration))

        engine.add_event_handler(getattr(Events, name), record)
    engine.add_event_handler(Events.EXCEPTION_RAISED, lambda e, exc: seen.append((repr(exc),)))
    engine.add_event_handler(
        Events.ITERATION_COMPLETED, lambda e: e.terminate() if e.state.iteration == 6 else None
    )
    state = engine.run(data, max_epochs=3)
    return seen, state


ours, state = scenario(Engine, Events)
for entry in ours:
    print(*entry)
print(f"stopped at epoch {state.epoch}, iteration {state.iteration}")
real, real_state = scenario(miniengine.Engine, miniengine.Events)
print("same events in miniengine:", ours == real)
