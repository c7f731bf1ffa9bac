"""What happens in one iteration: describe() a small realistic trainer, then trace it."""

import tempfile

import torch
from common import make_data, make_model, train_step

from miniengine import Engine, Events
from miniengine.explain import describe, trace
from miniengine.handlers import Checkpoint
from miniengine.metrics import Loss, RunningAverage

data = make_data()
model, optimizer = make_model()


def step(engine, batch):
    return train_step(model, optimizer, batch)


def evaluate_step(engine, batch):
    x, y = batch
    with torch.no_grad():
        return model(x), y


trainer, evaluator = Engine(step), Engine(evaluate_step)
RunningAverage(output_transform=lambda loss: loss).attach(trainer, "loss")
Loss(torch.nn.functional.mse_loss).attach(evaluator, "mse")


@trainer.on(Events.ITERATION_COMPLETED(every=2))
def log_loss(engine):
    pass  # a real trainer would print or log engine.state.metrics["loss"]


@trainer.on(Events.EPOCH_COMPLETED)
def run_validation(engine):
    evaluator.run(data[:2])


with tempfile.TemporaryDirectory() as d:
    checkpoint = Checkpoint({"model": model, "trainer": trainer}, d, n_saved=1)
    trainer.add_event_handler(Events.ITERATION_COMPLETED(every=3), checkpoint)
    trainer.add_event_handler(Events.COMPLETED, checkpoint)
    print(describe(trainer))
    with trace(trainer, window=100) as t:
        trainer.run(data, max_epochs=2)

# Iteration 4, the last of epoch 1: from fetching its batch to the end of the epoch.
names = [(e.event, e.iteration) for e in t.events]
first, last = names.index(("GET_BATCH_STARTED", 3)), names.index(("EPOCH_COMPLETED", 4))
print()
print(t.timeline(t.events[first : last + 1], times=False))
print()
print("events fired:", ", ".join(f"{name} {n}" for name, n in t.counts.items()))
