"""Stage 8: checkpoints and resume. A crashed run, resumed from its last checkpoint, ends
exactly where an uninterrupted run ends."""

import tempfile
from pathlib import Path

import torch
from common import make_data, make_model, train_step

from miniengine import Engine, Events
from miniengine.handlers import Checkpoint


def train(checkpoint_dir: Path, crash_at: int | None = None, resume: Path | None = None):
    data = make_data()
    model, optimizer = make_model()
    seen = []

    def step(engine, batch):
        if engine.state.iteration == crash_at:
            raise RuntimeError(f"crash at iteration {crash_at}")
        seen.append(engine.state.iteration)
        return train_step(model, optimizer, batch)

    trainer = Engine(step)
    to_save = {"model": model, "optimizer": optimizer, "trainer": trainer}
    checkpoint = Checkpoint(to_save, checkpoint_dir, n_saved=1)
    trainer.add_event_handler(Events.ITERATION_COMPLETED(every=3), checkpoint)
    if resume is not None:
        Checkpoint.load_objects(to_save, resume)  # the trainer too: its counters and position
    try:
        trainer.run(data, max_epochs=3)
    except RuntimeError as e:
        print(f"{e}; last checkpoint {checkpoint.last_checkpoint.name}")
    return model, seen, checkpoint.last_checkpoint


with tempfile.TemporaryDirectory() as d:
    full_model, full_seen, _ = train(Path(d) / "full")
    _, first_seen, last = train(Path(d) / "crashed", crash_at=8)
    print("trainer state in it:", dict(torch.load(last, weights_only=True)["trainer"]))
    resumed_model, resumed_seen, _ = train(Path(d) / "resumed", resume=last)

print("iterations run before the crash:", first_seen)
print("iterations run after resuming:  ", resumed_seen)
pairs = zip(full_model.parameters(), resumed_model.parameters(), strict=True)
same = all(torch.equal(a, b) for a, b in pairs)
print("same weights as the uninterrupted run:", same)
