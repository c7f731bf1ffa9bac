"""miniengine.contrib.engines.common: the same setups trained in Ignite and miniengine give the
same files, metrics, stops and TensorBoard scalars; argument checks with Ignite's messages."""

from __future__ import annotations

import importlib
import math
import os
import types
import warnings
from unittest import mock

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import SCALARS, EventAccumulator
from torch.utils.data import DistributedSampler

import miniengine.contrib.engines.common as common
from miniengine import distributed as idist
from miniengine.engine import Engine, Events
from miniengine.handlers import PiecewiseLinear

try:
    import ignite  # noqa: F401
except ImportError:  # the oracle tests skip
    HAVE_IGNITE = False
else:
    HAVE_IGNITE = True

needs_ignite = pytest.mark.skipif(not HAVE_IGNITE, reason="pytorch-ignite not installed")


def lib(name: str) -> types.SimpleNamespace:
    """The parts a script imports, from ``ignite`` or ``miniengine``: imports changed only."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        engine = importlib.import_module(f"{name}.engine")
        return types.SimpleNamespace(
            Engine=engine.Engine,
            Events=engine.Events,
            common=importlib.import_module(f"{name}.contrib.engines.common"),
            handlers=importlib.import_module(f"{name}.handlers"),
        )


LIBS = ["ignite", "miniengine"]


def scalars(log_dir) -> dict[str, list[tuple[int, float]]]:
    acc = EventAccumulator(str(log_dir), size_guidance={SCALARS: 0})
    acc.Reload()
    return {t: [(e.step, round(e.value, 5)) for e in acc.Scalars(t)] for t in acc.Tags()["scalars"]}


# --------------------------------------------------------------------------- one training script
def train(name: str, out, scheduler: str = "torch", losses=None, max_epochs: int = 6) -> dict:
    """A tiny regression trained with every helper of ``common``; what the helpers left behind.

    ``losses`` (by evaluation) replaces the evaluator's computed loss, to drive early stopping.
    """
    m = lib(name)
    torch.manual_seed(0)
    model = torch.nn.Linear(2, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    if scheduler == "torch":
        lr_scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=4, gamma=0.5)
    else:  # the library's own ParamScheduler
        lr_scheduler = m.handlers.PiecewiseLinear(optimizer, "lr", [(0, 0.1), (20, 0.01)])
    xs = torch.randn(16, 2)
    data = [(xs[i : i + 4], xs[i : i + 4].sum(1, keepdim=True)) for i in range(0, 16, 4)]

    def step(engine, batch):
        x, y = batch
        optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()
        optimizer.step()
        return {"loss": loss.item(), "half": loss.item() / 2}

    trainer = m.Engine(step)
    evaluator = m.Engine(lambda engine, batch: None)
    given = iter(losses or [])

    @evaluator.on(m.Events.COMPLETED)
    def compute(engine):
        with torch.no_grad():
            real = sum(torch.nn.functional.mse_loss(model(x), y).item() for x, y in data) / 4
        engine.state.metrics["Loss"] = next(given, real)

    trainer.add_event_handler(m.Events.EPOCH_COMPLETED, lambda engine: evaluator.run([0]))
    m.common.setup_common_training_handlers(
        trainer,
        to_save={"model": model, "optimizer": optimizer, "trainer": trainer},
        save_every_iters=3,
        output_path=str(out / "ckpt"),
        lr_scheduler=lr_scheduler,
        output_names=["loss", "half"],
        with_pbars=False,
        n_saved=2,
    )
    best = m.common.save_best_model_by_val_score(
        str(out / "best"), evaluator, model, "Loss", n_saved=2, trainer=trainer, score_sign=-1.0
    )
    gen = m.common.gen_save_best_models_by_val_score(
        m.handlers.DiskSaver(str(out / "gen"), require_empty=False),
        evaluator,
        {"net": model},
        "Loss",
        n_saved=1,
        tag="test",
        score_sign=-1.0,
    )
    stopper = m.common.add_early_stopping_by_val_score(2, evaluator, trainer, "Loss", -1.0)
    tb = m.common.setup_tb_logging(
        str(out / "tb"), trainer, optimizer, {"val": evaluator}, log_every_iters=3
    )
    state = trainer.run(data, max_epochs=max_epochs)
    tb.close()
    return {
        "files": {d: sorted(os.listdir(out / d)) for d in ("ckpt", "best", "gen")},
        "metrics": {k: round(v, 6) for k, v in state.metrics.items()},
        "stopped at": (state.epoch, state.iteration),
        "lr": round(optimizer.param_groups[0]["lr"], 8),
        "stopper": (type(stopper).__name__, stopper.counter),
        "best": (type(best).__name__, os.path.basename(str(best.last_checkpoint))),
        "gen": os.path.basename(str(gen.last_checkpoint)),
        "tb": scalars(out / "tb"),
    }


@needs_ignite
@pytest.mark.parametrize("scheduler", ["torch", "param"])
def test_same_files_metrics_and_scalars_as_ignite(tmp_path, scheduler):
    ours = train("miniengine", tmp_path / "ours", scheduler)
    theirs = train("ignite", tmp_path / "theirs", scheduler)
    assert ours == theirs
    # What the helpers must have produced, whatever the library:
    assert ours["files"]["ckpt"] == ["training_checkpoint_21.pt", "training_checkpoint_24.pt"]
    assert set(ours["metrics"]) == {"loss", "half"}  # the running averages of output_names
    assert {"training/loss", "training/half", "lr/group_0", "val/Loss"} == set(ours["tb"])
    assert [s for s, _ in ours["tb"]["val/Loss"]] == [1, 2, 3, 4, 5, 6]  # the trainer's epochs
    assert [s for s, _ in ours["tb"]["training/loss"]] == [3, 6, 9, 12, 15, 18, 21, 24]


@needs_ignite
def test_early_stopping_stops_both_at_the_same_epoch(tmp_path):
    losses = [0.5, 0.4, 0.45, 0.41, 0.3, 0.2]  # no improvement at epochs 3 and 4: stop after 4
    ours = train("miniengine", tmp_path / "ours", losses=losses)
    theirs = train("ignite", tmp_path / "theirs", losses=losses)
    assert ours == theirs
    assert ours["stopped at"] == (4, 16)
    # the two lowest losses, 0.4 (epoch 2) and 0.41 (epoch 4), with the trainer's epoch
    assert ours["files"]["best"] == [
        "best_model_2_val_loss=-0.4000.pt",
        "best_model_4_val_loss=-0.4100.pt",
    ]
    assert ours["best"][1] == "best_model_2_val_loss=-0.4000.pt"
    assert ours["gen"] == "best_net_test_loss=-0.4000.pt"


# --------------------------------------------------------------------------- by hand
def test_handlers_attached_in_one_process(tmp_path, capsys):
    outputs = iter([1.0, 3.0, float("nan"), 5.0])
    trainer = Engine(lambda engine, batch: (next(outputs), 10.0))
    model = torch.nn.Linear(1, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
    scheduler = PiecewiseLinear(optimizer, "lr", [(0, 1.0), (3, 0.25)])
    common.setup_common_training_handlers(
        trainer,
        to_save={"model": model},
        save_every_iters=1,
        output_path=str(tmp_path),
        lr_scheduler=scheduler,
        output_names=["a", "b"],
        log_every_iters=1,
    )
    state = trainer.run([0] * 4, max_epochs=1)
    # TerminateOnNan stopped the run at the NaN, after the checkpoint of that iteration
    assert state.iteration == 3
    assert os.listdir(tmp_path) == ["training_model_3.pt"]  # n_saved=1
    # running averages (alpha 0.98) by position in the output tuple, NaN included
    assert math.isnan(state.metrics["a"]) and state.metrics["b"] == 10.0
    # the schedule ran on ITERATION_STARTED: 1.0, 0.75, 0.5 at iterations 1..3
    assert optimizer.param_groups[0]["lr"] == 0.5
    err = capsys.readouterr().err
    assert "a=nan, b=10" in err  # the iterations bar shows every metric


def test_output_names_read_a_mapping_by_name_and_a_number_as_is():
    trainer = Engine(lambda engine, batch: {"loss": batch, "other": -batch})
    common.setup_common_training_handlers(trainer, output_names=["loss"], with_pbars=False)
    assert trainer.run([2.0, 4.0]).metrics == {"loss": 2.0 * 0.98 + 4.0 * 0.02}
    trainer = Engine(lambda engine, batch: torch.tensor(batch))
    common.setup_common_training_handlers(trainer, output_names=["x"], with_pbars=False)
    assert trainer.run([2.0, 4.0]).metrics["x"] == pytest.approx(2.04)


def test_argument_errors_start_with_ignites_words():
    trainer = Engine(lambda engine, batch: float("nan"))
    with pytest.raises(ValueError, match="If to_save argument is provided then output_path or"):
        common.setup_common_training_handlers(trainer, to_save={})
    with pytest.raises(ValueError, match="Arguments output_path and save_handler are mutually"):
        common.setup_common_training_handlers(
            trainer, to_save={}, output_path="x", save_handler=lambda c, f: None
        )
    with pytest.raises((ModuleNotFoundError, RuntimeError), match="pynvml|GPU"):
        common.setup_common_training_handlers(trainer, with_gpu_stats=True)  # as Ignite's
    # nothing was attached by the refused calls: no TerminateOnNan stops this run
    assert trainer.run([0, 0]).iteration == 2
    with pytest.raises(TypeError, match="Argument optimizers should be either a single optimizer"):
        common.setup_tb_logging("unused", trainer, optimizers=[1])
    with pytest.raises(TypeError, match="Argument evaluators should be either a single engine"):
        common.setup_tb_logging("unused", trainer, evaluators=[1])


def test_unhandled_output_type_fails_at_the_first_iteration():
    trainer = Engine(lambda engine, batch: None)
    common.setup_common_training_handlers(
        trainer, output_names=["loss"], with_pbars=False, stop_on_nan=False
    )
    with pytest.raises(TypeError, match="Unhandled type of update_function's output."):
        trainer.run([1])


def test_distributed_sampler_in_one_process_is_ignored_with_a_warning(recwarn):
    trainer = Engine(lambda engine, batch: None)
    sampler = DistributedSampler(list(range(4)), num_replicas=2, rank=0)
    with pytest.warns(UserWarning, match="Argument train_sampler is a distributed sampler"):
        common.setup_common_training_handlers(trainer, train_sampler=sampler)
    common.setup_common_training_handlers(
        Engine(lambda engine, batch: None), train_sampler=torch.utils.data.RandomSampler([0, 1])
    )
    assert len(recwarn) == 0


def test_setup_any_logging_is_gone_as_in_ignite():
    with pytest.raises(DeprecationWarning, match="deprecated since version 0.4.0"):
        common.setup_any_logging(None, None, Engine(lambda e, b: None), None, None, 1)


def test_empty_cuda_cache_collects_garbage():
    with mock.patch("gc.collect") as collect:  # gc is not our code
        common.empty_cuda_cache(Engine(lambda e, b: None))
    collect.assert_called_once_with()


def test_tb_logging_with_optimizers_by_name_and_one_evaluator(tmp_path):
    model = torch.nn.Linear(1, 1)
    opt_a = torch.optim.SGD(model.parameters(), lr=0.5)
    opt_b = torch.optim.SGD(model.parameters(), lr=0.25)
    trainer = Engine(lambda engine, batch: batch)
    evaluator = Engine(lambda engine, batch: None)
    evaluator.add_event_handler(
        Events.COMPLETED, lambda e: e.state.metrics.update(acc=trainer.state.epoch / 10)
    )
    trainer.add_event_handler(Events.EPOCH_COMPLETED, lambda: evaluator.run([0]))
    with common.setup_tb_logging(
        str(tmp_path), trainer, {"a": opt_a, "b": opt_b}, evaluator, log_every_iters=None
    ):
        trainer.run([1.0, 2.0], max_epochs=2)
    assert scalars(tmp_path) == {
        "a/lr/group_0": [(1, 0.5), (2, 0.5), (3, 0.5), (4, 0.5)],
        "b/lr/group_0": [(1, 0.25), (2, 0.25), (3, 0.25), (4, 0.25)],
        "validation/acc": [(1, 0.1), (2, 0.2)],
    }  # the trainer has no metrics: nothing under training/


# --------------------------------------------------------------------------- two processes
def _two_ranks(rank: int, port: int, out) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank))
    os.environ.update(LOCAL_RANK=str(rank), WORLD_SIZE="2", LOCAL_WORLD_SIZE="2")
    torch.set_num_threads(1)
    import sys

    sys.stderr = open(out / f"stderr{rank}.txt", "w", buffering=1)
    idist.initialize("gloo", timeout=30)
    try:
        trainer = Engine(lambda engine, batch: 0.0)
        with pytest.raises(TypeError, match="Train sampler should be torch DistributedSampler"):
            common.setup_common_training_handlers(trainer, torch.utils.data.RandomSampler([0]))
        sampler = DistributedSampler(list(range(8)), num_replicas=2, rank=rank, shuffle=True)
        epochs = []
        sampler.set_epoch = epochs.append  # record the calls (a torch object, not ours)
        common.setup_common_training_handlers(trainer, sampler, log_every_iters=1)
        trainer.run([0, 1], max_epochs=3)
        (out / f"epochs{rank}.txt").write_text(repr(epochs))
    finally:
        sys.stderr.flush()
        idist.finalize()


def test_two_processes_sampler_epochs_and_bars_on_rank_0(tmp_path):
    import socket

    import torch.multiprocessing as mp

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.start_processes(_two_ranks, args=(port, tmp_path), nprocs=2, start_method="spawn")
    for rank in (0, 1):
        assert (tmp_path / f"epochs{rank}.txt").read_text() == "[0, 1, 2]"
    assert "Epoch [3/3]" in (tmp_path / "stderr0.txt").read_text()
    assert (tmp_path / "stderr1.txt").read_text() == ""
