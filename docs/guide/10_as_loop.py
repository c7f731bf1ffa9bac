"""The loop behind the engine: as_loop() writes out what engine.run() does, and runs it."""

import torch
from common import make_data, make_model, train_step

from miniengine import Engine, Events
from miniengine.explain import as_loop
from miniengine.metrics import Loss, RunningAverage

data = make_data()


def build_trainer():
    """Stage 9's trainer, with an epoch cut short when the loss is low; a new model each time."""
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
    trainer.state.logged = []

    @trainer.on(Events.ITERATION_COMPLETED(every=2))
    def log_loss(engine):
        engine.state.logged.append(round(engine.state.metrics["loss"], 3))

    @trainer.on(Events.ITERATION_COMPLETED)
    def enough_for_this_epoch(engine):
        if engine.state.output < 0.1:
            engine.terminate_epoch()

    @trainer.on(Events.EPOCH_COMPLETED)
    def run_validation(engine):
        evaluator.run(data[:2])
        engine.state.logged.append(("mse", round(evaluator.state.metrics["mse"], 3)))

    return trainer, model


trainer, model = build_trainer()
loop = as_loop(trainer)
# The run function, without the file's header and the three helpers after it.
run_function = loop.source[loop.source.index("def run(") : loop.source.index("\n\ndef finished")]
print(run_function)

state = loop.run(data, max_epochs=3)

# The same trainer, built again from scratch, run by the engine itself.
twin, twin_model = build_trainer()
twin.run(data, max_epochs=3)
same = state.logged == twin.state.logged and state.iteration == twin.state.iteration
same = same and torch.equal(model.weight, twin_model.weight)
print()
print(f"epochs {state.epoch}, iterations {state.iteration}; logged: {state.logged}")
print("same log, iterations and weights as engine.run():", same)
