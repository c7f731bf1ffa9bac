"""Parameter schedulers: value sequences against formulas written here, torch, and Ignite."""

from __future__ import annotations

import math
import sys
import warnings

import numpy as np
import pytest
import torch
from torch.optim import lr_scheduler as tl

import miniengine.handlers.param_scheduler as mps
from miniengine.engine import Engine, Events
from miniengine.handlers.param_scheduler import (
    BatchSizeScheduler,
    ConcatScheduler,
    CosineAnnealingScheduler,
    LinearCyclicalScheduler,
    LRScheduler,
    ParamGroupScheduler,
    PiecewiseLinear,
    ReduceLROnPlateauScheduler,
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


# ---------------------------------------------------------------- simulate_values / plot_values


def simulation_cases(m):
    """(class, kwargs) per scheduler class of module `m`; kwargs built fresh on each call."""

    def two_groups(wraps=True):
        # Ignite's ParamGroupScheduler.simulate_values reads get_param() before each call, which
        # at a cycle's end is the end value, not the restarted one that the run sets (ours
        # reports what is set): the oracle case uses a cycle that does not wrap in 16 events
        opt = make_optimizer(groups=2)
        return [
            m.PiecewiseLinear(opt, "lr", [(0, 0.0), (6, 1.0)], param_group_index=0),
            m.CosineAnnealingScheduler(
                opt, "lr", 1.0, 0.0, 5 if wraps else 20, param_group_index=1
            ),
        ]

    def concat():
        opt = make_optimizer()
        return [
            m.LinearCyclicalScheduler(opt, "lr", 1.0, 0.0, 20),
            m.CosineAnnealingScheduler(opt, "lr", 0.0, 1.0, 10),
        ]

    return {
        "linear": lambda: (m.LinearCyclicalScheduler, dict(param_name="lr", **LIN)),
        "cosine": lambda: (m.CosineAnnealingScheduler, dict(param_name="lr", **COS)),
        "piecewise": lambda: (
            m.PiecewiseLinear,
            dict(param_name="lr", milestones_values=[(10, 0.5), (20, 0.45), (21, 0.3), (30, 0.1)]),
        ),
        "lr-steplr": lambda: (m.LRScheduler, dict(lr_scheduler=tl.StepLR(make_optimizer(), 3))),
        "concat": lambda: (m.ConcatScheduler, dict(schedulers=concat(), durations=[10])),
        "param-groups": lambda: (m.ParamGroupScheduler, dict(schedulers=two_groups(False))),
        "plateau": lambda: (
            m.ReduceLROnPlateauScheduler,
            dict(metric_values=PLATEAU_METRIC, init_lr=1.0, factor=0.5, patience=1, cooldown=1),
        ),
        "batch-size": lambda: (m.BatchSizeScheduler, dict(scheduler_fn=lambda i: 8 + 4 * i)),
    }


LIN = dict(start_value=1.0, end_value=0.0, cycle_size=10)
COS = dict(start_value=1.0, end_value=0.0, cycle_size=7, cycle_mult=2)
PLATEAU_METRIC = [5.0, 4.0, 4.5, 4.2, 4.1, 3.0, 3.5, 3.6, 3.7, 3.8, 3.9, 2.0, 2.5, 2.6, 2.7, 2.8]


@pytest.mark.parametrize("name", list(simulation_cases(mps)))
@pytest.mark.filterwarnings("ignore:Detected call of")
def test_simulate_values_equal_ignites(name):
    ips = pytest.importorskip("ignite.handlers.param_scheduler")
    n = len(PLATEAU_METRIC)
    cls, kwargs = simulation_cases(ips)[name]()
    expected = cls.simulate_values(n, **kwargs)
    cls, kwargs = simulation_cases(mps)[name]()
    got = cls.simulate_values(n, **kwargs)
    assert [row[0] for row in got] == list(range(n))
    np.testing.assert_allclose(np.array(got, dtype=float), np.array(expected, dtype=float))


@pytest.mark.parametrize("name", ["linear", "cosine", "piecewise", "lr-steplr", "concat"])
@pytest.mark.filterwarnings("ignore:Detected call of")
def test_simulate_values_are_what_a_run_sets(name):
    cls, kwargs = simulation_cases(mps)[name]()
    simulated = cls.simulate_values(20, **kwargs)
    if "lr_scheduler" in kwargs:
        optimizer = kwargs["lr_scheduler"].optimizer
    elif "schedulers" in kwargs:
        optimizer = kwargs["schedulers"][0].optimizer
    else:
        optimizer = kwargs["optimizer"] = make_optimizer()
    scheduler = cls(**kwargs)  # the simulation left the schedulers as they were
    trainer = Engine(lambda engine, batch: optimizer.param_groups[0]["lr"])
    seen = []
    trainer.add_event_handler(Events.ITERATION_STARTED, scheduler)
    trainer.add_event_handler(Events.ITERATION_COMPLETED, lambda e: seen.append(e.state.output))
    trainer.run([0] * 10, max_epochs=2)
    assert seen == pytest.approx([v for _, v in simulated])


def test_param_group_simulation_lists_what_each_scheduler_sets():
    opt = make_optimizer(groups=2)
    schedulers = [
        PiecewiseLinear(opt, "lr", [(0, 0.0), (6, 1.0)], param_group_index=0),
        CosineAnnealingScheduler(opt, "lr", 1.0, 0.0, 5, param_group_index=1),
    ]
    rows = ParamGroupScheduler.simulate_values(8, schedulers)
    # by hand: a line 0 -> 1 over 6 events, and a cosine 1 -> 0 restarting every 5
    line = [min(i / 6, 1.0) for i in range(8)]
    cos = [(1 + math.cos(math.pi * (i % 5) / 5)) / 2 for i in range(8)]
    np.testing.assert_allclose(rows, [[i, line[i], cos[i]] for i in range(8)])
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.2]  # untouched
    trainer = Engine(lambda engine, batch: [g["lr"] for g in opt.param_groups])
    ParamGroupScheduler(schedulers).attach(trainer)
    seen = []
    trainer.add_event_handler(Events.ITERATION_COMPLETED, lambda e: seen.append(e.state.output))
    trainer.run([0] * 8)
    np.testing.assert_allclose(seen, [row[1:] for row in rows])


def test_plot_values_without_matplotlib_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)  # as if not installed
    with pytest.raises(ModuleNotFoundError, match="requires matplotlib.*pip install matplotlib"):
        LinearCyclicalScheduler.plot_values(10, param_name="lr", **LIN)
    with pytest.raises(ImportError, match="pip install matplotlib"):
        ParamGroupScheduler.plot_values(4, schedulers=simulation_cases(mps)["param-groups"]()[1])


@pytest.mark.parametrize("name", list(simulation_cases(mps)))
@pytest.mark.filterwarnings("ignore:Detected call of")
def test_plot_values_draws_the_simulated_values(name):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cls, kwargs = simulation_cases(mps)[name]()
    rows = cls.simulate_values(16, **kwargs)
    cls, kwargs = simulation_cases(mps)[name]()
    plt.figure()
    lines = cls.plot_values(16, **kwargs)
    assert len(lines) == len(rows[0]) - 1
    for i, line in enumerate(lines):
        assert list(line.get_xdata()) == list(range(16))
        assert list(line.get_ydata()) == pytest.approx([row[i + 1] for row in rows])
    plt.close("all")


# ---------------------------------------------------------------- ReduceLROnPlateauScheduler


def plateau_reference(metrics, lr, mode, factor, patience, threshold, threshold_mode, cooldown):
    """torch's rule, written out: the rate after each call."""
    best, bad, cool, out = (math.inf if mode == "min" else -math.inf), 0, 0, []
    for m in metrics:
        if mode == "min":
            bar = best * (1 - threshold) if threshold_mode == "rel" else best - threshold
            better = m < bar
        else:
            bar = best * (1 + threshold) if threshold_mode == "rel" else best + threshold
            better = m > bar
        best, bad = (m, 0) if better else (best, bad + 1)
        if cool > 0:
            cool, bad = cool - 1, 0
        if bad > patience:
            lr, cool, bad = lr * factor, cooldown, 0
        out.append(lr)
    return out


PLATEAU_CASES = {
    "min-rel": dict(mode="min", factor=0.5, patience=1, threshold=0.05, threshold_mode="rel"),
    "min-abs-cooldown": dict(
        mode="min", factor=0.3, patience=0, threshold=0.2, threshold_mode="abs", cooldown=2
    ),
    "max-abs": dict(mode="max", factor=0.5, patience=2, threshold=0.1, threshold_mode="abs"),
    "max-rel": dict(mode="max", factor=0.1, patience=1, threshold=0.01, threshold_mode="rel"),
}
PLATEAU_SCORES = [0.5, 0.6, 0.58, 0.61, 0.7, 0.69, 0.69, 0.72, 0.4, 0.9, 0.9, 0.9, 0.91, -0.3]


def run_plateau(m, engine_cls, events, kwargs, use_attach, **extra):
    """Trainer + evaluator: the scheduler sees the evaluator's metric after each epoch."""
    opt = make_optimizer(lr=1.0, groups=2)
    trainer = engine_cls(lambda engine, batch: None)
    evaluator = engine_cls(lambda engine, batch: None)
    scores = iter(PLATEAU_SCORES)

    @evaluator.on(events.COMPLETED)
    def compute(engine):
        engine.state.metrics["score"] = next(scores)

    scheduler = m.ReduceLROnPlateauScheduler(
        opt, "score", trainer=trainer, save_history=True, **kwargs, **extra
    )
    if use_attach:
        scheduler.attach(evaluator, events.COMPLETED)
    else:
        evaluator.add_event_handler(events.COMPLETED, scheduler)
    trainer.add_event_handler(events.EPOCH_COMPLETED, lambda: evaluator.run([0]))
    trainer.run([0, 0], max_epochs=len(PLATEAU_SCORES))
    return trainer.state.param_history["lr"], opt


@pytest.mark.parametrize("name", list(PLATEAU_CASES))
def test_reduce_lr_on_plateau_follows_torchs_rule(name):
    kwargs = PLATEAU_CASES[name]
    history, _ = run_plateau(mps, Engine, Events, kwargs, use_attach=True)
    full = dict(threshold_mode="rel", cooldown=0) | kwargs
    expected = plateau_reference(PLATEAU_SCORES, 1.0, **full)
    assert [h[0] for h in history] == pytest.approx(expected)
    assert [h[1] for h in history] == pytest.approx([2 * v for v in expected])  # group 1: lr 2
    assert len(set(expected)) > 2  # the scenario does reduce, more than once


@pytest.mark.parametrize("name", list(PLATEAU_CASES))
@pytest.mark.parametrize("use_attach", [True, False])
def test_reduce_lr_on_plateau_equals_ignite(name, use_attach):
    ignite_engine = pytest.importorskip("ignite.engine")
    ips = pytest.importorskip("ignite.handlers.param_scheduler")
    kwargs = PLATEAU_CASES[name] | {"param_group_index": 0, "min_lr": 0.01}
    expected, iopt = run_plateau(
        ips, ignite_engine.Engine, ignite_engine.Events, kwargs, use_attach
    )
    got, opt = run_plateau(mps, Engine, Events, kwargs, use_attach)
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    assert opt.param_groups[1]["lr"] == iopt.param_groups[1]["lr"] == 2.0  # not driven


def test_reduce_lr_on_plateau_min_lr_and_eps():
    opt = make_optimizer(lr=1.0, groups=2)
    scheduler = ReduceLROnPlateauScheduler(
        opt, "loss", factor=0.5, patience=0, min_lr=[0.3, 0.0], eps=0.1
    )
    evaluator = Engine(lambda engine, batch: None)
    evaluator.state.metrics = {"loss": 1.0}
    seen = []
    for _ in range(6):
        scheduler(evaluator)
        seen.append([g["lr"] for g in opt.param_groups])
    # group 0 stops at its min_lr; group 1 halves until a step would change it by <= eps
    assert seen == [
        [1.0, 2.0],
        [0.5, 1.0],
        [0.3, 0.5],
        [0.3, 0.25],
        [0.3, 0.125],
        [0.3, 0.125],
    ]


def test_reduce_lr_on_plateau_state_dict_resumes_exactly():
    metrics = [3.0, 2.0, 2.5, 2.4, 2.6, 1.0, 1.5, 1.4, 1.6, 1.7]

    def scheduler_for(opt):
        return ReduceLROnPlateauScheduler(opt, "m", factor=0.5, patience=1, cooldown=1)

    def drive(scheduler, values):
        evaluator = Engine(lambda engine, batch: None)
        out = []
        for v in values:
            evaluator.state.metrics["m"] = v
            scheduler(evaluator)
            out.append(scheduler.optimizer.param_groups[0]["lr"])
        return out

    full = drive(scheduler_for(make_optimizer(lr=1.0)), metrics)
    opt = make_optimizer(lr=1.0)
    first = scheduler_for(opt)
    head = drive(first, metrics[:4])
    saved = first.state_dict(), opt.state_dict()
    assert {"metric_name", "best", "num_bad_epochs", "cooldown_counter"} <= set(saved[0])
    opt2 = make_optimizer(lr=1.0)
    opt2.load_state_dict(saved[1])
    second = scheduler_for(opt2)
    second.load_state_dict(saved[0])
    assert head + drive(second, metrics[4:]) == full


def test_reduce_lr_on_plateau_errors():
    opt = make_optimizer(groups=2)
    with pytest.raises(TypeError, match="When param_group_index is given, min_lr should be a"):
        ReduceLROnPlateauScheduler(opt, "acc", min_lr=[1e-7, 1e-8], param_group_index=0)
    with pytest.raises(ValueError, match="min_lr should have 2 values, got"):
        ReduceLROnPlateauScheduler(opt, "acc", min_lr=[1e-7])
    with pytest.raises(ValueError, match="Factor should be < 1.0"):
        ReduceLROnPlateauScheduler(opt, "acc", factor=1.5)
    with pytest.raises(ValueError, match="mode should be 'min' or 'max', but given 'up'"):
        ReduceLROnPlateauScheduler(opt, "acc", mode="up")
    with pytest.raises(ValueError, match="threshold_mode should be 'rel' or 'abs'"):
        ReduceLROnPlateauScheduler(opt, "acc", threshold_mode="pct")
    with pytest.warns(UserWarning, match="verbose"):
        ReduceLROnPlateauScheduler(opt, "acc", verbose=True)
    with pytest.raises(
        ValueError, match="Argument engine should have in its 'state', attribute 'metrics'"
    ):
        ReduceLROnPlateauScheduler(opt, "acc")(Engine(lambda e, b: None))
    with pytest.raises(ValueError, match="metric_values should be equal to num_events. 6 != 5"):
        ReduceLROnPlateauScheduler.simulate_values(5, [0.1] * 6, 0.01)


# ---------------------------------------------------------------- BatchSizeScheduler


def test_batch_size_scheduler_changes_the_next_epochs_batches():
    from torch.utils.data import DataLoader

    loader = DataLoader(list(range(24)), batch_size=2)
    trainer = Engine(lambda engine, batch: len(batch))
    scheduler = BatchSizeScheduler(loader, lambda i: 2 * (i + 1), save_history=True)
    scheduler.attach(trainer)
    sizes = []
    trainer.add_event_handler(Events.ITERATION_COMPLETED, lambda e: sizes.append(e.state.output))
    trainer.run(loader, max_epochs=3, epoch_length=2)
    assert sizes == [2, 2, 4, 4, 6, 6]
    assert trainer.state.param_history["batch_size"] == [2, 4, 6]
    assert BatchSizeScheduler.simulate_values(3, scheduler_fn=lambda i: 10 + i) == [
        [0, 10],
        [1, 11],
        [2, 12],
    ]


def test_batch_size_scheduler_errors():
    from torch.utils.data import DataLoader

    with pytest.raises(TypeError, match="dataloader should be torch.utils.data.DataLoader"):
        BatchSizeScheduler([1, 2], lambda i: 1)
    with pytest.raises(ValueError, match="should have a BatchSampler"):
        BatchSizeScheduler(DataLoader([1, 2], batch_size=None), lambda i: 1)
    with pytest.raises(TypeError, match="scheduler_fn should be callable"):
        BatchSizeScheduler(DataLoader([1, 2]), 3)
    with pytest.raises(ValueError, match="should be a positive integer, but given 0"):
        BatchSizeScheduler(DataLoader([1, 2]), lambda i: 0)(None)
    with pytest.raises(ValueError, match="must contain 'scheduler_fn'"):
        BatchSizeScheduler.simulate_values(3)


@pytest.mark.parametrize(
    "milestones",
    [[(1, 1.0), (3, 0.8), (5, 0.2)], [(0, 0.0), (4, 1.0)], [(2, 1.0), (2, 0.5), (6, 0.0)]],
)
def test_piecewise_linear_state_dicts_load_across_libraries(milestones):
    ignite_handlers = pytest.importorskip("ignite.handlers")
    for steps in range(9):
        ours, theirs = (
            cls(torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1), "lr", milestones)
            for cls in (PiecewiseLinear, ignite_handlers.PiecewiseLinear)
        )
        for _ in range(steps):
            ours(None)
            theirs(None)
        assert ours.state_dict() == theirs.state_dict()  # Ignite's `_index` included
        theirs.load_state_dict(ours.state_dict())
