"""MeanSquaredError: by hand (hypothesis) and against Ignite; empty batches; attach."""

from __future__ import annotations

import pytest
import torch
from _regression import errors_by_hand, regression_batches, run
from hypothesis import given, settings

from miniengine.engine import Engine
from miniengine.exceptions import NotComputableError
from miniengine.metrics import MeanSquaredError


@settings(max_examples=40, deadline=None)
@given(regression_batches())
def test_by_hand(batches):
    total, examples = errors_by_hand(batches, lambda e: e**2)
    assert run(MeanSquaredError(), batches) == pytest.approx(total / examples, rel=1e-5)


@settings(max_examples=40, deadline=None)
@given(regression_batches())
def test_oracle(batches):
    im = pytest.importorskip("ignite.metrics")
    assert run(MeanSquaredError(), batches) == run(im.MeanSquaredError(), batches)


def test_y_is_viewed_as_y_pred_and_attach():
    engine = Engine(lambda e, b: b)
    MeanSquaredError().attach(engine, "mse")
    data = [
        (torch.tensor([[1.0], [2.0]]), torch.tensor([0.0, 0.0])),
        (torch.tensor([[3.0]]), torch.tensor([1.0])),
    ]
    assert engine.run(data).metrics["mse"] == (1 + 4 + 4) / 3


def test_not_computable_and_empty_batches():
    mse = MeanSquaredError()
    with pytest.raises(NotComputableError, match="MeanSquaredError must have at least one example"):
        mse.compute()
    mse.update((torch.zeros(0, 2), torch.zeros(0, 2)))  # no examples: no change
    with pytest.raises(NotComputableError):
        mse.compute()
    mse.update((torch.ones(2, 2), torch.zeros(2, 2)))
    assert mse.compute() == 2.0
