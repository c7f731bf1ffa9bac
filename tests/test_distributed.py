"""miniengine.distributed: the helpers in one process, and real 2-process gloo runs on loopback.

Process launches are slow (each process imports torch), so there is one: it runs every check,
each rank saves what it saw, and the tests below read those files. Then rank 1 raises in the
middle of a DDP training while rank 0 waits for it in the gradient all-reduce: the launch must
fail, fast, naming rank 1.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import re
import socket
import sys
import time
import warnings
from collections.abc import Callable
from datetime import timedelta
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
    seen.update(_idist_checks(rank, out))

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

    # ZeroRedundancyOptimizer shards its state over the ranks: the rank that writes (1 here)
    # must get every shard, or torch refuses to give a state_dict
    from torch.distributed.optim import ZeroRedundancyOptimizer

    zmodel = nn.Linear(4, 3)
    zero = ZeroRedundancyOptimizer(zmodel.parameters(), torch.optim.Adam, lr=0.1)
    zmodel(torch.ones(2, 4)).sum().backward()
    zero.step()
    Checkpoint({"optim": zero}, out / "zero", save_on_rank=1)(Engine(lambda e, b: None))
    if rank == 1:
        seen["zero_state"] = zero.state_dict()  # consolidated on rank 1 by the save

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


BROADCASTS = {
    "tensor": torch.tensor([[1.25, -2.0, 3.5]]),
    "long": torch.arange(12).reshape(3, 4) * 2,
    "int": 10,
    "float": 1.2345678901234,
    "str": "test-abcdefg",
    "long_str": "tests/ignite/distributed/utils/test_native.py::test_idist_broadcast" * 50,
    "path": Path("data/mnist/train.pt"),
}


def _idist_checks(rank: int, out: Path) -> dict[str, Any]:
    """broadcast, one_rank_first, the node layout and show_config on two ranks."""
    seen: dict[str, Any] = {}
    for src in (0, 1):
        for name, value in BROADCASTS.items():
            mine = value if rank == src else None
            seen[f"bcast_safe_{name}_{src}"] = idist.broadcast(mine, src=src, safe_mode=True)
            if isinstance(value, torch.Tensor):  # the others give a tensor of the same kind
                mine = value if rank == src else torch.empty_like(value)
            else:
                mine = value if rank == src else type(value)()
            seen[f"bcast_{name}_{src}"] = idist.broadcast(mine, src=src)
    errors = []
    for call in (
        lambda: idist.broadcast([0, 1], src=0),
        lambda: idist.broadcast(None, src=0),
    ):
        try:
            call()
        except (TypeError, ValueError) as e:
            errors.append(f"{type(e).__name__}: {e}")
    seen["bcast_errors"] = errors

    # the block runs on rank 1 only once rank 0 is out of it
    marker = out / "first_done"
    for local in (False, True):
        with idist.one_rank_first(rank=0, local=local):
            seen[f"first_saw_marker_{local}"] = marker.exists()
            if rank == 0:
                marker.write_text("done")
        idist.barrier()
        if rank == 0:
            marker.unlink()
        idist.barrier()

    # collectives over a group of one rank (rank 1); the other rank gets its input back
    group = idist.new_group([1])
    mine = torch.tensor([rank + 5])
    seen["group_reduce"] = idist.all_reduce(mine.clone(), group=group).tolist()
    seen["group_gather"] = idist.all_gather(mine, group=[1]).tolist()
    seen["group_gather_obj"] = idist.all_gather({"r": rank}, group=group)
    # tensors of different shapes: rank r has (r + 1) x 3
    seen["shaped"] = idist.all_gather_tensors_with_shapes(
        torch.full((rank + 1, 3), float(rank)), [[1, 3], [2, 3]]
    )
    # a sampler of one's own is shared out by a DistributedProxySampler
    weighted = torch.utils.data.WeightedRandomSampler([1.0, 2.0, 3.0, 0.0, 5.0], 9)
    loader = idist.auto_dataloader(list(range(5)), batch_size=4, sampler=weighted)
    seen["proxy_type"] = type(loader.sampler).__name__
    epochs = []
    for epoch in range(2):
        loader.sampler.set_epoch(epoch)
        epochs.append([i for batch in loader for i in batch.tolist()])
    seen["proxy_epochs"] = epochs
    with warnings.catch_warnings(record=True) as caught:  # a sampler made for another rank
        warnings.simplefilter("always")
        other = torch.utils.data.DistributedSampler(range(4), num_replicas=3, rank=1 - rank)
        idist.auto_dataloader(list(range(4)), sampler=other)
    seen["sampler_warnings"] = [str(w.message) for w in caught]

    layout = (idist.get_nproc_per_node, idist.get_nnodes, idist.get_node_rank)
    seen["layout"] = [f() for f in layout] + [idist.get_local_rank(), idist.hostname()]
    seen["model_name"] = idist.model_name()
    # without LOCAL_RANK and LOCAL_WORLD_SIZE: found from the ranks' host names (a warning)
    saved = {k: os.environ.pop(k) for k in ("LOCAL_RANK", "LOCAL_WORLD_SIZE")}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        idist.sync()
        seen["layout_from_hosts"] = [f() for f in layout] + [idist.get_local_rank()]
    seen["layout_warning"] = [str(w.message) for w in caught]
    os.environ.update(saved)
    idist.sync()
    if HAS_IGNITE:  # Ignite's idist on the same process group
        import ignite.distributed as ignite_idist

        seen["ignite_layout"] = [
            ignite_idist.get_nproc_per_node(),
            ignite_idist.get_nnodes(),
            ignite_idist.get_node_rank(),
            ignite_idist.get_local_rank(),
            ignite_idist.hostname(),
        ]
        seen["ignite_model_name"] = ignite_idist.model_name()
    idist.show_config()  # to this rank's stderr file, on rank 0 only
    return seen


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


def test_broadcast_gives_everyone_the_sources_value(seen: dict[str, Any]) -> None:
    for s in seen["ranks"]:
        for src in (0, 1):
            for name, value in BROADCASTS.items():
                for mode in ("bcast", "bcast_safe"):
                    got = s[f"{mode}_{name}_{src}"]
                    assert type(got) is type(value), (mode, name, src)
                    if isinstance(value, torch.Tensor):
                        assert got.dtype == value.dtype and torch.equal(got, value)
                    else:
                        assert got == value
    errors = [s["bcast_errors"] for s in seen["ranks"]]
    assert errors[0][0].startswith("TypeError: Unhandled input type <class 'list'>")
    assert errors[0][1] == "ValueError: Source data can not be None"
    assert errors[1][1].startswith("ValueError: Argument safe_mode should be True")


def test_groups_shapes_and_proxy_sampler(seen: dict[str, Any]) -> None:
    s0, s1 = seen["ranks"]
    assert s0["group_reduce"] == [5] and s1["group_reduce"] == [6]  # rank 0: not in the group
    assert s0["group_gather"] == [5] and s1["group_gather"] == [6]
    assert s0["group_gather_obj"] == {"r": 0} and s1["group_gather_obj"] == [{"r": 1}]
    for s in (s0, s1):
        assert [t.tolist() for t in s["shaped"]] == [[[0.0] * 3], [[1.0] * 3, [1.0] * 3]]
        assert s["proxy_type"] == "DistributedProxySampler"
    # the draws of the wrapped sampler with seed = epoch, shared out rank by rank
    weighted = torch.utils.data.WeightedRandomSampler([1.0, 2.0, 3.0, 0.0, 5.0], 9)
    for epoch in range(2):
        torch.manual_seed(epoch)
        draws = (list(weighted) + list(weighted))[:10]  # 9 drawn again, up to a multiple of 2
        assert s0["proxy_epochs"][epoch] == draws[0::2]
        assert s1["proxy_epochs"][epoch] == draws[1::2]
    assert s0["proxy_epochs"][0] != s0["proxy_epochs"][1]
    for rank, s in enumerate((s0, s1)):
        assert s["sampler_warnings"] == [
            f"Found distributed sampler with rank={1 - rank}, but process rank is {rank}",
            "Found distributed sampler with num_replicas=3, but world size is 2",
        ]


def test_one_rank_first_lets_the_others_in_after_it(seen: dict[str, Any]) -> None:
    for local in (False, True):
        assert [s[f"first_saw_marker_{local}"] for s in seen["ranks"]] == [False, True]


def test_node_layout_and_show_config(seen: dict[str, Any]) -> None:
    host = socket.gethostname()
    for rank, s in enumerate(seen["ranks"]):
        assert s["layout"] == [2, 1, 0, rank, host]  # one machine, two processes
        assert s["layout_from_hosts"] == [2, 1, 0, rank]
        assert any("heuristic approach based on the hostnames" in w for w in s["layout_warning"])
        assert s["model_name"] == "native-dist"
        if HAS_IGNITE:
            assert s["ignite_layout"] == s["layout"]
            assert s["ignite_model_name"] == s["model_name"]
    stderr = [(seen["out"] / f"stderr{r}.txt").read_text() for r in range(WORLD)]
    for line in [
        "distributed configuration: native-dist",
        "backend: gloo",
        "device: cpu",
        f"hostname: {host}",
        "world size: 2",
        "rank: 0",
        "local rank: 0",
        "num processes per_node: 2",
        "num nodes: 1",
        "node rank: 0",
    ]:
        assert f" miniengine.distributed.utils INFO: {line}\n" in stderr[0]
    assert "distributed configuration" not in stderr[1]


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


def test_checkpoint_gathers_a_zero_optimizers_shards(seen: dict[str, Any]) -> None:
    saved = torch.load(seen["out"] / "zero" / "optim_0.pt", weights_only=True)
    expected = seen["ranks"][1]["zero_state"]
    assert sorted(saved["state"]) == sorted(expected["state"]) == [0, 1]  # weight and bias
    for k in expected["state"]:
        for name, value in expected["state"][k].items():
            assert torch.equal(saved["state"][k][name], value)


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
    # (the example may keep each run in a folder of its own under --logdir)
    assert list((out / "example0").rglob("checkpoints/best_model_1_accuracy=*.pt"))
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
    with pytest.raises(ValueError, match=r"Unsupported reduction operation: 'MEAN', should be"):
        idist.all_reduce(1.0, op="MEAN")
    with pytest.raises(TypeError, match="Unhandled input type <class 'str'>: all_reduce takes"):
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


def test_save_on_rank_must_be_a_rank(tmp_path: Path) -> None:
    from miniengine.handlers import Checkpoint, DiskSaver

    # as Ignite: a rank the run does not have (yet) is accepted, with a warning
    with pytest.warns(UserWarning, match="save_on_rank=1"):
        DiskSaver(tmp_path, save_on_rank=1)
    with pytest.raises(ValueError, match=r"save_on_rank should be .* got -1"):
        Checkpoint({"m": nn.Linear(1, 1)}, tmp_path, save_on_rank=-1)


# ---------------------------------------------------------------- one process: the idist extras


def test_extras_in_one_process(capsys: pytest.CaptureFixture[str]) -> None:
    assert (idist.get_nproc_per_node(), idist.get_nnodes(), idist.get_node_rank()) == (1, 1, 0)
    assert idist.hostname() == socket.gethostname() and idist.model_name() == "serial"
    assert "gloo" in idist.available_backends() and idist.has_native_dist_support
    assert not (idist.has_xla_support or idist.has_hvd_support)
    t = torch.ones(2)
    assert idist.broadcast(t) is t and idist.broadcast("x", src=0, safe_mode=True) == "x"
    with pytest.raises(ValueError, match="Argument tensor should not be None"):
        idist.broadcast(None, safe_mode=True)
    with pytest.raises(TypeError, match="Unhandled input type <class 'dict'>"):
        idist.broadcast({"a": 1})
    ran = []
    with idist.one_rank_first():
        ran.append(True)
    with idist.one_rank_first(local=True):
        ran.append(True)
    assert ran == [True, True]
    with pytest.raises(ValueError, match="rank should be between 0 and 0, but given 1"):
        with idist.one_rank_first(rank=1):
            pass
    idist.sync()
    capsys.readouterr()
    idist.show_config()
    err = capsys.readouterr().err
    assert " miniengine.distributed.utils INFO: distributed configuration: serial\n" in err
    assert " miniengine.distributed.utils INFO: num nodes: 1\n" in err


def _messages(logger_name: str, fn: Callable[[], None]) -> list[str]:
    """What ``fn()`` logs on ``logger_name`` (which it sets up on its first call)."""
    fn()
    got: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: got.append(record.getMessage())  # type: ignore[method-assign]
    logger = logging.getLogger(logger_name)
    logger.addHandler(handler)
    try:
        fn()
    finally:
        logger.removeHandler(handler)
    return got


@pytest.mark.skipif(not HAS_IGNITE, reason="pytorch-ignite is not installed")
def test_show_config_says_what_ignites_says() -> None:
    import ignite.distributed as ignite_idist

    theirs = _messages("ignite.distributed.utils", ignite_idist.show_config)
    ours = _messages("miniengine.distributed.utils", idist.show_config)
    assert ours == theirs and len(ours) == 10


DIST_ENV = ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT", "LOCAL_WORLD_SIZE")


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in DIST_ENV:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def _initialize_and_look(module: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
    """Initialize with ``module`` (ours or Ignite's idist), note what it did, finalize."""
    module.initialize(*args, **kwargs)
    try:
        return {
            "world": (module.get_world_size(), module.get_rank(), module.get_local_rank()),
            "backend": module.backend(),
            "layout": (module.get_nproc_per_node(), module.get_nnodes(), module.get_node_rank()),
            "env": {k: os.environ.get(k) for k in DIST_ENV},
        }
    finally:
        module.finalize()


def test_initialize_without_launcher_makes_a_group_of_one(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("MASTER_PORT", str(_free_port()))
    seen = _initialize_and_look(idist, "gloo", timeout=20.0)
    assert seen["world"] == (1, 0, 0) and seen["backend"] == "gloo"
    assert seen["layout"] == (1, 1, 0)
    env = seen["env"]
    assert (env["RANK"], env["WORLD_SIZE"], env["LOCAL_RANK"]) == ("0", "1", "0")
    assert env["MASTER_ADDR"] == "127.0.0.1"  # Ignite's default
    # finalize puts the environment back as it was
    assert [k for k in DIST_ENV if k in os.environ] == ["MASTER_PORT"]
    assert idist.backend() is None and idist.model_name() == "serial"


@pytest.mark.skipif(not HAS_IGNITE, reason="pytorch-ignite is not installed")
def test_initialize_from_the_environment_as_ignite(clean_env: pytest.MonkeyPatch) -> None:
    import ignite.distributed as ignite_idist

    clean_env.setenv("MASTER_PORT", str(_free_port()))
    clean_env.setenv("MASTER_ADDR", "localhost")
    for name, value in {"WORLD_SIZE": "1", "RANK": "0", "LOCAL_RANK": "0"}.items():
        clean_env.setenv(name, value)
    theirs = _initialize_and_look(ignite_idist, "gloo", timeout=timedelta(seconds=20))
    ours = _initialize_and_look(idist, "gloo", timeout=timedelta(seconds=20))
    assert ours == theirs
    clean_env.delenv("MASTER_ADDR")  # and without it: both pick 127.0.0.1
    assert _initialize_and_look(idist, "gloo") == _initialize_and_look(ignite_idist, "gloo")


def test_initialize_default_master_port(clean_env: pytest.MonkeyPatch) -> None:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", 15000))
        except OSError:
            pytest.skip("port 15000 (Ignite's default MASTER_PORT) is in use here")
    seen = _initialize_and_look(idist, "gloo", timeout=20)
    assert seen["env"]["MASTER_PORT"] == "15000" and seen["world"] == (1, 0, 0)


def test_initialize_with_init_method_rank_and_world_size(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    seen = _initialize_and_look(
        idist, "gloo", init_method=f"file://{tmp_path}/store", rank=0, world_size=1
    )
    assert seen["world"] == (1, 0, 0)


def test_initialize_refuses_bad_configurations(clean_env: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match=r"Backend should be one of .* got 'smoke-signals'"):
        idist.initialize("smoke-signals")
    with pytest.raises(ValueError, match="rank and world_size should be None if no init_method"):
        idist.initialize("gloo", rank=0, world_size=1)
    with pytest.raises(ValueError, match="Both rank and world_size should be provided"):
        idist.initialize("gloo", init_method="file:///tmp/x", rank=0)
    with pytest.raises(ValueError, match="TCP initialization via init_method='tcp://"):
        idist.initialize("gloo", init_method="tcp://127.0.0.1:1234")
    clean_env.setenv("WORLD_SIZE", "2")
    with pytest.raises(
        RuntimeError,
        match=r"should define env variables '\['RANK', 'LOCAL_RANK', 'WORLD_SIZE'\]', got only",
    ):
        idist.initialize("gloo")
    assert [k for k in DIST_ENV if k in os.environ] == ["WORLD_SIZE"]  # nothing else set
    if not torch.cuda.is_available():
        clean_env.delenv("WORLD_SIZE")
        # torch without NCCL: not a backend here; with it but no GPU: refused (as Ignite)
        with pytest.raises((ValueError, RuntimeError), match="got 'nccl'|Nccl backend is required"):
            idist.initialize("nccl")


def test_initialize_twice_is_refused_with_a_backend_and_a_no_op_without(
    clean_env: pytest.MonkeyPatch,
) -> None:
    clean_env.setenv("MASTER_PORT", str(_free_port()))
    idist.initialize("gloo")
    try:
        idist.initialize()  # a launcher-style call: the group exists, nothing to do
        with pytest.raises(RuntimeError, match="Can not create new distributed process group"):
            idist.initialize("gloo")
        assert idist.get_world_size() == 1 and idist.backend() == "gloo"
    finally:
        idist.finalize()


@pytest.mark.skipif(not HAS_IGNITE, reason="pytorch-ignite is not installed")
def test_proxy_sampler_gives_ignites_indices_and_keeps_the_random_state() -> None:
    from ignite.distributed import DistributedProxySampler as IgniteProxy

    weighted = torch.utils.data.WeightedRandomSampler([1.0, 2.0, 3.0, 0.0, 5.0], 7)
    for world in (2, 3):
        for rank in range(world):
            for epoch in (0, 3):
                ours = idist.DistributedProxySampler(weighted, world, rank)
                theirs = IgniteProxy(weighted, world, rank)
                ours.set_epoch(epoch)
                theirs.set_epoch(epoch)
                torch.manual_seed(123)
                got = list(ours)
                after = torch.rand(1)  # Ignite's leaves the global generator seeded by epoch
                assert got == list(theirs) and len(got) == -(-7 // world)
                torch.manual_seed(123)
                assert torch.equal(torch.rand(1), after)
    with pytest.raises(TypeError, match="must not be a distributed sampler already"):
        idist.DistributedProxySampler(torch.utils.data.DistributedSampler(range(3), 1, 0))
    with pytest.raises(TypeError, match="sampler should be instance of torch Sampler"):
        idist.DistributedProxySampler([0, 1])


def test_new_group_and_shapes_in_one_process() -> None:
    assert idist.new_group([0]) == [0]
    with pytest.raises(ValueError, match="Argument ranks should be list of int, got"):
        idist.new_group("0")
    t = torch.arange(6.0).reshape(2, 3)
    (alone,) = idist.all_gather_tensors_with_shapes(t, [[2, 3]])
    assert torch.equal(alone, t)
    with pytest.raises(ValueError, match=r"shapes should give one shape per rank \(1\)"):
        idist.all_gather_tensors_with_shapes(t, [[2, 3], [1, 3]])


def test_parallel_runs_here_without_nproc_per_node(capfd):
    seen = []
    with idist.Parallel(backend=None) as parallel:
        parallel.run(lambda local_rank, x, y=0: seen.append((local_rank, x, y)), 1, y=2)
    assert seen == [(0, 1, 2)]
    assert "End of run" in capfd.readouterr().err  # Ignite's log line, on stderr


def _spawned_report(local_rank: int, out: Path, tag: str, scale: int = 1) -> None:
    total = idist.all_reduce(torch.tensor([idist.get_rank() + 1]) * scale).item()
    report = {"local_rank": local_rank, "rank": idist.get_rank(), "world": idist.get_world_size()}
    report.update(backend=idist.backend(), total=total, env=os.environ["LOCAL_RANK"])
    torch.save(report, out / f"{tag}{local_rank}.pt")


def test_parallel_and_spawn_start_processes(tmp_path: Path, capfd) -> None:
    env_before = dict(os.environ)
    with idist.Parallel(backend="gloo", nproc_per_node=2, master_port=_free_port()) as p:
        p.run(_spawned_report, tmp_path, "parallel", scale=10)
    err = capfd.readouterr().err
    assert "Spawn function" in err and "in 2 processes" in err and "End of run" in err
    idist.spawn(
        "gloo",
        _spawned_report,
        args=(tmp_path, "spawn"),
        nproc_per_node=2,
        init_method=f"file://{tmp_path / 'rendezvous'}",
        timeout=GLOO_TIMEOUT,
    )
    for tag, scale in (("parallel", 10), ("spawn", 1)):
        seen = [torch.load(tmp_path / f"{tag}{r}.pt") for r in range(2)]
        assert [(s["local_rank"], s["rank"], s["env"]) for s in seen] == [(0, 0, "0"), (1, 1, "1")]
        # ranks 0 and 1 add 1 and 2 (times scale): both ran in one process group of two
        assert {(s["world"], s["backend"], s["total"]) for s in seen} == {(2, "gloo", 3 * scale)}
    assert dict(os.environ) == env_before and idist.get_world_size() == 1


def test_a_failing_spawned_process_fails_spawn(tmp_path: Path) -> None:
    with pytest.raises(mp.ProcessRaisedException, match="missing does not exist"):
        idist.spawn(
            "gloo", _spawned_report, args=(tmp_path / "missing", "x"), nproc_per_node=2,
            master_port=_free_port(), timeout=GLOO_TIMEOUT,
        )  # fmt: skip


def test_parallel_checks_where_processes_go() -> None:
    for kwargs, message in [
        (dict(backend="xla"), "Unknown backend 'xla'. Available backends:"),
        (dict(backend=None, nnodes=2), "If backend is None, argument 'nnodes' should be also"),
        (dict(nproc_per_node=0), "Argument nproc_per_node should positive, but given 0"),
        (dict(nproc_per_node=1, nnodes=0), "Argument nnodes should positive"),
        (dict(nproc_per_node=1, nnodes=2), "arguments node_rank should be given"),
        (dict(nproc_per_node=1, nnodes=2, node_rank=2), "node_rank should be between 0 and 1"),
        (dict(nproc_per_node=1, nnodes=2, node_rank=1), "master_addr and master_port or init"),
        (dict(init_method="tcp://10.0.0.1:1234"), "will hang. To fix this, please configure"),
    ]:
        with pytest.raises(ValueError, match=re.escape(message)):
            idist.Parallel(**{"backend": "gloo", **kwargs})
    with pytest.raises(ValueError, match="master_addr and master_port should be None"):
        idist.spawn("gloo", print, (), init_method="file:///tmp/x", master_port=1)
    with pytest.raises(ValueError, match="Backend should be one of"):
        idist.spawn("xla", print, ())
