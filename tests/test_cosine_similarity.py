"""CosineSimilarity: by hand (hypothesis) and against Ignite; eps; errors; attach; two ranks."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from miniengine.engine import Engine
from miniengine.exceptions import NotComputableError
from miniengine.metrics import CosineSimilarity


def by_hand(batches, eps=1e-8):
    """Mean of (p / max(|p|, eps)) . (t / max(|t|, eps)) over examples, each one flat list."""
    total, count = 0.0, 0
    for y_pred, y in batches:
        for p, t in zip(
            y_pred.double().flatten(1).tolist(), y.double().flatten(1).tolist(), strict=True
        ):
            norm_p = max(math.sqrt(sum(a * a for a in p)), eps)
            norm_t = max(math.sqrt(sum(b * b for b in t)), eps)
            total += sum(a * b for a, b in zip(p, t, strict=True)) / (norm_p * norm_t)
            count += 1
    return total / count


def run(metric, batches):
    for batch in batches:
        metric.update(batch)
    return metric.compute()


@st.composite
def cases(draw):
    """(eps, 1 to 3 batches of (y_pred, y)): tiny vectors too, where eps takes over."""
    g = torch.Generator().manual_seed(draw(st.integers(0, 2**16)))
    shape = draw(st.sampled_from([(1,), (4,), (2, 3)]))
    scale = draw(st.sampled_from([1.0, 1e-3]))
    sizes = draw(st.lists(st.integers(1, 4), min_size=1, max_size=3))
    batches = [
        (scale * torch.randn(n, *shape, generator=g), torch.randn(n, *shape, generator=g))
        for n in sizes
    ]
    return draw(st.sampled_from([1e-8, 1e-2, 0.5])), batches


@settings(max_examples=40, deadline=None)
@given(cases())
def test_by_hand(case):
    eps, batches = case
    got = run(CosineSimilarity(eps=eps), batches)
    assert got == pytest.approx(by_hand(batches, eps), rel=1e-5, abs=1e-6)


@settings(max_examples=40, deadline=None)
@given(cases())
def test_oracle(case):
    im = pytest.importorskip("ignite.metrics")
    eps, batches = case
    assert run(CosineSimilarity(eps=eps), batches) == run(im.CosineSimilarity(eps=eps), batches)


def test_each_norm_is_clamped_by_eps_on_its_own():
    cos = CosineSimilarity(eps=1e-4)
    x = torch.tensor([[1e-5, 0.0], [0.0, 0.0]])
    cos.update((x, 100 * x))
    # first: 1e-8 / (1e-4 * 1e-3) = 0.1 (not 1e-8 / max(1e-8, 1e-4)); a zero vector: 0
    assert cos.compute() == pytest.approx(0.1 / 2, rel=1e-6)


def test_attach_with_dict_unrolled_and_image_outputs():
    g = torch.Generator().manual_seed(1)
    images = torch.rand(3, 2, 4, 4, generator=g), torch.rand(3, 2, 4, 4, generator=g)
    rows = torch.randn(2, 5, generator=g), torch.randn(2, 5, generator=g)
    data = [
        {"y_pred": images[0], "y": images[1], "x": None},
        (list(rows[0]), list(rows[1])),  # a list per example: fed one at a time
    ]
    engine = Engine(lambda e, b: b)
    CosineSimilarity().attach(engine, "cos")
    got = engine.run(data).metrics["cos"]
    want = (3 * by_hand([images]) + 2 * by_hand([rows])) / 5
    assert got == pytest.approx(want, rel=1e-6)
    ignite_engine = pytest.importorskip("ignite.engine")
    im = pytest.importorskip("ignite.metrics")
    theirs = ignite_engine.Engine(lambda e, b: b)
    im.CosineSimilarity().attach(theirs, "cos")
    assert got == theirs.run(data).metrics["cos"]


def test_errors():
    cos = CosineSimilarity()
    with pytest.raises(NotComputableError, match="CosineSimilarity must have at least one example"):
        cos.compute()
    y = torch.ones(4, 3)
    with pytest.raises(ValueError, match=r"same shape, got \(4, 3\) and \(1, 3\)"):
        cos.update((y, y[:1]))  # torch would broadcast and count 1 example
    with pytest.raises(ValueError, match=r"shape \(batch_size, \.\.\.\), got \(3,\)"):
        cos.update((y[0], y[0]))
    for bad in ("0.1", None, True):
        with pytest.raises(TypeError, match="Argument eps should be a number"):
            CosineSimilarity(eps=bad)


def test_no_graph_float32_sum_and_empty_batches():
    cos = CosineSimilarity()
    cos.update((torch.zeros(0, 3), torch.zeros(0, 3)))  # no examples: no change
    with pytest.raises(NotComputableError):
        cos.compute()
    y_pred = torch.tensor([[1.0, 1.0], [1.0, -1.0]], requires_grad=True)
    cos.update((y_pred, torch.tensor([[2.0, 2.0], [1.0, 1.0]])))
    assert not cos._sum_of_cos_similarities.requires_grad
    assert cos._sum_of_cos_similarities.dtype == torch.float32
    assert cos.compute() == pytest.approx(0.5)


def _shard(rank, part):
    g = torch.Generator().manual_seed(10 * rank + part)
    n = 2 + 2 * rank  # uneven: 2 and 4 examples per part
    return torch.randn(n, 3, generator=g), torch.randn(n, 3, generator=g)


def _two_ranks(rank, out):
    # No Ignite oracle here: in a gloo child its metrics at times abort the process at exit
    # ("terminate called without an active exception"). It is compared in one process above.
    seen = {}
    cos = CosineSimilarity()
    cos.update(_shard(rank, 0))
    seen["first"] = cos.compute()
    cos.update(_shard(rank, 1))  # compute left the local sums as they were
    seen["both"] = cos.compute()
    torch.save(seen, out / f"cos{rank}.pt")


def test_two_ranks_reduce_over_all_examples(tmp_path):
    from test_distributed import _launch  # the 2-process gloo launcher

    _launch(_two_ranks, tmp_path)
    seen = [torch.load(tmp_path / f"cos{r}.pt") for r in range(2)]
    first = by_hand([_shard(0, 0), _shard(1, 0)])
    both = by_hand([_shard(r, p) for r in range(2) for p in range(2)])
    for s in seen:
        assert s["first"] == pytest.approx(first, rel=1e-6)
        assert s["both"] == pytest.approx(both, rel=1e-6)
