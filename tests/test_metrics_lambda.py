"""MetricsLambda and metric arithmetic: values by hand and against Ignite, attach semantics."""

from __future__ import annotations

import operator

import pytest
import torch

import miniengine.metrics
from miniengine.engine import Engine, Events
from miniengine.metrics import (
    Accuracy,
    ConfusionMatrix,
    Fbeta,
    Metric,
    MetricsLambda,
    Precision,
    Recall,
)

G = torch.Generator().manual_seed(0)
DATA = [(torch.rand(12, 4, generator=G), torch.randint(0, 4, (12,), generator=G)) for _ in range(3)]


class Sum(Metric):
    """Sums its outputs: shows how often ``update`` runs."""

    required_output_keys = None

    def reset(self):
        self.total = 0

    def update(self, output):
        self.total += output

    def compute(self):
        return self.total


def per_class_by_hand(data, c=4):
    """Per-class precision and recall from the counts."""
    pred = torch.cat([p.argmax(1) for p, _ in data])
    true = torch.cat([y for _, y in data])
    tp = torch.tensor([((pred == k) & (true == k)).sum().item() for k in range(c)], dtype=float)
    predicted = torch.tensor([(pred == k).sum().item() for k in range(c)], dtype=float)
    actual = torch.tensor([(true == k).sum().item() for k in range(c)], dtype=float)
    return tp / predicted.clamp(min=1), tp / actual.clamp(min=1)


def test_f1_by_hand_through_operators_and_a_function():
    precision, recall = Precision(average=False), Recall(average=False)
    f1 = precision * recall * 2 / (precision + recall + 1e-20)
    mean_f1 = MetricsLambda(lambda t: torch.mean(t).item(), f1)
    engine = Engine(lambda e, b: b)
    mean_f1.attach(engine, "f1")
    p, r = per_class_by_hand(DATA)
    want = (2 * p * r / (p + r + 1e-20)).mean().item()
    assert engine.run(DATA).metrics == {"f1": pytest.approx(want, abs=1e-12)}


@pytest.mark.parametrize(
    "build",
    [
        lambda p, r: p + r,
        lambda p, r: 1 + p,
        lambda p, r: p - r,
        lambda p, r: 1 - p,
        lambda p, r: p * 3,
        lambda p, r: 3 * r,
        lambda p, r: p**2,
        lambda p, r: 2**p,
        lambda p, r: p % 0.3,
        lambda p, r: p / (r + 1),
        lambda p, r: p // 0.3,
        lambda p, r: p[1],
        lambda p, r: p.mean(),
        lambda p, r: p.sum().item(),
        lambda p, r: p.max(dim=0)[0],
        lambda p, r: (p * r).mean().item(),
    ],
)
def test_oracle_operators_and_methods(build):
    im = pytest.importorskip("ignite.metrics")
    mine = build(Precision(average=False), Recall(average=False))
    theirs = build(im.Precision(average=False), im.Recall(average=False))
    assert isinstance(mine, MetricsLambda)
    for batch in DATA:
        mine.update(batch)
        theirs.update(batch)
    a, b = mine.compute(), theirs.compute()
    assert type(a) is type(b)
    assert torch.equal(a, b) if isinstance(a, torch.Tensor) else a == b


@pytest.mark.parametrize(
    ("build", "op"),
    [
        (lambda a: 3 / a, lambda x: 3 / x),  # Ignite 0.5.5 gives NotImplemented here
        (lambda a: 5 % a, lambda x: 5 % x),
        (lambda a: 5 // a, lambda x: 5 // x),
        (lambda a: -a, operator.neg),
        (lambda a: +a, operator.pos),
        (lambda a: abs(a - 1), lambda x: abs(x - 1)),
    ],
)
def test_reflected_and_unary_operators_beyond_ignite(build, op):
    acc = Accuracy()
    metric = build(acc)
    metric.update((torch.tensor([1, 0, 1, 1]), torch.tensor([1, 0, 0, 1])))
    assert metric.compute() == op(0.75)


def test_kwargs_and_constants_reach_the_function():
    p = Precision(average=False)
    m = MetricsLambda(lambda x, k, scale=1.0: x[k] * scale, p, 2, scale=Recall(average=False))
    for batch in DATA:
        m.update(batch)
    prec, rec = per_class_by_hand(DATA)
    assert torch.allclose(m.compute(), prec[2] * rec, atol=1e-12)


def test_wrong_method_names_the_value_type_and_where_it_was_written():
    m = Accuracy().mean()  # a float has no .mean()
    m.update((torch.tensor([1, 0]), torch.tensor([1, 1])))
    with pytest.raises(
        AttributeError, match=r"Metric result of type '<class 'float'>' has no attr"
    ):
        m.compute()
    with pytest.raises(AttributeError, match="test_metrics_lambda.py"):
        m.compute()
    with pytest.raises(AttributeError, match="_private"):
        Accuracy()._private  # noqa: B018 - private names are never made into lambdas


def test_shared_metric_updated_and_reset_once():
    s = Sum()
    twice = s + s * 10  # s appears in two nested lambdas
    twice.update(2)
    assert s.total == 2 and twice.compute() == 22
    engine = Engine(lambda e, b: b)
    twice.reset()
    twice.attach(engine, "m")
    assert engine.run([1, 2, 3]).metrics == {"m": 66}
    assert not s.is_attached(engine)  # attached partially: not written on its own


def test_attach_update_and_is_attached_rules():
    precision, recall = Precision(average=False), Recall(average=False)
    f1 = MetricsLambda(lambda p, r: (2 * p * r / (p + r + 1e-20)).mean(), precision, recall)
    engine = Engine(lambda e, b: b)
    f1.attach(engine, "f1")
    assert f1.is_attached(engine) and not precision.is_attached(engine)
    with pytest.raises(ValueError, match="MetricsLambda is already attached to an engine"):
        f1.update(DATA[0])
    precision.detach(engine)  # a dependency gone: the lambda counts as detached too
    assert not f1.is_attached(engine)
    f1.detach(engine)
    f1.update(DATA[0])  # allowed again once detached
    with pytest.raises(ValueError, match="The underlying metrics are already updated"):
        f1.attach(Engine(lambda e, b: b), "f1")
    f1.reset()
    f1.attach(Engine(lambda e, b: b), "f1")


def test_shared_dependency_attached_with_itself_updates_once():
    engine = Engine(lambda e, b: b)
    precision = Precision(average=False)
    precision.attach(engine, "precision")
    mean = precision.mean()
    mean.attach(engine, "mean")
    metrics = engine.run(DATA).metrics
    by_hand, _ = per_class_by_hand(DATA)
    assert torch.allclose(metrics["precision"], by_hand, atol=1e-12)
    assert metrics["mean"] == pytest.approx(by_hand.mean().item(), abs=1e-12)


def test_usage_applies_to_the_dependencies():
    s = Sum()
    engine = Engine(lambda e, b: b)
    (s * 1).attach(engine, "m", usage="batch_wise")
    seen = []
    engine.add_event_handler(
        Events.ITERATION_COMPLETED, lambda e: seen.append(e.state.metrics["m"])
    )
    engine.run([1, 2, 4])
    assert seen == [1, 2, 4]


def test_confusion_matrix_indexing_gives_a_row():
    cm = ConfusionMatrix(num_classes=4)
    row = cm[0]
    for batch in DATA:
        row.update(batch)
    assert torch.equal(row.compute(), cm.compute()[0])


def test_fbeta_is_a_metrics_lambda():
    assert isinstance(Fbeta(1.0), MetricsLambda)


def test_oracle_attach_and_partial_attachment():
    ie = pytest.importorskip("ignite.engine")
    im = pytest.importorskip("ignite.metrics")

    def run(engine_cls, metrics_mod):
        engine = engine_cls(lambda e, b: b)
        precision, recall = metrics_mod.Precision(average=False), metrics_mod.Recall(average=True)
        both = precision.mean() * recall
        both.attach(engine, "both")
        recall.attach(engine, "recall")
        flags = (both.is_attached(engine), precision.is_attached(engine))
        return flags, engine.run(DATA, max_epochs=2).metrics

    assert run(Engine, miniengine.metrics) == run(ie.Engine, im)
