"""miniengine.metrics.fairness: per-group accuracy and selection rates by counting, against
Ignite, attached, state_dict (Ignite's format), errors, two ranks."""

from __future__ import annotations

import pytest
import torch

from miniengine.engine import Engine
from miniengine.exceptions import NotComputableError
from miniengine.metrics import Accuracy, fairness
from miniengine.metrics.fairness import (
    DemographicParityDifference,
    SelectionRate,
    SubgroupAccuracyDifference,
    SubgroupDifference,
    SubgroupMetric,
)

G = torch.Generator().manual_seed(0)


def predictions(kind, y_pred):
    """One row per example: its predicted labels (multilabel) or [its predicted class]."""
    if kind == "multiclass":
        return [[c] for c in y_pred.argmax(dim=1).reshape(-1).tolist()]
    if kind == "multilabel":
        return y_pred.movedim(1, -1).reshape(-1, y_pred.shape[1]).tolist()
    return [[v] for v in y_pred.reshape(-1).tolist()]


def accuracy_by_group(kind, y_pred, y, labels):
    """Per group: examples (pixels) whose prediction equals the target / their number."""
    rows = labels.tolist()
    per_example = y_pred[0].numel() // (y_pred.shape[1] if kind != "binary" else 1)
    counts: dict = {}
    targets = [[v] for v in y.reshape(-1).tolist()]
    if kind == "multilabel":
        targets = y.movedim(1, -1).reshape(-1, y.shape[1]).tolist()
    for i, (p, t) in enumerate(zip(predictions(kind, y_pred), targets, strict=True)):
        group = rows[i // per_example]
        right, total = counts.get(group, (0, 0))
        counts[group] = (right + (p == t), total + 1)
    return {g: right / total for g, (right, total) in counts.items()}


def rates_by_group(kind, y_pred, labels, num_classes):
    """Per group: how often each class (label) is predicted / the examples (pixels)."""
    rows = labels.tolist()
    per_example = y_pred[0].numel() // (y_pred.shape[1] if kind != "binary" else 1)
    counts: dict = {}
    for i, p in enumerate(predictions(kind, y_pred)):
        group = rows[i // per_example]
        picked, total = counts.get(group, ([0] * num_classes, 0))
        if kind == "multilabel":
            picked = [a + b for a, b in zip(picked, p, strict=True)]
        else:
            picked = [a + (c == int(p[0])) for c, a in enumerate(picked)]
        counts[group] = (picked, total + 1)
    return {g: [c / total for c in picked] for g, (picked, total) in counts.items()}


def gap(values):
    """max - min over groups, per class, then the largest."""
    columns = list(zip(*values, strict=True)) if isinstance(values[0], list) else [values]
    return max(max(col) - min(col) for col in columns)


def data(kind, n=12):
    """(y_pred, y, group_labels, num_classes) of a kind; groups 0, 1, 2 (and 7, not watched)."""
    labels = torch.tensor([0, 1, 2, 7] * (n // 4))
    if kind == "binary":
        return (
            torch.randint(0, 2, (n,), generator=G),
            torch.randint(0, 2, (n,), generator=G),
            labels,
            2,
        )
    if kind == "binary (N, 1)":
        y_pred = torch.randint(0, 2, (n, 1), generator=G)
        return y_pred, torch.randint(0, 2, (n,), generator=G), labels, 2
    if kind == "multiclass":
        return torch.randn(n, 4, generator=G), torch.randint(0, 4, (n,), generator=G), labels, 4
    if kind == "multilabel":
        y_pred = torch.randint(0, 2, (n, 3), generator=G)
        return y_pred, torch.randint(0, 2, (n, 3), generator=G), labels, 3
    # images: (N, C, H, W) scores, (N, H, W) targets
    return (
        torch.randn(n, 3, 2, 2, generator=G),
        torch.randint(0, 3, (n, 2, 2), generator=G),
        labels,
        3,
    )


KINDS = ["binary", "binary (N, 1)", "multiclass", "multilabel", "images"]


def _kind(name):
    return {"binary (N, 1)": "binary", "images": "multiclass"}.get(name, name)


@pytest.mark.parametrize("name", KINDS)
def test_accuracy_by_group_by_hand_and_oracle(name):
    y_pred, y, labels, _ = data(name)
    multilabel = name == "multilabel"
    expected = accuracy_by_group(_kind(name), y_pred, y, labels)
    expected.pop(7)
    per_group = SubgroupMetric(Accuracy(is_multilabel=multilabel), groups=[0, 1, 2])
    per_group.update((y_pred[:8], y[:8], labels[:8]))
    per_group.update((y_pred[8:], y[8:], labels[8:]))
    assert per_group.compute() == pytest.approx(expected)
    difference = SubgroupAccuracyDifference(groups=[0, 1, 2], is_multilabel=multilabel)
    difference.update((y_pred, y, labels))
    got = difference.compute()
    assert got == pytest.approx(gap(list(expected.values())))
    im = pytest.importorskip("ignite.metrics")
    theirs = im.fairness.SubgroupAccuracyDifference(groups=[0, 1, 2], is_multilabel=multilabel)
    theirs.update((y_pred, y, labels))
    assert got == theirs.compute()


@pytest.mark.parametrize("name", KINDS)
def test_selection_rates_by_hand_and_oracle(name):
    y_pred, y, labels, num_classes = data(name)
    multilabel = name == "multilabel"
    expected = rates_by_group(_kind(name), y_pred, labels, num_classes)
    overall = rates_by_group(_kind(name), y_pred, torch.zeros_like(labels), num_classes)[0]
    rate = SelectionRate(is_multilabel=multilabel)
    rate.update((y_pred[:5], y[:5]))
    rate.update((y_pred[5:], y[5:]))
    assert rate.compute().tolist() == pytest.approx(overall)
    expected.pop(7)
    parity = DemographicParityDifference(groups=[0, 1, 2], is_multilabel=multilabel)
    parity.update((y_pred, y, labels))
    got = parity.compute()
    assert got == pytest.approx(gap(list(expected.values())))
    im = pytest.importorskip("ignite.metrics")
    theirs_rate = im.fairness.SelectionRate(is_multilabel=multilabel)
    theirs_rate.update((y_pred, y))
    assert torch.equal(rate.compute(), theirs_rate.compute())
    theirs = im.fairness.DemographicParityDifference(groups=[0, 1, 2], is_multilabel=multilabel)
    theirs.update((y_pred, y, labels))
    assert got == theirs.compute()


def test_known_values():
    y_pred = torch.tensor([[0.9, 0.1], [0.1, 0.9], [0.8, 0.2], [0.2, 0.8]])
    y, labels = torch.tensor([0, 1, 1, 0]), torch.tensor([0, 0, 1, 1])
    accuracy = SubgroupAccuracyDifference(groups=[0, 1])
    accuracy.update((y_pred, y, labels))
    assert accuracy.compute() == 1.0  # group 0: 2 of 2 right, group 1: 0 of 2
    rate = SelectionRate()
    rate.update((y_pred, y))
    assert rate.compute().tolist() == [0.5, 0.5]
    rate = SelectionRate()
    rate.update((torch.tensor([1, 0, 1, 1]), y))  # binary: [rate of 0, rate of 1]
    assert rate.compute().tolist() == [0.25, 0.75]
    parity = DemographicParityDifference(groups=[0, 1])
    parity.update((torch.tensor([[1], [0], [1], [0]]), y, labels))
    assert parity.compute() == 0.0  # both groups select half


def test_subgroup_difference_of_any_metric_and_groups_of_any_label():
    y_pred, y = torch.tensor([1, 1, 0, 0, 1]), torch.tensor([1, 0, 0, 1, 1])
    labels = torch.tensor([5, 5, 9, 9, 9])
    difference = SubgroupDifference(Accuracy(), groups=[9, 5])
    difference.update((y_pred, y, labels))
    assert difference.compute() == pytest.approx(2 / 3 - 1 / 2)
    base = Accuracy()
    per_group = SubgroupMetric(base, groups=[5, 9, 11])  # 11 has no rows: left out
    per_group.update((y_pred, y, labels))
    assert per_group.compute() == pytest.approx({5: 0.5, 9: 2 / 3})
    with pytest.raises(NotComputableError):
        base.compute()  # the groups got copies: the given metric is untouched


def test_attached_tuple_list_and_dict_outputs_and_result_keys():
    y_pred, y, labels, _ = data("multiclass", n=8)
    expected = accuracy_by_group("multiclass", y_pred, y, labels)
    batches = [(y_pred[:4], y[:4], labels[:4]), [y_pred[4:], y[4:], labels[4:]]]
    engine = Engine(lambda e, b: b)
    SubgroupMetric(Accuracy(), groups=[0, 1]).attach(engine, "acc")
    SubgroupAccuracyDifference(groups=[0, 1, 2]).attach(engine, "gap")
    metrics = engine.run(batches).metrics
    assert metrics["acc"] == pytest.approx({g: expected[g] for g in (0, 1)})
    assert metrics[0] == pytest.approx(expected[0])  # the dict is also spread, as in Ignite
    assert metrics["gap"] == pytest.approx(gap([expected[g] for g in (0, 1, 2)]))
    engine = Engine(lambda e, b: {"y_pred": b[0], "y": b[1], "group_labels": b[2]})
    DemographicParityDifference(groups=[0, 1, 2]).attach(engine, "parity")
    rates = rates_by_group("multiclass", y_pred, labels, 4)
    assert engine.run(batches).metrics["parity"] == pytest.approx(
        gap([rates[g] for g in (0, 1, 2)])
    )
    assert fairness.SelectionRate is SelectionRate


def test_errors():
    for metric in (SubgroupAccuracyDifference([0, 1]), DemographicParityDifference([0, 1])):
        with pytest.raises(NotComputableError, match="Fairness metrics must have at least one"):
            metric.compute()
        metric.update((torch.tensor([1, 0]), torch.tensor([1, 0]), torch.tensor([0, 0])))
        with pytest.raises(NotComputableError, match="require at least two unique subgroups"):
            metric.compute()
        with pytest.raises(ValueError, match="y_pred, y, and group_labels must have the same"):
            metric.update((torch.randn(4, 3), torch.randint(0, 3, (3,)), torch.zeros(4)))
        with pytest.raises(ValueError, match="y_pred, y, and group_labels must have the same"):
            metric.update((torch.randn(4, 3), torch.randint(0, 3, (4,)), torch.zeros(3)))
        with pytest.raises(ValueError, match=r"group_labels must be of shape \(batch_size,\)"):
            metric.update((torch.randn(4, 3), torch.randint(0, 3, (4,)), torch.zeros(4, 1)))
        with pytest.raises(ValueError, match=r"output should be in format `\(y_pred, y, group"):
            metric.update((torch.randn(4, 3), torch.randint(0, 3, (4,))))
        with pytest.raises(ValueError, match="y_pred must be comprised of 0's and 1's"):
            metric.update((torch.tensor([0.6, 0.4]), torch.tensor([1, 0]), torch.tensor([0, 1])))
        with pytest.raises(ValueError, match="y must have shape of"):
            metric.update((torch.randn(4, 3, 2, 2), torch.randint(0, 3, (4,)), torch.zeros(4)))
        with pytest.raises(RuntimeError, match="Input data type has changed from binary to multi"):
            metric.update((torch.randn(2, 3), torch.tensor([0, 1]), torch.tensor([0, 1])))
        metric.reset()
        metric.update((torch.randn(4, 3), torch.randint(0, 3, (4,)), torch.zeros(4)))
        with pytest.raises(ValueError, match="Input data number of classes has changed"):
            metric.update((torch.randn(4, 5), torch.randint(0, 5, (4,)), torch.zeros(4)))
    with pytest.raises(NotComputableError, match="SelectionRate must have at least one example"):
        SelectionRate().compute()
    with pytest.raises(TypeError, match="Argument base_metric should be a Metric"):
        SubgroupMetric(len, groups=[0])  # type: ignore[arg-type]


def test_state_dict_is_ignites_format_and_resumes():
    parity = DemographicParityDifference(groups=[0, 1])
    parity.update((torch.tensor([[0.1, 0.9], [0.1, 0.9]]), torch.tensor([1, 1]), torch.zeros(2)))
    state = parity.state_dict()
    assert list(state) == ["__metric_state_per_rank", "_metrics"]
    assert list(state["_metrics"]) == ["0", "1"]
    group_0 = state["_metrics"]["0"]["__metric_state_per_rank"][0]
    assert group_0["_num_positives"].tolist() == [0.0, 2.0] and group_0["_num_examples"] == 2
    resumed = DemographicParityDifference(groups=[0, 1])
    resumed.load_state_dict(state)
    resumed.update((torch.tensor([[0.9, 0.1], [0.9, 0.1]]), torch.tensor([1, 1]), torch.ones(2)))
    assert resumed.compute() == 1.0  # group 0 from the state: rate 1; group 1: rate 0
    with pytest.raises(ValueError, match="expected a key '_metrics'"):
        resumed.load_state_dict({"__metric_state_per_rank": [{}]})
    im = pytest.importorskip("ignite.metrics")
    theirs = im.fairness.DemographicParityDifference(groups=[0, 1])
    theirs.load_state_dict(state)
    mine = DemographicParityDifference(groups=[0, 1])
    mine.load_state_dict(theirs.state_dict())
    assert str(mine.state_dict()) == str(state)


def _shard(rank):
    g = torch.Generator().manual_seed(rank)
    n = 4 + 4 * rank  # uneven shards, every group on both ranks
    labels = torch.tensor([0, 1] * (n // 2))
    return torch.randn(n, 3, generator=g), torch.randint(0, 3, (n,), generator=g), labels


def _two_ranks(rank, out):
    y_pred, y, labels = _shard(rank)
    seen = {}
    for name, metric in (
        ("accuracy", SubgroupAccuracyDifference(groups=[0, 1])),
        ("parity", DemographicParityDifference(groups=[0, 1])),
    ):
        metric.update((y_pred, y, labels))
        seen[name] = metric.compute()
    torch.save(seen, out / f"fair{rank}.pt")


def test_two_ranks_reduce_over_all_examples(tmp_path):
    from test_distributed import _launch  # the 2-process gloo launcher

    _launch(_two_ranks, tmp_path)
    y_pred, y, labels = (torch.cat(parts) for parts in zip(_shard(0), _shard(1), strict=True))
    accuracy = accuracy_by_group("multiclass", y_pred, y, labels)
    rates = rates_by_group("multiclass", y_pred, labels, 3)
    for rank in range(2):
        seen = torch.load(tmp_path / f"fair{rank}.pt")
        assert seen["accuracy"] == pytest.approx(gap(list(accuracy.values())))
        assert seen["parity"] == pytest.approx(gap(list(rates.values())))
