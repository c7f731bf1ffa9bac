"""Loss: batch-size weighted mean of a loss function, by hand and against Ignite."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from miniengine.engine import Engine
from miniengine.metrics import Loss, NotComputableError


def batches(seed=0, sizes=(4, 3, 5)):
    g = torch.Generator().manual_seed(seed)
    return [(torch.randn(n, 3, generator=g), torch.randint(0, 3, (n,), generator=g)) for n in sizes]


def test_weighted_by_batch_size():
    data = batches()
    loss = Loss(nn.functional.cross_entropy)
    for y_pred, y in data:
        loss.update((y_pred, y))
    total = sum(nn.functional.cross_entropy(p, y, reduction="sum").item() for p, y in data)
    assert loss.compute() == pytest.approx(total / 12, rel=1e-6)


def test_attached_with_kwargs_batch_size_and_no_graph():
    model = nn.Linear(3, 3)
    engine = Engine(lambda e, b: (model(b[0]), b[1], {"label_smoothing": 0.1}))
    loss = Loss(nn.functional.cross_entropy, batch_size=lambda y: 1)  # every batch weighs the same
    loss.attach(engine, "loss")
    data = batches(1)
    engine.run(data)
    with torch.no_grad():
        each = [nn.functional.cross_entropy(model(x), y, label_smoothing=0.1) for x, y in data]
    assert engine.state.metrics["loss"] == pytest.approx(sum(each).item() / 3, rel=1e-6)
    assert not loss._sum.requires_grad


def test_dict_output_needs_criterion_kwargs():
    y_pred, y = batches()[0]
    engine = Engine(lambda e, b: {"y_pred": y_pred, "y": y})
    Loss(nn.functional.cross_entropy).attach(engine, "loss")
    with pytest.raises(ValueError, match="criterion_kwargs"):
        engine.run([0])
    engine = Engine(lambda e, b: {"y_pred": y_pred, "y": y, "criterion_kwargs": {}})
    Loss(nn.functional.cross_entropy).attach(engine, "loss")
    want = nn.functional.cross_entropy(y_pred, y).item()
    assert engine.run([0]).metrics["loss"] == pytest.approx(want)


def test_errors():
    with pytest.raises(NotComputableError, match="Loss must have at least one example"):
        Loss(nn.functional.mse_loss).compute()
    per_example = Loss(lambda p, y: (p - y) ** 2)
    with pytest.raises(ValueError, match="loss_fn did not return the average loss."):
        per_example.update((torch.ones(2), torch.zeros(2)))


def test_oracle():
    ignite = pytest.importorskip("ignite.metrics")
    ours, theirs = Loss(nn.functional.cross_entropy), ignite.Loss(nn.functional.cross_entropy)
    for output in batches(2, sizes=(7, 1, 9, 2)):
        ours.update(output)
        theirs.update(output)
    assert ours.compute() == theirs.compute()


def test_empty_batch_is_skipped_instead_of_poisoning_the_mean():
    # cross_entropy's mean over no examples is NaN; Ignite adds NaN * 0 = NaN to its sum forever
    loss = Loss(nn.CrossEntropyLoss())
    empty = (torch.zeros(0, 3), torch.zeros(0, dtype=torch.long))
    loss.update(empty)
    with pytest.raises(NotComputableError, match="Loss must have at least one example"):
        loss.compute()
    data = batches()
    for batch in (data[0], empty, data[1]):
        loss.update(batch)
    total = sum(nn.functional.cross_entropy(p, y, reduction="sum").item() for p, y in data[:2])
    assert loss.compute() == pytest.approx(total / 7, rel=1e-6)
