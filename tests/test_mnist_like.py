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
    argv = ["--epochs", "2", "--small", "--logdir", str(tmp_path), "--seed", "0", "--device", "cpu"]
    metrics = example.main(argv)
    out, err = capsys.readouterr()
    assert out.splitlines()[0] == f"run directory: {tmp_path / 'run-1'}"
    epochs = [(int(e), float(acc), float(loss)) for e, acc, loss in LINE.findall(out)]
    assert [e for e, _, _ in epochs] == [1, 2]
    assert metrics["accuracy"] == pytest.approx(epochs[-1][1], abs=5e-5)
    assert "Epoch [2/2]" in err  # the progress bar

    # The best model's file is named after its epoch and score, and holds that model.
    best_epoch, best_acc, _ = max(epochs, key=lambda row: row[1])
    run = tmp_path / "run-1"
    (path,) = (run / "checkpoints").iterdir()
    assert out.splitlines()[-1] == f"best model: {path}"
    assert path.name == f"best_model_{best_epoch}_accuracy={best_acc:.4f}.pt"
    model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
    model.load_state_dict(torch.load(path, weights_only=True))
    x, y = example.make_digits(128, 1).tensors  # --small: 512 // 4 validation samples, seed 0 + 1
    with torch.no_grad():
        accuracy = (model(x).argmax(dim=1) == y).float().mean().item()
    assert f"{accuracy:.4f}" == f"{best_acc:.4f}"
    assert best_acc > 0.2  # learned something: chance is 0.1

    # TensorBoard: a loss and a learning rate per iteration, validation metrics per epoch.
    logs = EventAccumulator(str(run))
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


def test_each_run_keeps_its_own_best_model(tmp_path, capsys, one_thread):
    # A later run that scores lower must still save its best model: it has a directory of its own.
    for epochs in ("2", "1"):
        example.main(["--epochs", epochs, "--small", "--logdir", str(tmp_path), "--device", "cpu"])
    capsys.readouterr()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run-1", "run-2"]
    bests = {run: list((tmp_path / run / "checkpoints").iterdir()) for run in ("run-1", "run-2")}
    assert [len(files) for files in bests.values()] == [1, 1]
    assert bests["run-2"][0].name.startswith("best_model_1_accuracy=")  # its one epoch


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--epochs", "0"], "argument --epochs: expected a positive integer, got '0'"),
        (["--eval-every", "-2"], "argument --eval-every: expected a positive integer, got '-2'"),
        (
            ["--epochs", "2", "--eval-every", "3"],
            "argument --eval-every: got 3, more than --epochs 2",
        ),
        (["--epochs", "two"], "argument --epochs: expected a positive integer, got 'two'"),
        (["--seed", "x"], "argument --seed: invalid int value: 'x'"),
    ],
)
def test_argument_errors_name_the_argument_and_the_value(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        example.parse_args(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
def test_unavailable_device_is_a_clear_error(capsys):
    with pytest.raises(SystemExit):
        example.parse_args(["--device", "cuda"])
    assert "argument --device: got 'cuda', but CUDA is not available" in capsys.readouterr().err


def test_help_shows_the_defaults(capsys):
    with pytest.raises(SystemExit):
        example.parse_args(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    for shown in (
        "passes over the data (default: 5)",
        "(default: runs/mnist_like)",
        "(default: auto)",
    ):
        assert shown in text
