"""Tests for miniengine.handlers.checkpoint: names, best-k, atomic writes, loading, exact resume."""

from __future__ import annotations

import os
import random
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, DistributedSampler

import miniengine.engine as engine_module
from miniengine.engine import Engine, Events
from miniengine.handlers.checkpoint import (
    BaseSaveHandler,
    Checkpoint,
    CheckpointEvents,
    DiskSaver,
    ModelCheckpoint,
    RNGState,
)
from miniengine.supervised import create_supervised_trainer

# --------------------------------------------------------------------------- file names, best-k

# (name, Checkpoint kwargs, scores by epoch or None); 4 epochs of 5 iterations each
CONFIGS = [
    ("default", {}, None),
    ("prefix", {"filename_prefix": "pre", "n_saved": 2}, None),
    ("keep all", {"n_saved": None}, None),
    ("float score", {"n_saved": 2}, [0.5, 0.7, 0.6, 0.8]),
    ("int score", {"n_saved": 2}, [1, 3, 2, 3]),
    ("int score ge", {"n_saved": 2, "greater_or_equal": True}, [1, 3, 2, 3]),
    ("ties", {"n_saved": 1}, [1, 1, 1, 1]),
    ("ties ge", {"n_saved": 1, "greater_or_equal": True}, [1, 1, 1, 1]),
    ("score name", {"n_saved": 2, "score_name": "acc"}, [0.5, 0.7, 0.6, 0.8]),
    ("negative", {"n_saved": 2, "score_name": "neg_loss"}, [-0.5, -0.123456, -0.6, -0.8]),
    ("score name + step", {"n_saved": 2, "score_name": "acc", "gst": True}, [0.5, 0.7, 0.6, 0.8]),
    ("score + step", {"n_saved": 2, "gst": True}, [0.5, 0.7, 0.6, 0.8]),
    ("step", {"n_saved": 2, "gst": True}, None),
    ("falling step", {"n_saved": 2, "gst": "falling"}, None),
    ("pattern", {"n_saved": 2, "filename_pattern": "{global_step}-{name}-{score}.{ext}"}, None),
    ("same file", {"n_saved": 2, "filename_pattern": "ck.pt"}, None),
    ("include self", {"n_saved": 2, "include_self": True}, None),
]


def _kwargs(config: dict, scores: list | None) -> dict:
    kwargs = dict(config)
    gst = kwargs.pop("gst", None)
    if gst is True:
        kwargs["global_step_transform"] = lambda engine, event: engine.state.epoch
    elif gst == "falling":
        kwargs["global_step_transform"] = lambda engine, event: 10 - engine.state.epoch
    if scores is not None:
        kwargs["score_function"] = lambda engine: scores[engine.state.epoch - 1]
    return kwargs


def _run_checkpoint(engine_mod, checkpoint_cls, tmp: Path, config: dict, scores, to_save=None):
    engine = engine_mod.Engine(lambda engine, batch: None)
    model = nn.Linear(2, 1)
    if to_save is None:
        # include_self needs a mutable dict of several objects to give a "checkpoint_" file
        to_save = {"model": model, "opt": torch.optim.SGD(model.parameters(), 0.1)}
        if not config.get("include_self"):
            to_save = {"model": model}
    handler = checkpoint_cls(to_save, str(tmp), **_kwargs(config, scores))
    engine.add_event_handler(engine_mod.Events.EPOCH_COMPLETED, handler)
    engine.run(list(range(5)), max_epochs=4)
    last = handler.last_checkpoint
    return sorted(os.listdir(tmp)), last and Path(last).name, list(handler.state_dict()["_saved"])


@pytest.mark.parametrize("label,config,scores", CONFIGS, ids=[c[0] for c in CONFIGS])
def test_file_names_and_kept_set_match_ignite(tmp_path, label, config, scores):
    ignite_engine = pytest.importorskip("ignite.engine")
    ignite_handlers = pytest.importorskip("ignite.handlers")
    ours = _run_checkpoint(engine_module, Checkpoint, tmp_path / "ours", config, scores)
    theirs = _run_checkpoint(
        ignite_engine, ignite_handlers.Checkpoint, tmp_path / "ignite", config, scores
    )
    assert ours == theirs


def test_file_names_follow_documented_pattern(tmp_path):
    scores = [0.5, 0.7, 0.25, 0.8]
    config = {"filename_prefix": "best", "score_name": "acc", "n_saved": 2, "gst": True}
    files, last, saved = _run_checkpoint(engine_module, Checkpoint, tmp_path, config, scores)
    # the two highest scores, each named {prefix}_{name}_{step}_{score_name}={score:.4f}.pt
    expected = [f"best_model_{e}_acc={scores[e - 1]:.4f}.pt" for e in (2, 4)]
    assert files == sorted(expected)
    assert last == expected[-1]
    assert saved == [(0.7, expected[0]), (0.8, expected[1])]


def test_default_name_is_the_iteration_and_n_saved_keeps_the_latest(tmp_path):
    engine = Engine(lambda engine, batch: None)
    handler = Checkpoint({"model": nn.Linear(1, 1), "trainer": engine}, tmp_path, n_saved=3)
    engine.add_event_handler(Events.ITERATION_COMPLETED(every=4), handler)
    engine.run(range(10), max_epochs=2)  # checkpoints at iterations 4, 8, 12, 16, 20
    assert sorted(os.listdir(tmp_path)) == [f"checkpoint_{i}.pt" for i in (12, 16, 20)]
    assert handler.last_checkpoint == tmp_path / "checkpoint_20.pt"


def test_saved_checkpoint_event_fires_after_each_save(tmp_path):
    engine = Engine(lambda engine, batch: None)
    handler = Checkpoint({"model": nn.Linear(1, 1)}, tmp_path, n_saved=None)
    engine.register_events(*CheckpointEvents)  # to attach a handler before the first save
    seen = []
    engine.add_event_handler(
        Checkpoint.SAVED_CHECKPOINT, lambda e: seen.append(sorted(os.listdir(tmp_path)))
    )
    engine.add_event_handler(Events.EPOCH_COMPLETED, handler)
    engine.run([0, 1], max_epochs=2)
    assert seen == [["model_2.pt"], ["model_2.pt", "model_4.pt"]]


# --------------------------------------------------------------------------- contents, loading


def _trained(seed: int) -> tuple[nn.Module, torch.optim.Optimizer, Engine]:
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    trainer = create_supervised_trainer(model, optimizer, nn.MSELoss())
    data = [(torch.randn(5, 3), torch.randn(5, 1)) for _ in range(3)]
    trainer.run(data, max_epochs=2)
    return model, optimizer, trainer


def _assert_same_state(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        if isinstance(a[key], torch.Tensor):
            assert torch.equal(a[key], b[key]), key
        elif isinstance(a[key], dict):
            _assert_same_state(a[key], b[key])
        else:
            assert a[key] == b[key], key


def test_load_objects_from_path_restores_bit_identical_state(tmp_path):
    model, optimizer, trainer = _trained(0)
    handler = Checkpoint({"model": model, "optimizer": optimizer, "trainer": trainer}, tmp_path)
    handler(trainer)
    assert handler.last_checkpoint == tmp_path / "checkpoint_6.pt"

    model2, optimizer2, trainer2 = _trained(1)  # different weights and Adam moments
    to_load = {"model": model2, "optimizer": optimizer2, "trainer": trainer2}
    Checkpoint.load_objects(to_load, handler.last_checkpoint)
    _assert_same_state(model.state_dict(), model2.state_dict())
    _assert_same_state(optimizer.state_dict(), optimizer2.state_dict())
    assert trainer2.state_dict() == trainer.state_dict()


def test_load_objects_single_object_nested_and_strict(tmp_path):
    a, b = nn.Linear(2, 2), nn.Linear(2, 2)
    Checkpoint.load_objects({"model": b}, a.state_dict())  # the bare state of a single object
    assert torch.equal(a.weight, b.weight)

    models = [nn.Linear(2, 1), nn.Linear(1, 1)]
    copies = [nn.Linear(2, 1), nn.Linear(1, 1)]
    engine = Engine(lambda e, batch: None)
    Checkpoint({"nets": models}, tmp_path)(engine)
    Checkpoint.load_objects({"nets": copies}, tmp_path / "nets_0.pt")
    assert all(torch.equal(m.weight, c.weight) for m, c in zip(models, copies, strict=True))

    partial = {"model": {"weight": torch.zeros(2, 2)}}
    with pytest.raises(RuntimeError, match='Missing key.*"bias"'):
        Checkpoint.load_objects({"model": b}, partial)
    Checkpoint.load_objects({"model": b}, partial, strict=False)
    assert torch.equal(b.weight, torch.zeros(2, 2))


def test_load_objects_errors():
    model = nn.Linear(1, 1)
    with pytest.raises(TypeError, match="checkpoint should be a string or a dictionary"):
        Checkpoint.load_objects({"m": model}, 3)
    with pytest.raises(TypeError, match=r"to_load\['m'\] of type <class 'int'>.*load_state_dict"):
        Checkpoint.load_objects({"m": 3}, {})
    # Ignite's words first (x is to_load, y the checkpoint), then which entry and what is there
    with pytest.raises(
        ValueError, match=r"^Key 'o' from x is not found in y: to_load\['o'\].*\['m'\]"
    ):
        Checkpoint.load_objects({"m": model, "o": model}, {"m": model.state_dict()})


def test_files_load_in_ignite_and_ignite_files_load_here(tmp_path):
    ignite_handlers = pytest.importorskip("ignite.handlers")
    model, optimizer, trainer = _trained(0)
    Checkpoint({"model": model, "optimizer": optimizer}, tmp_path / "ours")(trainer)
    target = _trained(1)[0]
    ignite_handlers.Checkpoint.load_objects({"model": target}, tmp_path / "ours/checkpoint_6.pt")
    _assert_same_state(model.state_dict(), target.state_dict())

    ignite_handlers.Checkpoint({"model": model}, tmp_path / "ignite")(_ignite_engine_at(6))
    target = _trained(2)[0]
    Checkpoint.load_objects({"model": target}, tmp_path / "ignite/model_6.pt")
    _assert_same_state(model.state_dict(), target.state_dict())


def _ignite_engine_at(iteration: int):
    ignite_engine = pytest.importorskip("ignite.engine")
    engine = ignite_engine.Engine(lambda e, b: None)
    engine.run([0] * iteration)
    return engine


def test_include_self_and_state_dict_round_trip(tmp_path):
    engine = Engine(lambda e, batch: None)
    model = nn.Linear(1, 1)
    handler = Checkpoint({"model": model}, tmp_path, n_saved=2, include_self=True)
    engine.add_event_handler(Events.EPOCH_COMPLETED, handler)
    engine.run([0], max_epochs=3)
    stored = torch.load(tmp_path / "model_3.pt", weights_only=True)
    assert list(stored["checkpointer"]["_saved"]) == [(2, "model_2.pt"), (3, "model_3.pt")]
    _assert_same_state(stored["model"], model.state_dict())

    # A new handler loaded with that state goes on removing the old files.
    again = Checkpoint({"model": model}, DiskSaver(tmp_path, require_empty=False), n_saved=2)
    to_load = {"model": nn.Linear(1, 1), "checkpointer": again}
    Checkpoint.load_objects(to_load, tmp_path / "model_3.pt")
    engine.state.iteration = 10
    again(engine)
    assert sorted(os.listdir(tmp_path)) == ["model_10.pt", "model_3.pt"]

    with pytest.raises(ValueError, match="Required state attribute '_saved' is absent"):
        again.load_state_dict({"x": 1})
    with pytest.raises(TypeError, match="should be a dictionary"):
        again.load_state_dict([1])


def test_custom_save_handlers(tmp_path):
    calls = []

    def two_args(checkpoint, filename):
        calls.append(filename)

    engine = Engine(lambda e, batch: None)
    engine.add_event_handler(
        Events.ITERATION_COMPLETED, Checkpoint({"a": nn.Linear(1, 1)}, two_args)
    )
    engine.run([0, 1])
    assert calls == ["a_1.pt", "a_2.pt"]  # a plain function keeps everything

    class Recorder(BaseSaveHandler):
        def __call__(self, checkpoint, filename, metadata=None):
            calls.append(("save", filename, dict(metadata)))

        def remove(self, filename):
            calls.append(("remove", filename))

    calls.clear()
    handler = Checkpoint({"a": nn.Linear(1, 1)}, Recorder(), filename_prefix="p")
    engine.add_event_handler(Events.ITERATION_COMPLETED, handler)
    engine.run([0, 1])
    meta = {"basename": "p_a", "score_name": None}
    # the new file is saved before the one it replaces is removed
    assert calls == [
        ("save", "p_a_1.pt", {**meta, "priority": 1}),
        ("save", "p_a_2.pt", {**meta, "priority": 2}),
        ("remove", "p_a_1.pt"),
    ]

    def broken(checkpoint, filename, metadata):
        calls.append("broken")
        raise TypeError("inside the saver")

    calls.clear()
    with pytest.raises(TypeError, match="inside the saver"):
        Checkpoint({"a": nn.Linear(1, 1)}, broken)(engine)
    assert calls == ["broken"]  # called once: its TypeError is not mistaken for a signature error


def test_model_checkpoint(tmp_path):
    engine = Engine(lambda e, batch: None)
    handler = ModelCheckpoint(tmp_path, "run", n_saved=2)
    assert handler.last_checkpoint is None
    engine.add_event_handler(Events.EPOCH_COMPLETED(every=2), handler, {"net": nn.Linear(3, 3)})
    engine.run(list(range(5)), max_epochs=6)
    assert sorted(os.listdir(tmp_path)) == ["run_net_20.pt", "run_net_30.pt"]
    assert handler.last_checkpoint == tmp_path / "run_net_30.pt"
    with pytest.raises(RuntimeError, match="No objects to checkpoint found."):
        handler(engine, {})
    with pytest.raises(ValueError, match="already present in the directory"):
        ModelCheckpoint(tmp_path, "run")


# --------------------------------------------------------------------------- atomic writes


class Unpicklable:
    """A state whose serialization fails after the tensors before it were written."""

    def __reduce__(self):
        raise RuntimeError("cannot serialize")


class BreaksMidSave:
    def __init__(self):
        self.broken = False

    def state_dict(self):
        state = {"big": torch.arange(100_000)}
        if self.broken:
            state["z"] = Unpicklable()
        return state


def _first_checkpoint(tmp_path, obj, n_saved=1):
    engine = Engine(lambda e, batch: None)
    handler = Checkpoint({"model": nn.Linear(2, 1), "x": obj}, tmp_path, n_saved=n_saved)
    engine.state.iteration = 1
    handler(engine)
    before = (tmp_path / "checkpoint_1.pt").read_bytes()
    engine.state.iteration = 2
    return engine, handler, before


def _assert_untouched(tmp_path, handler, before):
    assert os.listdir(tmp_path) == ["checkpoint_1.pt"]  # and no temporary file left over
    assert (tmp_path / "checkpoint_1.pt").read_bytes() == before
    assert torch.load(tmp_path / "checkpoint_1.pt", weights_only=True)["x"]["big"][-1] == 99_999
    assert handler.last_checkpoint == tmp_path / "checkpoint_1.pt"


def test_failure_during_serialization_keeps_previous_checkpoint(tmp_path):
    obj = BreaksMidSave()
    engine, handler, before = _first_checkpoint(tmp_path, obj)
    obj.broken = True
    with pytest.raises(RuntimeError, match="cannot serialize"):
        handler(engine)
    _assert_untouched(tmp_path, handler, before)


def test_half_written_file_keeps_previous_checkpoint(tmp_path, monkeypatch):
    engine, handler, before = _first_checkpoint(tmp_path, BreaksMidSave())
    real_save = torch.save
    seen = []

    def half_then_fail(obj, f, **kwargs):
        seen.append(sorted(os.listdir(tmp_path)))
        real_save(obj, f, **kwargs)
        f.truncate(f.tell() // 2)
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", half_then_fail)
    with pytest.raises(OSError, match="disk full"):
        handler(engine)
    (temporary,) = set(seen[0]) - {"checkpoint_1.pt"}  # written beside the target
    assert temporary.startswith(".checkpoint_2.pt.") and temporary.endswith(".tmp")
    _assert_untouched(tmp_path, handler, before)


def test_failure_overwriting_the_same_file_keeps_it(tmp_path, monkeypatch):
    engine = Engine(lambda e, batch: None)
    model = nn.Linear(2, 1)
    handler = Checkpoint({"model": model}, tmp_path, filename_pattern="last.pt")
    handler(engine)
    before = (tmp_path / "last.pt").read_bytes()
    nn.init.zeros_(model.weight)
    engine.state.iteration = 1  # a higher priority than the kept one

    def fail(obj, f, **kwargs):
        f.write(b"garbage")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", fail)
    with pytest.raises(OSError):
        handler(engine)
    assert os.listdir(tmp_path) == ["last.pt"]
    assert (tmp_path / "last.pt").read_bytes() == before


def test_state_dict_error_writes_nothing(tmp_path):
    class Fails:
        def state_dict(self):
            raise ValueError("no state")

    engine = Engine(lambda e, batch: None)
    with pytest.raises(ValueError, match="no state"):
        Checkpoint({"x": Fails()}, tmp_path)(engine)
    assert os.listdir(tmp_path) == []


def test_non_atomic_saver_writes_in_place(tmp_path):
    saver = DiskSaver(tmp_path, atomic=False)
    saver({"w": torch.ones(2)}, "a.pt")
    assert os.listdir(tmp_path) == ["a.pt"]
    assert torch.equal(torch.load(tmp_path / "a.pt")["w"], torch.ones(2))
    saver.remove("a.pt")
    assert os.listdir(tmp_path) == []


# --------------------------------------------------------------------------- argument errors


def test_disk_saver_errors(tmp_path):
    (tmp_path / "old.pt").touch()
    (tmp_path / "notes.txt").touch()
    with pytest.raises(ValueError, match=r"Files \['old.pt'\] with extension '.pt' are already"):
        DiskSaver(tmp_path)
    assert DiskSaver(tmp_path, require_empty=False).dirname == tmp_path
    with pytest.raises(ValueError, match="Directory path '.*missing' is not found"):
        DiskSaver(tmp_path / "missing", create_dir=False)
    assert DiskSaver(tmp_path / "a" / "b").dirname.is_dir()
    for rank in (-1, 0.0, "0", True):
        with pytest.raises(
            ValueError, match=f"save_on_rank should be a rank, an int >= 0, got {rank!r}"
        ):
            DiskSaver(tmp_path / "c", save_on_rank=rank)


def test_save_on_another_rank_than_this_process_writes_nothing(tmp_path):
    # As in Ignite: accepted (the process group may be made later), and only that rank writes.
    with pytest.warns(UserWarning, match="save_on_rank=1, but this run has 1 process"):
        saver = DiskSaver(tmp_path / "c", save_on_rank=1)
    assert not (tmp_path / "c").exists()  # the writing rank creates the directory
    saver({"w": torch.ones(1)}, "a.pt")
    with pytest.warns(UserWarning, match="save_on_rank=1"):
        handler = Checkpoint({"m": nn.Linear(1, 1)}, tmp_path / "d", save_on_rank=1)
    handler(Engine(lambda e, b: None))
    assert not (tmp_path / "c").exists() and not (tmp_path / "d").exists()
    ignite_handlers = pytest.importorskip("ignite.handlers")
    ignite_handlers.DiskSaver(tmp_path / "e", save_on_rank=1)({"w": torch.ones(1)}, "a.pt")
    assert not (tmp_path / "e").exists()


def test_checkpoint_argument_errors(tmp_path):
    model = nn.Linear(1, 1)
    with pytest.raises(TypeError, match="`to_save` should be a dictionary"):
        Checkpoint([model], tmp_path)
    with pytest.raises(TypeError, match=r"to_save\['a'\]\[1\] of type <class 'int'>"):
        Checkpoint({"a": [model, 3]}, tmp_path)
    with pytest.raises(TypeError, match="`save_handler` should be a string or Path"):
        Checkpoint({"m": model}, 3)
    with pytest.raises(TypeError, match="global_step_transform should be a function"):
        Checkpoint({"m": model}, tmp_path, global_step_transform=3)
    with pytest.raises(ValueError, match="n_saved must be a positive integer or None, got 0"):
        Checkpoint({"m": model}, tmp_path, n_saved=0)
    with pytest.raises(ValueError, match="Cannot have key 'checkpointer'"):
        Checkpoint({"checkpointer": model}, tmp_path, include_self=True)
    from types import MappingProxyType

    with pytest.raises(TypeError, match="`to_save` must be mutable"):
        Checkpoint(MappingProxyType({"m": model}), tmp_path, include_self=True)
    with pytest.raises(ValueError, match="score_sign should be 1 or -1"):
        Checkpoint.get_default_score_fn("acc", 2.0)
    with pytest.raises(ValueError, match="At least one of with_score and with_global_step"):
        Checkpoint.setup_filename_pattern(with_score=False, with_global_step=False)
    with pytest.raises(ValueError, match="with_score should be also True"):
        Checkpoint.setup_filename_pattern(with_score=False)
    handler = Checkpoint({"m": model}, tmp_path, score_function=lambda e: "high")
    with pytest.raises(ValueError, match="Output of score_function should be a number"):
        handler(Engine(lambda e, b: None))


def test_default_score_function_reads_metrics(tmp_path):
    evaluator = Engine(lambda e, batch: None)
    handler = Checkpoint({"m": nn.Linear(1, 1)}, tmp_path, score_name="acc", n_saved=2)
    for acc in (0.5, 0.25, 0.75):
        evaluator.state.metrics = {"acc": acc}
        handler(evaluator)
    assert sorted(os.listdir(tmp_path)) == ["m_acc=0.5000.pt", "m_acc=0.7500.pt"]


# --------------------------------------------------------------------------- RNGState


def _draw() -> tuple:
    return random.random(), float(np.random.rand()), torch.rand(3)


def test_rng_state_round_trip_through_a_file(tmp_path):
    rng = RNGState()
    Checkpoint({"rng": rng}, tmp_path)(Engine(lambda e, b: None))
    expected = _draw()
    _draw()
    Checkpoint.load_objects({"rng": rng}, tmp_path / "rng_0.pt")  # weights_only=True load
    again = _draw()
    assert again[:2] == expected[:2] and torch.equal(again[2], expected[2])


def test_rng_state_with_engine_restores_at_the_next_batch_fetch():
    engine = Engine(lambda e, batch: torch.rand(1).item())
    rng = RNGState(engine)
    state = rng.state_dict()
    expected = torch.rand(1).item()
    rng.load_state_dict(state)
    torch.rand(5)  # draws between loading and running do not matter
    assert engine.run([0]).output == expected
    with pytest.raises(ValueError, match=r"lacks the keys \['cuda', 'numpy'\]"):
        rng.load_state_dict({"python": 1, "torch": 2})


def test_resume_with_random_batches_and_no_data():
    # data=None: the process function draws each "batch" from the global torch generator
    def make():
        engine = Engine(lambda e, batch: torch.rand(1).item())
        to_save = {"trainer": engine, "rng": RNGState(engine)}
        outputs = []
        engine.add_event_handler(
            Events.ITERATION_COMPLETED, lambda e: outputs.append(e.state.output)
        )
        return engine, to_save, outputs

    engine, to_save, outputs = make()
    saved = {}
    engine.add_event_handler(
        Events.ITERATION_COMPLETED(once=5),
        lambda: saved.update({k: v.state_dict() for k, v in to_save.items()}),
    )
    torch.manual_seed(0)
    engine.run(None, epoch_length=4, max_epochs=3)

    engine, to_save, resumed = make()
    Checkpoint.load_objects(to_save, saved)
    torch.manual_seed(123)
    engine.run()
    assert len(outputs) == 12 and resumed == outputs[5:]


# --------------------------------------------------------------------------- exact resume


class NoisyDataset(Dataset):
    """Random augmentation drawn from the global torch and numpy generators at each fetch."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor):
        self.x, self.y = x, y

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int):
        return self.x[i] + 0.1 * torch.randn(4) + float(np.random.rand()), self.y[i]


def train(
    mode: str, ckpt_dir: Path, resume: bool, defer_rng: bool = True, stop: str = "", every: int = 3
):
    """A small training run that checkpoints every ``every`` iterations; returns the model.

    ``mode`` "list": a list of batches. "loader": a DataLoader with random augmentations and a
    sampler shuffled by (seed, epoch). Dropout, Adam, a StepLR stepped per iteration, and python
    / numpy random numbers in the loss all take part. ``stop`` is "" (run to the end), or
    "interrupt@<iteration>". (tests/test_resume.py kills real processes.)
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the same summation order in every run
    try:
        return _train(mode, ckpt_dir, resume, defer_rng, stop, every)
    finally:
        torch.set_num_threads(threads)


def _train(mode, ckpt_dir, resume, defer_rng, stop, every):
    torch.manual_seed(0)
    random.seed(0)
    np.random.seed(0)
    x, y = torch.randn(40, 4), torch.randint(0, 2, (40,))
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Dropout(0.3), nn.Linear(8, 2))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=4, gamma=0.5)

    def loss_fn(y_pred, target):
        return nn.functional.cross_entropy(y_pred, target) * (1 + random.random() / 10)

    def model_fn(net, inputs):
        return net(inputs + float(np.random.rand()) / 100)

    trainer = create_supervised_trainer(model, optimizer, loss_fn, model_fn=model_fn)
    trainer.add_event_handler(Events.ITERATION_COMPLETED, lambda: scheduler.step())
    if mode == "list":
        data = [(x[i : i + 5], y[i : i + 5]) for i in range(0, 40, 5)]  # 8 batches
    elif mode == "shuffle":
        data = DataLoader(NoisyDataset(x, y), batch_size=6, shuffle=True)
    else:
        sampler = DistributedSampler(NoisyDataset(x, y), num_replicas=1, rank=0, seed=7)
        trainer.add_event_handler(Events.EPOCH_STARTED, lambda e: sampler.set_epoch(e.state.epoch))
        data = DataLoader(NoisyDataset(x, y), batch_size=6, sampler=sampler)  # 7 batches
    to_save = {
        "trainer": trainer,
        "model": model,
        "optimizer": optimizer,
        "scheduler": scheduler,
        "rng": RNGState(trainer if defer_rng else None),
    }
    if stop:
        how, at = stop.split("@")
        assert how == "interrupt"
        # registered before the checkpoint handler: runs just before the save of that iteration
        trainer.add_event_handler(Events.ITERATION_COMPLETED(once=int(at)), Engine.interrupt)
    handler = Checkpoint(to_save, DiskSaver(ckpt_dir, require_empty=False), n_saved=2)
    trainer.add_event_handler(Events.ITERATION_COMPLETED(every=every), handler)
    if resume:
        last = max(ckpt_dir.glob("checkpoint_*.pt"), key=lambda p: int(p.stem.split("_")[1]))
        Checkpoint.load_objects(to_save, last)
        trainer.run(data)
    else:
        trainer.run(data, max_epochs=3)
    return model


def _assert_same_weights(expected: dict, actual: dict) -> None:
    assert expected.keys() == actual.keys()
    for key in expected:
        assert torch.equal(expected[key], actual[key]), key


# "shuffle" is DataLoader(shuffle=True): its RandomSampler seeds itself from the torch generator
# when the epoch's iterator starts, which a resumed run cannot replay (docs/resume.md).
@pytest.mark.parametrize(
    "mode,stop,every,defer_rng,identical",
    [
        ("list", "interrupt@14", 3, True, True),
        ("loader", "interrupt@11", 3, True, True),
        ("loader", "interrupt@11", 3, False, False),
        ("shuffle", "interrupt@11", 3, True, False),
        ("loader", "interrupt@16", 7, True, True),  # saved at the end of an epoch
    ],
)
def test_interrupted_then_resumed_run_is_bit_identical(
    tmp_path, mode, stop, every, defer_rng, identical
):
    # Resume with fresh objects from the last checkpoint before the stop. Restoring the RNG at
    # once (defer_rng=False), before the DataLoader is re-created and its used batches skipped
    # (which draw random numbers), diverges.
    full = train(mode, tmp_path / "a", resume=False, every=every).state_dict()
    train(mode, tmp_path / "b", resume=False, stop=stop, every=every)
    resumed = train(mode, tmp_path / "b", resume=True, defer_rng=defer_rng, every=every)
    if identical:
        _assert_same_weights(full, resumed.state_dict())
    else:
        assert not all(torch.equal(full[k], resumed.state_dict()[k]) for k in full)


# --------------------------------------------------------------------------- keep the lowest loss


def test_score_sign_minus_one_keeps_the_lowest_losses(tmp_path):
    losses = [0.5, 0.3, 0.4, 0.2, 0.35]

    def run(engine_mod, checkpoint_cls, where):
        evaluator = engine_mod.Engine(lambda e, b: None)
        evaluator.add_event_handler(
            engine_mod.Events.EPOCH_COMPLETED,
            lambda e: e.state.metrics.update(loss=losses[e.state.epoch - 1]),
        )
        score = checkpoint_cls.get_default_score_fn("loss", score_sign=-1.0)
        handler = checkpoint_cls(
            {"model": nn.Linear(1, 1)},
            where,
            score_function=score,
            score_name="neg_loss",
            n_saved=2,
        )
        evaluator.add_event_handler(engine_mod.Events.EPOCH_COMPLETED, handler)
        evaluator.run([0], max_epochs=len(losses))
        return sorted(os.listdir(where)), Path(handler.last_checkpoint).name

    # the two lowest losses, 0.2 and 0.3, scored -0.2 and -0.3; the best is the lowest
    expected = (
        ["model_neg_loss=-0.2000.pt", "model_neg_loss=-0.3000.pt"],
        "model_neg_loss=-0.2000.pt",
    )
    assert run(engine_module, Checkpoint, tmp_path / "ours") == expected
    ignite_engine = pytest.importorskip("ignite.engine")
    ignite_handlers = pytest.importorskip("ignite.handlers")
    assert run(ignite_engine, ignite_handlers.Checkpoint, tmp_path / "ignite") == expected


def test_a_nan_score_is_never_saved_nor_kept(tmp_path):
    scores = iter([float("nan"), 0.5, float("nan"), 0.25, 0.75, float("nan")])
    engine = Engine(lambda e, b: None)
    handler = Checkpoint(
        {"m": nn.Linear(1, 1)}, tmp_path, score_function=lambda e: next(scores), n_saved=2
    )
    with pytest.warns(
        UserWarning,
        match="score_function returned NaN at iteration 0: this checkpoint is not saved",
    ):
        handler(engine)
    assert os.listdir(tmp_path) == [] and handler.last_checkpoint is None
    for _ in range(5):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            handler(engine)
    assert len(caught) == 1  # the last NaN
    assert sorted(os.listdir(tmp_path)) == ["m_0.5000.pt", "m_0.7500.pt"]
    assert handler.last_checkpoint == tmp_path / "m_0.7500.pt"


# --------------------------------------------------------------------------- restarts


def _saves(handler, steps, engine=None):
    engine = engine or Engine(lambda e, b: None)
    for step in steps:
        engine.state.iteration = step
        handler(engine)
    return engine


def _handler(tmp_path, **kwargs):
    to_save = kwargs.pop("to_save", {"model": nn.Linear(1, 1), "opt": nn.Linear(1, 1)})
    return Checkpoint(to_save, DiskSaver(tmp_path, require_empty=False), **kwargs)


def test_a_restarted_handler_keeps_n_saved_files(tmp_path):
    _saves(_handler(tmp_path, n_saved=2), [3, 6, 9])
    assert sorted(os.listdir(tmp_path)) == ["checkpoint_6.pt", "checkpoint_9.pt"]
    for step in [12, 15, 18]:
        handler = _handler(tmp_path, n_saved=2)  # a new process: nothing in memory
        _saves(handler, [step])
        assert set(os.listdir(tmp_path)) == {f"checkpoint_{step - 3}.pt", f"checkpoint_{step}.pt"}
        assert handler.last_checkpoint == tmp_path / f"checkpoint_{step}.pt"
    # Ignite, for comparison, piles them up
    ignite_handlers = pytest.importorskip("ignite.handlers")
    ignite_engine = pytest.importorskip("ignite.engine")
    for step in [3, 6, 9]:
        engine = ignite_engine.Engine(lambda e, b: None)
        engine.state.iteration = step
        ignite_handlers.Checkpoint(
            {"model": nn.Linear(1, 1), "opt": nn.Linear(1, 1)},
            ignite_handlers.DiskSaver(tmp_path / "ignite", require_empty=False),
            n_saved=2,
        )(engine)
    assert len(os.listdir(tmp_path / "ignite")) == 3


def test_restart_adopts_only_its_own_names_and_cuts_extras_after_a_save(tmp_path):
    _saves(_handler(tmp_path, n_saved=None), [3, 6, 9, 12])  # 4 files, e.g. n_saved was larger
    _saves(_handler(tmp_path, n_saved=None, filename_prefix="best"), [5])
    _saves(_handler(tmp_path, n_saved=None, to_save={"net": nn.Linear(1, 1)}), [7])
    (tmp_path / "checkpoint_x.pt").touch()  # not a name this handler writes
    (tmp_path / "notes.txt").touch()
    handler = _handler(tmp_path, n_saved=2)
    _saves(handler, [15])
    assert sorted(os.listdir(tmp_path)) == [
        "best_checkpoint_5.pt", "checkpoint_12.pt", "checkpoint_15.pt", "checkpoint_x.pt",
        "net_7.pt", "notes.txt",
    ]  # fmt: skip
    assert handler.state_dict()["_saved"] == [(12, "checkpoint_12.pt"), (15, "checkpoint_15.pt")]


def test_restart_ranks_scores_and_tells_them_from_steps(tmp_path):
    scores = iter([0.5, 0.75, 0.25, 0.625])

    def scored(n_saved):
        return _handler(
            tmp_path, n_saved=n_saved, score_function=lambda e: next(scores), score_name="acc"
        )

    _saves(scored(None), [1, 2, 3])  # acc 0.5, 0.75, 0.25
    _saves(_handler(tmp_path, n_saved=None, score_function=lambda e: 3), [4])  # checkpoint_3.pt
    _saves(_handler(tmp_path, n_saved=None), [203])  # checkpoint_203.pt: a step, not a score
    handler = scored(2)
    _saves(handler, [4])  # acc 0.625 beats 0.5 and 0.25: those go
    assert sorted(os.listdir(tmp_path)) == [
        "checkpoint_203.pt",
        "checkpoint_3.pt",
        "checkpoint_acc=0.6250.pt",
        "checkpoint_acc=0.7500.pt",
    ]
    assert handler.last_checkpoint == tmp_path / "checkpoint_acc=0.7500.pt"


def test_restart_removes_stale_temporary_files_of_its_own_names(tmp_path):
    _saves(_handler(tmp_path, n_saved=2), [3])
    mine = [".checkpoint_6.pt.ab_9cd0e.tmp", ".checkpoint_9.pt.zzzzzzzz.tmp"]
    others = [".best_checkpoint_6.pt.abcdefgh.tmp", ".checkpoint_6.pt.tmp", "x.tmp"]
    for name in mine + others:
        (tmp_path / name).write_bytes(b"half a checkpoint")
    _saves(_handler(tmp_path, n_saved=2), [12])
    assert sorted(os.listdir(tmp_path)) == sorted(["checkpoint_3.pt", "checkpoint_12.pt", *others])


def test_two_handlers_with_the_same_names_in_one_directory_is_an_error(tmp_path):
    first = _handler(tmp_path, n_saved=2)
    engine = _saves(first, [3])
    second = _handler(tmp_path, n_saved=None)
    message = (
        r"Checkpoint\(to_save keys \['model', 'opt'\], filename_prefix='', n_saved=None\) would "
        rf"write 'checkpoint_3.pt' to the directory {tmp_path}, where Checkpoint\(to_save keys "
        r"\['model', 'opt'\], filename_prefix='', n_saved=2\) keeps its checkpoints under the same "
        "names"
    )
    with pytest.raises(ValueError, match=message):
        _saves(second, [3], engine)
    with pytest.raises(ValueError, match="would write 'checkpoint_4.pt'"):  # not only the same file
        _saves(second, [4], engine)
    assert os.listdir(tmp_path) == ["checkpoint_3.pt"]
    # another prefix, another directory, or a handler of a finished run that is gone: fine
    _saves(_handler(tmp_path, filename_prefix="best"), [3])
    _saves(_handler(tmp_path / "other"), [3])
    del first, engine
    _saves(second, [6])
    assert sorted(os.listdir(tmp_path)) == [
        "best_checkpoint_3.pt",
        "checkpoint_3.pt",
        "checkpoint_6.pt",
        "other",
    ]


def test_the_same_file_name_from_two_patterns_is_an_error_at_the_collision(tmp_path):
    model = nn.Linear(1, 1)
    engine = Engine(lambda e, b: None)
    by_step = Checkpoint({"model": model}, DiskSaver(tmp_path, require_empty=False))
    fixed = Checkpoint(
        {"model": model},
        DiskSaver(tmp_path, require_empty=False),
        filename_pattern="model_{name}.pt",
    )
    _saves(by_step, [5], engine)
    _saves(fixed, [6], engine)  # model_model.pt: not a name by_step writes
    assert sorted(os.listdir(tmp_path)) == ["model_5.pt", "model_model.pt"]

    def saver(checkpoint, filename):
        pass

    one, two = Checkpoint({"a": model}, saver), Checkpoint({"a": model}, saver)
    _saves(one, [1])
    with pytest.raises(ValueError, match="would write 'a_1.pt' to the save handler"):
        _saves(two, [1])


def test_a_handler_that_continues_another_from_its_state_is_no_collision(tmp_path):
    # include_self: a new handler loaded with the old one's list continues it (Ignite's test too)
    first = _handler(tmp_path, n_saved=2, include_self=True)
    _saves(first, [3, 6])
    second = _handler(tmp_path, n_saved=2, include_self=True)
    Checkpoint.load_objects({"checkpointer": second}, tmp_path / "checkpoint_6.pt")
    _saves(second, [9])
    assert sorted(os.listdir(tmp_path)) == ["checkpoint_6.pt", "checkpoint_9.pt"]


# --------------------------------------------------------------------------- damaged files


def test_load_objects_on_an_empty_or_cut_short_file_names_it(tmp_path):
    model = nn.Linear(3, 3)
    before = model.weight.clone()
    _saves(Checkpoint({"model": nn.Linear(3, 3), "opt": nn.Linear(1, 1)}, tmp_path), [1])
    whole = (tmp_path / "checkpoint_1.pt").read_bytes()
    cases = {
        "empty.pt": b"",
        "half.pt": whole[: len(whole) // 2],
        "tail.pt": whole[:-10],
        "head.pt": whole[:100],
    }
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        expected = (
            "is empty \\(0 bytes\\)" if not data else f"\\({len(data)} bytes\\) does not load"
        )
        with pytest.raises(RuntimeError, match=f"^Checkpoint file '{tmp_path / name}' {expected}"):
            Checkpoint.load_objects({"model": model}, tmp_path / name)
    assert torch.equal(model.weight, before)
    with pytest.raises(FileNotFoundError, match="missing.pt"):
        Checkpoint.load_objects({"model": model}, tmp_path / "missing.pt")


def _flip_a_weight_byte(path: Path, weight: torch.Tensor) -> None:
    data = bytearray(path.read_bytes())
    at = bytes(data).find(weight.numpy().tobytes())  # the tensor's bytes in the zip archive
    assert at > 0
    data[at + 1] ^= 0x10
    path.write_bytes(bytes(data))


def test_one_flipped_byte_in_a_weight_is_an_error_naming_the_file(tmp_path):
    model = nn.Linear(4, 4)
    _saves(Checkpoint({"model": model}, tmp_path), [1])
    path = tmp_path / "model_1.pt"
    _flip_a_weight_byte(path, model.weight.detach())
    target = nn.Linear(4, 4)
    before = target.weight.clone()
    message = f"^Checkpoint file '{path}' is corrupt: Bad CRC-32 for file '.*data/0'"
    with pytest.raises(RuntimeError, match=message):
        Checkpoint.load_objects({"model": target}, path)
    assert torch.equal(target.weight, before)  # nothing loaded
    # torch.load, and so Ignite's load_objects, loads the wrong weights without a word
    target.load_state_dict(torch.load(path, weights_only=True))
    assert not torch.equal(target.weight, model.weight)


def test_checksums_are_skipped_where_torch_stored_none(tmp_path):
    model = nn.Linear(4, 4)
    torch.serialization.set_crc32_options(False)
    try:
        torch.save(model.state_dict(), tmp_path / "no_crc.pt")
    finally:
        torch.serialization.set_crc32_options(True)
    torch.save(model.state_dict(), tmp_path / "legacy.pt", _use_new_zipfile_serialization=False)
    for name in ("no_crc.pt", "legacy.pt"):
        target = nn.Linear(4, 4)
        Checkpoint.load_objects({"model": target}, tmp_path / name)
        assert torch.equal(target.weight, model.weight)


def test_find_latest_falls_back_past_a_corrupt_newest_file(tmp_path):
    model = nn.Linear(4, 4)
    handler = _handler(tmp_path, to_save={"model": model, "t": nn.Linear(1, 1)}, n_saved=3)
    assert handler.find_latest() is None
    _saves(handler, [4, 8, 12])
    (tmp_path / ".checkpoint_16.pt.abcdefgh.tmp").write_bytes(b"killed mid-save")
    _flip_a_weight_byte(tmp_path / "checkpoint_12.pt", model.weight.detach())
    (tmp_path / "checkpoint_8.pt").write_bytes(b"")
    del handler  # as in a new process
    restarted = _handler(tmp_path, to_save={"model": model, "t": nn.Linear(1, 1)}, n_saved=3)
    with pytest.warns(UserWarning) as caught:
        assert restarted.find_latest() == tmp_path / "checkpoint_4.pt"
    newest, older = (str(w.message) for w in caught)
    assert newest.startswith(f"Checkpoint file '{tmp_path / 'checkpoint_12.pt'}' is corrupt: Bad")
    assert older.startswith(f"Checkpoint file '{tmp_path / 'checkpoint_8.pt'}' is empty")
    assert newest.endswith("Trying an older checkpoint.")
    # the stale temporary file is gone; the bad files stay on disk but are not kept
    assert sorted(os.listdir(tmp_path)) == [
        "checkpoint_12.pt",
        "checkpoint_4.pt",
        "checkpoint_8.pt",
    ]
    assert restarted.state_dict()["_saved"] == [(4, "checkpoint_4.pt")]
    (tmp_path / "checkpoint_4.pt").write_bytes(b"")
    with pytest.raises(
        RuntimeError,
        match=r"None of the checkpoint files \['checkpoint_12.pt', 'checkpoint_8.pt', 'check",
    ):
        with pytest.warns(UserWarning):
            _handler(tmp_path, to_save={"model": model, "t": nn.Linear(1, 1)}).find_latest()


def test_find_latest_orders_by_step_and_works_for_model_checkpoint(tmp_path):
    handler = ModelCheckpoint(tmp_path, "run", n_saved=None)
    engine = Engine(lambda e, b: None)
    for step in (9, 10, 100):  # by number, not by name: checkpoint_9 < checkpoint_10 < _100
        engine.state.iteration = step
        handler(engine, {"net": nn.Linear(1, 1)})
    os.utime(tmp_path / "run_net_9.pt")  # the latest modified is not the newest step
    restarted = ModelCheckpoint(tmp_path, "run", require_empty=False)  # to_save not known yet
    assert restarted.find_latest() == tmp_path / "run_net_100.pt"
    with pytest.raises(AttributeError, match="`save_handler` should be of type `DiskSaver`"):
        Checkpoint({"m": nn.Linear(1, 1)}, lambda c, f: None).find_latest()


def test_model_checkpoint_last_checkpoint_with_another_save_handler(tmp_path):
    handler = ModelCheckpoint(tmp_path, "run")
    handler.save_handler = lambda checkpoint, filename: None
    handler(Engine(lambda e, b: None), {"net": nn.Linear(1, 1)})
    with pytest.raises(
        RuntimeError,
        match=r"^Internal error, save_handler should be DiskSaver, but has <class 'function'>\. A",
    ):
        _ = handler.last_checkpoint


def test_rng_state_refuses_a_bad_state_when_loaded():
    rng = RNGState(Engine(lambda e, b: torch.rand(1).item()))
    good = rng.state_dict()
    for key, bad in [("python", 1), ("numpy", "x"), ("torch", torch.zeros(3)), ("cuda", 5)]:
        message = rf"RNGState state_dict\['{key}'\] is not a {key} generator state .* got "
        with pytest.raises(ValueError, match=message):
            rng.load_state_dict({**good, key: bad})
    after = _draw()  # the failed loads tried each state and put the generators back
    RNGState().load_state_dict(good)
    again = _draw()
    assert again[:2] == after[:2] and torch.equal(again[2], after[2])
