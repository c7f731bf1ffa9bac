"""Recall: every ``average``, by hand (hypothesis) and against Ignite."""

from __future__ import annotations

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

from miniengine.engine import Engine
from miniengine.metrics import NotComputableError, Recall

test_multiclass_by_hand = multiclass_test(Recall, of="true")


def test_binary_and_multilabel_by_hand():
    pred, true = [1, 1, 0, 1, 0, 0, 1], [1, 0, 0, 1, 1, 0, 0]
    metric = Recall()
    metric.update((torch.tensor(pred), torch.tensor(true)))
    assert_close(metric.compute(), by_hand(pred, true, [1], False, of="true")[0])
    g = torch.Generator().manual_seed(0)
    y_pred, y = torch.randint(0, 2, (20, 4), generator=g), torch.randint(0, 2, (20, 4), generator=g)
    samples = Recall(average="samples", is_multilabel=True)
    samples.update((y_pred, y))
    each = [ratio(int((p * t).sum()), int(t.sum())) for p, t in zip(y_pred, y, strict=True)]
    assert_close(samples.compute(), sum(each) / 20)


def test_attached_per_epoch():
    g = torch.Generator().manual_seed(3)
    batches = [(torch.rand(6, 3, generator=g), torch.randint(0, 3, (6,), generator=g))]
    batches.append((torch.rand(6, 3, generator=g), torch.randint(0, 3, (6,), generator=g)))
    engine = Engine(lambda e, b: b)
    Recall(average="macro").attach(engine, "recall")
    pred = [int(i) for p, _ in batches for i in p.argmax(1)]
    true = [int(t) for _, y in batches for t in y]
    assert_close(
        engine.run(batches).metrics["recall"], by_hand(pred, true, range(3), True, of="true")
    )


def test_not_computable():
    with pytest.raises(NotComputableError, match="Recall must have at least one example"):
        Recall().compute()


@pytest.mark.parametrize("average", [*AVERAGES, "samples"])
def test_oracle_multilabel_and_multiclass(average):
    ignite = pytest.importorskip("ignite.metrics")
    g = torch.Generator().manual_seed(4)
    for multilabel in (True, False):
        if average == "samples" and not multilabel:
            continue
        ours = Recall(average=average, is_multilabel=multilabel)
        theirs = ignite.Recall(average=average, is_multilabel=multilabel)
        for _ in range(3):
            if multilabel:
                b = tuple(torch.randint(0, 2, (8, 3, 2), generator=g) for _ in "xy")
            else:
                b = (torch.rand(8, 5, generator=g), torch.randint(0, 5, (8,), generator=g))
            ours.update(b)
            theirs.update(b)
        a, t = ours.compute(), theirs.compute()
        assert torch.equal(a, t) if isinstance(a, torch.Tensor) else a == t


# An empty batch (the last one of a filtered set, a rank with no data) adds no examples.
test_empty_batches_are_skipped = empty_batches_test(Recall)
