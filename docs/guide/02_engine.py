"""Stage 2: an engine that owns the loop and only calls a process function."""

from common import make_data, make_model, train_step


class State:
    """What the engine knows about the run; the process function can read it."""

    def __init__(self) -> None:
        self.epoch = 0
        self.iteration = 0
        self.output = None


class Engine:
    def __init__(self, process_function) -> None:
        self.process_function = process_function
        self.state = State()

    def run(self, data, max_epochs: int = 1) -> State:
        s = self.state
        while s.epoch < max_epochs:
            s.epoch += 1
            for batch in data:
                s.iteration += 1
                s.output = self.process_function(self, batch)
        return s


data = make_data()
model, optimizer = make_model()
trainer = Engine(lambda engine, batch: train_step(model, optimizer, batch))
state = trainer.run(data, max_epochs=3)
print(f"epochs {state.epoch}, iterations {state.iteration}, last loss {state.output:.2f}")
# The loop is gone from user code, but so is every place to log, evaluate or save:
# stage 3 gives the engine events to hook those in.
