"""Tests for miniengine.supervised: trainer and evaluator factories, against Ignite and by hand."""

from __future__ import annotations

import copy
import warnings
from collections import namedtuple

import pytest
import torch
from torch import nn

import miniengine.engine
from miniengine.engine import Engine, Events
from miniengine.metrics import Accuracy, Loss
from miniengine.supervised import (
    _prepare_batch,
    create_supervised_evaluator,
    create_supervised_trainer,
    supervised_evaluation_step,
    supervised_training_step,
)


def _model_and_data(seed: int = 0):
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Dropout(0.2), nn.Linear(6, 3))
    data = [(torch.randn(5, 4), torch.randint(0, 3, (5,))) for _ in range(4)]
    return model, data


def _prepare_from_dict(batch, device=None, non_blocking=False):
    return batch["x"], batch["y"]


# name -> keyword arguments given to both libraries' create_supervised_trainer
TRAINER_CONFIGS = {
    "default": {},
    "accumulate 3": {"gradient_accumulation_steps": 3},
    "transforms": {
        "model_transform": lambda out: out * 2,
        "output_transform": lambda x, y, y_pred, loss: (loss.item(), y_pred.sum().item()),
        "model_fn": lambda model, x: model(x + 1),
    },
    "prepare_batch": {"prepare_batch": _prepare_from_dict},
    "device cpu": {"device": "cpu"},
}


def _train(lib, config: dict, optimizer_cls, seed_run: int = 1):
    """Train with ``lib.create_supervised_trainer``; lib is miniengine.engine or ignite.engine."""
    model, data = _model_and_data()
    if config.get("prepare_batch") is _prepare_from_dict:
        data = [{"x": x, "y": y} for x, y in data]
    optimizer = optimizer_cls(model.parameters(), lr=0.05)
    trainer = lib.create_supervised_trainer(model, optimizer, nn.CrossEntropyLoss(), **config)
    outputs = []
    trainer.add_event_handler(
        lib.Events.ITERATION_COMPLETED, lambda e: outputs.append(e.state.output)
    )
    torch.manual_seed(seed_run)  # the same dropout masks in both libraries
    trainer.run(data, max_epochs=3)
    return outputs, model.state_dict()


@pytest.mark.parametrize(
    "name,optimizer_cls",
    [(name, torch.optim.SGD) for name in TRAINER_CONFIGS]
    + [("default", torch.optim.Adam), ("accumulate 3", torch.optim.Adam)],
)
def test_trainer_matches_ignite_exactly(name, optimizer_cls):
    ignite_engine = pytest.importorskip("ignite.engine")
    config = TRAINER_CONFIGS[name]
    ours, our_weights = _train(miniengine.engine, config, optimizer_cls)
    theirs, their_weights = _train(ignite_engine, config, optimizer_cls)
    assert ours == theirs
    assert our_weights.keys() == their_weights.keys()
    for key in our_weights:
        assert torch.equal(our_weights[key], their_weights[key]), key


def test_trainer_step_by_hand():
    model = nn.Linear(2, 1)
    start = copy.deepcopy(model)
    x, y = torch.tensor([[1.0, 2.0]]), torch.tensor([[3.0]])
    trainer = create_supervised_trainer(
        model, torch.optim.SGD(model.parameters(), lr=0.1), nn.MSELoss()
    )
    state = trainer.run([(x, y)])
    # loss = (w.x + b - y)^2; one SGD step: w -= lr * 2 (w.x + b - y) x, b -= lr * 2 (w.x + b - y)
    error = (start(x) - y).item()
    assert state.output == pytest.approx(error**2)
    assert torch.allclose(model.weight, start.weight - 0.1 * 2 * error * x)
    assert torch.allclose(model.bias, start.bias - 0.1 * 2 * error)
    assert model.training


def test_gradient_accumulation_equals_one_step_on_the_whole_batch():
    torch.manual_seed(0)
    x, y = torch.randn(6, 3), torch.randn(6, 1)
    accumulated, whole = nn.Linear(3, 1), nn.Linear(3, 1)
    whole.load_state_dict(accumulated.state_dict())
    trainer = create_supervised_trainer(
        accumulated,
        torch.optim.SGD(accumulated.parameters(), lr=0.1),
        nn.MSELoss(),
        gradient_accumulation_steps=3,
    )
    outputs = []
    trainer.add_event_handler(Events.ITERATION_COMPLETED, lambda e: outputs.append(e.state.output))
    trainer.run([(x[i : i + 2], y[i : i + 2]) for i in (0, 2, 4)])
    # no step before the third chunk: each reported loss is that chunk's loss at the start
    with torch.no_grad():
        chunk_losses = [nn.MSELoss()(whole(x[i : i + 2]), y[i : i + 2]).item() for i in (0, 2, 4)]
    assert outputs == pytest.approx(chunk_losses)
    # three equal-size chunks, each loss divided by 3: the gradient of the mean over all six
    sgd = torch.optim.SGD(whole.parameters(), lr=0.1)
    nn.MSELoss()(whole(x), y).backward()
    sgd.step()
    assert torch.allclose(accumulated.weight, whole.weight)
    assert torch.allclose(accumulated.bias, whole.bias)


def test_gradients_are_zeroed_only_at_the_start_of_each_group():
    model = nn.Linear(1, 1, bias=False)
    nn.init.zeros_(model.weight)
    sgd = torch.optim.SGD(model.parameters(), lr=1.0)
    steps = []
    original_step = sgd.step
    sgd.step = lambda *a, **k: steps.append(model.weight.grad.item()) or original_step(*a, **k)
    trainer = create_supervised_trainer(
        model, sgd, lambda y_pred, y: (y_pred - y).sum(), gradient_accumulation_steps=2
    )
    one = (torch.ones(1, 1), torch.zeros(1, 1))
    trainer.run([one] * 4)
    # d/dw (w*1 - 0) / 2 = 0.5 per batch; two batches per step
    assert steps == [1.0, 1.0]


def test_evaluator_outputs_and_mode():
    model, data = _model_and_data()
    model.train()
    evaluator = create_supervised_evaluator(model)
    state = evaluator.run(data)
    y_pred, y = state.output
    assert not model.training and not y_pred.requires_grad
    assert torch.equal(y, data[-1][1])
    model.eval()
    assert torch.equal(y_pred, model(data[-1][0]))  # dropout is off in eval mode


def test_evaluator_metrics_match_ignite():
    ignite_engine = pytest.importorskip("ignite.engine")
    ignite_metrics = pytest.importorskip("ignite.metrics")
    model, data = _model_and_data()
    ours = create_supervised_evaluator(
        model, metrics={"acc": Accuracy(), "loss": Loss(nn.CrossEntropyLoss())}
    ).run(data)
    theirs = ignite_engine.create_supervised_evaluator(
        model,
        metrics={
            "acc": ignite_metrics.Accuracy(),
            "loss": ignite_metrics.Loss(nn.CrossEntropyLoss()),
        },
    ).run(data)
    assert ours.metrics == theirs.metrics


def test_evaluator_metrics_by_hand():
    model, data = _model_and_data()
    metrics = create_supervised_evaluator(model, metrics={"acc": Accuracy()}).run(data).metrics
    model.eval()
    with torch.no_grad():
        correct = sum((model(x).argmax(1) == y).sum().item() for x, y in data)
    assert metrics["acc"] == correct / sum(len(y) for _, y in data)


def test_evaluator_transforms():
    model = nn.Identity()
    evaluator = create_supervised_evaluator(
        model,
        prepare_batch=lambda batch, device, non_blocking: (batch[0] * 10, batch[1]),
        model_fn=lambda m, x: m(x) + 1,
        model_transform=lambda out: out * 2,
        output_transform=lambda x, y, y_pred: (x.item(), y.item(), y_pred.item()),
    )
    assert evaluator.run([(torch.tensor(1.0), torch.tensor(5.0))]).output == (10.0, 5.0, 22.0)


def test_step_functions_make_engines():
    model = nn.Linear(2, 1)
    sgd = torch.optim.SGD(model.parameters(), lr=0.1)
    batch = (torch.ones(3, 2), torch.zeros(3, 1))
    assert isinstance(
        Engine(supervised_training_step(model, sgd, nn.MSELoss())).run([batch]).output, float
    )
    output = Engine(supervised_evaluation_step(model)).run([batch]).output
    assert output[0].shape == (3, 1)


def test_prepare_batch_moves_nested_tensors():
    Pair = namedtuple("Pair", "a b")
    x = {"img": torch.ones(2), "ids": [torch.zeros(1), "name"], "pair": Pair(torch.ones(1), b"r")}
    moved_x, moved_y = _prepare_batch((x, torch.ones(1)), device="cpu")
    assert moved_x["ids"][1] == "name" and isinstance(moved_x["pair"], Pair)
    assert moved_x["pair"].b == b"r" and torch.equal(moved_x["img"], torch.ones(2))
    with pytest.raises(
        TypeError, match="x must contain tensors, dicts or lists; found <class 'int'>"
    ):
        _prepare_batch((torch.ones(1), 3))


def test_amp_on_cpu_runs_like_ignite():
    ignite_engine = pytest.importorskip("ignite.engine")
    with pytest.warns(UserWarning):  # torch: CUDA autocast / GradScaler unavailable, disabled
        ours, our_weights = _train(
            miniengine.engine, {"amp_mode": "amp", "scaler": True}, torch.optim.SGD
        )
    with pytest.warns(UserWarning):
        theirs, their_weights = _train(
            ignite_engine,
            {"amp_mode": "amp", "scaler": True},
            torch.optim.SGD,
        )
    assert ours == theirs
    assert all(torch.equal(our_weights[k], their_weights[k]) for k in our_weights)


def test_scaler_true_is_kept_on_the_state():
    model = nn.Linear(1, 1)
    with pytest.warns(UserWarning):
        trainer = create_supervised_trainer(
            model,
            torch.optim.SGD(model.parameters(), lr=0.1),
            nn.MSELoss(),
            amp_mode="amp",
            scaler=True,
        )
    assert isinstance(trainer.state.scaler, torch.amp.GradScaler)


def test_argument_errors():
    model = nn.Linear(1, 1)
    sgd = torch.optim.SGD(model.parameters(), lr=0.1)
    # deterministic=True is no error: Ignite's DeterministicEngine, as Ignite gives
    trainer = create_supervised_trainer(model, sgd, nn.MSELoss(), deterministic=True)
    assert isinstance(trainer, miniengine.engine.DeterministicEngine)
    with pytest.raises(ValueError, match="scaler argument is True, but amp_mode is None"):
        create_supervised_trainer(model, sgd, nn.MSELoss(), scaler=True)
    with pytest.raises(ModuleNotFoundError, match="Please install apex from https://github"):
        create_supervised_trainer(model, sgd, nn.MSELoss(), amp_mode="apex")
    with pytest.raises(ValueError, match="amp_mode should be None or 'amp', got 'apex'"):
        create_supervised_evaluator(model, amp_mode="apex")
    with pytest.raises(ValueError, match="amp_mode should be None or 'amp', got 'fp8'"):
        create_supervised_trainer(model, sgd, nn.MSELoss(), amp_mode="fp8")
    # as in Ignite, a scaler without amp is named first, even with amp_mode="apex"
    with pytest.raises(ValueError, match="scaler argument is True, but amp_mode is apex."):
        create_supervised_trainer(model, sgd, nn.MSELoss(), amp_mode="apex", scaler=True)
    with pytest.raises(ValueError, match="amp_mode should be None or 'amp', got 'fp16'"):
        create_supervised_evaluator(model, amp_mode="fp16")
    with pytest.raises(ValueError, match="Gradient_accumulation_steps must be strictly positive"):
        create_supervised_trainer(model, sgd, nn.MSELoss(), gradient_accumulation_steps=0)
    with pytest.raises(RuntimeError, match="In order to run on TPU, please install PyTorch XLA"):
        create_supervised_trainer(model, sgd, nn.MSELoss(), device="xla")
    with pytest.raises(ValueError, match="amp_mode cannot be used with mps device"):
        create_supervised_evaluator(model, device=torch.device("mps"), amp_mode="amp")


def test_importable_from_engine_module():
    assert miniengine.engine.create_supervised_trainer is create_supervised_trainer
    assert miniengine.engine.create_supervised_evaluator is create_supervised_evaluator


def test_a_two_row_tensor_batch_is_split_as_ignite_does_with_a_warning():
    torch.manual_seed(0)
    data = [torch.rand(2, 3) for _ in range(4)]  # x = row 0, y = row 1 (Ignite's tests do this)
    model = nn.Linear(3, 3)
    expected = copy.deepcopy(model)
    trainer = create_supervised_trainer(
        model, torch.optim.SGD(model.parameters(), 0.1), nn.MSELoss()
    )
    with pytest.warns(UserWarning, match=r"split a tensor batch of shape \(2, 3\) into x = "):
        trainer.run(data)
    opt = torch.optim.SGD(expected.parameters(), 0.1)
    for batch in data:  # the same steps, written out with explicit pairs
        opt.zero_grad()
        nn.functional.mse_loss(expected(batch[0]), batch[1]).backward()
        opt.step()
    assert torch.equal(model.weight, expected.weight) and torch.equal(model.bias, expected.bias)


def test_a_two_row_tensor_batch_trains_as_in_ignite():
    ignite_engine = pytest.importorskip("ignite.engine")
    torch.manual_seed(0)
    data, model = [torch.rand(2, 3) for _ in range(4)], nn.Linear(3, 3)
    ours, theirs = copy.deepcopy(model), copy.deepcopy(model)
    with pytest.warns(UserWarning):
        create_supervised_trainer(ours, torch.optim.SGD(ours.parameters(), 0.1), nn.MSELoss()).run(
            data
        )
    trainer = ignite_engine.create_supervised_trainer
    trainer(theirs, torch.optim.SGD(theirs.parameters(), 0.1), nn.MSELoss()).run(data)
    assert torch.equal(ours.weight, theirs.weight) and torch.equal(ours.bias, theirs.bias)


@pytest.mark.parametrize(
    "batch,described",
    [
        (torch.ones(4, 1), r"a tensor of shape \(4, 1\)"),
        ({"x": torch.ones(2, 1), "y": torch.ones(2, 1)}, r"a dict with keys \['x', 'y'\]"),
        ((torch.ones(2, 1),), "a tuple of length 1"),
        ([torch.ones(2, 1)] * 3, "a list of length 3"),
        (3, "a value of type int"),
    ],
)
def test_a_batch_that_is_not_a_pair_is_a_clear_error(batch, described):
    model = nn.Linear(1, 1)
    before = model.weight.detach().clone()
    trainer = create_supervised_trainer(
        model, torch.optim.SGD(model.parameters(), 0.1), nn.MSELoss()
    )
    message = f"default prepare_batch expects each batch to be a pair \\(x, y\\), got {described}"
    with pytest.raises(TypeError, match=message):
        trainer.run([batch])
    assert torch.equal(model.weight, before)
    with pytest.raises(TypeError, match=message):
        create_supervised_evaluator(model).run([batch])
    # a prepare_batch of one's own takes any batch
    own = create_supervised_evaluator(model, prepare_batch=lambda b, device, non_blocking: (b, b))
    if isinstance(batch, torch.Tensor):
        assert torch.equal(own.run([batch]).output[1], batch)


@pytest.mark.parametrize("amp_mode", [None, "amp"])
def test_factories_find_the_step_functions_in_miniengine_engine(monkeypatch, amp_mode):
    # Ignite's create_supervised_* look their step functions up in ignite.engine, so tests that
    # patch `ignite.engine.supervised_training_step` see their replacement used; so do ours.
    suffix = "_amp" if amp_mode else ""
    made = []
    for kind in ("training", "evaluation"):
        name = f"supervised_{kind}_step{suffix}"
        real = getattr(miniengine.engine, name)

        def wrapped(*args, _real=real, _name=name, **kwargs):
            made.append(_name)
            return _real(*args, **kwargs)

        monkeypatch.setattr(miniengine.engine, name, wrapped)
    model = nn.Linear(2, 1)
    sgd = torch.optim.SGD(model.parameters(), lr=0.1)
    trainer = create_supervised_trainer(model, sgd, nn.MSELoss(), amp_mode=amp_mode)
    evaluator = create_supervised_evaluator(model, amp_mode=amp_mode)
    batch = (torch.ones(2, 2), torch.ones(2, 1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch: CUDA autocast unavailable here, disabled
        trainer.run([batch])
        evaluator.run([batch])
    assert made == [f"supervised_training_step{suffix}", f"supervised_evaluation_step{suffix}"]


def test_scaler_true_needs_torch_amp_grad_scaler(monkeypatch):
    model = nn.Linear(2, 1)
    sgd = torch.optim.SGD(model.parameters(), lr=0.1)
    monkeypatch.delattr(torch.amp, "GradScaler")  # as in torch 2.1 and 2.2
    with pytest.raises(ImportError, match=r"Please install torch>=2.3.1 to use scaler argument."):
        create_supervised_trainer(model, sgd, nn.MSELoss(), amp_mode="amp", scaler=True)
