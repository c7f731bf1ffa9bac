"""ConfusionMatrix: counts and normalisations by hand (hypothesis) and against Ignite."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from miniengine.metrics import ConfusionMatrix, NotComputableError


def scores_for(predicted, c):
    """Scores whose arg-max over dim 1 is ``predicted``."""
    return torch.nn.functional.one_hot(torch.tensor(predicted), c).float() + 0.1


def by_hand(pairs, c):
    cm = [[0] * c for _ in range(c)]
    for true, pred in pairs:
        if 0 <= true < c:
            cm[true][pred] += 1
    return torch.tensor(cm)


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 5).flatmap(
    lambda c: st.tuples(
        st.just(c),
        st.lists(st.lists(st.tuples(st.integers(-1, c - 1), st.integers(0, c - 1)),
                          min_size=1, max_size=12), min_size=1, max_size=3),
    )
))  # fmt: skip
def test_counts_and_averages_by_hand(case):
    c, batches = case
    cms = {avg: ConfusionMatrix(c, average=avg) for avg in (None, "samples", "recall", "precision")}
    for batch in batches:
        y = torch.tensor([t for t, _ in batch])  # -1: outside [0, c), ignored
        output = (scores_for([p for _, p in batch], c), y)
        for cm in cms.values():
            cm.update(output)
    want = by_hand([pair for batch in batches for pair in batch], c)
    assert torch.equal(cms[None].compute(), want)
    n = sum(len(b) for b in batches)  # examples, ignored targets included
    assert torch.allclose(cms["samples"].compute(), want.float() / n)
    rows, cols = want.sum(dim=1, keepdim=True).float(), want.sum(dim=0).float()
    assert torch.allclose(cms["recall"].compute(), want / rows.clamp(min=1))
    assert torch.allclose(cms["precision"].compute(), want / cols.clamp(min=1))


def test_segmentation_shapes():
    g = torch.Generator().manual_seed(0)
    y_pred, y = torch.rand(2, 3, 4, 5, generator=g), torch.randint(0, 3, (2, 4, 5), generator=g)
    cm = ConfusionMatrix(3)
    cm.update((y_pred, y))
    pairs = zip(y.flatten().tolist(), y_pred.argmax(1).flatten().tolist(), strict=True)
    assert torch.equal(cm.compute(), by_hand(pairs, 3))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"num_classes": 3, "average": "macro"}, "Argument average can None or one of"),
        ({"num_classes": 1}, r"Argument num_classes needs to be > 1"),
    ],
)
def test_argument_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ConfusionMatrix(**kwargs)


@pytest.mark.parametrize(
    ("output", "message"),
    [
        ((torch.rand(4), torch.zeros(4)), r"y_pred must have shape \(batch_size, num_classes"),
        ((torch.rand(4, 2), torch.zeros(4)), "y_pred does not have correct number of classes: 2"),
        ((torch.rand(4, 3), torch.zeros(4, 1)), r"and y must have shape of \(batch_size, ...\)"),
        ((torch.rand(4, 3, 2), torch.zeros(4, 3)), "y and y_pred must have compatible shapes."),
    ],
)
def test_input_errors(output, message):
    with pytest.raises(ValueError, match=message):
        ConfusionMatrix(3).update(output)


def test_not_computable_and_normalize():
    with pytest.raises(NotComputableError, match="Confusion matrix must have at least one"):
        ConfusionMatrix(2).compute()
    with pytest.raises(ValueError, match="Argument average should be one of"):
        ConfusionMatrix.normalize(torch.eye(2), "samples")


@pytest.mark.parametrize("average", [None, "samples", "recall", "precision"])
def test_oracle(average):
    ignite = pytest.importorskip("ignite.metrics")
    g = torch.Generator().manual_seed(1)
    ours, theirs = ConfusionMatrix(4, average), ignite.ConfusionMatrix(4, average)
    for _ in range(3):
        output = (torch.rand(6, 4, 3, generator=g), torch.randint(-1, 5, (6, 3), generator=g))
        ours.update(output)
        theirs.update(output)
    assert torch.equal(ours.compute(), theirs.compute())


def test_empty_batch_changes_nothing():
    cm = ConfusionMatrix(num_classes=3)
    cm.update((torch.zeros(0, 3), torch.zeros(0, dtype=torch.long)))
    with pytest.raises(NotComputableError):
        cm.compute()
    cm.update((torch.eye(3), torch.tensor([0, 2, 2])))
    assert cm.compute().tolist() == [[1, 0, 0], [0, 0, 0], [0, 1, 1]]
