"""TerminateOnNan with a real tiny model whose loss blows up."""

from __future__ import annotations

import math
import re

import pytest
import torch
from _logs import records_of

from miniengine.engine import Engine, Events
from miniengine.handlers import TerminateOnNan
from miniengine.handlers.terminate_on_nan import _all_finite


def diverging_trainer(lr: float, bad_value: float | None = None):
    """Linear regression with a learning rate high enough to diverge (or a poisoned batch)."""
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 1)
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    x, y = torch.randn(16, 4), torch.randn(16, 1)

    def step(engine, batch):
        xb = x * batch if bad_value is None or engine.state.iteration != 5 else x * bad_value
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(model(xb), y)
        loss.backward()
        opt.step()
        return loss.detach()

    return Engine(step)


def first_non_finite(lr: float, n: int) -> int:
    """The iteration whose loss is first not finite, found by a plain loop with the same model."""
    losses = []
    trainer = diverging_trainer(lr)
    trainer.add_event_handler(Events.ITERATION_COMPLETED, lambda e: losses.append(e.state.output))
    trainer.run([1.0] * n)
    return next(i + 1 for i, v in enumerate(losses) if not torch.isfinite(v))


STAMP = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}"


def test_stops_at_the_first_infinite_loss(capsys):
    expected = first_non_finite(lr=10.0, n=200)
    trainer = diverging_trainer(lr=10.0)
    trainer.add_event_handler(Events.ITERATION_COMPLETED, TerminateOnNan())
    completed = []
    trainer.add_event_handler(Events.COMPLETED, lambda e: completed.append(True))
    capsys.readouterr()
    state = trainer.run([1.0] * 200)
    assert 1 < state.iteration == expected < 200
    assert not torch.isfinite(state.output)
    assert completed == [True]  # a clean termination
    # on stderr with no logging set up, as Ignite's; once (Ignite 0.5.5 prints it twice)
    name = "miniengine.handlers.terminate_on_nan.TerminateOnNan"
    assert re.fullmatch(
        rf"{STAMP} {name} WARNING: TerminateOnNan: Output 'tensor\(inf\)' contains NaN or Inf. "
        "Stop training\n",
        capsys.readouterr().err,
    )


def test_same_message_as_ignite():
    ignite_handlers = pytest.importorskip("ignite.handlers")
    ignite_engine = pytest.importorskip("ignite.engine")
    messages = []
    for handler_cls, engine_cls, events in (
        (ignite_handlers.TerminateOnNan, ignite_engine.Engine, ignite_engine.Events),
        (TerminateOnNan, Engine, Events),
    ):
        handler = handler_cls(output_transform=lambda out: {"loss": [out, 1.0]})
        engine = engine_cls(lambda engine, batch: batch)
        engine.add_event_handler(events.ITERATION_COMPLETED, handler)
        records = records_of(handler.logger, engine.run, [1.0, float("nan"), 2.0])
        messages.append([(r.levelname, r.getMessage(), r.name.split(".", 1)[1]) for r in records])
    assert messages[0] == messages[1]
    assert messages[1][0][1] == (
        "TerminateOnNan: Output '{'loss': [nan, 1.0]}' contains NaN or Inf. Stop training"
    )


def test_nan_from_a_poisoned_batch_and_output_transform():
    trainer = diverging_trainer(lr=0.01, bad_value=float("nan"))
    trainer.add_event_handler(
        Events.ITERATION_COMPLETED, TerminateOnNan(output_transform=lambda out: {"loss": [out]})
    )
    assert trainer.run([1.0] * 20, max_epochs=2).iteration == 5


def test_a_healthy_run_is_not_stopped():
    trainer = diverging_trainer(lr=0.01)
    trainer.add_event_handler(Events.ITERATION_COMPLETED, TerminateOnNan())
    assert trainer.run([1.0] * 10, max_epochs=2).iteration == 20


@pytest.mark.parametrize(
    "value,finite",
    [
        (1.0, True),
        (math.inf, False),
        (-math.inf, False),
        (torch.tensor([1.0, math.nan]), False),
        ([1, (2.0, {"a": torch.ones(3)})], True),
        ([1, (2.0, {"a": torch.tensor([0.0, math.inf])})], False),
        ({"name": "text", "v": 3}, True),
    ],
)
def test_nested_outputs(value, finite):
    assert _all_finite(value) is finite


def test_bad_arguments():
    with pytest.raises(TypeError, match="output_transform should be callable"):
        TerminateOnNan(output_transform=3)
    with pytest.raises(TypeError, match="x must contain"):
        _all_finite(object())
