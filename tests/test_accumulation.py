"""VariableAccumulation, Average, GeometricAverage: by hand formulas and against Ignite."""

from __future__ import annotations

import math

import pytest
import torch

from miniengine.engine import Engine, Events
from miniengine.metrics import Average, GeometricAverage, NotComputableError, VariableAccumulation
from miniengine.metrics.average import Average as OldHomeAverage


def same(a, b):
    """Exactly equal: numbers, tensors (dtype included), and tuples or dicts of them."""
    if isinstance(a, (tuple, list)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b)
    return type(a) is type(b) and a == b


def test_variable_accumulation_applies_op_and_counts():
    seen = []

    def op(acc, x):
        seen.append((acc.dtype, type(x)))
        return acc + (x.sum(dim=0) if isinstance(x, torch.Tensor) and x.ndim > 1 else x)

    acc = VariableAccumulation(op)
    acc.update(1)
    acc.update(torch.tensor([2.0, 3.0], dtype=torch.float16))  # one example: a vector
    acc.update(torch.tensor([[1.0], [2.0], [3.0]]))  # op gets the whole batch; counts three
    total, n = acc.compute()
    assert n == 1 + 1 + 3
    assert torch.equal(total, torch.tensor([1 + 2 + 6, 1 + 3 + 6], dtype=torch.float64))
    # tensors reach op in the accumulator's dtype, numbers as they are
    assert seen == [
        (torch.float64, int),
        (torch.float64, torch.Tensor),
        (torch.float64, torch.Tensor),
    ]
    acc.reset()
    assert acc.compute() == (0, 0) and acc.accumulator.dtype == torch.float64


def test_average_by_hand():
    avg = Average()
    for x in (1, 2.5, torch.tensor(4.0)):
        avg.update(x)
    assert avg.compute().item() == (1 + 2.5 + 4.0) / 3
    assert avg.compute().dtype == torch.float64
    avg.reset()
    avg.update(torch.tensor([1.0, 2.0]))  # a vector is one example
    avg.update(torch.tensor([[3.0, 4.0], [5.0, 0.0]]))  # a batch of two
    assert torch.equal(avg.compute(), torch.tensor([9.0, 6.0], dtype=torch.float64) / 3)


def test_geometric_average_by_hand():
    gm = GeometricAverage()
    for x in (2.0, 8, torch.tensor(0.5)):
        gm.update(x)
    value = gm.compute()
    assert type(value) is float and value == pytest.approx((2.0 * 8 * 0.5) ** (1 / 3), rel=1e-6)
    gm.reset()
    gm.update(torch.tensor([[1.0, 9.0], [4.0, 1.0]]))  # a batch of two vectors
    gm.update(torch.tensor([16.0, 3.0]))  # one vector
    want = torch.tensor([(1 * 4 * 16) ** (1 / 3), (9 * 1 * 3) ** (1 / 3)], dtype=torch.float64)
    assert torch.allclose(gm.compute(), want)


def test_average_moved_but_old_module_still_works():
    assert OldHomeAverage is Average


def test_attached_epoch_wise_and_written_as_float():
    engine = Engine(lambda e, batch: batch * 2)
    Average(output_transform=lambda x: x + 1).attach(engine, "mean")
    GeometricAverage(output_transform=lambda x: x + 1).attach(engine, "geo")
    seen = []
    engine.add_event_handler(
        Events.EPOCH_COMPLETED,
        lambda e: seen.append((e.state.metrics["mean"], e.state.metrics["geo"])),
    )
    engine.run([1, 2, 3, 4], max_epochs=2, epoch_length=2)
    assert [m for m, _ in seen] == [(3 + 5) / 2, (7 + 9) / 2] and type(seen[0][0]) is float
    assert [g for _, g in seen] == pytest.approx([math.sqrt(3 * 5), math.sqrt(7 * 9)], rel=1e-6)


@pytest.mark.parametrize(
    "cls", [Average, GeometricAverage, lambda: VariableAccumulation(lambda a, x: a * 0.5 + x)]
)
def test_state_dict_round_trip(cls):
    whole, first, second = cls(), cls(), cls()
    values = [torch.tensor([1.5, 2.0]), torch.tensor([[3.0, 0.5], [2.0, 2.0]]), 4.0]
    for v in values:
        whole.update(v)
    first.update(values[0])
    state = first.state_dict()
    first.update(values[1])  # the saved state is a copy
    second.load_state_dict(state)
    for v in values[1:]:
        second.update(v)
    assert same(second.compute(), whole.compute())
    assert list(state["__metric_state_per_rank"][0]) == ["accumulator", "num_examples"]


def test_errors():
    with pytest.raises(
        TypeError, match="Argument op should be a callable, but given <class 'int'>"
    ):
        VariableAccumulation(1)
    for cls in (Average, GeometricAverage):
        with pytest.raises(NotComputableError, match=f"{cls.__name__} must have at least one"):
            cls().compute()
        with pytest.raises(TypeError, match="Output should be a number or torch.Tensor, but given"):
            cls().update("1")
    with pytest.raises(TypeError, match="Output should be a number or torch.Tensor, but given"):
        VariableAccumulation(lambda a, x: a + x).update((1, 2))


@pytest.mark.parametrize("name", ["Average", "GeometricAverage", "VariableAccumulation"])
def test_oracle(name):
    ignite = pytest.importorskip("ignite.metrics.accumulation")
    import miniengine.metrics.accumulation as mine

    def make(module):
        if name == "VariableAccumulation":
            return module.VariableAccumulation(lambda a, x: a * 0.5 + x)
        return getattr(module, name)()

    g = torch.Generator().manual_seed(1)
    tensors = [torch.rand(2, generator=g) + 0.5] + [torch.rand(3, 2, generator=g) for _ in range(3)]
    # numbers and 0-d tensors: GeometricAverage takes the log of a Python number in float32
    scalars = [2.5, 4, torch.tensor(3.0, dtype=torch.float16), 0.1]
    for values in (tensors, scalars):
        ours, theirs = make(mine), make(ignite)
        for v in values:
            ours.update(v)
            theirs.update(v)
        assert same(ours.compute(), theirs.compute())
        assert same(dict(ours.state_dict()), dict(theirs.state_dict()))
