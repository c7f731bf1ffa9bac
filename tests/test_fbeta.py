"""Fbeta: formula by hand, shared precision/recall, attach rules, errors, Ignite as oracle."""

from __future__ import annotations

import pytest
import torch

from miniengine.engine import Engine, Events
from miniengine.metrics import Fbeta, Precision, Recall


def batches(seed=0, n=3, c=4):
    g = torch.Generator().manual_seed(seed)
    return [(torch.rand(10, c, generator=g), torch.randint(0, c, (10,), generator=g))
            for _ in range(n)]  # fmt: skip


def f_by_hand(data, c, beta):
    """Per-class F-beta from TP, FP and FN counts (0 where precision and recall are both 0)."""
    pred = torch.cat([p.argmax(1) for p, _ in data])
    true = torch.cat([y for _, y in data])
    scores = []
    for k in range(c):
        tp = int(((pred == k) & (true == k)).sum())
        fp = int(((pred == k) & (true != k)).sum())
        fn = int(((pred != k) & (true == k)).sum())
        p = tp / (tp + fp) if tp + fp else 0.0
        r = tp / (tp + fn) if tp + fn else 0.0
        scores.append((1 + beta**2) * p * r / (beta**2 * p + r) if p + r else 0.0)
    return scores


@pytest.mark.parametrize("beta", [0.5, 1.0, 2.0])
def test_by_hand(beta):
    data = batches()
    per_class, mean = Fbeta(beta, average=False), Fbeta(beta)
    for b in data:
        per_class.update(b)
        mean.update(b)
    want = f_by_hand(data, 4, beta)
    assert per_class.compute().tolist() == pytest.approx(want, abs=1e-12)
    assert mean.compute() == pytest.approx(sum(want) / 4, abs=1e-12)


def test_attached_with_a_shared_precision_updated_once():
    data = batches(1)
    engine = Engine(lambda e, b: b)
    precision = Precision(average=False)
    precision.attach(engine, "precision")
    f1 = Fbeta(1.0, precision=precision)
    f1.attach(engine, "f1")
    assert f1.is_attached(engine)
    metrics = engine.run(data, max_epochs=2).metrics
    assert metrics["f1"] == pytest.approx(sum(f_by_hand(data, 4, 1.0)) / 4, abs=1e-12)
    alone = Precision(average=False)
    for b in data:
        alone.update(b)
    assert torch.equal(metrics["precision"], alone.compute())
    f1.detach(engine)
    assert not f1.is_attached(engine)
    assert engine.has_event_handler(precision.completed, Events.EPOCH_COMPLETED)


def test_update_and_attach_do_not_mix():
    engine = Engine(lambda e, b: b)
    f = Fbeta(1.0)
    f.update(batches()[0])
    with pytest.raises(ValueError, match="underlying metrics are already updated, can't attach"):
        f.attach(engine, "f")
    f = Fbeta(1.0)
    f.attach(engine, "f")
    with pytest.raises(ValueError, match="already attached to an engine"):
        f.update(batches()[0])


def test_output_transform_reaches_the_parts():
    data = [{"out": b} for b in batches(2)]
    engine = Engine(lambda e, b: b)
    Fbeta(2.0, average=False, output_transform=lambda o: o["out"]).attach(engine, "f2")
    got = engine.run(data).metrics["f2"]
    want = f_by_hand([d["out"] for d in data], 4, 2.0)
    assert got.tolist() == pytest.approx(want, abs=1e-12)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"beta": 0.0}, "Beta should be a positive integer, but given 0.0"),
        ({"precision": "P", "output_transform": abs}, "If precision argument is provided, output"),
        ({"precision": "P", "device": "cpu"}, "If precision argument is provided, device should"),
        ({"recall": "R", "output_transform": abs}, "If recall argument is provided, output_trans"),
        ({"recall": "R", "device": "cpu"}, "If recall argument is provided, device should be"),
        ({"precision": "Pm"}, "Input precision metric should have average=False"),
        ({"recall": "Rm"}, "Input recall metric should have average=False"),
    ],
)
def test_argument_errors(kwargs, message):
    parts = {
        "P": Precision(),
        "R": Recall(),
        "Pm": Precision(average=True),
        "Rm": Recall(average="macro"),
    }
    for name in ("precision", "recall"):
        if name in kwargs:
            kwargs[name] = parts[kwargs[name]]
    kwargs.setdefault("beta", 1.0)
    with pytest.raises(ValueError, match=message):
        Fbeta(**kwargs)


@pytest.mark.parametrize("average", [True, False])
def test_oracle(average):
    ignite_engine = pytest.importorskip("ignite.engine")
    ignite_metrics = pytest.importorskip("ignite.metrics")
    data = batches(5, n=4, c=3)
    engine = Engine(lambda e, b: b)
    Fbeta(0.7, average=average).attach(engine, "f")
    theirs_engine = ignite_engine.Engine(lambda e, b: b)
    ignite_metrics.Fbeta(0.7, average=average).attach(theirs_engine, "f")
    ours = engine.run(data).metrics["f"]
    theirs = theirs_engine.run(data).metrics["f"]
    assert torch.equal(ours, theirs) if isinstance(ours, torch.Tensor) else ours == theirs
