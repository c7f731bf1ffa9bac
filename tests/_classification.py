"""Test helpers shared by Precision and Recall: the ratios by hand, as sklearn defines them."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

AVERAGES = [False, None, True, "macro", "micro", "weighted"]

# (number of classes, [(predicted class, true class), ...]) with at least one pair
multiclass_cases = st.integers(2, 5).flatmap(
    lambda c: st.tuples(st.just(c), st.lists(
        st.tuples(st.integers(0, c - 1), st.integers(0, c - 1)), min_size=1, max_size=30))
)  # fmt: skip


def ratio(a, b):
    return a / b if b else 0.0


def by_hand(pred, true, classes, average, of):
    """TP over the predicted (``of="pred"``: precision) or actual (``of="true"``: recall) count.

    Per class, then averaged; "weighted" weights each class by its support (actual count).
    """
    tp = [sum(p == t == c for p, t in zip(pred, true, strict=True)) for c in classes]
    counted = pred if of == "pred" else true
    positives = [sum(x == c for x in counted) for c in classes]
    support = [sum(t == c for t in true) for c in classes]
    per_class = [ratio(a, b) for a, b in zip(tp, positives, strict=True)]
    if average in (False, None):
        return per_class
    if average == "micro":
        return ratio(sum(tp), sum(positives))
    if average == "weighted":
        return ratio(sum(v * s for v, s in zip(per_class, support, strict=True)), sum(support))
    return sum(per_class) / len(per_class)


def assert_close(got, want):
    got = got.tolist() if isinstance(got, torch.Tensor) else got
    assert got == pytest.approx(want, abs=1e-12)


def multiclass_test(metric_class, of):
    """A hypothesis test: every average of ``metric_class`` against ``by_hand(..., of)``.

    Each case is fed in two batches where it has room for two.
    """

    @settings(max_examples=30, deadline=None)
    @given(multiclass_cases)
    def test(case):
        c, pairs = case
        pred, true = [p for p, _ in pairs], [t for _, t in pairs]
        scores = torch.nn.functional.one_hot(torch.tensor(pred), c).float()
        for average in AVERAGES:
            metric = metric_class(average=average)
            half = len(pairs) // 2 or len(pairs)
            for lo, hi in ((0, half), (half, len(pairs))):
                if lo < hi:
                    metric.update((scores[lo:hi], torch.tensor(true[lo:hi])))
            assert_close(metric.compute(), by_hand(pred, true, range(c), average, of))

    return test


# (y_pred, y) batches with no examples, for each kind of input; with their non-empty twin
EMPTY_BATCHES = {
    "binary": (torch.zeros(0, dtype=torch.long), torch.zeros(0, dtype=torch.long)),
    "multiclass": (torch.zeros(0, 3), torch.zeros(0, dtype=torch.long)),
    "multilabel": (torch.zeros(0, 3, dtype=torch.long), torch.zeros(0, 3, dtype=torch.long)),
}
FULL_BATCHES = {
    "binary": (torch.tensor([1, 0, 1]), torch.tensor([1, 1, 1])),
    "multiclass": (torch.eye(3)[[0, 1, 1]], torch.tensor([0, 1, 2])),
    "multilabel": (torch.tensor([[1, 0, 1], [0, 1, 1]]), torch.tensor([[1, 1, 1], [0, 1, 0]])),
}


def empty_batches_test(make):
    """A test: an empty batch changes nothing, alone it leaves the metric not computable."""

    @pytest.mark.parametrize("kind", list(EMPTY_BATCHES))
    def test_empty_batches_are_skipped(kind):
        from miniengine.exceptions import NotComputableError

        multilabel = kind == "multilabel"
        alone = make(is_multilabel=multilabel)
        alone.update(EMPTY_BATCHES[kind])
        with pytest.raises(NotComputableError, match="must have at least one example"):
            alone.compute()
        mixed, plain = make(is_multilabel=multilabel), make(is_multilabel=multilabel)
        for batch in (EMPTY_BATCHES[kind], FULL_BATCHES[kind], EMPTY_BATCHES[kind]):
            mixed.update(batch)
        plain.update(FULL_BATCHES[kind])
        a, b = mixed.compute(), plain.compute()
        assert torch.equal(a, b) if isinstance(a, torch.Tensor) else a == b

    return test_empty_batches_are_skipped
