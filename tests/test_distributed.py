"""miniengine.distributed: the helpers in one process, and real 2-process gloo runs on loopback.

Process launches are slow (each process imports torch), so there is one: it runs every check,
each rank saves what it saw, and the tests below read those files. Then rank 1 raises in the
middle of a DDP training while rank 0 waits for it in the gradient all-reduce: the launch must
fail, fast, naming rank 1.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.multiprocessing as mp
from torch import nn
from torch.nn import functional as F
from torch.utils.data import TensorDataset

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import miniengine.distributed as idist  # noqa: E402
from miniengine.engine import Engine, Events  # noqa: E402
from miniengine.metrics import (  # noqa: E402
    Accuracy,
    Average,
    ConfusionMatrix,
    Fbeta,
    Loss,
    Precision,
    Recall,
    RunningAverage,
)
from miniengine.supervised import create_supervised_trainer  # noqa: E402

WORLD = 2
LAUNCH_TIMEOUT = 90.0  # seconds for one launch, start to end: a hang fails the test instead
GLOO_TIMEOUT = 30.0  # seconds a collective waits for a rank that is gone
HAS_IGNITE = importlib.util.find_spec("ignite") is not None


# ---------------------------------------------------------------- launching processes


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _entry(rank: int, port: int, fn: Callable[[int, Path], None], out: Path) -> None:
    os.environ.update(
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        RANK=str(rank),
        LOCAL_RANK=str(rank),
        WORLD_SIZE=str(WORLD),
        LOCAL_WORLD_SIZE=str(WORLD),
    )
    torch.set_num_threads(1)
    # what each rank prints, to check that only rank 0 does
    # (line-buffered: rank 0 is killed, unflushed, when rank 1 fails at the end)
    sys.stdout = open(out / f"stdout{rank}.txt", "w", buffering=1)
    sys.stderr = open(out / f"stderr{rank}.txt", "w", buffering=1)
    idist.initialize("gloo", timeout=GLOO_TIMEOUT)
    try:
        fn(rank, out)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        idist.finalize()


def _launch(fn: Callable[[int, Path], None], out: Path) -> float:
    """Run ``fn(rank, out)`` in WORLD fresh processes; returns the seconds it took."""
    t0 = time.monotonic()
    ctx = mp.start_processes(
        _entry, args=(_free_port(), fn, out), nprocs=WORLD, join=False, start_method="spawn"
    )
    try:
        # join() raises as soon as one process fails, after terminating the others
        while not ctx.join(timeout=1.0):
            if time.monotonic() - t0 > LAUNCH_TIMEOUT:
                pytest.fail(f"{WORLD}-process run still going after {LAUNCH_TIMEOUT} s")
    finally:
        for p in ctx.processes:
            if p.is_alive():
                p.kill()
    return time.monotonic() - t0


# ---------------------------------------------------------------- the data and the scenarios


def _classification() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(7)
    return torch.randn(64, 4, generator=g), torch.randint(0, 4, (64,), generator=g)


def _shards(rank: int | None) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Batches of 8 of one rank's part (uneven: 24 and 40 examples), or of all data (None)."""
    y_pred, y = _classification()
    part = {None: slice(0, 64), 0: slice(0, 24), 1: slice(24, 64)}[rank]
    y_pred, y = y_pred[part], y[part]
    return [(y_pred[i : i + 8], y[i : i + 8]) for i in range(0, len(y), 8)]


def _metrics() -> dict[str, Any]:
    return {
        "accuracy": Accuracy(),
        "precision": Precision(),
        "precision_weighted": Precision(average="weighted"),
        "recall_macro": Recall(average=True),
        "f1": Fbeta(1.0),
        "loss": Loss(F.cross_entropy),
        "average": Average(output_transform=lambda out: out[0]),
        "cm": ConfusionMatrix(num_classes=4),
    }


def _evaluate(batches: list) -> dict[str, Any]:
    evaluator = Engine(lambda engine, batch: batch)
    for name, metric in _metrics().items():
        metric.attach(evaluator, name)
    return evaluator.run(batches).metrics


def _outputs(rank: int) -> list[float]:
    """The per-iteration output of each rank, for RunningAverage."""
    return [[4.0, 0.0, 8.0, 1.0, 3.0], [2.0, 6.0, 0.0, 5.0, 7.0]][rank]


def _train(shuffle: bool, epochs: int = 2) -> tuple[nn.Module, Engine, Any]:
    """Linear regression with DDP (in a distributed run): global batch 16."""
    torch.manual_seed(0)
    x = torch.randn(64, 4, generator=torch.Generator().manual_seed(3))
    data = TensorDataset(x, x @ torch.tensor([[1.0], [-2.0], [0.5], [3.0]]))
    loader = idist.auto_dataloader(data, batch_size=16, shuffle=shuffle)
    model = idist.auto_model(nn.Linear(4, 1))
    optimizer = idist.auto_optim(torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9))
    trainer = create_supervised_trainer(model, optimizer, nn.MSELoss())
    trainer.run(loader, max_epochs=epochs)
    return model, trainer, optimizer


def _flat(model: nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()])


def _checks(rank: int, out: Path) -> None:
    """Everything that should work, in one launch; each rank saves what it saw."""
    from miniengine.handlers import Checkpoint, LogProgress, ProgressBar, TensorboardLogger

    seen: dict[str, Any] = {"rank": rank, "world": idist.get_world_size()}
    seen["gathered_ranks"] = idist.all_gather(rank)
    seen["gathered_tensor"] = idist.all_gather(torch.tensor([rank, 10 + rank]))
    seen["reduced_max"] = idist.all_reduce(float(rank), op="MAX")

    seen["metrics"] = _evaluate(_shards(rank))

    # RunningAverage of the output (averaged over ranks each iteration) and of a metric
    avg_engine = Engine(lambda engine, i: _outputs(rank)[i])
    RunningAverage(alpha=0.5, output_transform=lambda x: x).attach(avg_engine, "avg")
    history = []
    avg_engine.add_event_handler(
        Events.ITERATION_COMPLETED, lambda e: history.append(e.state.metrics["avg"])
    )
    avg_engine.run(range(5))
    seen["running_average"] = history
    acc_engine = Engine(lambda engine, batch: batch)
    RunningAverage(Accuracy(), alpha=0.5).attach(acc_engine, "acc")
    acc_history: list[float] = []
    acc_engine.add_event_handler(
        Events.ITERATION_COMPLETED, lambda e: acc_history.append(e.state.metrics["acc"])
    )
    acc_engine.run(_shards(rank)[:3])
    seen["running_accuracy"] = acc_history

    # handlers that must run once per event over all ranks
    counted = Engine(lambda engine, batch: None)
    calls = {"rank0": 0, "rank1": 0}

    @counted.on(Events.ITERATION_COMPLETED)
    @idist.one_rank_only()
    def on_rank0(engine: Engine) -> None:
        calls["rank0"] += 1

    @counted.on(Events.ITERATION_COMPLETED)
    @idist.one_rank_only(rank=1, with_barrier=True)
    def on_rank1() -> None:  # no engine parameter: the signature shows through the decorator
        calls["rank1"] += 1

    LogProgress(every=1).attach(counted)  # to stderr, on rank 0
    counted.run(range(3))
    seen["one_rank_only"] = calls

    # training: same weights everywhere, equal to one process on all the data (no shuffling)
    model, _, _ = _train(shuffle=False)
    seen["weights"] = idist.all_gather(_flat(model)[None])
    model, trainer, optimizer = _train(shuffle=True, epochs=3)
    seen["shuffled_weights"] = idist.all_gather(_flat(model)[None])

    # side effects: rank 0 only, into a directory named after the rank that runs the code
    mine = out / f"files{rank}"
    checkpoint = Checkpoint({"model": model, "optimizer": optimizer}, mine / "ckpt", n_saved=2)
    trainer.add_event_handler(Events.EPOCH_COMPLETED, checkpoint)
    bar = ProgressBar(file=sys.stderr)
    bar.attach(trainer, output_transform=lambda loss: {"loss": loss})
    with TensorboardLogger(log_dir=mine / "tb") as tb:
        tb.attach_output_handler(
            trainer, Events.ITERATION_COMPLETED, tag="train", output_transform=lambda x: {"x": x}
        )
        trainer.run(trainer.state.dataloader, max_epochs=5)
    seen["last_checkpoint"] = checkpoint.last_checkpoint.name
    # loading works on every rank, from the file rank 0 wrote
    idist.barrier()
    fresh = nn.Linear(4, 1)
    Checkpoint.load_objects({"model": fresh}, out / "files0" / "ckpt" / "checkpoint_20.pt")
    seen["loaded"] = torch.equal(_flat(fresh), _flat(model))

    # the mnist-like example, as torchrun would run it
    from examples.mnist_like import train as example

    seen["example"] = example.main(
        ["--small", "--epochs", "1", "--logdir", str(out / f"example{rank}")]
    )

    if HAS_IGNITE:  # the oracle, on the same process group
        import ignite.metrics as im
        from ignite.engine import Engine as IgniteEngine
        from ignite.engine import Events as IgniteEvents

        engine = IgniteEngine(lambda engine, i: _outputs(rank)[i])
        im.RunningAverage(alpha=0.5, output_transform=lambda x: x).attach(engine, "avg")
        ignite_history: list[float] = []
        engine.add_event_handler(
            IgniteEvents.ITERATION_COMPLETED,
            lambda e: ignite_history.append(e.state.metrics["avg"]),
        )
        engine.run(range(5))
        seen["ignite_running_average"] = ignite_history
        evaluator = IgniteEngine(lambda engine, batch: batch)
        im.Accuracy().attach(evaluator, "accuracy")
        im.ConfusionMatrix(num_classes=4).attach(evaluator, "cm")
        im.Loss(F.cross_entropy).attach(evaluator, "loss")
        seen["ignite_metrics"] = evaluator.run(_shards(rank)).metrics

    torch.save(seen, out / f"seen{rank}.pt")
    sys.stdout.flush()
    sys.stderr.flush()
    idist.barrier()
    _raises(rank)


def _raises(rank: int) -> None:
    """Rank 1 fails at its 3rd iteration while rank 0 goes on into DDP's gradient all-reduce."""
    model = idist.auto_model(nn.Linear(4, 1))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    trainer = create_supervised_trainer(model, optimizer, nn.MSELoss())

    @trainer.on(Events.ITERATION_COMPLETED(once=3))
    def fail(engine: Engine) -> None:
        if idist.get_rank() == 1:
            raise RuntimeError("the data file is corrupt")

    trainer.run([(torch.randn(8, 4), torch.randn(8, 1))] * 100, max_epochs=100)


# ---------------------------------------------------------------- 2-process tests


@pytest.fixture(scope="module")
def seen(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("distributed")
    error = None
    try:
        _launch(_checks, out)
    except mp.ProcessRaisedException as e:
        error = e
    if not all((out / f"seen{r}.pt").exists() for r in range(WORLD)):
        pytest.fail(f"a rank failed before the end of its checks: {error}")
    ranks = [torch.load(out / f"seen{r}.pt", weights_only=False) for r in range(WORLD)]
    return {"out": out, "ranks": ranks, "error": error}


def test_ranks_and_collectives(seen: dict[str, Any]) -> None:
    for rank, s in enumerate(seen["ranks"]):
        assert (s["rank"], s["world"]) == (rank, WORLD)
        assert s["gathered_ranks"] == [0, 1]
        assert s["gathered_tensor"].tolist() == [0, 10, 1, 11]
        assert s["reduced_max"] == 1.0


def _assert_same(a: Any, b: Any) -> None:
    if isinstance(a, torch.Tensor):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-12, check_dtype=False)
    else:
        assert a == pytest.approx(b, rel=1e-6)


def test_metrics_on_shards_equal_one_process_on_all_data(seen: dict[str, Any]) -> None:
    expected = _evaluate(_shards(None))  # here: a single process
    assert set(expected) == set(_metrics())
    for s in seen["ranks"]:
        assert set(s["metrics"]) == set(expected)
        for name, value in expected.items():
            _assert_same(s["metrics"][name], value)
    # a test that would pass on local values too proves nothing: rank 0 alone differs
    local = _evaluate(_shards(0))
    assert local["accuracy"] != pytest.approx(expected["accuracy"])


def _ema(values: list[float], alpha: float) -> list[float]:
    out = [values[0]]
    for v in values[1:]:
        out.append(out[-1] * alpha + (1 - alpha) * v)
    return out


def test_running_average_averages_over_ranks(seen: dict[str, Any]) -> None:
    means = [(a + b) / 2 for a, b in zip(_outputs(0), _outputs(1), strict=True)]
    for s in seen["ranks"]:
        assert s["running_average"] == pytest.approx(_ema(means, 0.5))
    # of a metric: each step's accuracy is over both ranks' batches
    per_step = []
    for i in range(3):
        (p0, y0), (p1, y1) = _shards(0)[i], _shards(1)[i]
        correct = (p0.argmax(1) == y0).sum() + (p1.argmax(1) == y1).sum()
        per_step.append(correct.item() / (len(y0) + len(y1)))
    for s in seen["ranks"]:
        assert s["running_accuracy"] == pytest.approx(_ema(per_step, 0.5))


@pytest.mark.skipif(not HAS_IGNITE, reason="pytorch-ignite is not installed")
def test_ignite_oracle_under_the_same_process_group(seen: dict[str, Any]) -> None:
    for s in seen["ranks"]:
        assert s["running_average"] == pytest.approx(s["ignite_running_average"])
        for name in ("accuracy", "cm", "loss"):
            _assert_same(s["metrics"][name], s["ignite_metrics"][name])


def test_one_rank_only_runs_once(seen: dict[str, Any]) -> None:
    counts = [s["one_rank_only"] for s in seen["ranks"]]
    assert counts == [{"rank0": 3, "rank1": 0}, {"rank0": 0, "rank1": 3}]


def test_training_gives_the_same_weights_everywhere(seen: dict[str, Any]) -> None:
    single, _, _ = _train(shuffle=False)  # one process, batches of 16 in order
    for s in seen["ranks"]:
        w = s["weights"]
        assert torch.equal(w[0], w[1])
        # DistributedSampler without shuffling gives rank r the examples r, r+2, ...: together
        # the two half-batches are the single process's batch, so the steps are the same
        torch.testing.assert_close(w[0], _flat(single), rtol=1e-5, atol=1e-6)
        assert torch.equal(s["shuffled_weights"][0], s["shuffled_weights"][1])
        assert s["loaded"]


def test_only_rank_0_writes_files_and_prints(seen: dict[str, Any]) -> None:
    out, ranks = seen["out"], seen["ranks"]
    ckpt = out / "files0" / "ckpt"
    assert sorted(os.listdir(ckpt)) == ["checkpoint_16.pt", "checkpoint_20.pt"]
    assert len(list((out / "files0" / "tb").glob("events.out.tfevents.*"))) == 1
    assert not (out / "files1").exists()
    # every rank knows the file names, so any rank may load them
    assert ranks[0]["last_checkpoint"] == ranks[1]["last_checkpoint"] == "checkpoint_20.pt"
    # the example, run unchanged
    assert ranks[0]["example"] == ranks[1]["example"]  # metrics are summed over ranks
    assert list((out / "example0" / "checkpoints").glob("best_model_1_accuracy=*.pt"))
    assert not (out / "example1").exists()
    stdout = [(out / f"stdout{r}.txt").read_text() for r in range(WORLD)]
    assert "epoch 1: val accuracy=" in stdout[0] and "best model:" in stdout[0]
    assert stdout[1] == ""
    stderr = [(out / f"stderr{r}.txt").read_text() for r in range(WORLD)]
    assert "Epoch [5/5]" in stderr[0] and "Epoch" not in stderr[1]  # the progress bars
    assert "Iteration: [3/3] 100%" in stderr[0] and "Iteration" not in stderr[1]  # LogProgress


def test_a_failing_rank_fails_the_run_and_is_named(seen: dict[str, Any]) -> None:
    assert isinstance(seen["error"], mp.ProcessRaisedException)  # not a timeout: no hang
    message = str(seen["error"])
    assert seen["error"].error_index == 1 and "Process 1 terminated" in message
    assert "the data file is corrupt" in message


# ---------------------------------------------------------------- one process: no-ops


def test_single_process_helpers_do_nothing() -> None:
    t = torch.tensor([1.0, 2.0])
    assert idist.all_reduce(t) is t and idist.all_gather(t) is t
    assert idist.all_gather(3) == [3]
    assert (idist.get_rank(), idist.get_local_rank(), idist.get_world_size()) == (0, 0, 1)
    assert idist.backend() is None
    model = nn.Linear(2, 1)
    assert idist.auto_model(model) is model
    loader = idist.auto_dataloader(list(range(10)), batch_size=4, shuffle=False)
    assert loader.sampler.__class__.__name__ == "SequentialSampler" and loader.batch_size == 4
    idist.barrier()


def test_one_rank_only_in_one_process_and_bad_rank() -> None:
    calls: list[str] = []
    idist.one_rank_only(0)(lambda: calls.append("zero"))()
    assert idist.one_rank_only(1)(lambda: calls.append("one"))() is None
    assert calls == ["zero"]
    with pytest.raises(ValueError, match=r"Argument rank .* got -1"):
        idist.one_rank_only(-1)


def test_all_reduce_refuses_an_unknown_op() -> None:
    with pytest.raises(ValueError, match=r"Argument op should be one of .* got 'MEAN'"):
        idist.all_reduce(1.0, op="MEAN")
    with pytest.raises(TypeError, match="Argument tensor should be a tensor or a number"):
        idist.all_reduce("1")


def test_side_effects_for_another_rank_do_nothing_here(tmp_path: Path) -> None:
    from miniengine.handlers import LogProgress, OutputHandler, ProgressBar, TensorboardLogger

    engine = Engine(lambda engine, batch: batch)
    out = open(tmp_path / "bar.txt", "w")  # noqa: SIM115
    ProgressBar(rank=1, file=out).attach(engine, output_transform=lambda x: {"x": x})
    LogProgress(every=1, rank=1).attach(engine)
    with TensorboardLogger(log_dir=tmp_path / "tb", rank=1) as tb:
        handler = OutputHandler(tag="t", output_transform=lambda x: {"x": x})
        handle = tb.attach(engine, handler, Events.ITERATION_COMPLETED)
        assert not engine.has_event_handler(handler)
        tb.add_scalar("direct", 1.0, 0)  # the writer's methods do nothing
        engine.run([1.0, 2.0])
        handle.remove()
    out.close()
    assert (tmp_path / "bar.txt").read_text() == "" and not (tmp_path / "tb").exists()
    with TensorboardLogger(log_dir=tmp_path / "mine", rank=None):
        pass
    assert list((tmp_path / "mine").glob("events.out.tfevents.*"))


def test_save_on_rank_must_be_a_rank_of_the_run(tmp_path: Path) -> None:
    from miniengine.handlers import Checkpoint, DiskSaver

    with pytest.raises(ValueError, match=r"save_on_rank should be 0 to 0 .* got 1"):
        DiskSaver(tmp_path, save_on_rank=1)
    with pytest.raises(ValueError, match=r"save_on_rank should be 0 to 0 .* got -1"):
        Checkpoint({"m": nn.Linear(1, 1)}, tmp_path, save_on_rank=-1)
