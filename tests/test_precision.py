"""Precision (and the base it shares with Recall): every ``average``, by hand and against Ignite."""

from __future__ import annotations

import warnings

import pytest
import torch
from _classification import (
    AVERAGES,
    assert_close,
    by_hand,
    empty_batches_test,
    multiclass_test,
    ratio,
)

from miniengine.metrics import NotComputableError, Precision

test_multiclass_by_hand = multiclass_test(Precision, of="pred")


def test_binary_by_hand():
    pred, true = [1, 1, 0, 1, 0, 0, 1], [1, 0, 0, 1, 1, 0, 0]
    metric = Precision()
    metric.update((torch.tensor(pred), torch.tensor(true)))
    value = metric.compute()
    assert value.ndim == 0  # the positive class only
    assert_close(value, by_hand(pred, true, [1], False, of="pred")[0])
    for average in ("macro", "micro", "weighted"):  # over both classes 0 and 1
        metric = Precision(average=average)
        metric.update((torch.tensor(pred), torch.tensor(true)))
        assert_close(metric.compute(), by_hand(pred, true, [0, 1], average, of="pred"))


def test_multilabel_by_hand():
    g = torch.Generator().manual_seed(0)
    y_pred, y = torch.randint(0, 2, (20, 4), generator=g), torch.randint(0, 2, (20, 4), generator=g)
    # each label is a binary problem of its own
    per_label = [by_hand(y_pred[:, k].tolist(), y[:, k].tolist(), [1], False, of="pred")[0]
                 for k in range(4)]  # fmt: skip
    samples = [ratio(int((p * t).sum()), int(p.sum())) for p, t in zip(y_pred, y, strict=True)]
    tp, predicted = int((y_pred * y).sum()), int(y_pred.sum())
    support = y.sum(dim=0).tolist()
    want = {
        False: per_label,
        "macro": sum(per_label) / 4,
        "micro": tp / predicted,
        "weighted": sum(p * s for p, s in zip(per_label, support, strict=True)) / sum(support),
        "samples": sum(samples) / 20,
    }
    for average, value in want.items():
        metric = Precision(average=average, is_multilabel=True)
        metric.update((y_pred[:12], y[:12]))
        metric.update((y_pred[12:], y[12:]))
        assert_close(metric.compute(), value)


def test_errors_and_warnings():
    with pytest.raises(ValueError, match="Argument average should be None or a boolean or one of"):
        Precision(average="binary")
    with pytest.raises(ValueError, match="average='samples' is incompatible with binary and mul"):
        Precision(average="samples").update((torch.tensor([1, 0]), torch.tensor([1, 1])))
    with pytest.raises(ValueError, match="y_pred contains fewer classes than y. .* class = 4."):
        Precision().update((torch.rand(2, 3), torch.tensor([0, 3])))
    with pytest.raises(NotComputableError, match="Precision must have at least one example"):
        Precision().compute()
    with pytest.warns(RuntimeWarning, match="`y` should be of dtype long when entry type is mul"):
        Precision().update((torch.rand(2, 3), torch.tensor([0.0, 2.0])))
    with pytest.warns(RuntimeWarning, match="should be of dtype long when entry type is binary"):
        Precision(average="macro").update((torch.tensor([1.0, 0.0]), torch.tensor([1, 0])))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Precision().update((torch.tensor([1.0, 0.0]), torch.tensor([1, 0])))  # average=False: ok


def random_batch(kind, g):
    if kind == "multiclass":
        return torch.rand(9, 4, 2, generator=g), torch.randint(0, 4, (9, 2), generator=g)
    shape = (9, 3, 2) if kind == "multilabel" else (9, 2)
    return torch.randint(0, 2, shape, generator=g), torch.randint(0, 2, shape, generator=g)


@pytest.mark.parametrize("average", [*AVERAGES, "samples"])
@pytest.mark.parametrize("kind", ["binary", "multiclass", "multilabel"])
def test_oracle(kind, average):
    ignite = pytest.importorskip("ignite.metrics")
    if average == "samples" and kind != "multilabel":
        return
    g = torch.Generator().manual_seed(2)
    batches = [random_batch(kind, g) for _ in range(3)]
    multilabel = kind == "multilabel"
    ours = Precision(average=average, is_multilabel=multilabel)
    theirs = ignite.Precision(average=average, is_multilabel=multilabel)
    for b in batches:
        ours.update(b)
        theirs.update(b)
    a, b = ours.compute(), theirs.compute()
    assert torch.equal(a, b) if isinstance(a, torch.Tensor) else a == b


# An empty batch (the last one of a filtered set, a rank with no data) adds no examples.
test_empty_batches_are_skipped = empty_batches_test(Precision)


@pytest.mark.parametrize("average", [False, "macro", "micro", "weighted"])
def test_empty_multiclass_batch_with_averages(average):
    # Ignite 0.5.5 fails here inside torch ("max(): Expected reduction dim")
    metric = Precision(average=average)
    metric.update((torch.zeros(0, 3), torch.zeros(0, dtype=torch.long)))
    metric.update((torch.eye(3)[[0, 1, 1]], torch.tensor([0, 1, 2])))
    with_empty = metric.compute()
    plain = Precision(average=average)
    plain.update((torch.eye(3)[[0, 1, 1]], torch.tensor([0, 1, 2])))
    assert_close(with_empty, plain.compute())
