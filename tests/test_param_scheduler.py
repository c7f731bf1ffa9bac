"""Parameter schedulers: value sequences against formulas written here, torch, and Ignite."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
from torch.optim import lr_scheduler as tl

import miniengine.handlers.param_scheduler as mps
from miniengine.engine import Engine, Events
from miniengine.handlers.param_scheduler import (
    ConcatScheduler,
    CosineAnnealingScheduler,
    LinearCyclicalScheduler,
    LRScheduler,
    ParamGroupScheduler,
    PiecewiseLinear,
    create_lr_scheduler_with_warmup,
)


def make_optimizer(lr: float = 0.1, groups: int = 1) -> torch.optim.SGD:
    params = [
        {"params": [torch.zeros(2, requires_grad=True)], "lr": lr * (i + 1)} for i in range(groups)
    ]
    return torch.optim.SGD(params, lr=lr)


def lrs_over(scheduler, optimizer, n: int) -> list[float]:
    """Call the scheduler n times, recording group 0's lr after each call."""
    out = []
    for _ in range(n):
        scheduler(None)
        out.append(optimizer.param_groups[0]["lr"])
        optimizer.step()  # no gradients: changes nothing, but torch checks the call order
    return out


# ---------------------------------------------------------------- independent formulas


def cosine(s, e, p):
    return s + (e - s) * (1 - math.cos(math.pi * p)) / 2


def triangle(s, e, p):
    return s + (e - s) * (1 - abs(2 * p - 1))


def ramp(s, e, p):
    return s + (e - s) * p


def cyclical_reference(shape, n, start, end, size, mult=1.0, smult=1.0, emult=1.0, warm=0):
    """Cycle by cycle: `size` events of the shape, then `warm` events back up to the next start."""
    out: list[float] = []
    while len(out) < n:
        next_start = start * smult
        out += [shape(start, end, k / size) for k in range(size)]
        if warm:
            # the first warm-up event is the cycle's end point, then a line to the next start
            out += [end + (next_start - end) * j / warm for j in range(warm)]
        start, end = next_start, end * emult
        size, warm = int(size * mult), int(warm * mult)
    return out[:n]


CYCLICAL_CASES = [
    ("cos", CosineAnnealingScheduler, cosine, dict(start_value=1.0, end_value=0.1, cycle_size=7)),
    (
        "cos-mults",
        CosineAnnealingScheduler,
        cosine,
        dict(
            start_value=1.0,
            end_value=0.1,
            cycle_size=4,
            cycle_mult=1.5,
            start_value_mult=0.9,
            end_value_mult=0.5,
        ),
    ),
    (
        "cos-warmup",
        CosineAnnealingScheduler,
        cosine,
        dict(
            start_value=1.0,
            end_value=0.1,
            cycle_size=5,
            warmup_duration=3,
            cycle_mult=2,
            start_value_mult=0.5,
        ),
    ),
    (
        "linear",
        LinearCyclicalScheduler,
        triangle,
        dict(start_value=0.0, end_value=1.0, cycle_size=6, cycle_mult=2, end_value_mult=0.7),
    ),
    (
        "linear-monotonic-warmup",
        LinearCyclicalScheduler,
        ramp,
        dict(
            start_value=1.0,
            end_value=0.0,
            cycle_size=5,
            warmup_duration=2,
            monotonic=True,
            start_value_mult=0.8,
        ),
    ),
]


def reference_kwargs(kwargs: dict) -> dict:
    names = {
        "start_value": "start",
        "end_value": "end",
        "cycle_size": "size",
        "cycle_mult": "mult",
        "start_value_mult": "smult",
        "end_value_mult": "emult",
        "warmup_duration": "warm",
    }
    return {names[k]: v for k, v in kwargs.items() if k in names}


@pytest.mark.parametrize(
    "name,cls,shape,kwargs", CYCLICAL_CASES, ids=[c[0] for c in CYCLICAL_CASES]
)
def test_cyclical_values_follow_the_formula(name, cls, shape, kwargs):
    opt = make_optimizer()
    got = lrs_over(cls(opt, "lr", **kwargs), opt, 60)
    assert got == pytest.approx(cyclical_reference(shape, 60, **reference_kwargs(kwargs)))


def test_piecewise_linear_is_numpy_interp():
    milestones = [(3, 0.5), (10, 0.45), (20, 0.1), (25, 0.1), (30, 0.9)]
    opt = make_optimizer()
    got = lrs_over(PiecewiseLinear(opt, "lr", milestones), opt, 40)
    xs, ys = zip(*milestones, strict=True)
    assert got == pytest.approx(list(np.interp(np.arange(40), xs, ys)))


def test_piecewise_linear_jumps_at_a_repeated_milestone():
    opt = make_optimizer()
    got = lrs_over(PiecewiseLinear(opt, "lr", [(0, 1.0), (4, 1.0), (4, 0.1), (6, 0.0)]), opt, 8)
    assert got == pytest.approx([1.0, 1.0, 1.0, 1.0, 0.1, 0.05, 0.0, 0.0])


def test_concat_runs_each_scheduler_for_its_duration():
    opt = make_optimizer()
    up = LinearCyclicalScheduler(opt, "lr", 0.0, 1.0, 8)
    down = CosineAnnealingScheduler(opt, "lr", 1.0, 0.2, 4)
    flat = PiecewiseLinear(opt, "lr", [(0, 0.3), (5, 0.0)])
    got = lrs_over(ConcatScheduler([up, down, flat], durations=[4, 9]), opt, 20)
    expected = [triangle(0.0, 1.0, k / 8) for k in range(4)]
    expected += cyclical_reference(cosine, 9, 1.0, 0.2, 4)
    expected += list(np.interp(np.arange(7), [0, 5], [0.3, 0.0]))
    assert got == pytest.approx(expected)


def test_param_groups_and_history_on_a_real_engine():
    opt = make_optimizer(groups=2)
    both = ParamGroupScheduler(
        [
            CosineAnnealingScheduler(opt, "lr", 1.0, 0.0, 4, param_group_index=0),
            LinearCyclicalScheduler(opt, "lr", 0.0, 0.1, 4, param_group_index=1),
        ],
        names=["lr_a", "lr_b"],
        save_history=True,
    )
    seen = []
    trainer = Engine(lambda e, b: seen.append([g["lr"] for g in opt.param_groups]))
    both.attach(trainer)  # ITERATION_STARTED: the value is in place when the step runs
    trainer.run([0] * 6)
    history = trainer.state.param_history
    assert [h[0] for h in history["lr_a"]] == pytest.approx(
        cyclical_reference(cosine, 6, 1.0, 0.0, 4)
    )
    assert [h[0] for h in history["lr_b"]] == pytest.approx(
        cyclical_reference(triangle, 6, 0.0, 0.1, 4)
    )
    assert seen == [[a[0], b[0]] for a, b in zip(history["lr_a"], history["lr_b"], strict=True)]


def test_other_params_than_lr():
    opt = make_optimizer()
    opt.param_groups[0]["momentum"] = 0.0
    got = [
        v
        for _, v in PiecewiseLinear.simulate_values(
            3, param_name="momentum", milestones_values=[(0, 0.8), (2, 0.9)]
        )
    ]
    assert got == pytest.approx([0.8, 0.85, 0.9])
    PiecewiseLinear(opt, "momentum", [(0, 0.8), (2, 0.9)])(None)
    assert opt.param_groups[0]["momentum"] == 0.8


# ---------------------------------------------------------------- torch schedulers


TORCH_SCHEDULERS = {
    "StepLR": lambda o: tl.StepLR(o, 3, 0.5),
    "MultiStepLR": lambda o: tl.MultiStepLR(o, [2, 5], 0.1),
    "ExponentialLR": lambda o: tl.ExponentialLR(o, 0.9),
    "CosineAnnealingLR": lambda o: tl.CosineAnnealingLR(o, 4),
    "CosineAnnealingWarmRestarts": lambda o: tl.CosineAnnealingWarmRestarts(o, 3, 2),
    "LinearLR": lambda o: tl.LinearLR(o, 0.5, 1.0, 4),
    "MultiplicativeLR": lambda o: tl.MultiplicativeLR(o, lambda e: 0.9),
    "LambdaLR": lambda o: tl.LambdaLR(o, lambda e: 1 / (e + 1)),
    "OneCycleLR": lambda o: tl.OneCycleLR(o, 1.0, total_steps=20),
    "PolynomialLR": lambda o: tl.PolynomialLR(o, 4, 2.0),
    "CyclicLR": lambda o: tl.CyclicLR(o, 0.01, 0.1, 2),
}


def tiny_training(n_iter: int, attach) -> tuple[list[float], torch.nn.Module]:
    """A real model trained by an Engine; returns the lr used at each step."""
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    data = [(torch.randn(4, 3), torch.randn(4, 1)) for _ in range(n_iter)]
    used = []

    def step(engine, batch):
        x, y = batch
        used.append(opt.param_groups[0]["lr"])
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()
        opt.step()
        return loss.item()

    trainer = Engine(step)
    attach(trainer, opt)
    trainer.run(data)
    return used, model


def plain_torch_loop(build, n_iter: int) -> list[float]:
    opt = make_optimizer()
    sched = build(opt)
    used = []
    for _ in range(n_iter):
        used.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return used


@pytest.mark.parametrize("name", list(TORCH_SCHEDULERS))
def test_lr_scheduler_gives_the_plain_torch_loop_rates(name):
    build = TORCH_SCHEDULERS[name]
    expected = plain_torch_loop(build, 12)

    def on_started(trainer, opt):
        LRScheduler(build(opt)).attach(trainer, Events.ITERATION_STARTED)

    def on_completed(trainer, opt):
        with pytest.warns(UserWarning, match="ITERATION_COMPLETED"):
            scheduler = LRScheduler(build(opt), use_legacy=True)
        scheduler.attach(trainer, Events.ITERATION_COMPLETED)

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. torch's "step() before optimizer.step()"
        assert tiny_training(12, on_started)[0] == pytest.approx(expected)
        assert tiny_training(12, on_completed)[0] == pytest.approx(expected)


@pytest.mark.parametrize("name", ["StepLR", "ExponentialLR", "CosineAnnealingWarmRestarts"])
@pytest.mark.parametrize("end", [None, 0.3])
def test_warmup_then_torch_scheduler(name, end):
    build = TORCH_SCHEDULERS[name]
    torch_rates = plain_torch_loop(build, 30)
    init = torch_rates[0]
    top = init if end is None else end
    expected = [0.01 + (top - 0.01) * k / 4 for k in range(5)]
    if top != init:
        expected.append(init)  # one event at the scheduler's own first rate
    expected += torch_rates[1:]
    opt = make_optimizer()
    scheduler = create_lr_scheduler_with_warmup(build(opt), 0.01, 5, warmup_end_value=end)
    simulated = [None] * 20
    create_lr_scheduler_with_warmup(
        build(make_optimizer()), 0.01, 5, warmup_end_value=end, output_simulated_values=simulated
    )
    assert lrs_over(scheduler, opt, 20) == pytest.approx(expected[:20])
    assert [v for _, v in simulated] == pytest.approx(expected[:20])


@pytest.mark.parametrize("duration", [2, 3, 6])
def test_warmup_then_param_scheduler_does_not_repeat_the_top(duration):
    opt = make_optimizer()
    cos = CosineAnnealingScheduler(opt, "lr", 0.1, 0.0, 10)
    got = lrs_over(create_lr_scheduler_with_warmup(cos, 0.0, duration), opt, 25)
    # the warm-up line stops one step below 0.1; the cosine then starts at 0.1
    step = 0.1 / (duration - 1)
    warm = [k * step for k in range(duration - 1)]
    assert got == pytest.approx(warm + cyclical_reference(cosine, 25 - len(warm), 0.1, 0.0, 10))


# ---------------------------------------------------------------- exact resume


RESUMABLE = {
    "cosine": lambda o: CosineAnnealingScheduler(
        o, "lr", 1.0, 0.1, 4, cycle_mult=1.5, start_value_mult=0.9, warmup_duration=2
    ),
    "linear": lambda o: LinearCyclicalScheduler(o, "lr", 0.0, 1.0, 6, cycle_mult=2),
    "piecewise": lambda o: PiecewiseLinear(o, "lr", [(2, 1.0), (8, 0.1), (12, 0.5)]),
    "concat": lambda o: ConcatScheduler(
        [
            LinearCyclicalScheduler(o, "lr", 0.0, 1.0, 8),
            CosineAnnealingScheduler(o, "lr", 1.0, 0.2, 5),
        ],
        durations=[4],
    ),
    "torch": lambda o: LRScheduler(tl.CosineAnnealingWarmRestarts(o, 3, 2)),
    "torch-chainable": lambda o: LRScheduler(tl.ExponentialLR(o, 0.8)),
    "warmup-torch": lambda o: create_lr_scheduler_with_warmup(tl.StepLR(o, 2, 0.5), 0.0, 4, 0.2),
    "warmup-cosine": lambda o: create_lr_scheduler_with_warmup(
        CosineAnnealingScheduler(o, "lr", 0.1, 0.0, 5), 0.0, 4
    ),
}


# torch warns when a scheduler restored before its first step() steps before the new
# optimizer's first step(): true of a resume after one event, and harmless.
@pytest.mark.filterwarnings("ignore:Detected call of")
@pytest.mark.parametrize("name", list(RESUMABLE))
@pytest.mark.parametrize("cut", [1, 4, 7])
def test_state_dict_resumes_exactly(name, cut, tmp_path):
    build = RESUMABLE[name]
    opt = make_optimizer()
    uninterrupted = lrs_over(build(opt), opt, 25)

    opt = make_optimizer()
    first = build(opt)
    before = lrs_over(first, opt, cut)
    torch.save({"sched": first.state_dict(), "opt": opt.state_dict()}, tmp_path / "ckpt.pt")

    saved = torch.load(tmp_path / "ckpt.pt", weights_only=False)
    opt2 = make_optimizer(lr=0.5)  # a different starting rate must not matter
    second = build(opt2)
    opt2.load_state_dict(saved["opt"])
    second.load_state_dict(saved["sched"])
    after = lrs_over(second, opt2, 25 - cut)
    assert before + after == uninterrupted


@pytest.mark.parametrize("name", ["warmup-torch", "cosine", "concat"])
def test_mid_epoch_resume_gives_identical_weights(name, tmp_path):
    """Engine, model, optimizer, scheduler saved mid-epoch: the resumed run ends bit-identical."""
    torch.manual_seed(0)
    data = [(torch.randn(4, 3), torch.randn(4, 1)) for _ in range(8)]

    def setup():
        torch.manual_seed(1)
        model = torch.nn.Linear(3, 1)
        opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        used = []

        def step(engine, batch):
            used.append(opt.param_groups[0]["lr"])
            opt.zero_grad()
            torch.nn.functional.mse_loss(model(batch[0]), batch[1]).backward()
            opt.step()

        trainer = Engine(step)
        scheduler = RESUMABLE[name](opt)
        scheduler.attach(trainer)
        return trainer, model, opt, scheduler, used

    trainer, model, _, _, full = setup()
    trainer.run(data, max_epochs=3)
    expected = model.weight.detach().clone(), model.bias.detach().clone()

    trainer, model, opt, scheduler, head = setup()
    trainer.add_event_handler(Events.ITERATION_COMPLETED(once=11), lambda e: e.terminate())
    trainer.run(data, max_epochs=3)
    parts = {"t": trainer, "m": model, "o": opt, "s": scheduler}
    torch.save({k: v.state_dict() for k, v in parts.items()}, tmp_path / "ckpt.pt")

    trainer, model, opt, scheduler, tail = setup()
    saved = torch.load(tmp_path / "ckpt.pt", weights_only=False)
    for k, v in {"t": trainer, "m": model, "o": opt, "s": scheduler}.items():
        v.load_state_dict(saved[k])
    trainer.run(data)
    assert len(head) == 11 and head + tail == full
    assert torch.equal(model.weight, expected[0]) and torch.equal(model.bias, expected[1])


def test_simulate_values_leaves_schedulers_and_optimizer_untouched():
    opt = make_optimizer()
    torch_sched = tl.StepLR(opt, 2, 0.5)
    before = (torch_sched.state_dict(), opt.state_dict()["param_groups"][0]["lr"])
    LRScheduler.simulate_values(7, lr_scheduler=torch_sched)
    assert (torch_sched.state_dict(), opt.state_dict()["param_groups"][0]["lr"]) == before

    a, b = (
        CosineAnnealingScheduler(opt, "lr", 1, 0, 4),
        PiecewiseLinear(opt, "lr", [(0, 1), (3, 0)]),
    )
    states = a.state_dict(), b.state_dict()
    ConcatScheduler.simulate_values(9, schedulers=[a, b], durations=[3])
    assert (a.state_dict(), b.state_dict()) == states
    assert opt.param_groups[0]["lr"] == 0.1


# ---------------------------------------------------------------- argument errors


def test_argument_errors():
    opt = make_optimizer()
    with pytest.raises(TypeError, match="optimizer should be torch.optim.Optimizer"):
        CosineAnnealingScheduler(object(), "lr", 1, 0, 4)
    with pytest.raises(
        ValueError, match="cycle_size should be positive and larger than 1, but given 1"
    ):
        CosineAnnealingScheduler(opt, "lr", 1, 0, 1)
    with pytest.raises(ValueError, match="warmup_duration > 0 and monotonic=False"):
        LinearCyclicalScheduler(opt, "lr", 1, 0, 4, warmup_duration=2)
    with pytest.raises(ValueError, match="at least one value"):
        PiecewiseLinear(opt, "lr", [])
    with pytest.raises(ValueError, match="list of pairs"):
        PiecewiseLinear(opt, "lr", [(0, 1.0, 2)])
    with pytest.raises(TypeError, match="milestone should be integer"):
        PiecewiseLinear(opt, "lr", [(0.5, 1.0)])
    with pytest.raises(ValueError, match="given 2 is smaller than the previous milestone 5"):
        PiecewiseLinear(opt, "lr", [(5, 1.0), (2, 0.5)])
    one = PiecewiseLinear(opt, "lr", [(0, 1.0)])
    with pytest.raises(ValueError, match="more than one parameter schedulers"):
        ConcatScheduler([one], [])
    with pytest.raises(
        ValueError, match="Incorrect number schedulers or duration values, given 2 and 2"
    ):
        ConcatScheduler([one, one], [1, 2])
    with pytest.raises(ValueError, match="durations should be list/tuple of integers"):
        ConcatScheduler([one, one], [1.5])
    with pytest.raises(TypeError, match="index 1 of schedulers should be a parameter scheduler"):
        ConcatScheduler([one, "x"], [1])
    with pytest.raises(ValueError, match="same optimizer"):
        ConcatScheduler([one, PiecewiseLinear(make_optimizer(), "lr", [(0, 1.0)])], [1])
    with pytest.raises(ValueError, match="same param_name"):
        ConcatScheduler([one, PiecewiseLinear(opt, "momentum", [(0, 1.0)])], [1])
    with pytest.raises(TypeError, match="lr_scheduler should be a subclass"):
        LRScheduler(opt)
    with pytest.raises(TypeError, match="ReduceLROnPlateau"):
        LRScheduler(tl.ReduceLROnPlateau(opt))
    with pytest.raises(
        ValueError, match="warmup_duration should be at least 2 events, but given 1"
    ):
        create_lr_scheduler_with_warmup(one, 0.0, 1)
    with pytest.raises(TypeError, match="warmup_duration should be integer"):
        create_lr_scheduler_with_warmup(one, 0.0, 2.5)
    with pytest.raises(ValueError, match="Required state attribute 'milestones' is absent"):
        one.load_state_dict(
            {
                "event_index": 0,
                "param_name": "lr",
                "save_history": False,
                "param_group_index": None,
                "values": [1.0],
            }
        )
    with pytest.raises(TypeError, match="state_dict should be a dictionary"):
        one.load_state_dict([1, 2])


def test_value_list_must_match_the_groups():
    class TwoValues(PiecewiseLinear):
        def get_param(self):
            return [1.0, 2.0]

    opt = make_optimizer(groups=3)
    with pytest.raises(
        ValueError, match="size of value is different than optimizer_param_groups 2 != 3"
    ):
        TwoValues(opt, "lr", [(0, 1.0)])(None)


# ---------------------------------------------------------------- Ignite as an oracle


def _builder(cls, kwargs):
    return lambda o: cls(o, "lr", **kwargs)


def ignite_cases(m):
    """Scenarios built from module `m` (Ignite's or ours), each given a fresh optimizer."""
    return {
        **{
            name: _builder(getattr(m, cls.__name__), kwargs)
            for name, cls, _, kwargs in CYCLICAL_CASES
        },
        "piecewise": lambda o: m.PiecewiseLinear(
            o, "lr", [(3, 0.5), (10, 0.45), (10, 0.3), (20, 0.1)]
        ),
        "concat": lambda o: m.ConcatScheduler(
            [
                m.LinearCyclicalScheduler(o, "lr", 0.0, 1.0, 8),
                m.CosineAnnealingScheduler(o, "lr", 1.0, 0.2, 4),
                m.PiecewiseLinear(o, "lr", [(0, 0.3), (5, 0.0)]),
            ],
            [4, 9],
        ),
        "warmup-cosine": lambda o: m.create_lr_scheduler_with_warmup(
            m.CosineAnnealingScheduler(o, "lr", 0.1, 0.0, 10), 0.0, 5
        ),
        "warmup-cosine-end": lambda o: m.create_lr_scheduler_with_warmup(
            m.CosineAnnealingScheduler(o, "lr", 0.1, 0.0, 10), 0.0, 5, warmup_end_value=0.2
        ),
        "warmup-steplr": lambda o: m.create_lr_scheduler_with_warmup(tl.StepLR(o, 3, 0.5), 0.0, 4),
        "steplr": lambda o: m.LRScheduler(tl.StepLR(o, 3, 0.5)),
    }


@pytest.mark.parametrize("name", list(ignite_cases(mps)))
@pytest.mark.filterwarnings("ignore:Detected call of")  # no training here
def test_same_history_as_ignite(name):
    ignite_engine = pytest.importorskip("ignite.engine")
    ips = pytest.importorskip("ignite.handlers.param_scheduler")

    histories = []
    for module, engine_cls, events in (
        (ips, ignite_engine.Engine, ignite_engine.Events),
        (mps, Engine, Events),
    ):
        opt = make_optimizer()
        scheduler = ignite_cases(module)[name](opt)
        scheduler.save_history = True
        trainer = engine_cls(lambda e, b: None)
        trainer.add_event_handler(events.ITERATION_STARTED, scheduler)
        trainer.run([0] * 10, max_epochs=4)
        histories.append(trainer.state.param_history)
    assert histories[1].keys() == histories[0].keys()
    for key in histories[0]:
        assert np.allclose(histories[1][key], histories[0][key], rtol=0, atol=1e-12)
