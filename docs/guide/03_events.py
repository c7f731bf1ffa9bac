"""Stage 3: events and handlers. The engine announces each step; handlers listen."""

from collections import defaultdict

from common import make_data, make_model, train_step

STARTED, EPOCH_STARTED, ITERATION_STARTED = "STARTED", "EPOCH_STARTED", "ITERATION_STARTED"
ITERATION_COMPLETED, EPOCH_COMPLETED, COMPLETED = (
    "ITERATION_COMPLETED",
    "EPOCH_COMPLETED",
    "COMPLETED",
)


class State:
    def __init__(self) -> None:
        self.epoch = 0
        self.iteration = 0
        self.output = None


class Engine:
    def __init__(self, process_function) -> None:
        self.process_function = process_function
        self.state = State()
        self.handlers = defaultdict(list)  # event -> [(handler, args)]

    def add_event_handler(self, event, handler, *args) -> None:
        self.handlers[event].append((handler, args))

    def on(self, event, *args):
        def decorator(handler):
            self.add_event_handler(event, handler, *args)
            return handler

        return decorator

    def fire_event(self, event) -> None:
        for handler, args in self.handlers[event]:
            handler(self, *args)

    def run(self, data, max_epochs: int = 1) -> State:
        s = self.state
        self.fire_event(STARTED)
        while s.epoch < max_epochs:
            s.epoch += 1
            self.fire_event(EPOCH_STARTED)
            for batch in data:
                s.iteration += 1
                self.fire_event(ITERATION_STARTED)
                s.output = self.process_function(self, batch)
                self.fire_event(ITERATION_COMPLETED)
            self.fire_event(EPOCH_COMPLETED)
        self.fire_event(COMPLETED)
        return s


data = make_data()
model, optimizer = make_model()
trainer = Engine(lambda engine, batch: train_step(model, optimizer, batch))


@trainer.on(ITERATION_COMPLETED)
def log_loss(engine):
    if engine.state.iteration % 2 == 0:  # the counter test is still ours to write: stage 4
        print(f"epoch {engine.state.epoch} iteration {engine.state.iteration:2d}  "
              f"loss {engine.state.output:.2f}")  # fmt: skip


def report(engine, what):
    print(f"{what} after {engine.state.iteration} iterations")


trainer.add_event_handler(EPOCH_COMPLETED, report, "end of epoch")
trainer.add_event_handler(COMPLETED, report, "done")
trainer.run(data, max_epochs=3)
