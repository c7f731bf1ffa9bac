"""MeanPairwiseDistance: by hand (hypothesis) and against Ignite; p, eps; errors; two ranks."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from miniengine.engine import Engine
from miniengine.exceptions import NotComputableError
from miniengine.metrics import MeanPairwiseDistance


def norm(values, p):
    if p == math.inf:
        return max(abs(v) for v in values)
    return sum(abs(v) ** p for v in values) ** (1 / p)


def by_hand(batches, p=2, eps=1e-6):
    """Sum over every vector along the last dimension of |y_pred - y + eps|_p, per example."""
    total, count = 0.0, 0
    for y_pred, y in batches:
        diffs = (y_pred.double() - y.double() + eps).reshape(-1, y.shape[-1])
        total += sum(norm(row, p) for row in diffs.tolist())
        count += len(y)
    return total / count


def run(metric, batches):
    for batch in batches:
        metric.update(batch)
    return metric.compute()


@st.composite
def cases(draw):
    """(p, eps, 1 to 3 batches of (y_pred, y)), examples of shape (D,) or (C, D)."""
    g = torch.Generator().manual_seed(draw(st.integers(0, 2**16)))
    shape = draw(st.sampled_from([(1,), (4,), (2, 3)]))
    sizes = draw(st.lists(st.integers(1, 4), min_size=1, max_size=3))
    batches = [
        (torch.randn(n, *shape, generator=g), torch.randn(n, *shape, generator=g)) for n in sizes
    ]
    p = draw(st.sampled_from([1, 2, 3, 1.5, math.inf]))
    return p, draw(st.sampled_from([1e-6, 0.0, 0.25])), batches


@settings(max_examples=40, deadline=None)
@given(cases())
def test_by_hand(case):
    p, eps, batches = case
    got = run(MeanPairwiseDistance(p=p, eps=eps), batches)
    assert got == pytest.approx(by_hand(batches, p, eps), rel=1e-5)


@settings(max_examples=40, deadline=None)
@given(cases())
def test_oracle(case):
    im = pytest.importorskip("ignite.metrics")
    p, eps, batches = case
    mine = run(MeanPairwiseDistance(p=p, eps=eps), batches)
    assert mine == run(im.MeanPairwiseDistance(p=p, eps=eps), batches)


def test_integer_inputs_and_defaults():
    mpd = MeanPairwiseDistance()
    mpd.update((torch.tensor([[3, 4], [1, 0]]), torch.tensor([[0, 0], [1, 0]])))
    assert mpd._p == 2 and mpd._eps == 1e-6
    # eps is added to each difference: |(3, 4) + eps| and |(eps, eps)|
    want = (math.hypot(3 + 1e-6, 4 + 1e-6) + math.hypot(1e-6, 1e-6)) / 2
    assert mpd.compute() == pytest.approx(want, rel=1e-6)


def test_attach_with_dict_and_unrolled_outputs():
    g = torch.Generator().manual_seed(1)
    a = torch.randn(3, 4, generator=g), torch.randn(3, 4, generator=g)
    b = torch.randn(2, 4, generator=g), torch.randn(2, 4, generator=g)
    data = [{"y_pred": a[0], "y": a[1]}, (list(b[0]), list(b[1]))]
    engine = Engine(lambda e, batch: batch)
    MeanPairwiseDistance(p=1).attach(engine, "mpd")
    got = engine.run(data).metrics["mpd"]
    assert got == pytest.approx(by_hand([a, b], p=1), rel=1e-6)
    ignite_engine = pytest.importorskip("ignite.engine")
    im = pytest.importorskip("ignite.metrics")
    theirs = ignite_engine.Engine(lambda e, batch: batch)
    im.MeanPairwiseDistance(p=1).attach(theirs, "mpd")
    assert got == theirs.run(data).metrics["mpd"]


def test_errors():
    mpd = MeanPairwiseDistance()
    with pytest.raises(
        NotComputableError, match="MeanPairwiseDistance must have at least one example"
    ):
        mpd.compute()
    y = torch.ones(4, 3)
    with pytest.raises(ValueError, match=r"same shape, got \(1, 3\) and \(4, 3\)"):
        mpd.update((y[:1], y))
    with pytest.raises(ValueError, match=r"shape \(batch_size, \.\.\.\), got \(4,\)"):
        mpd.update((y[:, 0], y[:, 0]))  # torch would give one distance for 4 examples
    for name in ("p", "eps"):
        for bad in ("2", None, False):
            with pytest.raises(TypeError, match=f"Argument {name} should be a number"):
                MeanPairwiseDistance(**{name: bad})


def test_no_graph_and_empty_batches():
    mpd = MeanPairwiseDistance(eps=0.0)
    mpd.update((torch.zeros(0, 2), torch.zeros(0, 2)))
    with pytest.raises(NotComputableError):
        mpd.compute()
    y_pred = torch.tensor([[3.0, 4.0], [-3.0, -4.0]], requires_grad=True)
    mpd.update((y_pred, torch.zeros(2, 2)))
    assert not mpd._sum_of_distances.requires_grad
    assert mpd.compute() == 5.0


def _shard(rank, part):
    g = torch.Generator().manual_seed(10 * rank + part)
    n = 2 + 2 * rank  # uneven: 2 and 4 examples per part
    return torch.randn(n, 3, generator=g), torch.randn(n, 3, generator=g)


def _two_ranks(rank, out):
    # No Ignite oracle here: in a gloo child its metrics at times abort the process at exit
    # ("terminate called without an active exception"). It is compared in one process above.
    seen = {}
    mpd = MeanPairwiseDistance(p=3)
    mpd.update(_shard(rank, 0))
    seen["first"] = mpd.compute()
    mpd.update(_shard(rank, 1))  # compute left the local sums as they were
    seen["both"] = mpd.compute()
    torch.save(seen, out / f"mpd{rank}.pt")


def test_two_ranks_reduce_over_all_examples(tmp_path):
    from test_distributed import _launch  # the 2-process gloo launcher

    _launch(_two_ranks, tmp_path)
    seen = [torch.load(tmp_path / f"mpd{r}.pt") for r in range(2)]
    first = by_hand([_shard(0, 0), _shard(1, 0)], p=3)
    both = by_hand([_shard(r, p) for r in range(2) for p in range(2)], p=3)
    for s in seen:
        assert s["first"] == pytest.approx(first, rel=1e-6)
        assert s["both"] == pytest.approx(both, rel=1e-6)
