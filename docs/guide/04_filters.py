"""Stage 4: filters. `Events.X(every=2)` is the event X plus a tiny function of a counter."""

from collections import defaultdict

from common import make_data, make_model, train_step

from miniengine import Engine as RealEngine
from miniengine import Events as RealEvents
from miniengine.engine.events import Every


# A filter is a function (engine, count) -> bool. Three closures cover every form.
def _every(n):
    return lambda engine, count: count % n == 0


def _once(counts):
    return lambda engine, count: count in counts


def _between(after, before, every):
    # Strict bounds; `every` counts from the first value after `after`.
    return lambda engine, count: after < count < before and (count - after - 1) % every == 0


class Event:
    """An event name; calling it makes a filtered copy with the same name."""

    def __init__(self, name, event_filter=None):
        self.name, self.filter = name, event_filter

    def __call__(self, every=None, once=None, before=None, after=None):
        if once is not None:
            return Event(self.name, _once(once))
        if before is not None or after is not None:
            before = float("inf") if before is None else before
            return Event(self.name, _between(after or 0, before, every or 1))
        return Event(self.name, _every(every))


STARTED, EPOCH_STARTED, EPOCH_COMPLETED, COMPLETED = (
    Event(n) for n in ("STARTED", "EPOCH_STARTED", "EPOCH_COMPLETED", "COMPLETED")
)
ITERATION_STARTED, ITERATION_COMPLETED = Event("ITERATION_STARTED"), Event("ITERATION_COMPLETED")
# Which state counter each event's filter looks at: one table.
COUNTER = {"ITERATION_STARTED": "iteration", "ITERATION_COMPLETED": "iteration"}


class State:
    def __init__(self) -> None:
        self.epoch = 0
        self.iteration = 0
        self.output = None


class Engine:
    def __init__(self, process_function) -> None:
        self.process_function = process_function
        self.state = State()
        self.handlers = defaultdict(list)  # event name -> [(handler, args, filter)]

    def add_event_handler(self, event, handler, *args) -> None:
        self.handlers[event.name].append((handler, args, event.filter))

    def fire_event(self, event) -> None:
        count = getattr(self.state, COUNTER.get(event.name, "epoch"))
        for handler, args, event_filter in self.handlers[event.name]:
            if event_filter is None or event_filter(self, count):
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


def log_loss(engine):  # no counter test any more: the filter does it
    print(f"iteration {engine.state.iteration:2d}  loss {engine.state.output:.2f}")


trainer.add_event_handler(ITERATION_COMPLETED(every=2), log_loss)
trainer.add_event_handler(EPOCH_COMPLETED(once=[3]), lambda e: print("epoch 3 is over"))
trainer.run(data, max_epochs=3)

# The same filters, built by miniengine, fire at the same counts. There they are small objects
# with readable fields, which also know the next count at which they fire.
for kwargs in [{"every": 3}, {"once": [2, 7]}, {"after": 3, "before": 12, "every": 2}]:
    ours = ITERATION_COMPLETED(**kwargs).filter
    real = RealEvents.ITERATION_COMPLETED(**kwargs).filter
    counts = [n for n in range(1, 21) if ours(None, n)]
    same = counts == [n for n in range(1, 21) if real(None, n)]
    print(f"({', '.join(f'{k}={v}' for k, v in kwargs.items())}) fires at {counts}; "
          f"same in miniengine: {same}")  # fmt: skip
    print(f"    miniengine's filter {real!r}, next_after(4) = {real.next_after(4)}")


class CountedEvery(Every):
    """miniengine's `every` filter, counting how often the engine calls it."""

    calls = 0

    def __call__(self, engine, count) -> bool:
        CountedEvery.calls += 1
        return super().__call__(engine, count)


real_engine = RealEngine(lambda engine, batch: None)
fired = []
every100 = RealEvents.ITERATION_COMPLETED(event_filter=CountedEvery(100))
real_engine.add_event_handler(every100, lambda engine: fired.append(engine.state.iteration))
real_engine.run(None, max_epochs=1, epoch_length=1000)
print(f"every=100 over 1000 iterations: fired {len(fired)} times, filter called "
      f"{CountedEvery.calls} times")  # fmt: skip
