"""EMAHandler on a real tiny network (Linear, BatchNorm, Linear) trained by SGD; checked against
a hand computation of the moving average and, where installed, Ignite 0.5.5's EMAHandler run on
the same seed (same EMA weights and buffers, bit for bit; same momenta in engine.state).

Two tests show where miniengine fixes Ignite: the warm-up under a custom ``name``, and buffers
that Ignite shares between the EMA model and the online model.
"""

from __future__ import annotations

import copy
import importlib.util
import math
import warnings
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
import torch
from torch import nn

import miniengine.engine
import miniengine.handlers
from miniengine.engine import Engine, Events
from miniengine.handlers import EMAHandler
from miniengine.handlers.ema_handler import _WarmUp
from miniengine.handlers.state_param_scheduler import LambdaStateScheduler

HAVE_IGNITE = importlib.util.find_spec("ignite") is not None
needs_ignite = pytest.mark.skipif(not HAVE_IGNITE, reason="pytorch-ignite not installed")

MINI = SimpleNamespace(Engine=Engine, Events=Events, EMAHandler=EMAHandler)


def ignite_lib() -> SimpleNamespace:
    import ignite.engine
    import ignite.handlers

    return SimpleNamespace(
        Engine=ignite.engine.Engine,
        Events=ignite.engine.Events,
        EMAHandler=ignite.handlers.EMAHandler,
    )


def tiny_net() -> nn.Module:
    return nn.Sequential(nn.Linear(3, 6), nn.BatchNorm1d(6), nn.ReLU(), nn.Linear(6, 1))


def data(batches: int = 6) -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(1)
    return [
        (torch.randn(8, 3, generator=g), torch.randn(8, 1, generator=g)) for _ in range(batches)
    ]


def trainer(lib: SimpleNamespace, model: nn.Module, record: list | None = None):
    """An Engine of ``lib`` training ``model`` by SGD with momentum; with ``record``, the
    online weights after each step are appended to it (before any EMA update)."""
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)

    def step(engine, batch):
        model.train()
        x, y = batch
        opt.zero_grad()
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        opt.step()
        if record is not None:
            record.append({k: v.detach().clone() for k, v in model.state_dict().items()})
        return loss.item()

    return lib.Engine(step), opt


def run(
    lib: SimpleNamespace,
    *,
    name: str = "ema_momentum",
    event: Callable[[Any], Any] = lambda ev: ev.ITERATION_COMPLETED,
    epochs: int = 2,
    **handler_kwargs: Any,
) -> dict[str, Any]:
    """Train the tiny network with an EMAHandler of ``lib``; return the EMA model's state,
    the momenta seen in engine.state at each iteration, and the handler."""
    torch.manual_seed(0)
    model = tiny_net()
    engine, _ = trainer(lib, model)
    handler = lib.EMAHandler(model, **handler_kwargs)
    handler.attach(engine, name=name, event=event(lib.Events))
    momenta: list[float] = []
    engine.add_event_handler(
        lib.Events.ITERATION_COMPLETED, lambda e: momenta.append(getattr(e.state, name))
    )
    engine.run(data(), max_epochs=epochs)
    return {
        "ema": {k: v.clone() for k, v in handler.ema_model.state_dict().items()},
        "online": {k: v.clone() for k, v in model.state_dict().items()},
        "momenta": momenta,
        "handler": handler,
    }


def assert_same_tensors(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert a[k].dtype == b[k].dtype, k
        assert torch.equal(a[k], b[k]), k


# --- the moving average, by hand -------------------------------------------------------------


def hand_ema(
    initial: dict[str, torch.Tensor],
    online: list[dict[str, torch.Tensor]],
    momenta: list[float],
    buffers: str,
) -> dict[str, torch.Tensor]:
    """EMA of the online states (one per update) in float64, written from the definition
    ema <- (1 - m) * ema + m * online, with buffers copied, averaged or left alone."""
    params = {k for k, _ in tiny_net().named_parameters()}
    ema = {k: v.to(torch.float64) for k, v in initial.items()}
    for state, m in zip(online, momenta, strict=True):
        for k, v in state.items():
            if k in params or (buffers == "update" and v.is_floating_point()):
                ema[k] = (1 - m) * ema[k] + m * v.to(torch.float64)
            elif buffers != "ema_train":
                ema[k] = v.to(torch.float64)
    return ema


@pytest.mark.parametrize("buffers", ["copy", "update", "ema_train"])
@pytest.mark.parametrize("every", [1, 3])
def test_ema_weights_equal_a_hand_computation(buffers, every):
    torch.manual_seed(0)
    model = tiny_net()
    initial = {k: v.clone() for k, v in model.state_dict().items()}
    steps: list[dict[str, torch.Tensor]] = []
    engine, _ = trainer(MINI, model, record=steps)
    handler = EMAHandler(model, momentum=0.3, handle_buffers=buffers)
    handler.attach(engine, event=Events.ITERATION_COMPLETED(every=every))
    engine.run(data(), max_epochs=2)

    updates = steps[every - 1 :: every]
    assert len(updates) == 12 // every
    expected = hand_ema(initial, updates, [0.3] * len(updates), buffers)
    got = handler.ema_model.state_dict()
    for k, v in expected.items():
        assert got[k].dtype == initial[k].dtype
        torch.testing.assert_close(got[k].to(torch.float64), v, rtol=1e-6, atol=1e-7)
    # the EMA is a real average: between the start and the end, equal to neither
    w = "0.weight"
    assert not torch.equal(got[w], initial[w]) and not torch.equal(got[w], model.state_dict()[w])
    if buffers == "ema_train":  # the buffers are left as they were at the start
        assert torch.equal(got["1.running_mean"], initial["1.running_mean"])
        assert got["1.num_batches_tracked"] == 0
    else:  # integer buffers are copied, also by "update"
        assert got["1.num_batches_tracked"] == 12


def test_warmup_momenta_by_hand():
    # linear from momentum_warmup at the first update to momentum at the warmup_iters-th
    up = run(MINI, momentum=0.5, momentum_warmup=0.0, warmup_iters=5)["momenta"]
    assert up == pytest.approx([0.0, 0.125, 0.25, 0.375, 0.5] + [0.5] * 7, abs=1e-15)
    down = run(MINI, momentum=0.1, momentum_warmup=0.9, warmup_iters=3)["momenta"]
    assert down == pytest.approx([0.9, 0.5, 0.1] + [0.1] * 9, abs=1e-15)
    # warmup_iters 1 (or less): momentum_warmup once, then momentum
    assert _WarmUp(0.9, 1, 0.1)(1) == 0.9 and _WarmUp(0.9, 1, 0.1)(2) == 0.1
    assert [_WarmUp(0.2, 0, 0.5)(i) for i in (1, 2, 3)] == [0.2, 0.5, 0.5]


def test_warmup_weights_equal_a_hand_computation():
    torch.manual_seed(0)
    model = tiny_net()
    initial = {k: v.clone() for k, v in model.state_dict().items()}
    steps: list[dict[str, torch.Tensor]] = []
    engine, _ = trainer(MINI, model, record=steps)
    handler = EMAHandler(model, momentum=0.05, momentum_warmup=0.8, warmup_iters=4)
    handler.attach(engine, event=Events.ITERATION_COMPLETED(every=2))
    engine.run(data(), max_epochs=2)
    momenta = [0.8 + (0.05 - 0.8) * k / 3 for k in range(4)] + [0.05, 0.05]
    expected = hand_ema(initial, steps[1::2], momenta, "copy")
    for k, v in expected.items():
        torch.testing.assert_close(handler.ema_model.state_dict()[k].to(torch.float64), v)
    assert handler.momentum_scheduler.event_index == 6


# --- the same numbers as Ignite --------------------------------------------------------------


CASES = [
    pytest.param(dict(momentum=0.3), id="copy"),
    pytest.param(dict(momentum=0.3, handle_buffers="update"), id="update"),
    pytest.param(dict(momentum=0.3, handle_buffers="ema_train"), id="ema_train"),
    pytest.param(dict(momentum=0.002, momentum_warmup=0.4, warmup_iters=5), id="warmup-down"),
    pytest.param(
        dict(momentum=0.7, momentum_warmup=0.1, warmup_iters=4, handle_buffers="update"),
        id="warmup-up-update",
    ),
    pytest.param(
        dict(momentum=0.3, event=lambda ev: ev.ITERATION_COMPLETED(every=4)), id="every-4"
    ),
    pytest.param(
        dict(
            momentum=0.3, momentum_warmup=0.9, warmup_iters=3, event=lambda ev: ev.EPOCH_COMPLETED
        ),
        id="warmup-epochs",
    ),
    pytest.param(
        dict(
            momentum=0.3,
            momentum_warmup=0.9,
            warmup_iters=3,
            event=lambda ev: ev.ITERATION_COMPLETED(every=5) | ev.COMPLETED,
        ),
        id="warmup-events-list",
    ),
    # a custom name without warm-up: as Ignite
    pytest.param(dict(momentum=0.3, name="ema_mom"), id="custom-name"),
]


@needs_ignite
@pytest.mark.parametrize("case", CASES)
def test_same_ema_model_and_momenta_as_ignite(case):
    ours, theirs = run(MINI, **case), run(ignite_lib(), **case)
    assert_same_tensors(ours["online"], theirs["online"])  # the same training
    assert_same_tensors(ours["ema"], theirs["ema"])
    assert ours["momenta"] == theirs["momenta"]
    for key in ("momentum", "handle_buffers"):
        assert getattr(ours["handler"], key) == getattr(theirs["handler"], key)
    assert ours["handler"].ema_model.training == theirs["handler"].ema_model.training
    assert hasattr(ours["handler"], "momentum_scheduler") == hasattr(
        theirs["handler"], "momentum_scheduler"
    )


@needs_ignite
def test_momentum_scheduler_state_dict_has_ignites_keys_and_values():
    case = dict(momentum=0.1, momentum_warmup=0.6, warmup_iters=8)
    ours, theirs = run(MINI, **case)["handler"], run(ignite_lib(), **case)["handler"]
    a, b = ours.momentum_scheduler.state_dict(), theirs.momentum_scheduler.state_dict()
    assert isinstance(ours.momentum_scheduler, LambdaStateScheduler)
    assert type(ours.momentum_scheduler).__name__ == type(theirs.momentum_scheduler).__name__
    assert sorted(a) == sorted(b) == ["event_index", "lambda_obj", "param_name", "save_history"]
    assert (a["event_index"], a["param_name"], a["save_history"]) == (12, "ema_momentum", False)
    assert (b["event_index"], b["param_name"], b["save_history"]) == (12, "ema_momentum", False)
    assert [a["lambda_obj"](i) for i in range(1, 12)] == [b["lambda_obj"](i) for i in range(1, 12)]
    # and it continues a schedule from a saved state
    fresh = EMAHandler(tiny_net(), **case)
    engine = Engine(lambda e, b: None)
    fresh.attach(engine)
    fresh.momentum_scheduler.load_state_dict(
        {**a, "event_index": 2, "lambda_obj": copy.deepcopy(a["lambda_obj"])}
    )
    engine.run([0])
    assert engine.state.ema_momentum == pytest.approx(0.6 + (0.1 - 0.6) * 2 / 7)


# --- the EMA model -------------------------------------------------------------------------


@pytest.mark.parametrize("buffers", ["copy", "update", "ema_train"])
def test_ema_model_is_a_detached_deep_copy(buffers):
    torch.manual_seed(0)
    model = tiny_net()
    handler = EMAHandler(model, handle_buffers=buffers)
    ema = handler.ema_model
    assert handler.model is model and ema is not model and type(ema) is type(model)
    assert ema.training is (buffers == "ema_train")
    assert model.training  # the online model is left as it was
    assert_same_tensors(ema.state_dict(), model.state_dict())
    for p, q in zip(ema.parameters(), model.parameters(), strict=True):
        assert isinstance(p, nn.Parameter) and not p.requires_grad and p.grad is None
        assert p.data_ptr() != q.data_ptr() and q.requires_grad
    engine, _ = trainer(MINI, model)
    handler.attach(engine)
    engine.run(data(), max_epochs=1)
    assert all(p.grad is None and not p.requires_grad for p in ema.parameters())
    assert not ema(torch.randn(2, 3)).requires_grad  # usable for evaluation as it is


def test_loading_weights_into_the_ema_model():
    # the recommended resume: load into handler.ema_model before attaching (Ignite's test too)
    torch.manual_seed(0)
    source = tiny_net()
    handler = EMAHandler(tiny_net())
    handler.ema_model.load_state_dict(source.state_dict())
    assert_same_tensors(handler.ema_model.state_dict(), source.state_dict())


def test_resume_gives_the_uninterrupted_ema():
    """Save online model, optimizer, EMA model and trainer after 7 of 12 iterations; a new
    process (new objects) that loads them, attaches a new handler and runs on ends with the
    EMA weights of the uninterrupted run."""
    full = run(MINI, momentum=0.2)["ema"]

    torch.manual_seed(0)
    model = tiny_net()
    engine, opt = trainer(MINI, model)
    handler = EMAHandler(model, momentum=0.2)
    handler.attach(engine)
    engine.add_event_handler(Events.ITERATION_COMPLETED(once=7), lambda e: e.terminate())
    engine.run(data(), max_epochs=2)
    saved = copy.deepcopy(
        {
            "model": model.state_dict(),
            "opt": opt.state_dict(),
            "ema": handler.ema_model.state_dict(),
            "trainer": engine.state_dict(),
        }
    )

    torch.manual_seed(123)
    model = tiny_net()
    engine, opt = trainer(MINI, model)
    handler = EMAHandler(model, momentum=0.2)
    model.load_state_dict(saved["model"])
    opt.load_state_dict(saved["opt"])
    handler.ema_model.load_state_dict(saved["ema"])
    engine.load_state_dict(saved["trainer"])
    handler.attach(engine)
    engine.run(data())
    assert engine.state.iteration == 12
    assert_same_tensors(handler.ema_model.state_dict(), full)


@pytest.mark.parametrize("buffers", ["copy", "update"])
def test_ignites_buffer_example(buffers):
    """Ignite's own buffer test: BatchNorm2d plus a float buffer incremented at each step."""
    torch.manual_seed(0)
    model = nn.BatchNorm2d(2)
    model.running_mean.data.fill_(1.5)
    model.running_var.data.fill_(1.5)
    model.register_buffer("dummy_buffer", tensor=torch.tensor(1.0, dtype=torch.float32))
    handler = EMAHandler(model, momentum=0.5, handle_buffers=buffers)

    def step(engine, batch):
        model(torch.rand(4, 2, 32, 32))
        model.dummy_buffer += 1.0

    engine = Engine(step)
    handler.attach(engine)
    engine.run([0, 1], max_epochs=2)
    ema = handler.ema_model
    assert ema.num_batches_tracked == model.num_batches_tracked == 4
    if buffers == "update":  # 1 -> 1.5 -> 2.25 -> 3.125 -> 4.0625 (online 2, 3, 4, 5)
        assert ema.dummy_buffer.item() == 4.0625
        assert not torch.allclose(ema.running_mean, model.running_mean)
    else:
        assert ema.dummy_buffer.item() == 5.0
        assert torch.equal(ema.running_mean, model.running_mean)


@needs_ignite
def test_ema_buffers_are_the_ema_models_own():
    """Ignite 0.5.5 "copies" a buffer by making the EMA model's tensor use the online model's
    memory, so writing into the EMA model's buffers writes into the online model: loading a
    checkpoint into the EMA model mid-run resets the online model's BatchNorm statistics.
    miniengine copies the values (the same numbers at each update)."""
    outcomes = {}
    for label, lib in (("ignite", ignite_lib()), ("miniengine", MINI)):
        torch.manual_seed(0)
        model = tiny_net()
        engine, _ = trainer(lib, model)
        handler = lib.EMAHandler(model, momentum=0.5)
        handler.attach(engine)
        engine.run(data(), max_epochs=1)
        before = model[1].running_mean.clone()
        zeros = {k: torch.zeros_like(v) for k, v in handler.ema_model.state_dict().items()}
        handler.ema_model.load_state_dict(zeros)
        outcomes[label] = torch.equal(model[1].running_mean, before)
        assert model[1].running_mean.abs().sum() > 0 or label == "ignite"
    assert outcomes == {"ignite": False, "miniengine": True}

    # an EMA model in another dtype keeps it (Ignite's buffers go back to the online model's)
    torch.manual_seed(0)
    model = tiny_net()
    engine, _ = trainer(MINI, model)
    handler = EMAHandler(model, momentum=0.5)
    handler.ema_model.to(torch.float64)
    handler.attach(engine)
    engine.run(data(), max_epochs=1)
    assert {v.dtype for v in handler.ema_model.state_dict().values()} == {
        torch.float64,
        torch.int64,
    }
    torch.testing.assert_close(
        handler.ema_model[1].running_mean, model[1].running_mean.to(torch.float64)
    )


@pytest.mark.parametrize("buffers", ["copy", "update"])
def test_a_buffer_resized_in_the_online_model_is_taken_as_it_is(buffers):
    model = nn.Linear(1, 1)
    model.register_buffer("queue", torch.zeros(2))
    handler = EMAHandler(model, momentum=0.5, handle_buffers=buffers)

    def step(engine, batch):
        model.queue = torch.cat([model.queue, torch.tensor([float(batch)])])

    engine = Engine(step)
    handler.attach(engine)
    engine.run([1, 2, 3])
    assert handler.ema_model.queue.tolist() == [0.0, 0.0, 1.0, 2.0, 3.0]
    assert handler.ema_model.queue.data_ptr() != model.queue.data_ptr()


def test_data_parallel_model_gives_a_data_parallel_ema_model():
    torch.manual_seed(0)
    model = nn.DataParallel(tiny_net())  # no GPU: calls the module itself
    handler = EMAHandler(model, momentum=0.5)
    assert isinstance(handler.ema_model, nn.DataParallel) and handler.model is model
    assert not handler.ema_model.training


def test_distributed_data_parallel_model_is_unwrapped(tmp_path):
    dist = pytest.importorskip("torch.distributed")
    if not dist.is_available() or not dist.is_gloo_available():
        pytest.skip("no gloo backend")
    if dist.is_initialized():
        pytest.skip("a process group is already initialised")
    dist.init_process_group(
        "gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1
    )
    try:
        torch.manual_seed(0)
        inner = tiny_net()
        model = nn.parallel.DistributedDataParallel(inner)
        handler = EMAHandler(model, momentum=0.3)
        assert handler.model is inner
        assert type(handler.ema_model) is nn.Sequential and not handler.ema_model.training
        engine, _ = trainer(MINI, model)
        handler.attach(engine)
        engine.run(data(), max_epochs=2)
    finally:
        dist.destroy_process_group()
    assert_same_tensors(handler.ema_model.state_dict(), run(MINI, momentum=0.3)["ema"])


# --- arguments -----------------------------------------------------------------------------


@pytest.mark.parametrize("momentum", [-1, 0, 0.0, 1, 1.0, 2, math.nan, math.inf])
def test_invalid_momentum(momentum):
    with pytest.raises(ValueError, match="Invalid momentum"):
        EMAHandler(tiny_net(), momentum=momentum)


def test_invalid_model_and_buffers():
    with pytest.raises(ValueError, match="model should be an instance of nn.Module or its sub"):
        EMAHandler("Invalid Model")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="handle_buffers can only be one of"):
        EMAHandler(tiny_net(), handle_buffers="invalid")
    # the momentum is checked first, as in Ignite
    with pytest.raises(ValueError, match="Invalid momentum"):
        EMAHandler("Invalid Model", momentum=2)  # type: ignore[arg-type]


@needs_ignite
@pytest.mark.parametrize(
    "args",
    [
        dict(model=tiny_net, momentum=1.5),
        dict(model=lambda: "model"),
        dict(model=lambda: [nn.Linear(1, 1)]),
        dict(model=tiny_net, handle_buffers="average"),
        dict(model=lambda: "model", handle_buffers="average"),
    ],
)
def test_error_messages_are_ignites(args):
    messages = []
    for cls in (ignite_lib().EMAHandler, EMAHandler):
        kwargs = {**args, "model": args["model"]()}
        with pytest.raises(ValueError) as info:
            cls(**kwargs)
        messages.append(str(info.value))
    # Ignite's words, with the space Ignite 0.5.5 leaves out ("but gotmodel")
    assert messages[0] == messages[1].replace("but got model", "but gotmodel")


def test_warmup_needs_both_arguments():
    # as in Ignite: one of momentum_warmup, warmup_iters alone means no warm-up
    for kwargs in (dict(momentum_warmup=0.9), dict(warmup_iters=5)):
        handler = EMAHandler(tiny_net(), momentum=0.3, **kwargs)
        assert not hasattr(handler, "momentum_scheduler")
        engine = Engine(lambda e, b: None)
        handler.attach(engine)
        seen = []
        engine.add_event_handler(
            Events.ITERATION_COMPLETED, lambda e, s=seen: s.append(e.state.ema_momentum)
        )
        engine.run(range(3))
        assert seen == [0.3, 0.3, 0.3]
    handler = EMAHandler(tiny_net(), momentum_warmup=0.9, warmup_iters=5)
    assert handler.momentum_scheduler is None  # until attached


# --- attaching -----------------------------------------------------------------------------


def test_attach_puts_the_momentum_in_the_state():
    engine = Engine(lambda e, b: None)
    assert not hasattr(engine.state, "ema_momentum")
    EMAHandler(tiny_net(), momentum=0.01).attach(engine)
    assert engine.state.ema_momentum == 0.01  # before the run
    handler = EMAHandler(tiny_net(), momentum=0.2, momentum_warmup=0.7, warmup_iters=3)
    handler.attach(engine, name="other", warn_if_exists=True)
    assert engine.state.other == 0.2  # the warm-up starts at the first event
    assert handler.momentum_scheduler is not None and handler.momentum_scheduler.event_index == 0


def test_existing_attribute_is_kept_with_a_warning():
    engine = Engine(lambda e, b: None)
    engine.state.ema_momentum = 0.25  # e.g. restored with the engine's state
    handler = EMAHandler(tiny_net(), momentum=0.5)
    with pytest.warns(UserWarning, match="Attribute 'ema_momentum' already exists in Engine.state"):
        handler.attach(engine)
    assert engine.state.ema_momentum == 0.25  # kept, and used
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        handler.attach(Engine(lambda e, b: None), warn_if_exists=False)
        engine2 = Engine(lambda e, b: None)
        engine2.state.ema_momentum = 0.1
        handler.attach(engine2, warn_if_exists=False)
    assert engine2.state.ema_momentum == 0.1


@needs_ignite
def test_existing_attribute_warning_is_ignites():
    messages = []
    for lib in (ignite_lib(), MINI):
        engine = lib.Engine(lambda e, b: None)
        lib.EMAHandler(tiny_net()).attach(engine, name="m1")
        with pytest.warns(UserWarning) as caught:
            lib.EMAHandler(tiny_net()).attach(engine, name="m1")
        messages.append(str(caught[0].message))
    # Ignite's words, with the space Ignite 0.5.5 leaves out ("settingwarn_if_exists")
    assert messages[0] == messages[1].replace("setting warn_if_exists", "settingwarn_if_exists")
    assert messages[1].startswith("Attribute 'm1' already exists in Engine.state.")


@needs_ignite
@pytest.mark.parametrize("warmup", [False, True])
def test_attaching_twice_updates_twice_as_ignite(warmup):
    """The same handler attached twice updates the EMA model twice per event (and warns the
    second time); each attach starts its own warm-up schedule. As in Ignite."""
    results = []
    kwargs = dict(momentum=0.3, momentum_warmup=0.8, warmup_iters=4) if warmup else {}
    for lib in (ignite_lib(), MINI):
        torch.manual_seed(0)
        model = tiny_net()
        engine, _ = trainer(lib, model)
        handler = lib.EMAHandler(model, **{"momentum": 0.3, **kwargs})
        handler.attach(engine)
        with pytest.warns(UserWarning, match="already exists"):
            handler.attach(engine)
        momenta: list[float] = []
        engine.add_event_handler(
            lib.Events.ITERATION_COMPLETED, lambda e, m=momenta: m.append(e.state.ema_momentum)
        )
        engine.run(data(), max_epochs=1)
        results.append((handler.ema_model.state_dict(), momenta))
    assert_same_tensors(results[0][0], results[1][0])
    assert results[0][1] == results[1][1]

    # twice per iteration: the hand computation with each update done twice
    torch.manual_seed(0)
    model = tiny_net()
    initial = {k: v.clone() for k, v in model.state_dict().items()}
    steps: list[dict[str, torch.Tensor]] = []
    engine, _ = trainer(MINI, model, record=steps)
    handler = EMAHandler(model, momentum=0.3)
    handler.attach(engine)
    handler.attach(engine, warn_if_exists=False)
    engine.run(data(), max_epochs=1)
    expected = hand_ema(initial, [s for s in steps for _ in (0, 1)], [0.3] * 12, "copy")
    for k, v in expected.items():
        torch.testing.assert_close(handler.ema_model.state_dict()[k].to(torch.float64), v)


def test_two_handlers_on_one_trainer():
    """Ignite's test: two models, one EMA per iteration, one every 2 iterations."""
    torch.manual_seed(0)
    models = [nn.Linear(2, 1, bias=False), nn.Linear(2, 1, bias=False)]
    for m in models:
        nn.init.ones_(m.weight)
    handlers = [EMAHandler(m, momentum=0.5) for m in models]

    def step(engine, batch):
        for m in models:
            m.weight.data.add_(1)

    engine = Engine(step)
    handlers[0].attach(engine, "ema_momentum_1", event=Events.ITERATION_COMPLETED)
    handlers[1].attach(engine, "ema_momentum_2", event=Events.ITERATION_COMPLETED(every=2))
    engine.run(range(2), max_epochs=2)
    assert handlers[0].ema_model.weight.tolist() == [[4.0625, 4.0625]]
    assert handlers[1].ema_model.weight.tolist() == [[3.5, 3.5]]
    assert engine.state.ema_momentum_1 == engine.state.ema_momentum_2 == 0.5
    with pytest.warns(UserWarning, match="Attribute 'ema_momentum_1' already exists"):
        EMAHandler(nn.Linear(1, 1)).attach(engine, name="ema_momentum_1")


@needs_ignite
def test_warmup_under_a_custom_name_warms_up():
    """Ignite 0.5.5's warm-up always writes ``engine.state.ema_momentum`` while the update
    reads ``engine.state.<name>``: under any other name the EMA uses ``momentum`` from the
    first update (and Ignite warns that it creates ``ema_momentum``). miniengine warms up
    ``<name>``: the same EMA as Ignite under the default name (fixed in Ignite by
    pytorch/ignite#3834, after 0.5.5)."""
    case = dict(momentum=0.05, momentum_warmup=0.9, warmup_iters=6)
    ours = run(MINI, name="gen_ema_momentum", **case)
    ignite_default = run(ignite_lib(), **case)
    assert_same_tensors(ours["ema"], ignite_default["ema"])
    assert ours["momenta"] == ignite_default["momenta"]
    assert ours["momenta"][0] == 0.9 and ours["momenta"][-1] == 0.05

    with pytest.warns(UserWarning, match="Attribute 'ema_momentum' is not defined"):
        ignite_custom = run(ignite_lib(), name="gen_ema_momentum", **case)
    assert ignite_custom["momenta"] == [0.05] * 12  # Ignite's bug: no warm-up
    assert_same_tensors(ignite_custom["ema"], run(MINI, momentum=0.05)["ema"])


def test_two_warmed_up_handlers_keep_their_own_momenta():
    torch.manual_seed(0)
    engine = Engine(lambda e, b: None)
    gen = EMAHandler(nn.Linear(1, 1), momentum=0.1, momentum_warmup=0.5, warmup_iters=3)
    dis = EMAHandler(nn.Linear(1, 1), momentum=0.2, momentum_warmup=0.0, warmup_iters=3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gen.attach(engine, "gen_ema_momentum")
        dis.attach(engine, "dis_ema_momentum", event=Events.ITERATION_COMPLETED(every=2))
    seen = []
    engine.add_event_handler(
        Events.ITERATION_COMPLETED,
        lambda e: seen.extend([e.state.gen_ema_momentum, e.state.dis_ema_momentum]),
    )
    engine.run(range(6))
    assert not hasattr(engine.state, "ema_momentum")
    assert seen == pytest.approx(
        [0.5, 0.2, 0.3, 0.0, 0.1, 0.0, 0.1, 0.1, 0.1, 0.1, 0.1, 0.2], abs=1e-15
    )


def test_momentum_is_updated_before_the_model():
    # a handler added before the EMA handler sees the previous momentum; the update uses the new
    torch.manual_seed(0)
    model = nn.Linear(1, 1, bias=False)
    nn.init.zeros_(model.weight)
    engine = Engine(lambda e, b: model.weight.data.fill_(1.0))
    seen = []
    engine.add_event_handler(Events.ITERATION_COMPLETED, lambda e: seen.append(e.state.m))
    handler = EMAHandler(model, momentum=0.5, momentum_warmup=0.25, warmup_iters=2)
    engine.state.m = 0.9
    handler.attach(engine, name="m", warn_if_exists=False)
    engine.run([0])
    assert seen == [0.9]
    assert handler.ema_model.weight.item() == 0.25  # (1 - 0.25) * 0 + 0.25 * 1


def test_exported_from_handlers():
    assert "EMAHandler" in miniengine.handlers.__all__
    assert miniengine.handlers.EMAHandler is EMAHandler
    assert miniengine.engine.Engine is Engine
