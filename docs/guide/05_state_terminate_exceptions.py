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


class _Terminate(BaseException):
    """Thrown into the schedule when a handler called terminate(). A BaseException, so that
    the schedule's `except Exception` lets it through."""


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

    def run(self, data, max_epochs: int = 1) -> State:
        self._drive(self._schedule(data, max_epochs))
        return self.state

    def _schedule(self, data, max_epochs: int):
        """The events of a run, in order: stage 3's loop with `yield` for `fire_event`."""
        s = self.state
        try:
            yield Events.STARTED
            while s.epoch < max_epochs:
                s.epoch += 1
                yield Events.EPOCH_STARTED
                try:
                    for batch in data:
                        s.iteration += 1
                        yield Events.ITERATION_STARTED
                        s.output = self.process_function(self, batch)
                        yield Events.ITERATION_COMPLETED
                except Exception as e:  # inside an epoch: handlers see it, the epoch ends
                    if not self.handlers[Events.EXCEPTION_RAISED]:
                        raise
                    self.fire_event(Events.EXCEPTION_RAISED, e)
                yield Events.EPOCH_COMPLETED
        except _Terminate:  # thrown in where the event was yielded
            self.fire_event(Events.TERMINATE)  # no EPOCH_COMPLETED for the epoch that was cut
        self.fire_event(Events.COMPLETED)

    def _drive(self, schedule) -> None:
        """Fire each event the schedule yields, then look at the flag. A stop, or a handler's
        exception, is thrown into the schedule at the `yield` of the event: its `try` blocks
        decide what happens next."""
        event = next(schedule)
        while True:
            try:
                self.fire_event(event)
                error = _Terminate() if self.should_terminate else None
            except Exception as e:
                error = e
            try:
                event = next(schedule) if error is None else schedule.throw(error)
            except StopIteration:  # the schedule is over: so is the run
                return


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
