"""ConfusionMatrix and the scores made from it (IoU, Dice, cmAccuracy, ...): by hand
(hypothesis) and against Ignite."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from miniengine.engine import Engine
from miniengine.metrics import ConfusionMatrix, NotComputableError
from miniengine.metrics.confusion_matrix import (
    DiceCoefficient,
    IoU,
    JaccardIndex,
    cmAccuracy,
    cmPrecision,
    cmRecall,
    mIoU,
)


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


# true class (rows) x predicted class (columns); class 2 is never right, class 3 never occurs
MATRIX = [[3, 1, 0, 0], [2, 4, 0, 0], [1, 1, 0, 0], [0, 0, 0, 0]]


def matrix_pairs():
    """The (true, predicted) pairs counted in MATRIX (12 examples)."""
    return [(t, p) for t, row in enumerate(MATRIX) for p, n in enumerate(row) for _ in range(n)]


def matrix_output():
    pairs = matrix_pairs()
    return scores_for([p for _, p in pairs], 4), torch.tensor([t for t, _ in pairs])


def per_class_by_hand():
    """IoU, Dice, precision and recall of each class of MATRIX, written out (0 when empty)."""
    return {
        "iou": [3 / (4 + 6 - 3), 4 / (6 + 6 - 4), 0.0, 0.0],
        "dice": [2 * 3 / (4 + 6), 2 * 4 / (6 + 6), 0.0, 0.0],
        "precision": [3 / 6, 4 / 6, 0.0, 0.0],
        "recall": [3 / 4, 4 / 6, 0.0, 0.0],
    }


def close(value, expected):
    return torch.allclose(value, torch.tensor(expected, dtype=torch.float64), atol=1e-12)


@pytest.mark.parametrize("average", [None, "samples"])
def test_scores_by_hand(average):
    cm, want = ConfusionMatrix(4, average=average), per_class_by_hand()
    # made before the update: making a lambda resets the metrics it uses (as in Ignite)
    got = {
        "iou": IoU(cm),
        "jaccard": JaccardIndex(cm),
        "iou_without_1": IoU(cm, ignore_index=1),
        "miou": mIoU(cm),
        "miou_without_0": mIoU(cm, ignore_index=0),
        "dice": DiceCoefficient(cm),
        "dice_without_3": DiceCoefficient(cm, ignore_index=3),
        "accuracy": cmAccuracy(cm),
        "precision": cmPrecision(cm, average=False),
        "mean_precision": cmPrecision(cm),
        "recall": cmRecall(cm, average=False),
        "mean_recall": cmRecall(cm),
    }
    cm.update(matrix_output())
    got = {name: score.compute() for name, score in got.items()}
    assert all(value.dtype == torch.float64 for value in got.values())
    assert close(got["iou"], want["iou"]) and close(got["jaccard"], want["iou"])
    assert close(got["iou_without_1"], [want["iou"][i] for i in (0, 2, 3)])
    assert close(got["miou"], sum(want["iou"]) / 4)
    assert close(got["miou_without_0"], sum(want["iou"][1:]) / 3)
    assert close(got["dice"], want["dice"]) and close(got["dice_without_3"], want["dice"][:3])
    assert close(got["accuracy"], 7 / 12)
    assert close(got["precision"], want["precision"])
    assert close(got["mean_precision"], sum(want["precision"]) / 4)
    assert close(got["recall"], want["recall"])
    assert close(got["mean_recall"], sum(want["recall"]) / 4)


def test_scores_attached_and_saved():
    cm = ConfusionMatrix(4)
    miou, dice = mIoU(cm, ignore_index=3), DiceCoefficient(cm)
    engine = Engine(lambda e, batch: batch)
    miou.attach(engine, "miou")
    dice.attach(engine, "dice")
    y_pred, y = matrix_output()  # fed in two batches
    metrics = engine.run([(y_pred[:5], y[:5]), (y_pred[5:], y[5:])]).metrics
    assert cm.compute().tolist() == MATRIX
    assert metrics["miou"] == pytest.approx(sum(per_class_by_hand()["iou"][:3]) / 3, abs=1e-12)
    assert close(metrics["dice"], per_class_by_hand()["dice"])
    # the lambda's state is the matrix's (and the ignore_index): it loads into a fresh one
    copy = mIoU(ConfusionMatrix(4), ignore_index=3)
    copy.load_state_dict(miou.state_dict())
    assert copy.compute().item() == metrics["miou"]


def test_score_argument_errors():
    cm, range_error = ConfusionMatrix(10), r"ignore_index should be integer and in the range of "
    for score in (IoU, mIoU, JaccardIndex, DiceCoefficient, cmAccuracy, cmPrecision, cmRecall):
        with pytest.raises(
            TypeError, match="Argument cm should be instance of ConfusionMatrix, but"
        ):
            score(None)
    for score in (IoU, mIoU, JaccardIndex, DiceCoefficient):
        for bad in (-1, "a", 10, 11, 1.0):
            with pytest.raises(ValueError, match=range_error + rf"\[0, 10\), but given {bad}"):
                score(cm, ignore_index=bad)
    for score in (IoU, mIoU, JaccardIndex):
        with pytest.raises(
            ValueError,
            match="ConfusionMatrix should have average attribute either None or 'samples'",
        ):
            score(ConfusionMatrix(3, average="recall"))
    DiceCoefficient(ConfusionMatrix(3, average="recall"))  # Dice takes any average, as Ignite


@pytest.mark.parametrize("average", [None, "samples", "recall", "precision"])
@pytest.mark.parametrize("ignore_index", [None, 0, 2])
def test_scores_oracle(average, ignore_index):
    ignite = pytest.importorskip("ignite.metrics.confusion_matrix")
    import miniengine.metrics.confusion_matrix as mine

    def scores(module, cm):
        made = {
            "dice": module.DiceCoefficient(cm, ignore_index),
            "accuracy": module.cmAccuracy(cm),
            "precision": module.cmPrecision(cm, average=False),
            "mean_precision": module.cmPrecision(cm),
            "recall": module.cmRecall(cm, average=False),
            "mean_recall": module.cmRecall(cm),
        }
        if average in (None, "samples"):
            made.update(
                iou=module.IoU(cm, ignore_index),
                miou=module.mIoU(cm, ignore_index),
                jaccard=module.JaccardIndex(cm, ignore_index),
            )
        return made

    g = torch.Generator().manual_seed(2)
    ours_cm, their_cm = ConfusionMatrix(3, average), ignite.ConfusionMatrix(3, average)
    ours, theirs = scores(mine, ours_cm), scores(ignite, their_cm)
    for _ in range(3):  # uneven classes; class 2 rare, so some scores hit the 1e-15 guard
        y_pred = torch.rand(7, 3, generator=g) * torch.tensor([1.0, 1.0, 0.2])
        y = torch.randint(0, 2, (7,), generator=g)
        ours_cm.update((y_pred, y))
        their_cm.update((y_pred, y))
    for name, theirs_lambda in theirs.items():
        got, want = ours[name].compute(), theirs_lambda.compute()
        assert got.dtype == want.dtype and torch.equal(got, want), name
