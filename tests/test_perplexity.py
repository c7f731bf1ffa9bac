"""Perplexity: by hand (exp of the mean token cross-entropy), padding, shapes, Ignite as oracle."""

from __future__ import annotations

import math

import pytest
import torch

from miniengine.engine import Engine
from miniengine.exceptions import NotComputableError
from miniengine.metrics import Perplexity
from miniengine.metrics.nlp import Perplexity as NlpPerplexity


def batches(seed=0, sizes=(2, 3, 1), vocab=6, seq_len=4, dtype=torch.float64):
    """Logits in float64 by default, so that the by-hand sums agree to 1e-12."""
    g = torch.Generator().manual_seed(seed)
    return [(torch.randn(n, vocab, seq_len, generator=g, dtype=dtype),
             torch.randint(0, vocab, (n, seq_len), generator=g)) for n in sizes]  # fmt: skip


def by_hand(data, ignore_index=-100):
    """exp(mean over tokens of logsumexp(logits) - logit of the target), in plain Python."""
    nll, count = 0.0, 0
    for y_pred, y in data:
        logits = y_pred.movedim(1, -1).reshape(-1, y_pred.shape[1]).tolist()
        for row, target in zip(logits, y.reshape(-1).tolist(), strict=True):
            if target == ignore_index:
                continue
            nll += math.log(sum(math.exp(v) for v in row)) - row[target]
            count += 1
    return math.exp(nll / count)


def ignite_value(data, **kwargs):
    nlp = pytest.importorskip("ignite.metrics.nlp")
    theirs = nlp.Perplexity(**kwargs)
    for b in data:
        theirs.update(b)
    return theirs.compute()


def test_engine_run_by_hand_and_oracle():
    data = batches()
    engine = Engine(lambda e, b: b)
    Perplexity().attach(engine, "ppl")
    got = engine.run(data, max_epochs=2).metrics["ppl"]  # reset each epoch: same value
    assert got == pytest.approx(by_hand(data), rel=1e-12)
    assert got == pytest.approx(ignite_value(data), rel=1e-6)  # Ignite sums in float32
    assert Perplexity is NlpPerplexity


def test_float32_logits_agree_to_float32_rounding():
    data = batches(7, dtype=torch.float32)
    ppl = Perplexity()
    for b in data:
        ppl.update(b)
    assert ppl.compute() == pytest.approx(by_hand(data), rel=1e-6)
    assert ppl.compute() == pytest.approx(ignite_value(data), rel=1e-6)


def test_tokens_weigh_the_same_not_batches():
    long, short = batches(1, sizes=(4,)), batches(2, sizes=(1,))
    ppl = Perplexity()
    ppl.update(long[0])
    ppl.update(short[0])
    assert ppl.compute() == pytest.approx(by_hand(long + short), rel=1e-12)
    mean_of_batches = (by_hand(long) + by_hand(short)) / 2
    assert ppl.compute() != pytest.approx(mean_of_batches, rel=1e-3)


@pytest.mark.parametrize("ignore_index", [-100, 0])
def test_ignored_targets_count_nowhere(ignore_index):
    data = batches(3)
    y_pred, y = data[0]
    y = y.clone()
    y[0, 1:] = -100 if ignore_index == -100 else 0  # padding at the end of a sequence
    padded = [(y_pred, y), *data[1:]]
    ppl = Perplexity(ignore_index=ignore_index)
    for b in padded:
        ppl.update(b)
    want = by_hand(padded, ignore_index)
    assert ppl.compute() == pytest.approx(want, rel=1e-12)
    assert ppl._num_tokens.item() == sum(int((t != ignore_index).sum()) for _, t in padded)
    assert ppl.compute() == pytest.approx(ignite_value(padded, ignore_index=ignore_index), rel=1e-6)


def test_other_shapes_and_integer_dtypes():
    g = torch.Generator().manual_seed(4)
    flat = [(torch.randn(5, 7, generator=g).double(), torch.randint(0, 7, (5,), generator=g))]
    deep = [(torch.randn(2, 3, 4, 2, generator=g).double(),
             torch.randint(0, 3, (2, 4, 2), generator=g))]  # fmt: skip
    for data in (flat, deep):
        ppl = Perplexity()
        ppl.update(data[0])
        assert ppl.compute() == pytest.approx(by_hand(data), rel=1e-12)
    ppl = Perplexity()
    ppl.update((flat[0][0], flat[0][1].int()))  # torch's cross_entropy wants int64
    assert ppl.compute() == pytest.approx(by_hand(flat), rel=1e-12)


def test_dict_output_no_graph_float64_sum_and_empty_batches():
    y_pred, y = batches(5)[0]
    ppl = Perplexity(output_transform=lambda out: out["lm"])
    engine = Engine(lambda e, b: {"lm": {"y_pred": b[0].requires_grad_(), "y": b[1]}})
    ppl.attach(engine, "ppl")
    empty = (torch.randn(0, 6, 4, dtype=torch.float64), torch.zeros(0, 4, dtype=torch.long))
    assert engine.run([empty, (y_pred, y)]).metrics["ppl"] == pytest.approx(
        by_hand([(y_pred.detach(), y)]), rel=1e-12
    )
    assert ppl._sum_of_nll.dtype == torch.float64 and not ppl._sum_of_nll.requires_grad


def test_state_dict_loads_both_ways():
    im = pytest.importorskip("ignite.metrics.nlp")
    data = batches(6)
    ours, theirs = Perplexity(), im.Perplexity()
    for b in data[:2]:
        ours.update(b)
        theirs.update(b)
    assert list(ours.state_dict()["__metric_state_per_rank"][0]) == ["_sum_of_nll", "_num_tokens"]
    ours_copy, theirs_copy = Perplexity(), im.Perplexity()
    ours_copy.load_state_dict(theirs.state_dict())
    theirs_copy.load_state_dict(ours.state_dict())
    for metric in (ours_copy, theirs_copy):
        metric.update(data[2])
        assert metric.compute() == pytest.approx(by_hand(data), rel=1e-6)


@pytest.mark.parametrize(
    ("y_pred_shape", "y_shape", "message"),
    [
        ((2,), (1,), r"y_pred must be at least 2-dimensional \(got shape: torch.Size\(\[2\]\)\)"),
        ((2, 5, 3), (), r"y must be at least 1-dimensional"),
        ((2, 5), (2, 5), r"exactly one more dimension than y \(got y_pred=2D and y=2D\)"),
        ((2, 5, 3), (3, 3), r"y_pred and y have incompatible shapes: y_pred=torch.Size\(\[2, 5"),
        ((2, 5, 3), (2, 4), r"expected y_pred\[0\] == y\[0\] and y_pred\[2:\] == y\[1:\]"),
    ],
)
def test_shape_errors(y_pred_shape, y_shape, message):
    with pytest.raises(ValueError, match=message):
        Perplexity().update((torch.randn(y_pred_shape), torch.zeros(y_shape, dtype=torch.long)))


def test_other_errors_and_reset():
    ppl = Perplexity()
    with pytest.raises(NotComputableError, match="Perplexity must have at least one example"):
        ppl.compute()
    with pytest.raises(TypeError, match="y must hold integer token ids, got dtype torch.float32"):
        ppl.update((torch.randn(2, 5, 3), torch.zeros(2, 3)))
    for bad in (1.5, "-100", None, True):
        with pytest.raises(TypeError, match="Argument ignore_index should be an int"):
            Perplexity(ignore_index=bad)
    ppl.update(batches()[0])
    ppl.reset()
    with pytest.raises(NotComputableError):
        ppl.compute()


def _two_ranks(rank, out):
    ppl = Perplexity()
    for b in batches(10 + rank, sizes=(1 + rank, 2)):  # uneven shards
        ppl.update(b)
    torch.save({"ppl": ppl.compute(), "local": ppl._num_tokens.item()}, out / f"ppl{rank}.pt")


def test_two_ranks_reduce_over_all_tokens(tmp_path):
    from test_distributed import _launch  # the 2-process gloo launcher

    _launch(_two_ranks, tmp_path)
    everything = batches(10, sizes=(1, 2)) + batches(11, sizes=(2, 2))
    for rank in range(2):
        seen = torch.load(tmp_path / f"ppl{rank}.pt")
        assert seen["ppl"] == pytest.approx(by_hand(everything), rel=1e-12)
        assert seen["local"] == 4 * (3 + rank)  # compute left the local count as it was
