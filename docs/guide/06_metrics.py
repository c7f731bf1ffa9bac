"""Stage 6: metrics. A metric is reset / update / compute; attach() hooks those to events."""

from common import make_data, make_model, train_step

from miniengine import Engine, Events
from miniengine.explain import describe
from miniengine.metrics import Metric, RunningAverage


class MeanLoss(Metric):
    """The mean of the losses of an epoch: a metric written by hand."""

    def reset(self) -> None:
        self.total, self.count = 0.0, 0

    def update(self, output: float) -> None:
        self.total += output
        self.count += 1

    def compute(self) -> float:
        return self.total / self.count


data = make_data()
model, optimizer = make_model()


def step(engine, batch):
    return train_step(model, optimizer, batch)


trainer = Engine(step)
MeanLoss().attach(trainer, "mean_loss")  # reset each epoch, update each iteration, write at its end
RunningAverage(output_transform=lambda loss: loss, alpha=0.5).attach(trainer, "running_loss")

losses, running = [], []


@trainer.on(Events.ITERATION_COMPLETED)
def keep(engine):
    losses.append(engine.state.output)
    running.append(engine.state.metrics["running_loss"])


@trainer.on(Events.EPOCH_COMPLETED)
def report(engine):
    m = engine.state.metrics
    print(f"epoch {engine.state.epoch}: mean loss {m['mean_loss']:.3f}, "
          f"running loss {m['running_loss']:.3f}")  # fmt: skip


print(describe(trainer))  # what the two attach() calls registered
trainer.run(data, max_epochs=3)

# RunningAverage's formula, checked by hand: the first value as is, then a*old + (1-a)*new.
expected = [losses[0]]
for loss in losses[1:]:
    expected.append(0.5 * expected[-1] + 0.5 * loss)
same = all(abs(a - b) < 1e-12 for a, b in zip(expected, running, strict=True))
print("running_loss follows the formula:", same)
