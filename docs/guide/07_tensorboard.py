"""Stage 7: the TensorBoard logger. A logger is a set of handlers that write to a SummaryWriter."""

import tempfile

from common import make_data, make_model, train_step
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from miniengine import Engine, Events
from miniengine.explain import describe
from miniengine.handlers import TensorboardLogger
from miniengine.metrics import RunningAverage

data = make_data()
model, optimizer = make_model()


def step(engine, batch):
    return train_step(model, optimizer, batch)


trainer = Engine(step)
RunningAverage(output_transform=lambda loss: loss).attach(trainer, "running_loss")

with tempfile.TemporaryDirectory() as log_dir:
    with TensorboardLogger(log_dir=log_dir) as tb_logger:
        tb_logger.attach_output_handler(
            trainer,
            Events.ITERATION_COMPLETED(every=2),
            tag="train",
            output_transform=lambda loss: {"loss": loss},
        )
        tb_logger.attach_output_handler(
            trainer, Events.EPOCH_COMPLETED, tag="train", metric_names=["running_loss"]
        )
        tb_logger.attach_opt_params_handler(trainer, Events.EPOCH_STARTED, optimizer)
        print(describe(trainer))
        trainer.run(data, max_epochs=3)

    # Read the event file back, as TensorBoard would.
    events = EventAccumulator(log_dir)
    events.Reload()
    for tag in sorted(events.Tags()["scalars"]):
        print(f"{tag:20} steps {[e.step for e in events.Scalars(tag)]}")
