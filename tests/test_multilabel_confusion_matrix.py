"""MultiLabelConfusionMatrix: a loop over samples (hypothesis) and Ignite; errors; two ranks."""

from __future__ import annotations

import itertools

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from miniengine.engine import Engine
from miniengine.exceptions import NotComputableError
from miniengine.metrics import MultiLabelConfusionMatrix

DTYPES = [torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64]


def by_hand(batches, c):
    """cm[i][t][p] += 1 for every sample, class i and place after the class dimension."""
    cm = [[[0, 0], [0, 0]] for _ in range(c)]
    for y_pred, y in batches:
        for pred, true in zip(
            y_pred.tolist(), y.tolist(), strict=True
        ):  # one sample: c nested lists
            for i in range(c):
                flat_p = torch.tensor(pred[i]).flatten().tolist()
                flat_t = torch.tensor(true[i]).flatten().tolist()
                for t, p in zip(flat_t, flat_p, strict=True):
                    cm[i][t][p] += 1
    return torch.tensor(cm)


def run(metric, batches):
    for batch in batches:
        metric.update(batch)
    return metric.compute()


@st.composite
def cases(draw):
    """(num_classes, 1 to 3 batches of 0/1 (y_pred, y)), of shape (N, C) or (N, C, ...)."""
    g = torch.Generator().manual_seed(draw(st.integers(0, 2**16)))
    c = draw(st.integers(2, 4))
    rest = draw(st.sampled_from([(), (3,), (2, 2)]))
    dtype = draw(st.sampled_from(DTYPES))
    sizes = draw(st.lists(st.integers(1, 4), min_size=1, max_size=3))
    batches = [
        tuple(torch.randint(0, 2, (n, c, *rest), generator=g).to(dtype) for _ in range(2))
        for n in sizes
    ]
    return c, batches


@settings(max_examples=40, deadline=None)
@given(cases())
def test_by_hand(case):
    c, batches = case
    want = by_hand(batches, c)
    got = run(MultiLabelConfusionMatrix(c), batches)
    assert got.dtype == torch.int64 and torch.equal(got, want)
    normalized = run(MultiLabelConfusionMatrix(c, normalized=True), batches)
    places = sum(y[:, 0].numel() for _, y in batches)  # per class: samples x places
    assert normalized.dtype == torch.float64
    assert torch.allclose(normalized, want.double() / places, rtol=0, atol=1e-15)


@settings(max_examples=40, deadline=None)
@given(cases(), st.booleans())
def test_oracle(case, normalized):
    im = pytest.importorskip("ignite.metrics")
    c, batches = case
    mine = run(MultiLabelConfusionMatrix(c, normalized=normalized), batches)
    theirs = run(im.MultiLabelConfusionMatrix(c, normalized=normalized), batches)
    assert mine.dtype == theirs.dtype and torch.equal(mine, theirs)


def test_a_small_case_by_hand_and_attach():
    y_pred = torch.tensor([[1, 0, 1], [0, 0, 1], [1, 1, 1]])
    y = torch.tensor([[1, 0, 0], [1, 0, 1], [1, 0, 1]])
    engine = Engine(lambda e, b: b)
    MultiLabelConfusionMatrix(3).attach(engine, "mlcm")
    # as dict, then as a list per sample (fed one at a time)
    data = [{"y_pred": y_pred[:2], "y": y[:2]}, (list(y_pred[2:]), list(y[2:]))]
    got = engine.run(data).metrics["mlcm"]
    # [[TN, FP], [FN, TP]]: class 0: TP 2, FN 1; class 1: TN 2, FP 1; class 2: TP 2, FP 1
    want = torch.tensor([[[0, 0], [1, 2]], [[2, 1], [0, 0]], [[0, 1], [0, 2]]])
    assert torch.equal(got, want)
    ignite_engine = pytest.importorskip("ignite.engine")
    im = pytest.importorskip("ignite.metrics")
    theirs = ignite_engine.Engine(lambda e, b: b)
    im.MultiLabelConfusionMatrix(3).attach(theirs, "mlcm")
    assert torch.equal(got, theirs.run(data).metrics["mlcm"])


def test_compute_returns_a_copy_and_empty_batches_count_nothing():
    mlcm = MultiLabelConfusionMatrix(2)
    mlcm.update((torch.zeros(0, 2, dtype=torch.long), torch.zeros(0, 2, dtype=torch.long)))
    with pytest.raises(NotComputableError):
        mlcm.compute()
    ones = torch.ones(1, 2, dtype=torch.long)
    mlcm.update((ones, ones))
    first = mlcm.compute()
    mlcm.update((ones, ones))
    assert first[:, 1, 1].tolist() == [1, 1]
    assert mlcm.compute()[:, 1, 1].tolist() == [2, 2]


def test_argument_errors():
    with pytest.raises(NotComputableError, match="Confusion matrix must have at least one example"):
        MultiLabelConfusionMatrix(10).compute()
    for bad in (1, 0, -3):
        with pytest.raises(ValueError, match=f"Argument num_classes needs to be > 1, got {bad}"):
            MultiLabelConfusionMatrix(bad)
    for bad in (2.0, "3", None, True):
        with pytest.raises(TypeError, match="Argument num_classes should be an integer"):
            MultiLabelConfusionMatrix(bad)


def _ints(*shape, high=2):
    return torch.randint(0, high, shape)


@pytest.mark.parametrize(
    "output, message",
    [
        ((_ints(10), _ints(10, 4)), r"y_pred must at least have shape \(batch_size, num_classes "
         r"\(currently set to 4\), \.\.\.\), got \(10,\)"),
        ((_ints(10, 4), _ints(10)), r"y must at least have shape \(batch_size, num_classes"),
        ((_ints(10, 4), _ints(8, 4)), "y_pred and y have different batch size: 10 vs 8"),
        ((_ints(10, 3), _ints(10, 4)), "y_pred does not have correct number of classes: 3 vs 4"),
        ((_ints(10, 4), _ints(10, 5)), "y does not have correct number of classes: 5 vs 4"),
        ((_ints(10, 4, 2), _ints(10, 4)), r"y and y_pred shapes must match, got \(10, 4\)"),
        ((torch.rand(10, 4), torch.rand(10, 4)), r"y_pred must be of any type: \(torch.uint8, "
         r"torch.int8, torch.int16, torch.int32, torch.int64\), got torch.float32"),
        ((_ints(10, 4), _ints(10, 4).bool()), r"y must be of any type: .*, got torch.bool"),
        ((_ints(10, 4) + 1, _ints(10, 4)), r"y_pred must be a binary tensor \(0s and 1s\), got 2"),
        ((_ints(10, 4), _ints(10, 4) - 1), r"y must be a binary tensor \(0s and 1s\), got -1"),
        # 255 * 255 wraps round to 1 in uint8: the check looks at the values themselves
        ((_ints(10, 4).byte() * 255, _ints(10, 4).byte()), "y_pred must be a binary tensor"),
    ],
)  # fmt: skip
def test_input_errors_in_ignites_order(output, message):
    mlcm = MultiLabelConfusionMatrix(4)
    with pytest.raises(ValueError, match=message):
        mlcm.update(output)
    im = pytest.importorskip("ignite.metrics")
    first_words = message.split(",")[0].split(r" \(")[0]
    with pytest.raises(ValueError, match=first_words):
        im.MultiLabelConfusionMatrix(4).update(output)


def _shard(rank, part):
    g = torch.Generator().manual_seed(10 * rank + part)
    n = 2 + 2 * rank  # uneven: 2 and 4 samples per part
    return tuple(torch.randint(0, 2, (n, 3, 2), generator=g) for _ in range(2))


def _two_ranks(rank, out):
    # No Ignite oracle here: in a gloo child its metrics at times abort the process at exit
    # ("terminate called without an active exception"). It is compared in one process above.
    seen = {}
    mlcm = MultiLabelConfusionMatrix(3)
    normalized = MultiLabelConfusionMatrix(3, normalized=True)
    for part in range(2):
        mlcm.update(_shard(rank, part))
        normalized.update(_shard(rank, part))
        seen[part] = mlcm.compute()  # compute leaves the local counts as they were
    seen["normalized"] = normalized.compute()
    torch.save(seen, out / f"mlcm{rank}.pt")


def test_two_ranks_sum_the_counts(tmp_path):
    from test_distributed import _launch  # the 2-process gloo launcher

    _launch(_two_ranks, tmp_path)
    seen = [torch.load(tmp_path / f"mlcm{r}.pt") for r in range(2)]
    first = by_hand([_shard(0, 0), _shard(1, 0)], 3)
    both = by_hand([_shard(r, p) for r, p in itertools.product(range(2), range(2))], 3)
    for s in seen:
        assert torch.equal(s[0], first)
        assert torch.equal(s[1], both)
        assert torch.allclose(s["normalized"], both.double() / both[0].sum())
