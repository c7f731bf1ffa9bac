"""HitRate: by hand (sorting each user's items), against Ignite, attached, errors, two ranks."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from miniengine.engine import Engine
from miniengine.exceptions import NotComputableError
from miniengine.metrics import HitRate


def by_hand(batches, top_k, ignore_zero_hits=True):
    """Per user: sort the items by score, best first; a hit at k if one of the first k has y > 0."""
    top_k = sorted(top_k)
    hits, users = [0] * len(top_k), 0
    for y_pred, y in batches:
        for scores, labels in zip(y_pred.tolist(), y.tolist(), strict=True):
            if ignore_zero_hits and not any(v > 0 for v in labels):
                continue
            users += 1
            ranked = sorted(range(len(scores)), key=lambda j: scores[j], reverse=True)
            for i, k in enumerate(top_k):
                hits[i] += any(labels[j] > 0 for j in ranked[:k])
    return [h / users for h in hits]


def run(metric, batches):
    for batch in batches:
        metric.update(batch)
    return metric.compute()


@st.composite
def cases(draw):
    """(top_k, ignore_zero_hits, 1 to 3 batches): distinct scores, so the ranking is unique."""
    g = torch.Generator().manual_seed(draw(st.integers(0, 2**16)))
    items = draw(st.integers(1, 6))
    top_k = draw(st.lists(st.integers(1, items), min_size=1, max_size=3))
    sizes = draw(st.lists(st.integers(1, 4), min_size=1, max_size=3))
    batches = []
    for n in sizes:
        y_pred = torch.randn(n, items, generator=g)
        y = (torch.rand(n, items, generator=g) < 0.3).float()
        y[0] = 1.0  # at least one user with a relevant item
        batches.append((y_pred, y))
    return top_k, draw(st.booleans()), batches


@settings(max_examples=40, deadline=None)
@given(cases())
def test_by_hand(case):
    top_k, ignore, batches = case
    assert run(HitRate(top_k, ignore), batches) == pytest.approx(by_hand(batches, top_k, ignore))


@settings(max_examples=40, deadline=None)
@given(cases())
def test_oracle(case):
    im = pytest.importorskip("ignite.metrics")
    top_k, ignore, batches = case
    assert run(HitRate(top_k, ignore), batches) == run(im.HitRate(top_k, ignore), batches)


def test_users_without_relevant_items_are_skipped_or_missed():
    y_pred = torch.tensor([[4.0, 2.0, 3.0, 1.0], [1.0, 2.0, 3.0, 4.0]])
    y = torch.tensor([[0.0, 0.0, 1.0, 1.0], [0.0, 0.0, 0.0, 0.0]])
    # user 0 ranks its items 0, 2, 1, 3: the first relevant one is 2nd
    assert run(HitRate([4, 1, 3, 2]), [(y_pred, y)]) == [0.0, 1.0, 1.0, 1.0]
    missed = HitRate([1, 2, 3, 4], ignore_zero_hits=False)
    assert run(missed, [(y_pred, y)]) == [0.0, 0.5, 0.5, 0.5]
    hr = HitRate(2)
    assert hr.top_k == [2] and hr.ignore_zero_hits
    assert run(hr, [(y_pred, y)]) == [1.0]


def test_attached_with_tuple_and_dict_outputs():
    g = torch.Generator().manual_seed(1)
    batches = [(torch.randn(3, 5, generator=g), (torch.rand(3, 5, generator=g) < 0.4).float())]
    batches.append((torch.randn(2, 5, generator=g), torch.eye(5)[:2]))
    expected = by_hand(batches, [1, 3])
    engine = Engine(lambda e, b: b)
    HitRate([1, 3]).attach(engine, "hr")
    assert engine.run(batches).metrics["hr"] == pytest.approx(expected)
    engine = Engine(lambda e, b: {"y_pred": b[0], "y": b[1], "other": 0})
    HitRate([1, 3]).attach(engine, "hr")
    assert engine.run(batches).metrics["hr"] == pytest.approx(expected)


def test_errors():
    with pytest.raises(ValueError, match=r"top_k must be either int or a list\[int\]"):
        HitRate("invalid")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="top_k must have at least one positive value"):
        HitRate([])
    for bad in (0, -1, [1, 0], [2, 1.5]):
        with pytest.raises(ValueError, match="top_k must be list of positive integers only"):
            HitRate(bad)  # type: ignore[arg-type]
    hr = HitRate([1, 5])
    with pytest.raises(NotComputableError, match="HitRate must have at least one example"):
        hr.compute()
    with pytest.raises(ValueError, match="y_pred and y must be in the same shape"):
        hr.update((torch.randn(4, 10), torch.ones(4, 5)))
    with pytest.raises(ValueError, match="output should be in format"):
        hr.update((torch.randn(4, 10), torch.ones(4, 10), torch.ones(4)))
    with pytest.raises(ValueError, match=r"must have shape \(batch, num_items\)"):
        hr.update((torch.randn(10), torch.ones(10)))
    with pytest.raises(RuntimeError, match=r"top_k must not exceed the number of items"):
        hr.update((torch.randn(2, 3), torch.ones(2, 3)))
    hr.update((torch.randn(2, 3), torch.zeros(2, 3)))  # every user skipped: nothing to rank
    with pytest.raises(NotComputableError):
        hr.compute()


def test_state_dict_no_graph_and_reset():
    hr = HitRate([1, 2])
    y_pred = torch.tensor([[0.1, 0.9, 0.5]], requires_grad=True)
    hr.update((y_pred, torch.tensor([[1.0, 0.0, 0.0]])))
    assert not hr._hits_per_k.requires_grad and hr._hits_per_k.dtype == torch.float32
    state = hr.state_dict()
    assert list(state["__metric_state_per_rank"][0]) == ["_hits_per_k", "_num_examples"]
    restored = HitRate([1, 2])
    restored.load_state_dict(state)
    restored.update((torch.tensor([[0.9, 0.1, 0.5]]), torch.tensor([[1.0, 0.0, 0.0]])))
    assert restored.compute() == [0.5, 0.5]
    restored.reset()
    with pytest.raises(NotComputableError):
        restored.compute()


def _shard(rank):
    g = torch.Generator().manual_seed(rank)
    n = 3 + 2 * rank  # uneven shards
    return torch.randn(n, 6, generator=g), (torch.rand(n, 6, generator=g) < 0.3).float()


def _two_ranks(rank, out):
    hr = HitRate([1, 3], ignore_zero_hits=False)
    hr.update(_shard(rank))
    torch.save(hr.compute(), out / f"hr{rank}.pt")


def test_two_ranks_reduce_over_all_users(tmp_path):
    from test_distributed import _launch  # the 2-process gloo launcher

    _launch(_two_ranks, tmp_path)
    expected = by_hand([_shard(0), _shard(1)], [1, 3], ignore_zero_hits=False)
    for rank in range(2):
        assert torch.load(tmp_path / f"hr{rank}.pt") == pytest.approx(expected)
