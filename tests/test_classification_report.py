"""ClassificationReport: per-class counts by hand, dict and JSON forms, labels, Ignite as oracle."""

from __future__ import annotations

import json

import pytest
import torch

from miniengine.engine import Engine
from miniengine.metrics import ClassificationReport, MetricsLambda


def multiclass_batches(seed=0, n_classes=3, sizes=(6, 5, 7)):
    g = torch.Generator().manual_seed(seed)
    return [(torch.rand(n, n_classes, generator=g), torch.randint(0, n_classes, (n,), generator=g))
            for n in sizes]  # fmt: skip


def multilabel_batches(seed=0, n_classes=4, sizes=(5, 3)):
    g = torch.Generator().manual_seed(seed)
    return [(torch.randint(0, 2, (n, n_classes, 2, 3), generator=g),
             torch.randint(0, 2, (n, n_classes, 2, 3), generator=g)) for n in sizes]  # fmt: skip


def by_hand(pairs, n_classes, beta=1, labels=None):
    """From (predicted classes, true classes) pairs, one per decision: count TP, FP and FN."""
    key = f"f{beta}-score"
    report = {}
    for k in range(n_classes):
        tp = sum(1 for p, t in pairs if k in p and k in t)
        fp = sum(1 for p, t in pairs if k in p and k not in t)
        fn = sum(1 for p, t in pairs if k not in p and k in t)
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        both = beta**2 * precision + recall
        f = (1 + beta**2) * precision * recall / both if both else 0.0
        report[labels[k] if labels else str(k)] = {"precision": precision, "recall": recall, key: f}
    report["macro avg"] = {
        name: sum(entry[name] for entry in report.values()) / n_classes
        for name in ("precision", "recall", key)
    }
    return report


def multiclass_pairs(batches):
    pairs = []
    for y_pred, y in batches:
        pairs += [({int(p.argmax())}, {int(t)}) for p, t in zip(y_pred, y, strict=True)]
    return pairs


def multilabel_pairs(batches):
    """Each example and each position (H, W) is one decision over the set of labels."""
    pairs = []
    for y_pred, y in batches:
        rows = [t.movedim(1, -1).reshape(-1, t.shape[1]).tolist() for t in (y_pred, y)]
        for p, t in zip(*rows, strict=True):
            pairs.append(({k for k, on in enumerate(p) if on}, {k for k, on in enumerate(t) if on}))
    return pairs


def assert_report_close(got, want):
    assert list(got) == list(want)
    for label, entry in want.items():
        assert list(got[label]) == list(entry)
        assert got[label] == pytest.approx(entry, abs=1e-12)


def run(report, batches, **run_kwargs):
    engine = Engine(lambda e, b: b)
    report.attach(engine, "cr")
    return engine.run(batches, **run_kwargs).metrics


@pytest.mark.parametrize("beta", [1, 2])
def test_multiclass_json_by_hand(beta):
    data = multiclass_batches(n_classes=4)
    report = ClassificationReport(beta=beta)
    assert isinstance(report, MetricsLambda)
    value = run(report, data, max_epochs=2)["cr"]
    assert isinstance(value, str)
    assert_report_close(json.loads(value), by_hand(multiclass_pairs(data), 4, beta))


def test_multilabel_dict_with_labels_by_hand():
    data = multilabel_batches()
    names = ["sky", "tree", "road", "car", "unused"]  # more names than classes is fine
    report = ClassificationReport(output_dict=True, is_multilabel=True, labels=names)
    value = run(report, data)["sky"]  # "both": the entries are also top-level metrics
    want = by_hand(multilabel_pairs(data), 4, labels=names)
    assert value == pytest.approx(want["sky"], abs=1e-12)
    assert_report_close(report.compute(), want)


def test_class_never_predicted_or_absent_scores_zero():
    y_pred = torch.tensor([[0.9, 0.1, 0.0], [0.8, 0.2, 0.0], [0.1, 0.9, 0.0]])  # never class 2
    y = torch.tensor([0, 2, 0])  # never class 1
    report = ClassificationReport(output_dict=True)
    report.update((y_pred, y))
    value = report.compute()
    assert value["1"] == {"precision": 0.0, "recall": 0.0, "f1-score": 0.0}
    assert value["2"] == {"precision": 0.0, "recall": 0.0, "f1-score": 0.0}
    assert value["0"]["precision"] == 0.5 and value["0"]["recall"] == 0.5
    assert_report_close(value, by_hand([({0}, {0}), ({0}, {2}), ({1}, {0})], 3))


@pytest.mark.parametrize("mode", ["flatten", "named", "both"])
def test_metrics_result_mode(mode):
    report = ClassificationReport(output_dict=True, metrics_result_mode=mode)
    metrics = run(report, multiclass_batches(1))
    assert ("cr" in metrics) == (mode != "flatten")
    assert ("macro avg" in metrics) == (mode != "named")


def test_output_transform_and_device_reach_the_parts():
    data = [{"out": b} for b in multiclass_batches(2)]
    report = ClassificationReport(
        output_dict=True, output_transform=lambda o: o["out"], device="cpu"
    )
    got = run(report, data)["cr"]
    assert_report_close(got, by_hand(multiclass_pairs([d["out"] for d in data]), 3))


@pytest.mark.parametrize("kind", ["multiclass", "multilabel"])
@pytest.mark.parametrize("output_dict", [False, True])
def test_oracle(kind, output_dict):
    cr = pytest.importorskip("ignite.metrics.classification_report")
    multilabel = kind == "multilabel"
    data = multilabel_batches(3) if multilabel else multiclass_batches(3, n_classes=4)
    args = {"output_dict": output_dict, "is_multilabel": multilabel, "beta": 2}
    ours, theirs = ClassificationReport(**args), cr.ClassificationReport(**args)
    for b in data:
        ours.update(b)
        theirs.update(b)
    got, want = ours.compute(), theirs.compute()
    if not output_dict:
        got, want = json.loads(got), json.loads(want)
    assert_report_close(got, want)


def test_state_dict_loads_both_ways():
    cr = pytest.importorskip("ignite.metrics.classification_report")
    data = multiclass_batches(4)
    ours, theirs = ClassificationReport(output_dict=True), cr.ClassificationReport(output_dict=True)
    run(ours, data[:2])
    ignite_engine = pytest.importorskip("ignite.engine").Engine(lambda e, b: b)
    theirs.attach(ignite_engine, "cr")  # attached, Ignite updates each part once per iteration
    ignite_engine.run(data[:2])
    ours_copy = ClassificationReport(output_dict=True)
    theirs_copy = cr.ClassificationReport(output_dict=True)
    ours_copy.load_state_dict(theirs.state_dict())
    theirs_copy.load_state_dict(ours.state_dict())
    first_two = by_hand(multiclass_pairs(data[:2]), 3)
    assert_report_close(ours_copy.compute(), first_two)
    assert_report_close(theirs_copy.compute(), first_two)
    # Ignite's update() (not attached) feeds precision once per appearance in the lambdas: only
    # ratios of its counts mean anything there, so only ours goes on from the loaded counts
    ours_copy.update(data[2])
    assert_report_close(ours_copy.compute(), by_hand(multiclass_pairs(data), 3))


def test_errors():
    report = ClassificationReport(labels=["a", "b"])
    report.update(multiclass_batches(5)[0])
    with pytest.raises(ValueError, match=r"Argument labels names 2 classes, but the data has 3"):
        report.compute()
    with pytest.raises(TypeError, match="Argument labels should be a list of class names or None"):
        ClassificationReport(labels="abc")
    with pytest.raises(TypeError, match="Argument output_dict should be a bool, got 'yes'"):
        ClassificationReport(output_dict="yes")
    with pytest.raises(ValueError, match="Beta should be a positive integer, but given 0"):
        ClassificationReport(beta=0)
    with pytest.raises(ValueError, match="Argument metrics_result_mode should be one of"):
        ClassificationReport(metrics_result_mode="nested")
