"""MeanAbsoluteError: by hand (hypothesis) and against Ignite; empty batches; attach."""

from __future__ import annotations

import pytest
import torch
from _regression import errors_by_hand, regression_batches, run
from hypothesis import given, settings

from miniengine.engine import Engine
from miniengine.exceptions import NotComputableError
from miniengine.metrics import MeanAbsoluteError


@settings(max_examples=40, deadline=None)
@given(regression_batches())
def test_by_hand(batches):
    total, examples = errors_by_hand(batches, torch.abs)
    assert run(MeanAbsoluteError(), batches) == pytest.approx(total / examples, rel=1e-5)


@settings(max_examples=40, deadline=None)
@given(regression_batches())
def test_oracle(batches):
    im = pytest.importorskip("ignite.metrics")
    assert run(MeanAbsoluteError(), batches) == run(im.MeanAbsoluteError(), batches)


def test_y_is_viewed_as_y_pred_and_attach():
    engine = Engine(lambda e, b: b)
    MeanAbsoluteError().attach(engine, "mae")
    data = [
        (torch.tensor([[1.0], [2.0]]), torch.tensor([0.0, 0.0])),
        (torch.tensor([[3.0]]), torch.tensor([1.0])),
    ]
    assert engine.run(data).metrics["mae"] == (1 + 2 + 2) / 3


def test_not_computable_and_empty_batches():
    mae = MeanAbsoluteError()
    with pytest.raises(
        NotComputableError, match="MeanAbsoluteError must have at least one example"
    ):
        mae.compute()
    mae.update((torch.zeros(0, 2), torch.zeros(0, 2)))  # no examples: no change
    with pytest.raises(NotComputableError):
        mae.compute()
    mae.update((torch.ones(2, 2), torch.zeros(2, 2)))
    assert mae.compute() == 2.0  # |1| * 2 elements per example
