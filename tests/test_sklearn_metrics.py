"""ROC_AUC, RocCurve, AveragePrecision, PrecisionRecallCurve (scikit-learn, installed by the
user) and CohenKappa (torch): against scikit-learn and Ignite; errors; old contrib paths."""

from __future__ import annotations

import importlib
import importlib.util
import sys

import pytest
import torch

from miniengine.exceptions import NotComputableError
from miniengine.metrics import (
    ROC_AUC,
    AveragePrecision,
    CohenKappa,
    PrecisionRecallCurve,
    RocCurve,
)

# scikit-learn is not a dependency: without it, only what needs none of it runs here
needs_sklearn = pytest.mark.skipif(
    importlib.util.find_spec("sklearn") is None, reason="scikit-learn is not installed"
)


@pytest.fixture
def skm():
    return pytest.importorskip("sklearn.metrics")


SCORES = {"ROC_AUC": ROC_AUC, "AveragePrecision": AveragePrecision}
CURVES = {"RocCurve": RocCurve, "PrecisionRecallCurve": PrecisionRecallCurve}


def batches(seed=0, sizes=(6, 1, 9), labels=2, column=False):
    g = torch.Generator().manual_seed(seed)
    out = []
    for n in sizes:
        y_pred, y = torch.rand(n, generator=g), torch.randint(0, labels, (n,), generator=g)
        out.append((y_pred[:, None], y[:, None]) if column else (y_pred, y))
    return out


def run(metric, data):
    for batch in data:
        metric.update(batch)
    return metric.compute()


def _all(data):
    return (torch.cat([p for p, _ in data]).numpy(), torch.cat([y for _, y in data]).numpy())


def test_scores_are_sklearns(skm):
    data = batches(1)
    p, y = _all(data)
    assert run(ROC_AUC(), data) == skm.roc_auc_score(y, p)
    assert run(AveragePrecision(), data) == skm.average_precision_score(y, p)
    multi = [(torch.rand(5, 3), torch.randint(0, 2, (5, 3))) for _ in range(3)]
    p, y = _all(multi)
    assert run(ROC_AUC(), multi) == pytest.approx(skm.roc_auc_score(y, p))


def test_curves_are_sklearns_as_float64_tensors(skm):
    data = batches(2, column=True)
    p, y = _all(data)
    for metric, fn in (
        (RocCurve(), skm.roc_curve),
        (PrecisionRecallCurve(), skm.precision_recall_curve),
    ):
        ours = run(metric, data)
        for got, want in zip(ours, fn(y.ravel(), p.ravel()), strict=True):
            assert got.dtype == torch.float64
            assert got.tolist() == pytest.approx(want.tolist())


@needs_sklearn
@pytest.mark.parametrize("name", [*SCORES, *CURVES])
def test_oracle(name):
    im = pytest.importorskip("ignite.metrics")
    for seed in range(3):
        data = batches(seed, column=bool(seed % 2))
        ours, theirs = run({**SCORES, **CURVES}[name](), data), run(getattr(im, name)(), data)
        if name in CURVES:
            for a, b in zip(ours, theirs, strict=True):
                assert torch.equal(a, b)
        else:
            assert ours == theirs


@pytest.mark.parametrize("weights", [None, "linear", "quadratic"])
@pytest.mark.parametrize("num_classes", [None, 4])
def test_cohen_kappa_by_sklearn(skm, weights, num_classes):
    data = [(torch.randint(0, 4, (n,)), torch.randint(0, 4, (n, 1))) for n in (5, 8, 3)]
    ours = run(CohenKappa(weights=weights, num_classes=num_classes), data)
    p, y = _all(data)
    assert ours == pytest.approx(skm.cohen_kappa_score(y.ravel(), p, weights=weights))


@pytest.mark.parametrize("weights", [None, "linear", "quadratic"])
@pytest.mark.parametrize("num_classes", [None, 4])
def test_cohen_kappa_oracle(weights, num_classes):
    im = pytest.importorskip("ignite.metrics")
    data = [(torch.randint(0, 4, (n,)), torch.randint(0, 4, (n, 1))) for n in (5, 8, 3)]
    ours = run(CohenKappa(weights=weights, num_classes=num_classes), data)
    assert ours == run(im.CohenKappa(weights=weights, num_classes=num_classes), data)


def test_cohen_kappa_errors():
    with pytest.raises(ValueError, match="Kappa Weighting type must be None or linear or quadra"):
        CohenKappa(weights="cubic")
    for kappa in (CohenKappa(), CohenKappa(num_classes=3)):
        with pytest.raises(ValueError, match="multilabel-indicator is not supported"):
            kappa.update((torch.ones(4, 2, dtype=torch.long), torch.ones(4, 2, dtype=torch.long)))
            kappa.compute()
    with pytest.raises(NotComputableError, match="_CohenKappaEpochMetric must have at least one"):
        CohenKappa().compute()
    with pytest.raises(NotComputableError):
        CohenKappa(num_classes=3).compute()


@pytest.mark.parametrize("num_classes", [None, 3])
def test_cohen_kappa_state_dict_round_trip(num_classes):
    data = [(torch.tensor([0, 1, 2, 1]), torch.tensor([0, 1, 1, 1]))] * 2
    kappa, fresh = CohenKappa(num_classes=num_classes), CohenKappa(num_classes=num_classes)
    kappa.update(data[0])
    fresh.load_state_dict(kappa.state_dict())
    assert run(fresh, data[1:]) == run(kappa, data[1:])


@needs_sklearn
@pytest.mark.parametrize("cls", [*SCORES.values(), *CURVES.values()])
def test_compute_before_update(cls):
    with pytest.raises(NotComputableError, match=f"{cls.__name__} must have at least one"):
        cls().compute()


@needs_sklearn
@pytest.mark.parametrize("cls", [*SCORES.values(), *CURVES.values()])
def test_state_dict_round_trip(cls):
    data = batches(4)
    m, fresh = cls(), cls()
    run(m, data[:2])
    fresh.load_state_dict(m.state_dict())
    assert str(run(fresh, data[2:])) == str(run(m, data[2:]))


@pytest.mark.parametrize(
    "cls, message",
    [
        (ROC_AUC, "This contrib module requires scikit-learn to be installed."),
        (RocCurve, "This contrib module requires scikit-learn to be installed."),
        (AveragePrecision, "This contrib module requires scikit-learn to be installed."),
        (PrecisionRecallCurve, "This module requires scikit-learn to be installed."),
    ],
)
def test_without_sklearn_the_error_is_ignites(cls, message, monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)  # makes `import sklearn...` fail
    monkeypatch.setitem(sys.modules, "sklearn.metrics", None)
    with pytest.raises(ModuleNotFoundError, match=message):
        cls()
    CohenKappa()  # no scikit-learn needed, as in Ignite 0.5.5


OLD = {
    "average_precision": ["AveragePrecision"],
    "cohen_kappa": ["CohenKappa"],
    "precision_recall_curve": ["PrecisionRecallCurve", "precision_recall_curve_compute_fn"],
    "roc_auc": ["ROC_AUC", "RocCurve"],
}


@pytest.mark.parametrize("module, names", OLD.items())
def test_old_contrib_paths_warn_and_serve_the_same_objects(module, names):
    old = f"miniengine.contrib.metrics.{module}"
    sys.modules.pop(old, None)  # the warning comes with the first import only
    with pytest.warns(DeprecationWarning, match="will be removed in version 0.6.0"):
        imported = importlib.import_module(old)
    new = importlib.import_module(f"miniengine.metrics.{module}")
    for name in names:
        assert getattr(imported, name) is getattr(new, name)
    import miniengine.contrib.metrics as contrib_metrics

    assert getattr(contrib_metrics, names[0]) is getattr(new, names[0])
