"""MatthewsCorrCoef (scikit-learn, installed by the user): by hand from the confusion matrix,
against scikit-learn and Ignite; label, score and one-hot inputs; errors; sklearn missing."""

from __future__ import annotations

import importlib.util
import math
import sys

import pytest
import torch

from miniengine.engine import Engine
from miniengine.exceptions import NotComputableError
from miniengine.metrics import MatthewsCorrCoef
from miniengine.metrics.matthews_corrcoef import matthews_corrcoef_compute_fn

# scikit-learn is not a dependency: without it, only what needs none of it runs here
needs_sklearn = pytest.mark.skipif(
    importlib.util.find_spec("sklearn") is None, reason="scikit-learn is not installed"
)
G = torch.Generator().manual_seed(0)


def by_hand(y_pred, y):
    """Gorodkin's multiclass MCC from the confusion counts; 0 where a denominator is 0."""
    pairs = list(zip(y.tolist(), y_pred.tolist(), strict=True))
    classes = sorted({c for pair in pairs for c in pair})
    n = len(pairs)
    correct = sum(t == p for t, p in pairs)
    true_counts = [sum(t == c for t, _ in pairs) for c in classes]
    pred_counts = [sum(p == c for _, p in pairs) for c in classes]
    cov_tp = correct * n - sum(t * p for t, p in zip(true_counts, pred_counts, strict=True))
    cov_tt = n * n - sum(t * t for t in true_counts)
    cov_pp = n * n - sum(p * p for p in pred_counts)
    return 0.0 if cov_tt * cov_pp == 0 else cov_tp / math.sqrt(cov_tt * cov_pp)


def run(metric, batches):
    engine = Engine(lambda e, b: b)
    metric.attach(engine, "mcc")
    return engine.run(batches).metrics["mcc"]


def labels(n, classes, shape_tail=()):
    return torch.randint(0, classes, (n, *shape_tail), generator=G)


@needs_sklearn
def test_binary_by_hand_from_the_four_counts():
    y_pred, y = torch.tensor([1, 1, 1, 0, 0, 1]), torch.tensor([1, 0, 1, 1, 0, 1])
    tp, tn, fp, fn = 3, 1, 1, 1
    want = (tp * tn - fp * fn) / math.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    assert run(MatthewsCorrCoef(), [(y_pred[:4], y[:4]), (y_pred[4:], y[4:])]) == pytest.approx(
        want
    )
    assert run(MatthewsCorrCoef(), [(y, y)]) == 1.0
    assert run(MatthewsCorrCoef(), [(1 - y, y)]) == -1.0


@needs_sklearn
@pytest.mark.parametrize(
    "name, make",
    [
        ("binary (N,)", lambda: (labels(20, 2), labels(20, 2))),
        ("binary (N, 1)", lambda: (labels(20, 2, (1,)), labels(20, 2, (1,)))),
        ("5 classes (N,)", lambda: (labels(30, 5), labels(30, 5))),
        ("scores (N, C), labels (N,)", lambda: (torch.rand(30, 4, generator=G), labels(30, 4))),
        ("scores, one-hot", lambda: (torch.rand(30, 3, generator=G), torch.eye(3)[labels(30, 3)])),
    ],
)
def test_by_hand_sklearn_and_oracle(name, make):
    y_pred, y = make()
    batches = [(y_pred[:7], y[:7]), (y_pred[7:8], y[7:8]), (y_pred[8:], y[8:])]
    got = run(MatthewsCorrCoef(), batches)
    assert isinstance(got, float)
    p = y_pred.argmax(1) if y_pred.ndim == 2 and y_pred.shape[1] > 1 else y_pred.flatten()
    t = y.argmax(1) if y.ndim == 2 and y.shape[1] > 1 else y.flatten()
    assert got == pytest.approx(by_hand(p, t), abs=1e-12)
    skm = pytest.importorskip("sklearn.metrics")
    assert got == skm.matthews_corrcoef(t.numpy(), p.numpy())
    im = pytest.importorskip("ignite.metrics")
    theirs = im.MatthewsCorrCoef()
    for batch in batches:
        theirs.update(batch)
    assert got == theirs.compute()


def test_the_compute_fn_refuses_labels_with_one_hot_targets():
    with pytest.raises(ValueError, match="y_pred is 1D while y_target is 2D"):
        matthews_corrcoef_compute_fn(torch.tensor([0, 1]), torch.eye(2))


@needs_sklearn
def test_errors():
    mcc = MatthewsCorrCoef()
    with pytest.raises(NotComputableError, match="MatthewsCorrCoef must have at least one example"):
        mcc.compute()
    mcc.update((torch.rand(4, 3, generator=G), labels(4, 2, (3,))))
    with pytest.raises(ValueError, match="Incoherent types between input y_pred and stored pred"):
        mcc.update((labels(4, 2, (3,)), labels(4, 2, (3,))))
    with pytest.raises(ValueError, match="Incoherent types between input y and stored targets"):
        mcc.update((torch.rand(4, 3, generator=G), labels(4, 2, (3,)).int()))
    with pytest.raises(
        ValueError, match=r"Predictions should be of shape \(batch_size, n_targets\)"
    ):
        mcc.update((torch.rand(4, 3, 1), labels(4, 2, (3,))))
    one_hot_targets = MatthewsCorrCoef()
    one_hot_targets.update((labels(4, 2), torch.eye(2)[labels(4, 2)]))
    with pytest.raises(ValueError, match="y_pred is 1D while y_target is 2D"):
        one_hot_targets.compute()


def test_without_sklearn_construction_fails_with_ignites_message(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn.metrics", None)  # import now raises ImportError
    with pytest.raises(ModuleNotFoundError, match="This metric module requires scikit-learn"):
        MatthewsCorrCoef()
