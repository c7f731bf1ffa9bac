"""RootMeanSquaredError: by hand (hypothesis) and against Ignite."""

from __future__ import annotations

import math

import pytest
import torch
from _regression import errors_by_hand, regression_batches, run
from hypothesis import given, settings

from miniengine.exceptions import NotComputableError
from miniengine.metrics import MeanSquaredError, RootMeanSquaredError


@settings(max_examples=40, deadline=None)
@given(regression_batches())
def test_by_hand(batches):
    total, examples = errors_by_hand(batches, lambda e: e**2)
    assert run(RootMeanSquaredError(), batches) == pytest.approx(
        math.sqrt(total / examples), rel=1e-5
    )


@settings(max_examples=40, deadline=None)
@given(regression_batches())
def test_oracle(batches):
    im = pytest.importorskip("ignite.metrics")
    assert run(RootMeanSquaredError(), batches) == run(im.RootMeanSquaredError(), batches)


def test_is_a_mean_squared_error_and_not_computable_when_empty():
    rmse = RootMeanSquaredError()
    assert isinstance(rmse, MeanSquaredError)
    with pytest.raises(NotComputableError, match="MeanSquaredError must have at least one"):
        rmse.compute()
    rmse.update((torch.tensor([3.0, 0.0]), torch.tensor([0.0, 4.0])))
    assert rmse.compute() == math.sqrt(12.5)
