"""Kill-and-resume tests of miniengine.handlers.checkpoint, run the way docs/resume.md says.

A small training script (``train`` below: a DataLoader with a seeded sampler and random
augmentations, dropout, Adam, an LR schedule stepped every iteration, a RunningAverage of the
loss, a ``Checkpoint`` every 4 iterations, and the recipe's
``find_latest`` / ``load_objects`` / ``run``) runs as a child process. At chosen points the child
says where it is and waits; this process then kills it with a real signal and starts it again,
until a run ends. Then, compared with a run that was never stopped: the final weights are
bit-identical, every logged running-average value (one line per iteration, written before each
kill too) is identical, no checkpoint file is corrupt, ``n_saved`` holds and no temporary file is
left. The points are: after an iteration (``step@i``), halfway through writing the checkpoint of
iteration i (``write@i``), and after that checkpoint is written but before the one it replaces is
removed (``remove@i``).

Run ``python tests/test_resume.py trials 30`` for a batch of random trials with a summary.
"""

from __future__ import annotations

import io
import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from miniengine.engine import Events
from miniengine.handlers import Checkpoint, DiskSaver, RNGState, TensorboardLogger
from miniengine.metrics import RunningAverage
from miniengine.supervised import create_supervised_trainer

EPOCHS, BATCHES, EVERY, N_SAVED = 3, 8, 4, 2  # 24 iterations, checkpoints at 4, 8, ..., 24
ITERATIONS = EPOCHS * BATCHES
STOP = "RESUME_TEST_STOP"  # environment variable: "<kind>@<iteration>", the point to wait at


class Noisy(Dataset):
    """Samples with noise drawn from the global torch and numpy generators at each fetch."""

    def __init__(self) -> None:
        generator = torch.Generator().manual_seed(1)
        self.x = torch.randn(BATCHES * 8, 6, generator=generator)
        self.y = (self.x.sum(dim=1) > 0).long()

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.x[i] + 0.1 * torch.randn(6) + float(np.random.rand()) / 10, self.y[i]


def train(
    ckpt_dir: Path, log_path: Path, stop: str = "", tb_dir: Path | None = None
) -> dict[str, torch.Tensor]:
    """The docs/resume.md recipe; returns the final weights. ``stop``: where to wait (see top);
    ``tb_dir``: also log the running average to TensorBoard there."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the same summation order in every process
    try:
        return _train(ckpt_dir, log_path, stop, tb_dir)
    finally:
        torch.set_num_threads(threads)


def _train(ckpt_dir: Path, log_path: Path, stop: str, tb_dir: Path | None):
    torch.manual_seed(0)
    random.seed(0)
    np.random.seed(0)
    dataset = Noisy()
    sampler = DistributedSampler(dataset, num_replicas=1, rank=0, shuffle=True, seed=0)
    loader = DataLoader(dataset, batch_size=8, sampler=sampler)
    model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 2))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=0.95)
    trainer = create_supervised_trainer(model, optimizer, nn.CrossEntropyLoss())
    kind, _, at = stop.partition("@")
    if kind == "step":  # before the handlers below, so iteration `at` is neither logged nor saved
        trainer.add_event_handler(Events.ITERATION_COMPLETED(once=int(at)), _wait_for_signal)
    trainer.add_event_handler(Events.ITERATION_COMPLETED, lambda: scheduler.step())
    average = RunningAverage(output_transform=lambda loss: loss, alpha=0.9)
    average.attach(trainer, "loss")
    with open(log_path, "a") as log:

        @trainer.on(Events.ITERATION_COMPLETED)
        def log_average(engine):
            log.write(f"{engine.state.iteration} {engine.state.metrics['loss']!r}\n")
            log.flush()  # in the kernel's hands: a SIGKILL does not lose it

        if tb_dir is not None:
            tb_logger = TensorboardLogger(log_dir=str(tb_dir))
            tb_logger.attach_output_handler(
                trainer, Events.ITERATION_COMPLETED, tag="training", metric_names=["loss"]
            )

        to_save = {
            "trainer": trainer,
            "model": model,
            "optimizer": optimizer,
            "scheduler": scheduler,
            "loss_average": average,
            "rng": RNGState(trainer),
        }
        saver = _StoppingSaver(ckpt_dir, trainer, stop)
        checkpoint = Checkpoint(to_save, saver, n_saved=N_SAVED)
        trainer.add_event_handler(Events.ITERATION_COMPLETED(every=EVERY), checkpoint)

        latest = checkpoint.find_latest()
        if latest is not None:
            Checkpoint.load_objects(to_save, latest)
        trainer.run(loader, max_epochs=EPOCHS)
    return model.state_dict()


class _StoppingSaver(DiskSaver):
    """A DiskSaver that waits for a signal halfway through one write, or before one removal."""

    def __init__(self, dirname: Path, trainer, stop: str) -> None:
        super().__init__(dirname, require_empty=False)
        self.trainer, self.stop = trainer, stop

    def __call__(self, checkpoint, filename, metadata=None) -> None:
        if self.stop != f"write@{self.trainer.state.iteration}":
            return super().__call__(checkpoint, filename, metadata)
        real_save = torch.save

        def half_then_wait(obj, f, **kwargs):  # DiskSaver's torch.save, into its temporary file
            buffer = io.BytesIO()
            real_save(obj, buffer, **kwargs)
            f.write(buffer.getvalue()[: buffer.tell() // 2])
            f.flush()
            os.fsync(f.fileno())
            _wait_for_signal()

        torch.save = half_then_wait
        try:
            super().__call__(checkpoint, filename, metadata)
        finally:
            torch.save = real_save

    def remove(self, filename: str) -> None:
        if self.stop == f"remove@{self.trainer.state.iteration}":
            _wait_for_signal()
        super().remove(filename)


def _wait_for_signal(*args) -> None:
    """Say where we are, then block until the parent's signal (or its end: stdin closes)."""
    print(f"STOP {os.environ[STOP]}", flush=True)
    sys.stdin.read()
    os._exit(3)  # the parent went away without a signal: never go on


# --------------------------------------------------------------------------- the parent side


def _child(ckpt_dir: Path, log_path: Path, out: Path, stop: str, tb_dir: Path | None = None):
    args = [sys.executable, __file__, "train", str(ckpt_dir), str(log_path), str(out)]
    if tb_dir is not None:
        args.append(str(tb_dir))
    env = {**os.environ, STOP: stop}
    stderr = open(log_path.with_suffix(".stderr"), "a")  # a file: a full pipe cannot block it
    proc = subprocess.Popen(
        args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, text=True, env=env
    )
    stderr.close()
    return proc


def _stderr(log_path: Path) -> str:
    return log_path.with_suffix(".stderr").read_text()[-3000:]


def _kill_at(proc, stop: str, how: int, log_path: Path) -> int:
    line = proc.stdout.readline()  # blocks until the child reaches its point (or dies)
    assert line == f"STOP {stop}\n", f"child said {line!r}\n{_stderr(log_path)}"
    proc.send_signal(how)
    proc.stdin.close()
    return proc.wait(timeout=300)


def check_directory(ckpt_dir: Path) -> dict[str, int]:
    """Counts of checkpoint files, files that do not load, and temporary files in ckpt_dir."""
    names = os.listdir(ckpt_dir)
    pt = [n for n in names if n.endswith(".pt")]
    corrupt = 0
    for name in pt:
        try:
            Checkpoint.load_objects({"model": _Sink()}, ckpt_dir / name)  # verifies the checksums
        except RuntimeError:
            corrupt += 1
    temporary = [n for n in names if n.startswith(".") and n.endswith(".tmp")]
    return {"files": len(pt), "corrupt": corrupt, "temporary": len(temporary)}


class _Sink:
    """Accepts any state: load_objects then only reads and verifies the file."""

    def load_state_dict(self, state) -> None:
        pass


def _read_log(log_path: Path) -> dict[int, list[str]]:
    values: dict[int, list[str]] = {}
    for line in log_path.read_text().splitlines():
        iteration, value = line.split()
        values.setdefault(int(iteration), []).append(value)
    return values


def run_trial(tmp: Path, stops: list[str]) -> dict:
    """Run the script, stopping it with SIGKILL at each of ``stops`` in turn, then to its end."""
    ckpt, log, out = tmp / "ckpt", tmp / "log.txt", tmp / "final.pt"
    tmp.mkdir(parents=True, exist_ok=True)
    after_kills = []
    for stop in stops:
        code = _kill_at(_child(ckpt, log, out, stop), stop, signal.SIGKILL, log)
        assert code == -signal.SIGKILL, _stderr(log)
        after_kills.append(check_directory(ckpt))
    proc = _child(ckpt, log, out, "")
    proc.stdin.close()
    assert proc.wait(timeout=600) == 0, _stderr(log)
    return {
        "weights": torch.load(out, weights_only=True),
        "log": _read_log(log),
        "after_kills": after_kills,
        "at_end": check_directory(ckpt),
    }


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The run that is never stopped, in this process: its weights and running averages."""
    tmp = tmp_path_factory.mktemp("reference")
    weights = train(tmp / "ckpt", tmp / "log.txt")
    log = _read_log(tmp / "log.txt")
    assert sorted(log) == list(range(1, ITERATIONS + 1))
    return weights, {iteration: values[0] for iteration, values in log.items()}


def compare(reference, trial: dict) -> dict[str, bool]:
    weights, averages = reference
    same_weights = weights.keys() == trial["weights"].keys() and all(
        torch.equal(weights[k], trial["weights"][k]) for k in weights
    )
    logged = trial["log"]
    same_averages = sorted(logged) == sorted(averages) and all(
        value == averages[i] for i, values in logged.items() for value in values
    )
    return {"weights": same_weights, "averages": same_averages}


# Each kind of stop: in the first write (no checkpoint yet: start over), after a step in the
# middle of an epoch, in a write with older checkpoints, between a write and a removal (three
# files on disk), and after the last checkpoint (the resumed run is finished: it must not train).
STOPS = ["write@4", "step@6", "write@12", "remove@16", "remove@24"]


def test_sigkill_anywhere_then_resume_equals_an_uninterrupted_run(tmp_path, reference):
    trial = run_trial(tmp_path, STOPS)
    assert compare(reference, trial) == {"weights": True, "averages": True}
    for state in trial["after_kills"]:  # one new file may wait for the removal of an old one
        assert state["corrupt"] == 0 and state["files"] <= N_SAVED + 1
    assert [state["temporary"] for state in trial["after_kills"]] == [1, 0, 1, 0, 0]
    assert trial["at_end"] == {"files": N_SAVED, "corrupt": 0, "temporary": 0}
    assert sorted(os.listdir(tmp_path / "ckpt")) == ["checkpoint_20.pt", "checkpoint_24.pt"]


def test_compare_sees_one_changed_weight_or_average(reference):
    weights, averages = reference
    trial = {"weights": dict(weights), "log": {i: [v] for i, v in averages.items()}}
    assert compare(reference, trial) == {"weights": True, "averages": True}
    trial["weights"]["0.bias"] = weights["0.bias"].clone()
    trial["weights"]["0.bias"][0] = torch.nextafter(weights["0.bias"][0], torch.tensor(1.0))
    trial["log"][7].append(repr(float(averages[7]) + 1e-12))  # logged again after a resume
    assert compare(reference, trial) == {"weights": False, "averages": False}


def test_sigterm_mid_save_flushes_tensorboard_and_keeps_the_last_checkpoint(tmp_path):
    # SIGTERM halfway through writing the checkpoint of iteration 12
    accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    ckpt, log, tb, stop = tmp_path / "ckpt", tmp_path / "log.txt", tmp_path / "tb", "write@12"
    code = _kill_at(_child(ckpt, log, tmp_path / "out.pt", stop, tb), stop, signal.SIGTERM, log)
    assert code == 143, _stderr(log)  # SystemExit(128 + SIGTERM): the run-end hooks ran
    logs = accumulator.EventAccumulator(str(tb))
    logs.Reload()
    # everything logged before the signal was flushed
    assert [event.step for event in logs.Scalars("training/loss")] == list(range(1, 13))
    # the half-written temporary file is gone; the two previous checkpoints are whole
    assert check_directory(ckpt) == {"files": N_SAVED, "corrupt": 0, "temporary": 0}
    assert sorted(os.listdir(ckpt)) == ["checkpoint_4.pt", "checkpoint_8.pt"]


def _main() -> None:  # the child: python tests/test_resume.py train CKPT LOG OUT [TB]
    ckpt, log, out = (Path(a) for a in sys.argv[2:5])
    tb = Path(sys.argv[5]) if len(sys.argv) > 5 else None
    weights = train(ckpt, log, os.environ.get(STOP, ""), tb)
    torch.save(weights, out)


def _trials(count: int, seed: int) -> None:  # python tests/test_resume.py trials N [SEED]
    import tempfile

    rng = random.Random(seed)
    with tempfile.TemporaryDirectory() as d:
        ref = train(Path(d) / "ref", Path(d) / "ref.txt")
        ref_log = {i: v[0] for i, v in _read_log(Path(d) / "ref.txt").items()}
    totals = {"trials": 0, "kills": 0, "in a write": 0, "before a removal": 0, "after a step": 0}
    totals |= {"same weights": 0, "same averages": 0, "corrupt": 0, "n_saved broken": 0, "tmp": 0}
    saves = list(range(EVERY, ITERATIONS + 1, EVERY))
    valid = {
        "step": range(1, ITERATIONS + 1),
        "write": saves,
        "remove": saves[N_SAVED:],  # a removal needs n_saved files already
    }
    for _ in range(count):
        stops, last = [], 0
        for _ in range(rng.randint(1, 3)):
            kind = rng.choice(list(valid))
            later = [i for i in valid[kind] if i > last]
            if not later:
                break
            last = rng.choice(later[: max(1, len(later) // 2)])  # early: room for the next
            stops.append(f"{kind}@{last}")
        print(stops, end=" ", flush=True)
        try:
            with tempfile.TemporaryDirectory() as d:
                trial = run_trial(Path(d), stops)
        except AssertionError as error:
            print("FAILED", error, flush=True)
            totals["failed"] = totals.get("failed", 0) + 1
            continue
        result = compare((ref, ref_log), trial)
        totals["trials"] += 1
        totals["kills"] += len(stops)
        names = {"write": "in a write", "remove": "before a removal", "step": "after a step"}
        for stop in stops:
            totals[names[stop.split("@")[0]]] += 1
        totals["same weights"] += result["weights"]
        totals["same averages"] += result["averages"]
        states = [*trial["after_kills"], trial["at_end"]]
        totals["corrupt"] += sum(s["corrupt"] for s in states)
        totals["n_saved broken"] += trial["at_end"]["files"] != N_SAVED
        totals["tmp"] += trial["at_end"]["temporary"]
        print(result, trial["at_end"], flush=True)
    print(totals)


if __name__ == "__main__":
    if sys.argv[1] == "train":
        _main()
    else:
        _trials(int(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else 0)
