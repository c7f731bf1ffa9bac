"""Smoke test for examples/mnist_like: a real (tiny) training run, its checkpoint and its logs."""

from __future__ import annotations

import math
import re
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from examples.mnist_like import train as example  # noqa: E402

EventAccumulator = pytest.importorskip(
    "tensorboard.backend.event_processing.event_accumulator"
).EventAccumulator
pytest.importorskip("tqdm")

LINE = re.compile(r"^epoch (\d+): val accuracy=(\S+) loss=(\S+)$", re.M)


@pytest.fixture
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny matrices: threads only add overhead on small CI machines
    yield
    torch.set_num_threads(threads)


def test_small_run(tmp_path, capsys, one_thread):
    metrics = example.main(["--epochs", "2", "--small", "--logdir", str(tmp_path), "--seed", "0"])
    out, err = capsys.readouterr()
    epochs = [(int(e), float(acc), float(loss)) for e, acc, loss in LINE.findall(out)]
    assert [e for e, _, _ in epochs] == [1, 2]
    assert metrics["accuracy"] == pytest.approx(epochs[-1][1], abs=5e-5)
    assert "Epoch [2/2]" in err  # the progress bar

    # The best model's file is named after its epoch and score, and holds that model.
    best_epoch, best_acc, _ = max(epochs, key=lambda row: row[1])
    (path,) = (tmp_path / "checkpoints").iterdir()
    assert path.name == f"best_model_{best_epoch}_accuracy={best_acc:.4f}.pt"
    model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
    model.load_state_dict(torch.load(path, weights_only=True))
    x, y = example.make_digits(128, 1).tensors  # --small: 512 // 4 validation samples, seed 0 + 1
    with torch.no_grad():
        accuracy = (model(x).argmax(dim=1) == y).float().mean().item()
    assert f"{accuracy:.4f}" == f"{best_acc:.4f}"
    assert best_acc > 0.2  # learned something: chance is 0.1

    # TensorBoard: a loss and a learning rate per iteration, validation metrics per epoch.
    logs = EventAccumulator(str(tmp_path))
    logs.Reload()
    iterations = 2 * 512 // 64
    assert [e.step for e in logs.Scalars("train/loss")] == list(range(1, iterations + 1))
    cycle = iterations + 1
    expected_lr = [
        0.001 + (0.1 - 0.001) * (1 + math.cos(math.pi * t / cycle)) / 2 for t in range(iterations)
    ]
    assert [e.value for e in logs.Scalars("lr/group_0")] == pytest.approx(expected_lr, rel=1e-6)
    for tag, column in (("val/accuracy", 1), ("val/loss", 2)):
        logged = [(e.step, e.value) for e in logs.Scalars(tag)]
        assert [s for s, _ in logged] == [1, 2]
        assert [v for _, v in logged] == pytest.approx([row[column] for row in epochs], abs=5e-5)
