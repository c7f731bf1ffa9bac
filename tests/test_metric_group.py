"""MetricGroup: values by hand (numpy) and against Ignite, what attach writes, the order of the
output transforms, state_dict round trips and cross-loading with Ignite, two gloo processes."""

from __future__ import annotations

import functools

import numpy as np
import pytest
import torch

import miniengine.engine
import miniengine.metrics as mm
from miniengine.engine import Engine, Events
from miniengine.metrics import Accuracy, Average, MetricGroup, Precision

G = torch.Generator().manual_seed(3)
Y_PRED = torch.randint(0, 2, (30,), generator=G)
Y = torch.randint(0, 2, (30,), generator=G)
BATCHES = [(Y_PRED[i : i + 8], Y[i : i + 8]) for i in range(0, 30, 8)]


def by_hand(y_pred, y):
    """Binary accuracy and precision with numpy."""
    p, t = y_pred.numpy(), y.numpy()
    return {"acc": float(np.mean(p == t)), "prec": float(np.sum(p & t) / np.sum(p))}


def group_of(module, **kwargs):
    return module.MetricGroup({"acc": module.Accuracy(), "prec": module.Precision()}, **kwargs)


def numbers(values):
    return {k: float(v) for k, v in values.items()}


def test_update_compute_reset_by_hand_and_oracle():
    group = group_of(mm)
    for batch in BATCHES:
        group.update(batch)
    assert numbers(group.compute()) == pytest.approx(by_hand(Y_PRED, Y), rel=1e-12)
    group.reset()
    group.update(BATCHES[0])
    assert numbers(group.compute()) == pytest.approx(by_hand(*BATCHES[0]), rel=1e-12)
    im = pytest.importorskip("ignite.metrics")
    theirs = group_of(im)
    theirs.update(BATCHES[0])
    assert numbers(group.compute()) == numbers(theirs.compute())


def test_attach_writes_each_value_and_the_dict_per_epoch():
    engine = Engine(lambda e, b: b)
    group = group_of(mm)
    group.attach(engine, "eval")
    per_epoch = []
    engine.add_event_handler(
        Events.EPOCH_COMPLETED, lambda e: per_epoch.append(dict(e.state.metrics))
    )
    engine.run([BATCHES[0], BATCHES[1], BATCHES[2], BATCHES[3]], epoch_length=2, max_epochs=2)
    for epoch, seen in enumerate(per_epoch):
        part = slice(16 * epoch, 16 * epoch + 16)  # each epoch's two batches of 8, from a reset
        expected = by_hand(Y_PRED[part], Y[part])
        assert sorted(seen) == ["acc", "eval", "prec"]
        assert numbers(seen["eval"]) == pytest.approx(expected, rel=1e-12)
        assert seen["eval"]["acc"] == seen["acc"] and seen["eval"]["prec"] == seen["prec"]


@pytest.mark.parametrize("usage", ["epoch_wise", "batch_wise", "running_batch_wise"])
def test_attached_group_matches_its_metrics_attached_alone_and_ignite(usage):
    def run(module, engine_module):
        engine = engine_module.Engine(lambda e, b: b)
        module.Accuracy().attach(engine, "acc", usage)
        module.Precision().attach(engine, "prec", usage)
        group_of(module, output_transform=lambda out: out).attach(engine, "group", usage)
        trace = []
        engine.add_event_handler(
            engine_module.Events.ITERATION_COMPLETED, lambda e: trace.append(dict(e.state.metrics))
        )
        engine.run(BATCHES, max_epochs=2)
        return [{k: numbers(v) if k == "group" else float(v) for k, v in m.items()} for m in trace]

    ours = run(mm, miniengine.engine)
    last = ours[-1]
    assert last["group"] == {"acc": last["acc"], "prec": last["prec"]}
    ie = pytest.importorskip("ignite.engine")
    im = pytest.importorskip("ignite.metrics")
    assert ours == run(im, ie)


def drop_first(out):
    return out[0][1:], out[1][1:]


def test_group_transform_then_each_metrics_own():
    group = MetricGroup(
        {"acc": Accuracy(output_transform=drop_first), "prec": Precision()},
        output_transform=drop_first,
    )
    engine = Engine(lambda e, b: b)
    group.attach(engine, "g")
    metrics = engine.run([BATCHES[0]]).metrics
    y_pred, y = BATCHES[0]
    assert metrics["acc"] == by_hand(y_pred[2:], y[2:])["acc"]  # dropped twice
    assert float(metrics["prec"]) == pytest.approx(by_hand(y_pred[1:], y[1:])["prec"])
    alone = Accuracy()
    alone.update((y_pred[2:], y[2:]))
    assert group.metrics["acc"].state_dict() == alone.state_dict()


def test_dict_output_becomes_y_pred_y_before_the_metrics_transforms():
    group = MetricGroup({"acc": Accuracy(output_transform=drop_first)})
    engine = Engine(lambda e, b: {"y": b[1], "y_pred": b[0]})
    group.attach(engine, "g")
    y_pred, y = BATCHES[0]
    assert engine.run([BATCHES[0]]).metrics["g"] == {"acc": by_hand(y_pred[1:], y[1:])["acc"]}


def test_state_dict_round_trip_and_cross_loading_with_ignite():
    group = group_of(mm)
    group.update(BATCHES[0])
    state = group.state_dict()
    assert list(state) == ["__metric_state_per_rank"]
    assert list(state["__metric_state_per_rank"][0]["metrics"]) == ["acc", "prec"]
    copy = group_of(mm)
    copy.load_state_dict(state)
    copy.update(BATCHES[1])
    group.update(BATCHES[1])
    assert numbers(copy.compute()) == numbers(group.compute())
    assert copy.metrics["acc"].state_dict() == group.metrics["acc"].state_dict()

    im = pytest.importorskip("ignite.metrics")
    theirs = group_of(im)
    theirs.update(BATCHES[0])
    theirs.update(BATCHES[1])
    assert str(theirs.state_dict()) == str(group.state_dict())  # same layout and values
    from_them, from_us = group_of(mm), group_of(im)
    from_them.load_state_dict(theirs.state_dict())
    from_us.load_state_dict(group.state_dict())
    assert numbers(from_them.compute()) == numbers(from_us.compute()) == numbers(group.compute())


def test_errors():
    with pytest.raises(TypeError, match="Argument metrics should be a dictionary of names"):
        MetricGroup([Accuracy()])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="should map names to Metric instances, got <class 'int'>"):
        MetricGroup({"acc": Accuracy(), "n": 3})  # type: ignore[dict-item]
    engine = Engine(lambda e, b: b)
    MetricGroup({"acc": Accuracy()}).attach(engine, "acc")
    with pytest.raises(ValueError, match="Argument name 'acc' is conflicting with mapping keys"):
        engine.run([BATCHES[0]])


# ---------------------------------------------------------------- two processes


def _shard(rank):
    """Rank 0 gets 8 examples, rank 1 the other 22."""
    part = slice(0, 8) if rank == 0 else slice(8, 30)
    return Y_PRED[part], Y[part]


def _two_ranks(early, rank, out):
    mean_of_y = Average(output_transform=lambda out: out[1].double().unsqueeze(1))  # (N, 1)
    late = MetricGroup({"acc": Accuracy(), "prec": Precision(), "mean": mean_of_y})
    seen = {}
    for name, group in (("early", early), ("late", late)):
        engine = Engine(lambda e, b: b)
        group.attach(engine, "g")
        seen[name] = numbers(engine.run([_shard(rank)]).metrics["g"])
    torch.save(seen, out / f"group{rank}.pt")


def test_two_ranks_reduce_each_metric(tmp_path):
    from test_distributed import _launch  # the 2-process gloo launcher

    # made here, before the processes join their group, and attached there
    early = MetricGroup({"acc": Accuracy(), "prec": Precision()})
    _launch(functools.partial(_two_ranks, early), tmp_path)
    expected = {**by_hand(Y_PRED, Y), "mean": float(Y.double().mean())}
    for rank in range(2):
        seen = torch.load(tmp_path / f"group{rank}.pt")
        assert seen["late"] == pytest.approx(expected, rel=1e-12)
        assert seen["early"] == pytest.approx(by_hand(Y_PRED, Y), rel=1e-12)
