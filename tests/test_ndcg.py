"""NDCG: by hand (DCG / IDCG from the definition), against Ignite, ties, gains, thresholds,
attached, errors, two ranks."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from miniengine.engine import Engine
from miniengine.exceptions import NotComputableError
from miniengine.metrics import NDCG


def dcg(relevances, k, gain):
    """sum over positions i = 1..k of gain(rel_i) / log2(i + 1)."""
    return sum(gain(r) / math.log2(i + 1) for i, r in enumerate(relevances[:k], start=1))


def by_hand(batches, top_k, ignore_zero_hits=True, threshold=1.0, gain_function="exp_rank"):
    """Mean over users of DCG@k / IDCG@k (0 when IDCG is 0); equal scores: lower index first."""
    gain = (lambda r: 2.0**r - 1) if gain_function == "exp_rank" else (lambda r: r)
    top_k = sorted(top_k)
    sums, users = [0.0] * len(top_k), 0
    for y_pred, y in batches:
        for scores, labels in zip(y_pred.tolist(), y.tolist(), strict=True):
            rel = [v if v >= threshold else 0.0 for v in labels]
            if ignore_zero_hits and not any(r > 0 for r in rel if r >= threshold):
                continue
            users += 1
            ranked = sorted(range(len(scores)), key=lambda j: (-scores[j], j))
            ranked_rel = [rel[j] for j in ranked]
            ideal = sorted(rel, reverse=True)
            for i, k in enumerate(top_k):
                best = dcg(ideal, k, gain)
                sums[i] += dcg(ranked_rel, k, gain) / best if best > 0 else 0.0
    return [s / users for s in sums]


def run(metric, batches):
    for batch in batches:
        metric.update(batch)
    return metric.compute()


@st.composite
def cases(draw):
    """(kwargs, 1 to 3 batches): graded relevance 0-4, scores with ties, k past the items."""
    g = torch.Generator().manual_seed(draw(st.integers(0, 2**16)))
    items = draw(st.integers(1, 6))
    kwargs = {
        "top_k": draw(st.lists(st.integers(1, items + 2), min_size=1, max_size=3)),
        "ignore_zero_hits": draw(st.booleans()),
        "relevance_threshold": draw(st.sampled_from([1.0, 2.0, 0.5])),
        "gain_function": draw(st.sampled_from(["exp_rank", "linear_rank"])),
    }
    ties = draw(st.booleans())
    batches = []
    for n in draw(st.lists(st.integers(1, 4), min_size=1, max_size=3)):
        y_pred = torch.randn(n, items, generator=g)
        if ties:
            y_pred = y_pred.round()
        y = torch.randint(0, 5, (n, items), generator=g).float()
        y[0, 0] = 4.0  # at least one user with a relevant item
        batches.append((y_pred, y))
    return kwargs, batches


def _args(kwargs):
    return kwargs["top_k"], kwargs["ignore_zero_hits"], kwargs["relevance_threshold"]


@settings(max_examples=40, deadline=None)
@given(cases())
def test_by_hand(case):
    kwargs, batches = case
    expected = by_hand(batches, *_args(kwargs), kwargs["gain_function"])
    assert run(NDCG(**kwargs), batches) == pytest.approx(expected, rel=1e-5)


@settings(max_examples=40, deadline=None)
@given(cases())
def test_oracle(case):
    im = pytest.importorskip("ignite.metrics")
    kwargs, batches = case
    assert run(NDCG(**kwargs), batches) == run(im.NDCG(**kwargs), batches)


def test_known_values():
    y_pred = torch.tensor([[4.0, 2.0, 3.0, 1.0], [1.0, 2.0, 3.0, 4.0]])
    y = torch.tensor([[0.0, 0.0, 1.0, 1.0], [0.0, 0.0, 0.0, 0.0]])
    # user 0 ranks its items 0, 2, 1, 3: relevances 0, 1, 0, 1; the ideal is 1, 1, 0, 0
    at_2 = (1 / math.log2(3)) / (1 + 1 / math.log2(3))
    at_4 = (1 / math.log2(3) + 1 / math.log2(5)) / (1 + 1 / math.log2(3))
    got = run(NDCG([4, 1, 3, 2]), [(y_pred, y)])
    assert got == pytest.approx([0.0, at_2, at_2, at_4], rel=1e-6)
    got = run(NDCG([1, 2, 3, 4], ignore_zero_hits=False), [(y_pred, y)])
    assert got == pytest.approx([0.0, at_2 / 2, at_2 / 2, at_4 / 2], rel=1e-6)


def test_ties_keep_item_order_and_gain_functions_differ():
    y_pred = torch.tensor([[0.5, 0.5, 0.5]])
    y = torch.tensor([[0.0, 2.0, 3.0]])  # ranked as given: 0, 2, 3
    exp_dcg = 3 / math.log2(3) + 7 / 2
    exp_idcg = 7 + 3 / math.log2(3)
    assert run(NDCG([3]), [(y_pred, y)]) == pytest.approx([exp_dcg / exp_idcg], rel=1e-6)
    lin = run(NDCG([3], gain_function="linear_rank"), [(y_pred, y)])
    assert lin == pytest.approx([(2 / math.log2(3) + 3 / 2) / (3 + 2 / math.log2(3))], rel=1e-6)


def test_relevance_below_the_threshold_counts_as_zero():
    y_pred = torch.tensor([[0.9, 0.3, 0.7]])
    y = torch.tensor([[3.0, 1.0, 2.0]])
    assert run(NDCG([3], relevance_threshold=2.0), [(y_pred, y)]) == pytest.approx([1.0])
    # only the label-1 item is relevant at threshold 1: ranked last of three
    y = torch.tensor([[0.0, 1.0, 0.0]])
    assert run(NDCG([3]), [(y_pred, y)]) == pytest.approx([1 / math.log2(4)])
    ndcg = NDCG([3], relevance_threshold=2.0)  # no item reaches 2: the user is skipped
    ndcg.update((y_pred, y))
    with pytest.raises(NotComputableError):
        ndcg.compute()


def test_attached_with_tuple_and_dict_outputs():
    g = torch.Generator().manual_seed(3)
    batches = [
        (torch.randn(n, 5, generator=g), torch.randint(0, 4, (n, 5), generator=g)) for n in (3, 2)
    ]
    expected = by_hand(batches, [2, 5])
    engine = Engine(lambda e, b: b)
    NDCG([2, 5]).attach(engine, "ndcg")
    assert engine.run(batches).metrics["ndcg"] == pytest.approx(expected, rel=1e-6)
    engine = Engine(lambda e, b: {"y_pred": b[0], "y": b[1]})
    NDCG([2, 5]).attach(engine, "ndcg")
    assert engine.run(batches).metrics["ndcg"] == pytest.approx(expected, rel=1e-6)


def test_errors():
    for bad in ([0], [-1, 5], [], 3, [1.5]):
        with pytest.raises(ValueError, match="top_k must be list of positive integers only"):
            NDCG(bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="gain_function must be either 'exp_rank' or 'linear_r"):
        NDCG([1], gain_function="invalid")
    with pytest.raises(ValueError, match="relevance_threshold must be a number"):
        NDCG([1], relevance_threshold="1")  # type: ignore[arg-type]
    ndcg = NDCG([1, 5])
    with pytest.raises(NotComputableError, match="NDCG must have at least one example"):
        ndcg.compute()
    with pytest.raises(ValueError, match="y_pred and y must be in the same shape"):
        ndcg.update((torch.randn(4, 10), torch.ones(4, 5)))
    with pytest.raises(ValueError, match="output should be in format"):
        ndcg.update((torch.randn(4, 10),))
    with pytest.raises(ValueError, match=r"must have shape \(batch, num_items\)"):
        ndcg.update((torch.randn(2, 2, 3), torch.ones(2, 2, 3)))


def test_state_dict_no_graph_and_reset():
    ndcg = NDCG([1, 3])
    y_pred = torch.tensor([[0.1, 0.9, 0.5]], requires_grad=True)
    ndcg.update((y_pred, torch.tensor([[0.0, 1.0, 0.0]])))
    assert not ndcg._sum_ndcg_per_k.requires_grad
    assert ndcg._sum_ndcg_per_k.dtype == torch.float32
    state = ndcg.state_dict()
    assert list(state["__metric_state_per_rank"][0]) == ["_sum_ndcg_per_k", "_num_examples"]
    restored = NDCG([1, 3])
    restored.load_state_dict(state)
    # the second user's relevant item is ranked 3rd: NDCG@3 = (1 / log2(4)) / 1
    restored.update((torch.tensor([[0.9, 0.1, 0.5]]), torch.tensor([[0.0, 1.0, 0.0]])))
    assert restored.compute() == pytest.approx([0.5, 0.75])
    restored.reset()
    with pytest.raises(NotComputableError):
        restored.compute()


def _shard(rank):
    g = torch.Generator().manual_seed(rank)
    n = 3 + 2 * rank  # uneven shards
    return torch.randn(n, 6, generator=g), torch.randint(0, 4, (n, 6), generator=g).float()


def _two_ranks(rank, out):
    ndcg = NDCG([1, 4], ignore_zero_hits=False)
    ndcg.update(_shard(rank))
    torch.save(ndcg.compute(), out / f"ndcg{rank}.pt")


def test_two_ranks_reduce_over_all_users(tmp_path):
    from test_distributed import _launch  # the 2-process gloo launcher

    _launch(_two_ranks, tmp_path)
    expected = by_hand([_shard(0), _shard(1)], [1, 4], ignore_zero_hits=False)
    for rank in range(2):
        assert torch.load(tmp_path / f"ndcg{rank}.pt") == pytest.approx(expected, rel=1e-6)
