"""FastaiLRFinder on a real tiny network trained by a real Engine; and the oracle: the same
range test run in Ignite, where it is installed, records the same rates, losses, stop and
suggestion.

Some tests train on a made-up loss instead: a process function that returns a known function
of the optimizer's current rate, so that the expected records can be worked out by hand.
"""

from __future__ import annotations

import copy
import importlib.util
import math
import sys
import warnings
from types import SimpleNamespace

import pytest
import torch
from _logs import records_of
from torch import nn

import miniengine.engine
from miniengine.engine import Engine, Events
from miniengine.handlers import FastaiLRFinder

HAVE_IGNITE = importlib.util.find_spec("ignite") is not None
needs_ignite = pytest.mark.skipif(not HAVE_IGNITE, reason="pytorch-ignite not installed")

NO_DIVERGENCE = "Run completed without loss diverging"


def setup(engine_module=miniengine.engine, groups: int = 1, batches: int = 30, momentum=0.0):
    """A tiny regression network, its SGD optimizer (``groups`` parameter groups), a supervised
    trainer made by ``engine_module`` (miniengine's or Ignite's) and data: the same numbers in
    every call."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
    if groups == 1:
        optimizer = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=momentum)
    else:
        optimizer = torch.optim.SGD(
            [
                {"params": model[0].parameters(), "lr": 1e-3},
                {"params": model[2].parameters(), "lr": 1e-4},
            ],
            momentum=momentum,
        )
    g = torch.Generator().manual_seed(1)
    data = [
        (torch.randn(8, 4, generator=g), torch.randn(8, 1, generator=g)) for _ in range(batches)
    ]
    trainer = engine_module.create_supervised_trainer(model, optimizer, nn.MSELoss())
    return SimpleNamespace(
        model=model,
        optimizer=optimizer,
        trainer=trainer,
        data=data,
        to_save={"model": model, "optimizer": optimizer},
    )


def rates(optimizer) -> list[float]:
    return [group["lr"] for group in optimizer.param_groups]


def range_test(finder_cls, engine_module, groups=1, batches=30, **attach_kwargs) -> dict:
    """One range test on ``setup()``: what the finder recorded and what the run did."""
    s = setup(engine_module, groups, batches)
    trained_with: list[list[float]] = []  # the rates of each iteration, as it starts
    s.trainer.add_event_handler(
        engine_module.Events.ITERATION_STARTED, lambda e: trained_with.append(rates(s.optimizer))
    )
    finder = finder_cls()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with finder.attach(s.trainer, s.to_save, **attach_kwargs) as trainer:
            iterations = trainer.run(s.data).iteration
    results = finder.get_results()
    try:
        suggestion = finder.lr_suggestion()
    except RuntimeError as e:
        suggestion = str(e)
    return {
        "lr": results["lr"],
        "loss": [x if x == x else "nan" for x in results["loss"]],  # so that nan == nan
        "trained_with": trained_with,
        "iterations": iterations,
        "suggestion": suggestion,
        "warnings": [str(w.message) for w in caught if NO_DIVERGENCE in str(w.message)],
        "params_after": [p.tolist() for p in s.model.parameters()],
    }


# Each scenario: (groups, attach() arguments); the data has 30 batches.
SCENARIOS = {
    "defaults": (1, {}),
    "start_lr": (1, {"start_lr": 1e-2}),
    "num_iter shorter than the run": (1, {"num_iter": 10}),
    "num_iter longer than the run": (1, {"num_iter": 50}),
    "no smoothing": (1, {"smooth_f": 0.0}),
    "stop at the first rise": (1, {"diverge_th": 1.0}),
    "never diverges": (1, {"diverge_th": math.inf}),  # the loss ends in inf and nan
    "two groups": (2, {}),
    "two groups, own ranges": (2, {"start_lr": [1e-4, 1e-5], "end_lr": [1.0, 2.0]}),
}


@needs_ignite
@pytest.mark.parametrize("step_mode", ["exp", "linear"])
@pytest.mark.parametrize("name", list(SCENARIOS))
def test_same_records_as_ignite(name, step_mode):
    import ignite.engine
    import ignite.handlers

    groups, kwargs = SCENARIOS[name]
    kwargs = {**kwargs, "step_mode": step_mode}
    theirs = range_test(ignite.handlers.FastaiLRFinder, ignite.engine, groups, **kwargs)
    ours = range_test(FastaiLRFinder, miniengine.engine, groups, **kwargs)
    assert ours == theirs  # exactly: every rate, loss, stop and the suggestion


@needs_ignite
def test_same_log_records_as_ignite():
    import ignite.engine
    import ignite.handlers

    seen = []
    for finder_cls, engine_module in (
        (ignite.handlers.FastaiLRFinder, ignite.engine),
        (FastaiLRFinder, miniengine.engine),
    ):
        s, finder = setup(engine_module), finder_cls()

        def run(finder=finder, s=s):
            with finder.attach(s.trainer, s.to_save, num_iter=20) as trainer:
                trainer.run(s.data)

        records = records_of(finder.logger, run)
        seen.append([(r.levelname, r.getMessage()) for r in records])
    assert seen[0] == seen[1]
    assert seen[0] == [
        ("DEBUG", "Running LR finder for 20 iterations"),
        ("INFO", "Stopping early, the loss has diverged"),
        ("DEBUG", "Completed LR finder run"),
    ]


@needs_ignite
def test_same_suggestion_as_ignite_on_a_made_up_curve():
    import ignite.engine
    import ignite.handlers

    suggestions = []
    for finder_cls, engine_cls in (
        (ignite.handlers.FastaiLRFinder, ignite.engine.Engine),
        (FastaiLRFinder, Engine),
    ):
        optimizer, trainer = made_up_trainer(engine_cls)
        finder = finder_cls()
        with finder.attach(trainer, {"optimizer": optimizer}, step_mode="linear") as t:
            t.run(range(200))
        suggestions.append(finder.lr_suggestion())
    assert suggestions[0] == suggestions[1]


def made_up_trainer(engine_cls=Engine, curve=None):
    """An optimizer at lr 1e-4 and a trainer whose loss is ``curve(lr)`` for the rate it trains
    with (default: falls fastest around lr = 0.01, explodes past 1)."""
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1e-4)
    curve = curve or (lambda lr: 1 / (1 + 100 * lr) + lr**2)
    return optimizer, engine_cls(lambda engine, batch: curve(optimizer.param_groups[0]["lr"]))


# ----------------------------------------------------------------- the schedule and the loss
@pytest.mark.parametrize("step_mode", ["exp", "linear"])
def test_rates_follow_the_documented_formulas(step_mode):
    optimizer, trainer = made_up_trainer(curve=lambda lr: 1.0)  # flat: never diverges
    trained_with = []
    trainer.add_event_handler(
        Events.ITERATION_STARTED, lambda e: trained_with.extend(rates(optimizer))
    )
    finder = FastaiLRFinder()
    start, end, n = 1e-3, 1.0, 20
    with pytest.warns(UserWarning, match=NO_DIVERGENCE):
        with finder.attach(
            trainer, {"optimizer": optimizer}, start_lr=start, end_lr=end, num_iter=n,
            step_mode=step_mode,
        ) as t:  # fmt: skip
            assert t.run(range(100)).iteration == n + 1  # stops at the end of iteration n + 1
    if step_mode == "exp":
        expected = [start * (end / start) ** (k / n) for k in range(1, n + 2)]
        first = 1e-4 * (end / 1e-4) ** (1 / n)  # one step up from the optimizer's rate
    else:
        expected = [start + (end - start) * (k - 1) / n for k in range(1, n + 2)]
        first = 1e-4  # the optimizer's rate
    recorded = finder.get_results()["lr"]
    assert recorded == pytest.approx(expected, rel=1e-12)
    # the rate recorded with iteration k's loss is the one iteration k + 1 trains with
    assert trained_with == pytest.approx([first] + recorded[:-1], rel=1e-12)


def test_a_rate_per_group_follows_its_own_range():
    s = setup(groups=2)
    finder = FastaiLRFinder()
    with finder.attach(
        s.trainer, s.to_save, start_lr=[1e-3, 1e-4], end_lr=[1.0, 0.5], num_iter=10,
        step_mode="linear", diverge_th=math.inf,
    ) as trainer:  # fmt: skip
        with pytest.warns(UserWarning, match=NO_DIVERGENCE):
            trainer.run(s.data)
    lrs = finder.get_results()["lr"]
    assert lrs[0] == [1e-3, 1e-4]
    assert lrs[10] == [1.0, 0.5]
    for before, after in zip(lrs[:-1], lrs[1:], strict=True):
        assert before[0] < after[0] and before[1] < after[1]


def test_loss_is_an_exponential_moving_average():
    raw = []
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1e-4)
    values = iter([4.0, 2.0, 3.0, 1.0, 5.0, 2.5])
    trainer = Engine(lambda e, b: raw.append(next(values)) or raw[-1])
    finder = FastaiLRFinder()
    with finder.attach(trainer, {"optimizer": optimizer}, smooth_f=0.25, diverge_th=10.0) as t:
        with pytest.warns(UserWarning, match=NO_DIVERGENCE):
            t.run(range(6))
    expected = [raw[0]]
    for x in raw[1:]:
        expected.append(0.25 * x + 0.75 * expected[-1])
    assert finder.get_results()["loss"] == expected


def test_stops_once_the_loss_diverges():
    optimizer, trainer = made_up_trainer()
    finder = FastaiLRFinder()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a diverged test does not warn
        with finder.attach(trainer, {"optimizer": optimizer}, diverge_th=3.0) as t:
            stopped_at = t.run(range(100)).iteration
    losses = finder.get_results()["loss"]
    assert len(losses) == stopped_at < 100
    assert losses[-1] > 3.0 * min(losses)
    assert all(loss <= 3.0 * min(losses[: k + 1]) for k, loss in enumerate(losses[:-1]))


def test_the_run_is_lengthened_to_num_iter():
    s = setup(batches=30)
    finder = FastaiLRFinder()
    with finder.attach(s.trainer, s.to_save, num_iter=50, diverge_th=math.inf) as trainer:
        with pytest.warns(UserWarning, match=NO_DIVERGENCE):
            state = trainer.run(s.data)
        assert (state.iteration, state.epoch) == (50, 2)
    assert len(finder.get_results()["lr"]) == 50


def test_a_run_given_max_iters():
    # (Ignite 0.5.5 fails here: it needs state.max_epochs, which a max_iters run leaves None.)
    s = setup(batches=30)
    finder = FastaiLRFinder()
    with finder.attach(s.trainer, s.to_save, step_mode="linear", diverge_th=math.inf) as trainer:
        with pytest.warns(UserWarning, match=NO_DIVERGENCE):
            assert trainer.run(s.data, max_iters=45).iteration == 45
    assert finder.get_results()["lr"][-1] == pytest.approx(1e-3 + (10.0 - 1e-3) * 44 / 45)


class Unsized:
    """Data without ``len()``: the length of the run is unknown when it starts."""

    def __iter__(self):
        return iter(setup().data)


def test_data_without_length_needs_num_iter():
    s = setup()
    finder = FastaiLRFinder()
    with pytest.raises(ValueError, match="FastaiLRFinder needs num_iter when the length"):
        with finder.attach(s.trainer, s.to_save) as trainer:
            trainer.run(Unsized())
    with finder.attach(s.trainer, s.to_save, num_iter=10, diverge_th=math.inf) as trainer:
        with pytest.warns(UserWarning, match=NO_DIVERGENCE):
            assert trainer.run(Unsized()).iteration == 11


# ----------------------------------------------------------------- the loss from the output
@pytest.mark.parametrize(
    "output,error,match",
    [
        ([10.0], TypeError, "output of the engine should be of type float or 0d torch.Tensor"),
        ((10.0, 5.0), TypeError, "but got output of type tuple; pick the loss out"),
        (10, TypeError, "but got output of type int"),
        (torch.tensor([1.0, 2.0]), ValueError, r"if output of the engine is torch.Tensor.*\[2\]"),
    ],
)
def test_an_output_that_is_not_a_loss(output, error, match):
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1e-4)
    finder = FastaiLRFinder()
    with pytest.raises(error, match=match):
        with finder.attach(Engine(lambda e, b: output), {"optimizer": optimizer}) as trainer:
            trainer.run(range(3))


@pytest.mark.parametrize(
    "output,transform",
    [
        (torch.tensor(2.0), None),
        (torch.tensor([2.0]), None),
        ({"loss": 2.0, "acc": 0.5}, lambda output: output["loss"]),
    ],
)
def test_outputs_that_give_a_loss(output, transform):
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1e-4)
    finder = FastaiLRFinder()
    kwargs = {} if transform is None else {"output_transform": transform}
    with finder.attach(Engine(lambda e, b: output), {"optimizer": optimizer}, **kwargs) as t:
        with pytest.warns(UserWarning, match=NO_DIVERGENCE):
            t.run(range(3))
    losses = finder.get_results()["loss"]
    assert losses == [2.0, 2.0, 2.0]
    assert all(type(loss) is float for loss in losses)


# ----------------------------------------------------------------- attach and restore
def entries(trainer: Engine) -> dict:
    return {event: list(handlers) for event, handlers in trainer.event_handlers.items()}


def same(a, b) -> bool:
    """Equal, tensors included (element by element, and of the same dtype)."""
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(map(same, a, b))
    return a == b


def test_everything_is_restored_and_detached():
    s = setup(momentum=0.9)  # the momentum buffers make the optimizer's state worth restoring
    model, optimizer = copy.deepcopy(s.model.state_dict()), copy.deepcopy(s.optimizer.state_dict())
    trainer_state, handlers = s.trainer.state_dict(), entries(s.trainer)
    finder = FastaiLRFinder()
    with finder.attach(s.trainer, s.to_save) as trainer:
        assert entries(trainer) != handlers
        trainer.run(s.data)
        assert s.optimizer.state and not same(s.model.state_dict(), model)
    assert entries(s.trainer) == handlers
    assert s.trainer.state_dict() == trainer_state
    assert same(s.optimizer.state_dict(), optimizer)
    assert same(s.model.state_dict(), model)


def test_a_trainer_with_a_run_behind_it_goes_on_as_before():
    s = setup(momentum=0.9, batches=5)
    s.trainer.run(s.data, max_epochs=2)
    optimizer = copy.deepcopy(s.optimizer.state_dict())
    finder = FastaiLRFinder()
    with finder.attach(s.trainer, s.to_save, num_iter=20) as trainer:
        trainer.run(s.data)
    assert (s.trainer.state.iteration, s.trainer.state.epoch) == (10, 2)
    assert same(s.optimizer.state_dict(), optimizer)  # momentum buffers included
    batches = []
    s.trainer.add_event_handler(Events.ITERATION_STARTED, lambda e: batches.append(e.state.batch))
    assert s.trainer.run(s.data, max_epochs=3).iteration == 15
    assert batches == s.data


def test_restored_also_when_the_run_fails():
    # (Ignite restores only when the block ends normally.)
    s = setup()
    model, trainer_state = copy.deepcopy(s.model.state_dict()), s.trainer.state_dict()

    def fail(engine):
        raise RuntimeError("out of memory, say")

    s.trainer.add_event_handler(Events.ITERATION_COMPLETED(once=5), fail)
    handlers = entries(s.trainer)
    finder = FastaiLRFinder()
    with pytest.raises(RuntimeError, match="out of memory, say"):
        with finder.attach(s.trainer, s.to_save) as trainer:
            trainer.run(s.data)
    assert entries(s.trainer) == handlers
    assert s.trainer.state_dict() == trainer_state
    assert s.optimizer.param_groups[0]["lr"] == 1e-3
    assert same(s.model.state_dict(), model)


def test_attach_without_with_attaches_nothing():
    s = setup()
    handlers = entries(s.trainer)
    FastaiLRFinder().attach(s.trainer, s.to_save)
    assert entries(s.trainer) == handlers


def test_attaching_twice_is_refused():
    s = setup()
    finder = FastaiLRFinder()
    with finder.attach(s.trainer, s.to_save):
        with pytest.raises(RuntimeError, match="already attached to the trainer"):
            with finder.attach(s.trainer, s.to_save):
                pass


# (attach() arguments, error, the start of its message: Ignite's words)
BAD_ARGUMENTS = [
    ({"to_save": 123}, TypeError, "Argument to_save should be a mapping"),
    ({"to_save": {1: 2}}, TypeError, r"Object <class 'int'> should have `state_dict` method"),
    ({"to_save": {"model": None}}, TypeError, r"Object <class 'NoneType'> should have `state_"),
    ({"to_save": {"model": "MODEL"}}, ValueError, "Mapping to_save should contain 'optimizer'"),
    ({"to_save": {"optimizer": "MODEL"}}, TypeError, r"Object to_save\['optimizer'\] should be"),
    ({"smooth_f": 234}, ValueError, r"smooth_f is outside the range \[0, 1\]"),
    ({"smooth_f": 1.0}, ValueError, r"smooth_f is outside the range \[0, 1\]"),
    ({"smooth_f": -0.1}, ValueError, r"smooth_f is outside the range \[0, 1\]"),
    ({"diverge_th": 0.5}, ValueError, "diverge_th should be larger than 1"),
    ({"step_mode": "abc"}, ValueError, "step_mode should be 'exp' or 'linear'"),
    ({"num_iter": 0.0}, TypeError, "if provided, num_iter should be an integer"),
    ({"num_iter": 0}, ValueError, "if provided, num_iter should be positive"),
    ({"start_lr": [0.1, 0.1]}, ValueError, "Number of values of start_lr should be equal to"),
    ({"end_lr": [0.1, 0.1]}, ValueError, "Number of values of end_lr should be equal to"),
    ({"start_lr": 1}, TypeError, "start_lr should be a float or list of floats"),
    ({"end_lr": 1}, TypeError, "end_lr should be a float or list of floats"),
    ({"end_lr": None}, TypeError, "end_lr should be a float or list of floats"),
    ({"start_lr": 10.0, "end_lr": 1.0}, ValueError, "start_lr must be less than end_lr"),
    ({"end_lr": 1e-3}, ValueError, "start_lr must be less than end_lr, start_lr=0.001"),
]


def real_model(to_save, model):
    """``to_save`` with the placeholder "MODEL" replaced by ``model``."""
    if not isinstance(to_save, dict):
        return to_save
    return {k: model if isinstance(v, str) and v == "MODEL" else v for k, v in to_save.items()}


@pytest.mark.parametrize("kwargs,error,match", BAD_ARGUMENTS)
def test_bad_arguments(kwargs, error, match):
    s = setup()
    kwargs = {"to_save": s.to_save, **kwargs}
    kwargs["to_save"] = real_model(kwargs["to_save"], s.model)
    handlers = entries(s.trainer)
    with pytest.raises(error, match=match):
        with FastaiLRFinder().attach(s.trainer, **kwargs):
            pass
    assert entries(s.trainer) == handlers


def test_each_group_needs_its_start_below_its_end():
    s = setup(groups=2)
    with pytest.raises(ValueError, match=r"start_lr=1.0 vs end_lr=1.0 \(param group 1\)"):
        with FastaiLRFinder().attach(s.trainer, s.to_save, start_lr=[0.1, 1.0], end_lr=1.0):
            pass


@needs_ignite
@pytest.mark.parametrize("kwargs,error,match", BAD_ARGUMENTS[:-1])  # Ignite names None there
def test_ignite_gives_the_same_errors(kwargs, error, match):
    import ignite.engine
    import ignite.handlers

    s = setup(ignite.engine)
    kwargs = {"to_save": s.to_save, **kwargs}
    kwargs["to_save"] = real_model(kwargs["to_save"], s.model)
    with pytest.raises(error, match=match):
        with ignite.handlers.FastaiLRFinder().attach(s.trainer, **kwargs):
            pass


# ----------------------------------------------------------------- the suggestion
def test_suggestion_is_where_the_loss_falls_fastest():
    optimizer, trainer = made_up_trainer()
    finder = FastaiLRFinder()
    with finder.attach(trainer, {"optimizer": optimizer}, smooth_f=0.0) as t:
        t.run(range(100))
    lrs, losses = finder.get_results()["lr"], finder.get_results()["loss"]
    # worked out in plain Python: the steepest central difference before the lowest loss
    lowest = losses.index(min(losses))
    falls = {i: losses[i + 1] - losses[i - 1] for i in range(1, lowest)}
    assert finder.lr_suggestion() == lrs[min(falls, key=falls.__getitem__)]
    assert 0.005 < finder.lr_suggestion() < 0.02  # the made-up curve falls fastest at 0.01


def test_no_suggestion_before_a_test():
    with pytest.raises(RuntimeError, match="learning rate finder didn't run yet so lr_sugg"):
        FastaiLRFinder().lr_suggestion()


def test_no_suggestion_from_a_curve_that_only_rises():
    optimizer, trainer = made_up_trainer(curve=lambda lr: lr)
    finder = FastaiLRFinder()
    with finder.attach(trainer, {"optimizer": optimizer}, diverge_th=math.inf) as t:
        with pytest.warns(UserWarning, match=NO_DIVERGENCE):
            t.run(range(20))
    with pytest.raises(RuntimeError, match="FastaiLRFinder got unexpected curve shape"):
        finder.lr_suggestion()


def test_apply_suggested_lr():
    s = setup(groups=2)
    finder = FastaiLRFinder()
    with finder.attach(s.trainer, s.to_save) as trainer:
        trainer.run(s.data)
    suggested = finder.lr_suggestion()
    assert len(suggested) == 2
    finder.apply_suggested_lr(s.optimizer)
    assert rates(s.optimizer) == suggested
    one_group = torch.optim.SGD(s.model.parameters(), lr=0.1)
    with pytest.raises(RuntimeError, match="The number of parameter groups does not match.*2 vs 1"):
        finder.apply_suggested_lr(one_group)


# ----------------------------------------------------------------- plot
@pytest.fixture
def plt():
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    yield plt
    plt.close("all")


@pytest.fixture
def tested():
    """A finder that has run on the made-up curve."""
    optimizer, trainer = made_up_trainer()
    finder = FastaiLRFinder()
    with finder.attach(trainer, {"optimizer": optimizer}) as t:
        t.run(range(100))
    return finder


def test_plot(plt, tested):
    lrs, losses = tested.get_results()["lr"], tested.get_results()["loss"]
    ax = tested.plot()
    assert (ax.get_xscale(), ax.get_xlabel(), ax.get_ylabel()) == ("log", "Learning rate", "Loss")
    (line,) = ax.get_lines()
    assert list(line.get_xdata()) == lrs[10:-5] and list(line.get_ydata()) == losses[10:-5]
    assert ax.get_xlim() == pytest.approx((lrs[10], lrs[-6]))
    (dot,) = ax.collections  # the suggestion
    at = lrs.index(tested.lr_suggestion())
    assert dot.get_offsets().tolist() == [[lrs[at], losses[at]]]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["suggested lr for param_groups 0"]


def test_plot_options(plt, tested):
    _, given = plt.subplots()
    ax = tested.plot(skip_start=0, skip_end=0, log_lr=False, display_suggestion=False, ax=given)
    assert ax is given
    assert ax.get_xscale() == "linear" and not ax.collections
    assert len(ax.get_lines()[0].get_xdata()) == len(tested.get_results()["lr"])
    ax = tested.plot(figsize=(3, 2))  # passed to plt.subplots
    assert list(ax.figure.get_size_inches()) == [3, 2]


def test_plot_two_groups(plt):
    s = setup(groups=2, batches=100)
    finder = FastaiLRFinder()
    with finder.attach(s.trainer, s.to_save) as trainer:
        trainer.run(s.data)
    ax = finder.plot(skip_start=0, skip_end=0)
    assert len(ax.get_lines()) == 2 and len(ax.collections) == 2
    lrs = finder.get_results()["lr"]
    assert ax.get_xlim() == pytest.approx((min(lrs[0]), max(lrs[-1])))


def test_plot_warns_when_the_suggestion_is_cut_off(plt, tested):
    at = tested.get_results()["lr"].index(tested.lr_suggestion())
    with pytest.warns(UserWarning, match="skip_start is larger than the suggested LR found"):
        tested.plot(skip_start=at)


@pytest.mark.parametrize(
    "kwargs,error,match",
    [
        ({"skip_start": -1}, ValueError, "skip_start cannot be negative"),
        ({"skip_end": -1}, ValueError, "skip_end cannot be negative"),
        ({"skip_start": 60, "skip_end": 60}, ValueError, "leave none of the"),
    ],
)
def test_plot_bad_arguments(plt, tested, kwargs, error, match):
    with pytest.raises(error, match=match):
        tested.plot(**kwargs)


def test_plot_before_a_test(plt):
    with pytest.raises(RuntimeError, match="learning rate finder didn't run yet so results"):
        FastaiLRFinder().plot()


def test_plot_without_matplotlib_says_how_to_install(monkeypatch, tested):
    # None in sys.modules makes the import fail, as when matplotlib is not installed.
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    match = "This method requires matplotlib to be installed.*pip install matplotlib"
    with pytest.raises(ModuleNotFoundError, match=match):
        tested.plot()
    with pytest.raises(ModuleNotFoundError, match=match):  # checked first, as in Ignite
        FastaiLRFinder().plot()


def test_lazy_name():
    import miniengine.handlers.lr_finder

    assert FastaiLRFinder is miniengine.handlers.lr_finder.FastaiLRFinder
