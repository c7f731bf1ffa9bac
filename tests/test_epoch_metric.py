"""EpochMetric: what compute_fn receives, the compute_fn check, input errors, Ignite as oracle."""

from __future__ import annotations

import warnings

import pytest
import torch

from miniengine.engine import Engine
from miniengine.metrics import EpochMetric
from miniengine.metrics.epoch_metric import EpochMetricWarning, NotComputableError

G = torch.Generator().manual_seed(0)


def received(y_pred, y):
    return y_pred.clone(), y.clone()


def test_compute_fn_gets_everything_concatenated_with_n_1_squeezed():
    m = EpochMetric(received)
    batches = [
        (torch.rand(n, 1, generator=G), torch.randint(0, 2, (n, 1), generator=G)) for n in (3, 2)
    ]
    for batch in batches:
        m.update(batch)
    y_pred, y = m.compute()
    assert torch.equal(y_pred, torch.cat([p for p, _ in batches]).squeeze(1))
    assert torch.equal(y, torch.cat([t for _, t in batches]).squeeze(1))
    targets = torch.rand(4, 3, generator=G)
    wide = EpochMetric(received)
    wide.update((targets, targets))  # (N, T) with T > 1 stays as it is
    assert wide.compute()[0].shape == (4, 3)


def test_attach_resets_each_epoch_and_values_follow_updates():
    engine = Engine(lambda e, b: b)
    EpochMetric(lambda p, y: (p == y).sum().item() / len(y)).attach(engine, "acc")
    data = [(torch.tensor([1, 0]), torch.tensor([1, 1])), (torch.tensor([1]), torch.tensor([1]))]
    assert engine.run(data, max_epochs=2).metrics["acc"] == 2 / 3
    m = EpochMetric(lambda p, y: p.sum().item())
    m.update((torch.tensor([1.0]), torch.tensor([0.0])))
    assert m.compute() == 1.0
    m.update((torch.tensor([2.0]), torch.tensor([0.0])))
    assert m.compute() == 3.0  # Ignite 0.5.5 keeps returning its first result until a reset


def test_compute_fn_is_tried_on_the_first_batch():
    def needs_two_columns(y_pred, y):
        return y_pred[:, 1].sum()

    batch = (torch.rand(3), torch.rand(3))
    with pytest.warns(
        EpochMetricWarning, match="Probably, there can be a problem with `compute_fn`"
    ):
        EpochMetric(needs_two_columns).update(batch)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        EpochMetric(needs_two_columns, check_compute_fn=False).update(batch)


@pytest.mark.parametrize(
    ("batch", "message"),
    [
        ((torch.rand(2, 2, 2), torch.rand(2)), "Predictions should be of shape"),
        ((torch.rand(2), torch.rand(2, 2, 2)), "Targets should be of shape"),
    ],
)
def test_shape_errors(batch, message):
    with pytest.raises(ValueError, match=message):
        EpochMetric(received).update(batch)


def test_dtype_must_stay_the_same_and_errors_before_data():
    m = EpochMetric(received)
    m.update((torch.rand(2), torch.tensor([0, 1])))
    with pytest.raises(ValueError, match="Incoherent types between input y_pred and stored"):
        m.update((torch.rand(2).double(), torch.tensor([0, 1])))
    with pytest.raises(ValueError, match="Incoherent types between input y and stored targets"):
        m.update((torch.rand(2), torch.tensor([0.0, 1.0])))
    with pytest.raises(NotComputableError, match="EpochMetric must have at least one example"):
        EpochMetric(received).compute()
    with pytest.raises(TypeError, match="Argument compute_fn should be callable"):
        EpochMetric(1)


def test_state_dict_loads_into_a_fresh_metric():
    m = EpochMetric(lambda p, y: (p - y).abs().sum().item())
    m.update((torch.tensor([1.0, 2.0]), torch.tensor([0.0, 0.0])))
    fresh = EpochMetric(lambda p, y: (p - y).abs().sum().item())
    fresh.load_state_dict(m.state_dict())  # Ignite 0.5.5 raises: "Size of y: 1 does not match"
    fresh.update((torch.tensor([4.0]), torch.tensor([0.0])))
    assert fresh.compute() == 7.0


def test_oracle_random_batches():
    im = pytest.importorskip("ignite.metrics")

    def mse(y_pred, y):
        return ((y_pred - y) ** 2).mean().item()

    mine, theirs = EpochMetric(mse), im.EpochMetric(mse)
    for n in (3, 1, 4):
        batch = (torch.rand(n, 1, generator=G), torch.rand(n, 1, generator=G))
        mine.update(batch)
        theirs.update(batch)
    assert mine.compute() == theirs.compute()
