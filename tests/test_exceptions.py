"""miniengine.exceptions: Ignite's NotComputableError, the one class every metric raises."""

from __future__ import annotations

import pytest
import torch

import miniengine.metrics
from miniengine.exceptions import NotComputableError
from miniengine.metrics.epoch_metric import NotComputableError as from_epoch_metric


def test_is_a_runtime_error_and_one_class_everywhere():
    assert issubclass(NotComputableError, RuntimeError)
    assert miniengine.metrics.NotComputableError is NotComputableError
    assert from_epoch_metric is NotComputableError  # Ignite's tests import it from there


@pytest.mark.parametrize(
    "make",
    [
        lambda M: M.Accuracy(),
        lambda M: M.Precision(),
        lambda M: M.Recall(),
        lambda M: M.Loss(torch.nn.functional.mse_loss),
        lambda M: M.Average(),
        lambda M: M.ConfusionMatrix(num_classes=2),
        lambda M: M.MeanSquaredError(),
        lambda M: M.MeanAbsoluteError(),
        lambda M: M.RootMeanSquaredError(),
        lambda M: M.TopKCategoricalAccuracy(),
        lambda M: M.PSNR(1.0),
        lambda M: M.EpochMetric(lambda p, y: 0.0),
        lambda M: M.Fbeta(1.0),
    ],
)
def test_every_metric_raises_it_before_any_data_with_ignites_message(make):
    with pytest.raises(NotComputableError) as mine:
        make(miniengine.metrics).compute()
    im = pytest.importorskip("ignite.metrics")
    from ignite.exceptions import NotComputableError as IgniteError

    with pytest.raises(IgniteError) as theirs:
        make(im).compute()
    assert str(mine.value) == str(theirs.value)
