"""Average: mean of numbers, vectors and batches, by hand and against Ignite."""

from __future__ import annotations

import pytest
import torch

from miniengine.engine import Engine, Events
from miniengine.metrics import Average, NotComputableError


def test_numbers_vectors_and_batches():
    avg = Average()
    for x in (1, 2.5, torch.tensor(4.0)):
        avg.update(x)
    assert avg.compute().item() == (1 + 2.5 + 4.0) / 3
    assert avg.compute().dtype == torch.float64
    avg.reset()
    avg.update(torch.tensor([1.0, 2.0]))  # a vector is one example
    avg.update(torch.tensor([[3.0, 4.0], [5.0, 0.0]]))  # a batch of two
    assert torch.equal(avg.compute(), torch.tensor([9.0, 6.0], dtype=torch.float64) / 3)


def test_attached_epoch_wise_and_written_as_float():
    engine = Engine(lambda e, batch: batch * 2)
    Average(output_transform=lambda x: x + 1).attach(engine, "mean")
    seen = []
    engine.add_event_handler(Events.EPOCH_COMPLETED, lambda e: seen.append(e.state.metrics["mean"]))
    engine.run([1, 2, 3, 4], max_epochs=2, epoch_length=2)
    assert seen == [(3 + 5) / 2, (7 + 9) / 2] and type(seen[0]) is float


def test_errors():
    with pytest.raises(NotComputableError, match="Average must have at least one example"):
        Average().compute()
    with pytest.raises(TypeError, match="Output should be a number or torch.Tensor, but given"):
        Average().update("1")


def test_oracle():
    ignite = pytest.importorskip("ignite.metrics")
    g = torch.Generator().manual_seed(0)
    values = [torch.rand(3, 2, generator=g) for _ in range(4)] + [torch.rand(2, generator=g)]
    ours, theirs = Average(), ignite.Average()
    for v in values:
        ours.update(v)
        theirs.update(v)
    assert torch.equal(ours.compute(), theirs.compute())
