"""EarlyStopping on real engines, with score sequences given as lists."""

from __future__ import annotations

import random
import re

import pytest
import torch
from _logs import records_of

from miniengine.engine import Engine, Events
from miniengine.handlers import EarlyStopping


def stop_epoch(scores: list[float], patience: int, max_epochs: int = 50, **kwargs) -> int:
    """Run a trainer that evaluates once per epoch; return the epoch it ended at."""
    trainer = Engine(lambda e, b: None)
    evaluator = Engine(lambda e, b: None)
    it = iter(scores)
    handler = EarlyStopping(patience, lambda engine: next(it), trainer, **kwargs)
    evaluator.add_event_handler(Events.COMPLETED, handler)
    trainer.add_event_handler(Events.EPOCH_COMPLETED, lambda e: evaluator.run([0]))
    return trainer.run([0, 0], max_epochs=max_epochs).epoch


# Expected epochs worked out by hand from the rule in the docstring.
@pytest.mark.parametrize(
    "scores,patience,kwargs,expected",
    [
        ([0.5, 0.4, 0.3, 0.2, 0.1], 2, {}, 3),  # never better than the first
        ([0.1, 0.2, 0.3, 0.3, 0.3, 0.3], 3, {}, 6),  # equal is no improvement
        ([0.1, 0.2, 0.1, 0.3, 0.2, 0.2, 0.2], 3, {}, 7),  # 0.3 reset the count
        ([1.0] * 10, 1, {}, 2),
        # threshold 0.1: +0.05 steps do not count, each one raises the best (not cumulative)
        ([0.0, 0.05, 0.1, 0.15, 0.2, 0.25], 3, {"threshold": 0.1}, 4),
        # cumulative: the best stays 0.0, so 0.15 (> 0.0 + 0.1) is an improvement at epoch 4
        (
            [0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.25, 0.25],
            3,
            {"threshold": 0.1, "cumulative": True},
            7,
        ),
        # lower is better
        ([1.0, 0.9, 0.8, 0.85, 0.8, 0.79], 2, {"mode": "min"}, 5),
        # relative threshold 10%: 1.05 is not > 1.1, 1.2 is
        ([1.0, 1.05, 1.2, 1.25, 1.3], 2, {"threshold": 0.1, "threshold_mode": "rel"}, 5),
    ],
)
def test_stops_at_the_right_epoch(scores, patience, kwargs, expected):
    assert stop_epoch(scores + [0.0] * 50, patience, **kwargs) == expected


@pytest.mark.parametrize(
    "old,new",
    [
        ({"min_delta": 0.1}, {"threshold": 0.1}),
        ({"min_delta": 0.1, "cumulative_delta": True}, {"threshold": 0.1, "cumulative": True}),
        ({"min_delta_mode": "rel", "min_delta": 0.1}, {"threshold_mode": "rel", "threshold": 0.1}),
    ],
)
def test_older_names_mean_the_same_and_warn(old, new):
    scores = [0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.25, 0.25, 0.3, 0.4, 0.5] + [0.0] * 50
    with pytest.warns(DeprecationWarning, match="is deprecated and will be removed") as caught:
        got = stop_epoch(scores, 3, **old)
    assert len(caught) == len(old)
    assert got == stop_epoch(scores, 3, **new)
    trainer = Engine(lambda e, b: None)
    handler = EarlyStopping(2, lambda e: 0.0, trainer, **new)
    for name, value in old.items():
        with pytest.warns(DeprecationWarning, match=f"'{name}' is deprecated"):
            assert getattr(handler, name) == value
        with pytest.warns(DeprecationWarning, match=f"'{name}' is deprecated"):
            setattr(handler, name, value)


def test_stop_is_logged_on_stderr_as_ignite(capsys):
    ignite_handlers = pytest.importorskip("ignite.handlers")
    ignite_engine = pytest.importorskip("ignite.engine")
    assert stop_epoch([0.5, 0.4, 0.3], 2) == 3
    # on stderr with no logging set up, as Ignite's
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} "
        r"miniengine.handlers.early_stopping.EarlyStopping INFO: EarlyStopping: Stop training\n",
        capsys.readouterr().err,
    )
    seen = []
    for handler_cls, engine_cls, events in (
        (ignite_handlers.EarlyStopping, ignite_engine.Engine, ignite_engine.Events),
        (EarlyStopping, Engine, Events),
    ):
        trainer = engine_cls(lambda e, b: None)
        scores = iter([0.5, 0.4, 0.3])
        handler = handler_cls(2, lambda e, scores=scores: next(scores), trainer)
        trainer.add_event_handler(events.EPOCH_COMPLETED, handler)
        records = records_of(handler.logger, trainer.run, [0], max_epochs=5)
        seen.append([(r.levelname, r.getMessage()) for r in records])
        assert handler.logger.name.split(".", 1)[1] == "handlers.early_stopping.EarlyStopping"
    assert seen[0] == seen[1]
    assert seen[1][-1] == ("INFO", "EarlyStopping: Stop training")


def test_improving_run_is_not_stopped():
    assert stop_epoch([0.1 * i for i in range(20)], 2, max_epochs=20) == 20


def test_works_on_a_real_model_loss():
    torch.manual_seed(0)
    model = torch.nn.Linear(2, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x = torch.randn(32, 2)
    y = x @ torch.tensor([[1.0], [-2.0]])

    def train_step(engine, batch):
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()
        opt.step()

    trainer = Engine(train_step)
    losses = []

    def score(engine):
        with torch.no_grad():
            losses.append(torch.nn.functional.mse_loss(model(x), y).item())
        return -round(losses[-1], 2)  # converges, then the rounded score stops moving

    trainer.add_event_handler(Events.EPOCH_COMPLETED, EarlyStopping(3, score, trainer))
    state = trainer.run([0] * 5, max_epochs=100)
    assert state.epoch < 100
    rounded = [round(v, 2) for v in losses]
    # the last three evaluations did not beat the best one before them
    assert max(-v for v in rounded[-3:]) <= max(-v for v in rounded[:-3])


def test_counter_and_state_dict_resume():
    trainer = Engine(lambda e, b: None)
    scores = iter([0.5, 0.4, 0.3])
    first = EarlyStopping(3, lambda e: next(scores), trainer)
    for _ in range(3):
        first(trainer)
    assert first.state_dict() == {"counter": 2, "best_score": 0.5, "threshold_mode": "abs"}
    second = EarlyStopping(3, lambda e: 0.45, trainer)
    second.load_state_dict(first.state_dict())
    second(trainer)  # third call without improvement
    assert trainer.should_terminate
    with pytest.raises(ValueError, match="Required state attribute 'best_score' is absent"):
        second.load_state_dict({"counter": 1})
    with pytest.raises(TypeError, match="state_dict should be a dictionary"):
        second.load_state_dict([1])


def test_attach_resets_at_each_run():
    evaluator = Engine(lambda e, b: None)
    trainer = Engine(lambda e, b: None)
    handler = EarlyStopping(5, lambda e: 1.0, trainer)
    handler.attach(evaluator)  # score on COMPLETED, reset on STARTED of the evaluator
    evaluator.run([0])
    assert handler.best_score == 1.0 and handler.counter == 0
    handler.counter = 3
    kept = EarlyStopping(5, lambda e: 1.0, trainer)
    kept.attach(evaluator, reset_engine=trainer)
    evaluator.run([0])
    evaluator.run([0])
    assert handler.counter == 0 and kept.counter == 1


def test_argument_errors():
    trainer = Engine(lambda e, b: None)
    with pytest.raises(TypeError, match="score_function should be a function"):
        EarlyStopping(2, 0.5, trainer)
    with pytest.raises(ValueError, match="patience should be positive integer"):
        EarlyStopping(0, lambda e: 0, trainer)
    with pytest.raises(TypeError, match="trainer should be an instance of Engine"):
        EarlyStopping(2, lambda e: 0, "trainer")
    with pytest.raises(ValueError, match="threshold should not be a negative number"):
        EarlyStopping(2, lambda e: 0, trainer, threshold=-1)
    with pytest.raises(ValueError, match="threshold_mode should be either 'abs' or 'rel'"):
        EarlyStopping(2, lambda e: 0, trainer, threshold_mode="pct")
    with pytest.raises(ValueError, match="mode should be either 'min' or 'max'"):
        EarlyStopping(2, lambda e: 0, trainer, mode="up")


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_same_stop_epoch_as_ignite():
    ignite_engine = pytest.importorskip("ignite.engine")
    ignite_handlers = pytest.importorskip("ignite.handlers")
    rng = random.Random(0)
    for _ in range(200):
        scores = [round(rng.uniform(0, 1), 1) for _ in range(30)]
        kwargs = {
            "threshold": rng.choice([0.0, 0.05, 0.2]),
            "cumulative": rng.random() < 0.5,
            "threshold_mode": rng.choice(["abs", "rel"]),
            "mode": rng.choice(["min", "max"]),
        }
        patience = rng.randint(1, 4)
        trainer = ignite_engine.Engine(lambda e, b: None)
        it = iter(scores)
        handler = ignite_handlers.EarlyStopping(
            patience, lambda e, it=it: next(it), trainer, **kwargs
        )
        trainer.add_event_handler(ignite_engine.Events.EPOCH_COMPLETED, handler)
        expected = trainer.run([0], max_epochs=30).epoch
        assert stop_epoch(scores, patience, max_epochs=30, **kwargs) == expected, (scores, kwargs)
