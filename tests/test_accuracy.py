"""Accuracy: binary, multiclass and multilabel, by hand and against Ignite; input checks."""

from __future__ import annotations

import pytest
import torch
from _classification import empty_batches_test

from miniengine.engine import Engine
from miniengine.metrics import Accuracy, NotComputableError

G = torch.Generator().manual_seed(0)


def binary(n=10, extra=()):
    return torch.randint(0, 2, (n, *extra), generator=G), torch.randint(
        0, 2, (n, *extra), generator=G
    )


def multiclass(n=10, c=4, extra=()):
    return torch.rand(n, c, *extra, generator=G), torch.randint(0, c, (n, *extra), generator=G)


def multilabel(n=10, c=3, extra=()):
    return binary(n, (c, *extra))


def run(metric, batches):
    for b in batches:
        metric.update(b)
    return metric.compute()


@pytest.mark.parametrize("extra", [(), (5,), (2, 3)])
def test_binary_by_hand(extra):
    batches = [binary(8, extra) for _ in range(3)]
    correct = sum(int((p == y).sum()) for p, y in batches)
    assert run(Accuracy(), batches) == correct / sum(y.numel() for _, y in batches)


@pytest.mark.parametrize("extra", [(), (5,)])
def test_multiclass_by_hand(extra):
    batches = [multiclass(8, 4, extra) for _ in range(3)]
    correct = sum(int((p.argmax(1) == y).sum()) for p, y in batches)
    assert run(Accuracy(), batches) == correct / sum(y.numel() for _, y in batches)


def test_binary_scores_of_shape_n_1_and_multilabel_by_hand():
    y = torch.tensor([0, 1, 1, 0])
    assert run(Accuracy(), [(torch.tensor([[0], [1], [0], [0]]), y)]) == 3 / 4
    batches = [multilabel(6, 3, (2,)) for _ in range(3)]
    # an example (and each extra position) is correct only when all its labels are
    correct = sum(int((p == y).all(dim=1).sum()) for p, y in batches)
    assert run(Accuracy(is_multilabel=True), batches) == correct / (3 * 6 * 2)


def test_attached_epoch_wise():
    batches = [multiclass(5) for _ in range(4)]
    engine = Engine(lambda e, b: b)
    Accuracy().attach(engine, "acc")
    want = sum(int((p.argmax(1) == y).sum()) for p, y in batches) / 20
    assert engine.run(batches).metrics["acc"] == want


@pytest.mark.parametrize(
    ("output", "kwargs", "error", "message"),
    [
        ((torch.rand(4, 3, 2, 1), torch.zeros(4)), {}, ValueError, "y must have shape of"),
        ((torch.rand(4, 3), torch.zeros(5)), {}, ValueError, "must have compatible shapes"),
        ((torch.ones(4, 1), torch.ones(4, 1)), {"is_multilabel": True}, ValueError,
         r"same shape of \(batch_size, num_categories, ...\) and num_categories > 1"),
        ((torch.tensor([0, 1]), torch.tensor([0, 2])), {}, ValueError,
         "For binary cases, y must be comprised of 0's and 1's."),
        ((torch.tensor([0, 3]), torch.tensor([0, 1])), {}, ValueError,
         "For binary cases, y_pred must be comprised of 0's and 1's."),
    ],
)  # fmt: skip
def test_input_errors(output, kwargs, error, message):
    with pytest.raises(error, match=message):
        Accuracy(**kwargs).update(output)


def test_type_and_class_changes_and_not_computable():
    acc = Accuracy()
    acc.update(binary())
    with pytest.raises(RuntimeError, match="Input data type has changed from binary to multiclass"):
        acc.update(multiclass())
    acc = Accuracy(is_multilabel=True)
    acc.update(multilabel(c=3))
    with pytest.raises(ValueError, match="number of classes has changed from 3 to 4"):
        acc.update(multilabel(c=4))
    with pytest.raises(NotComputableError, match="Accuracy must have at least one example"):
        Accuracy().compute()


@pytest.mark.parametrize(
    ("make", "multilabel_flag"),
    [(binary, False), (multiclass, False), (multilabel, True)],
)
def test_oracle(make, multilabel_flag):
    ignite = pytest.importorskip("ignite.metrics")
    batches = [make(7, extra=(3,)) for _ in range(4)]
    ours = run(Accuracy(is_multilabel=multilabel_flag), batches)
    assert ours == run(ignite.Accuracy(is_multilabel=multilabel_flag), batches)


# An empty batch (the last one of a filtered set, a rank with no data) adds no examples.
test_empty_batches_are_skipped = empty_batches_test(Accuracy)


def test_get_sequence_transform_flattens_and_drops_ignored_positions():
    y_pred = torch.rand(2, 3, 4, generator=G)  # N=2 sequences of S=3 positions, C=4 classes
    y = torch.tensor([[1, 0, -1], [2, -1, 3]])
    for ignore, kept in ((-1, [0, 1, 3, 5]), ([-1, 0], [0, 3, 5]), (None, range(6))):
        flat_pred, flat_y = Accuracy.get_sequence_transform(ignore_index=ignore)((y_pred, y))
        assert torch.equal(flat_pred, y_pred.reshape(6, 4)[list(kept)])
        assert torch.equal(flat_y, y.reshape(6)[list(kept)])
    transform = Accuracy.get_sequence_transform(-1, output_transform=lambda out: out["pair"])
    acc = Accuracy(output_transform=transform)
    engine = Engine(lambda e, b: {"pair": b})
    acc.attach(engine, "acc")
    kept_pred = y_pred.reshape(6, 4)[[0, 1, 3, 5]].argmax(1)
    want = (kept_pred == torch.tensor([1, 0, 2, 3])).float().mean().item()
    assert engine.run([(y_pred, y)]).metrics["acc"] == pytest.approx(want)
    with pytest.raises(ValueError, match=r"Expected y_pred to be 3D \(N, S, C\) and y to be 2D"):
        transform({"pair": (y_pred[0], y)})
    with pytest.raises(ValueError, match="y_pred and y have incompatible shapes"):
        transform({"pair": (y_pred, y[:, :2])})


def test_oracle_get_sequence_transform():
    im = pytest.importorskip("ignite.metrics")
    y_pred = torch.rand(3, 5, 4, generator=G)
    y = torch.randint(-1, 4, (3, 5), generator=G)
    for ignore in (None, -1, (-1, 2)):
        mine = Accuracy.get_sequence_transform(ignore)((y_pred, y))
        theirs = im.Accuracy.get_sequence_transform(ignore)((y_pred, y))
        assert all(torch.equal(a, b) for a, b in zip(mine, theirs, strict=True))
