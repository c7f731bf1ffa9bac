"""RunningAverage: the formula, its reset rules per usage, argument errors, Ignite as oracle."""

from __future__ import annotations

import random
import re
import warnings

import pytest
import torch

from miniengine.engine import Engine, Events
from miniengine.metrics import (
    Accuracy,
    RunningAverage,
    RunningBatchWise,
    RunningEpochWise,
    SingleEpochRunningBatchWise,
    running_average,
)


def ema(values, alpha, reset_every=None):
    """The documented formula: first value as is, then v * alpha + (1 - alpha) * x."""
    out, v = [], None
    for i, x in enumerate(values):
        if reset_every and i % reset_every == 0:
            v = None
        v = x if v is None else v * alpha + (1 - alpha) * x
        out.append(v)
    return out


def trace(lib, data, max_epochs=1, event=Events.ITERATION_COMPLETED, metric=None, **attach):
    """Run ``data`` through an identity step in miniengine or Ignite; record the metric."""
    if lib == "ignite":
        from ignite.engine import Engine as E
        from ignite.engine import Events as Ev
        from ignite.metrics import RunningAverage as RA

        event = getattr(Ev, event.name)
    else:
        E, RA = Engine, RunningAverage
    engine = E(lambda engine, batch: batch)
    metric = metric(RA) if metric else RA(alpha=0.5, output_transform=lambda x: x)
    metric.attach(engine, "avg", **attach)
    seen = []
    engine.add_event_handler(event, lambda e: seen.append(e.state.metrics["avg"]))
    engine.run(data, max_epochs=max_epochs)
    return seen


def test_semantics_doc_numbers_follow_the_formula():
    batch_wise = trace("mini", [4.0, 0.0, 8.0, 0.0], max_epochs=2)
    assert batch_wise == ema([4.0, 0.0, 8.0, 0.0] * 2, 0.5)
    assert batch_wise == [4, 2, 5, 2.5, 3.25, 1.625, 4.8125, 2.40625]
    single = trace("mini", [4.0, 0.0, 8.0, 0.0], max_epochs=2, usage=SingleEpochRunningBatchWise())
    assert single == ema([4.0, 0.0, 8.0, 0.0] * 2, 0.5, reset_every=4)
    assert single == [4, 2, 5, 2.5, 4, 2, 5, 2.5]


def test_usage_names_and_running_epoch_wise():
    data = [4.0, 0.0, 8.0, 6.0]
    assert trace("mini", data, 2, usage="single_epoch_running_batch_wise") == ema(
        data * 2, 0.5, reset_every=4
    )
    assert trace("mini", data, 2, usage="running_batch_wise") == ema(data * 2, 0.5)
    # epoch-wise: the output of each epoch's last iteration
    seen = trace("mini", data, 3, event=Events.EPOCH_COMPLETED, usage=RunningEpochWise())
    assert seen == ema([6.0] * 3, 0.5)


def test_reset_on_started_across_runs():
    engine = Engine(lambda e, b: b)
    RunningAverage(alpha=0.5, output_transform=lambda x: x).attach(engine, "avg")
    engine.run([2.0, 4.0])
    assert engine.state.metrics["avg"] == 3.0
    engine.run([10.0])  # a new run (the previous one finished): STARTED resets the average
    assert engine.state.metrics["avg"] == 10.0


def test_tensor_outputs_are_detached_and_written_as_floats():
    w = torch.tensor(2.0, requires_grad=True)
    engine = Engine(lambda e, b: (w * b) ** 2)
    avg = RunningAverage(alpha=0.9, output_transform=lambda x: x)
    avg.attach(engine, "avg")
    engine.run([1.0, 2.0, 3.0])
    assert type(engine.state.metrics["avg"]) is float
    value = avg.compute()
    assert isinstance(value, torch.Tensor) and not value.requires_grad
    assert value.dtype == torch.float32
    # float32 arithmetic, as tensors would do it
    t = [torch.tensor(x, dtype=torch.float32) for x in (4.0, 16.0, 36.0)]
    assert engine.state.metrics["avg"] == ema(t, 0.9)[-1].item()


@pytest.mark.parametrize("wrap", [False, True])  # True: the path taken under NumPy 1
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16, torch.int64])
def test_0d_tensors_match_tensor_arithmetic_bit_for_bit(dtype, wrap, monkeypatch):
    monkeypatch.setattr(running_average, "_WRAP_VALUES", wrap)
    rng = random.Random(0)
    values = [torch.tensor(rng.uniform(-100, 100)).to(dtype) for _ in range(300)]
    avg = RunningAverage(alpha=0.97, output_transform=lambda x: x)
    got = []
    for x in values:
        avg.update(x)
        got.append(avg.compute())
    want = ema([x / 1 for x in values], 0.97)
    assert all(a.dtype == b.dtype and a.item() == b.item() for a, b in zip(got, want, strict=True))


def test_python_numbers_vectors_and_mixed_values():
    avg = RunningAverage(alpha=0.5, output_transform=lambda x: x)
    for x in (3, 4, 6):
        avg.update(x)
    assert avg.compute() == ema([3, 4, 6], 0.5)[-1]
    assert type(avg.compute()) is float  # ints become floats
    avg.reset()
    for x in (torch.tensor([1.0, 2.0]), torch.tensor([3.0, 6.0])):
        avg.update(x)
    assert torch.equal(avg.compute(), torch.tensor([2.0, 4.0]))
    avg.reset()
    for x in (1.0, torch.tensor(3.0), 5.0, torch.tensor(7.0, dtype=torch.float64)):
        avg.update(x)
    mixed = avg.compute()
    want = ema([1.0, torch.tensor(3.0), 5.0, torch.tensor(7.0, dtype=torch.float64)], 0.5)[-1]
    assert mixed.dtype == want.dtype == torch.float64 and mixed.item() == want.item()


def test_over_a_metric_batch_wise_and_epoch_wise():
    rng = torch.Generator().manual_seed(0)
    batches = [tuple(torch.randint(0, 2, (8,), generator=rng) for _ in "xy") for _ in range(6)]

    def accuracy(pairs):
        return sum(int((p == y).sum()) for p, y in pairs) / sum(len(y) for _, y in pairs)

    def run(usage, event):
        engine = Engine(lambda e, b: b)
        RunningAverage(Accuracy(), alpha=0.8).attach(engine, "acc", usage=usage)
        seen = []
        engine.add_event_handler(event, lambda e: seen.append(e.state.metrics["acc"]))
        engine.run(batches, max_epochs=2, epoch_length=3)
        return seen

    per_batch = [accuracy([b]) for b in batches]
    assert run("running_batch_wise", Events.ITERATION_COMPLETED) == pytest.approx(
        ema(per_batch, 0.8), abs=1e-12
    )
    per_epoch = [accuracy(batches[:3]), accuracy(batches[3:])]
    assert run("running_epoch_wise", Events.EPOCH_COMPLETED) == pytest.approx(
        ema(per_epoch, 0.8), abs=1e-12
    )


def test_over_a_metric_with_dict_outputs():
    # Ignite 0.5.5 raises TypeError here (it checks the output it then ignores); we do not.
    engine = Engine(lambda e, b: {"y_pred": torch.tensor([1, 0]), "y": torch.tensor([1, b])})
    RunningAverage(Accuracy(), alpha=0.5).attach(engine, "acc")
    assert engine.run([0, 1]).metrics["acc"] == ema([0.5, 1.0], 0.5)[-1]


def test_epoch_bound_overrides_the_usage_and_warns():
    data = [4.0, 0.0, 8.0]

    def make(epoch_bound):
        def factory(RA):
            return RA(alpha=0.5, output_transform=lambda x: x, epoch_bound=epoch_bound)

        return factory

    with pytest.warns(UserWarning, match="`epoch_bound` is deprecated"):
        bound = trace("mini", data, 2, metric=make(True), usage=RunningBatchWise())
    assert bound == ema(data * 2, 0.5, reset_every=3)
    with pytest.warns(UserWarning):
        unbound = trace(
            "mini", data, 2, metric=make(False), usage="single_epoch_running_batch_wise"
        )
    assert unbound == ema(data * 2, 0.5)


def test_attach_detach_is_attached():
    engine = Engine(lambda e, b: b)
    acc = Accuracy()
    avg = RunningAverage(acc)
    avg.attach(engine, "acc")
    assert avg.is_attached(engine, "running_batch_wise")
    assert engine.has_event_handler(acc.iteration_completed, Events.ITERATION_COMPLETED)
    avg.detach(engine)
    assert not avg.is_attached(engine, RunningBatchWise())
    assert not engine.has_event_handler(acc.iteration_completed)
    assert engine.run([(torch.tensor([1]), torch.tensor([1]))]).metrics == {}


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"src": 1.0}, TypeError, "Argument src should be a Metric or None."),
        ({"alpha": 0.0, "output_transform": float}, ValueError, "alpha should be a float between"),
        ({"alpha": 1.5, "output_transform": float}, ValueError, "alpha should be a float between"),
        ({"src": "acc", "output_transform": float}, ValueError, "output_transform should be None"),
        ({"src": "acc", "device": "cpu"}, ValueError, "Argument device should be None if src"),
        ({}, ValueError, "output_transform should not be None if src corresponds to the output"),
    ],
)
def test_argument_errors(kwargs, error, message):
    if kwargs.get("src") == "acc":
        kwargs["src"] = Accuracy()
    with pytest.raises(error, match=message):
        RunningAverage(**kwargs)
    ignite = pytest.importorskip("ignite.metrics")
    if kwargs.get("src") is not None and not isinstance(kwargs["src"], float):
        kwargs["src"] = ignite.Accuracy()
    with pytest.raises(error, match=message):
        ignite.RunningAverage(**kwargs)


def test_bad_usage():
    avg = RunningAverage(output_transform=float)
    with pytest.raises(ValueError, match="Argument usage should be"):
        avg.attach(Engine(lambda e, b: b), "avg", usage="every_batch")
    with pytest.raises(TypeError, match="Unhandled usage type"):
        avg.attach(Engine(lambda e, b: b), "avg", usage=3)


# --- Ignite as oracle ---------------------------------------------------------------------


def _random_outputs(kind, n=40):
    rng = random.Random(kind)
    xs = [rng.uniform(-5, 5) for _ in range(n)]
    if kind == "float":
        return xs
    if kind == "int":
        return [int(10 * x) for x in xs]
    dtype = {"f32": torch.float32, "f64": torch.float64, "f16": torch.float16}[kind]
    if kind == "f32":
        return [torch.tensor(x, dtype=dtype, requires_grad=True) * 1 for x in xs]
    return [torch.tensor(x, dtype=dtype) for x in xs]


@pytest.mark.parametrize("kind", ["float", "int", "f32", "f64", "f16"])
@pytest.mark.parametrize("usage", ["running_batch_wise", "single_epoch_running_batch_wise"])
def test_oracle_random_outputs(kind, usage):
    pytest.importorskip("ignite")
    data = _random_outputs(kind)

    def metric(RA):
        return RA(alpha=0.93, output_transform=lambda x: x)

    mine = trace("mini", data, 3, metric=metric, usage=usage)
    theirs = trace("ignite", data, 3, metric=metric, usage=usage)
    assert mine == theirs and all(type(a) is type(b) for a, b in zip(mine, theirs, strict=True))


def test_oracle_over_accuracy_running_epoch_wise():
    pytest.importorskip("ignite")
    from ignite.metrics import Accuracy as IgniteAccuracy

    g = torch.Generator().manual_seed(1)
    data = [
        (torch.rand(5, 3, generator=g), torch.randint(0, 3, (5,), generator=g)) for _ in range(7)
    ]
    for usage, event in (
        ("running_batch_wise", Events.ITERATION_COMPLETED),
        ("running_epoch_wise", Events.EPOCH_COMPLETED),
    ):
        mine = trace("mini", data, 3, event, lambda RA: RA(Accuracy(), alpha=0.7), usage=usage)
        theirs = trace(
            "ignite", data, 3, event, lambda RA: RA(IgniteAccuracy(), alpha=0.7), usage=usage
        )
        assert mine == theirs


def test_oracle_epoch_bound_warning_text():
    ignite = pytest.importorskip("ignite.metrics")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        RunningAverage(output_transform=float, epoch_bound=True)
        ignite.RunningAverage(output_transform=float, epoch_bound=True)
    assert str(caught[0].message) == str(caught[1].message)


# --- bad inputs: a clear error where the mistake is ---------------------------------------


@pytest.mark.parametrize(
    "outputs",
    [[None], ["0.5"], [1.0, 2.0, None]],
    ids=["None first", "a string", "None later"],
)
def test_outputs_that_are_not_numbers_are_refused_by_name(outputs):
    engine = Engine(lambda e, b: b)
    RunningAverage(output_transform=lambda x: x).attach(engine, "avg")
    bad = outputs[-1]
    pattern = rf"RunningAverage can only average numbers and tensors, got {bad!r} of type"
    with pytest.raises(TypeError, match=pattern):
        engine.run(outputs)


def test_tensor_output_changing_shape_is_refused():
    engine = Engine(lambda e, b: b)
    RunningAverage(output_transform=lambda x: x).attach(engine, "avg")
    with pytest.raises(ValueError, match=r"a value of shape \(3,\) after values of shape \(2,\)"):
        engine.run([torch.zeros(2), torch.ones(2), torch.ones(3)])


@pytest.mark.parametrize("alpha", ["0.5", None, [0.5]])
def test_alpha_that_is_not_a_number_is_refused_at_construction(alpha):
    with pytest.raises(
        TypeError,
        match="Argument alpha should be a float between 0.0 and 1.0, got " + re.escape(repr(alpha)),
    ):
        RunningAverage(alpha=alpha, output_transform=lambda x: x)


def test_default_alpha_is_098():
    avg = RunningAverage(output_transform=lambda x: x)
    assert avg.alpha == 0.98
    for x in (1.0, 0.0):
        avg.update(x)
    assert avg.compute() == 0.98


def test_state_dict_keeps_the_value_and_the_fast_path():
    values = [torch.tensor(x, dtype=torch.float32) for x in (3.0, 1.0, 7.5, 2.25)]
    whole, first, second = (RunningAverage(alpha=0.9, output_transform=float) for _ in range(3))
    for x in values:
        whole.update(x)
    for x in values[:2]:
        first.update(x)
    second.load_state_dict(first.state_dict())
    for x in values[2:]:
        second.update(x)
    a, b = whole.compute(), second.compute()
    assert a.dtype == b.dtype == torch.float32 and a.item() == b.item()
    assert second._dtype == torch.float32  # back on the NumPy fast path


def test_state_dict_includes_the_src_metric():
    avg = RunningAverage(Accuracy(), alpha=0.5)
    avg.src.update((torch.tensor([1, 0]), torch.tensor([1, 1])))
    state = avg.state_dict()["__metric_state_per_rank"][0]
    assert state["_value"] is None and state["src"]["_num_examples"] == 2
    copy = RunningAverage(Accuracy(), alpha=0.5)
    copy.load_state_dict(avg.state_dict())
    copy.update(None)  # src's value folded in: 1 of 2 right
    assert copy.compute() == 0.5


def test_value_is_a_tensor_on_the_metric_device():
    # Ignite's tests read the private ``_value``: after ``compute`` it is the average as a tensor
    # on the metric's device (torch.device, not NumPy's "cpu" string), whatever path updated it.
    avg = RunningAverage(alpha=0.5, output_transform=lambda x: x, device=torch.device("cpu"))
    for x in (1.0, 3.0, 5.0):
        avg.update(torch.tensor(x))
        avg.compute()
        assert isinstance(avg._value, torch.Tensor) and avg._value.device == torch.device("cpu")
    assert avg._value.item() == (1.0 * 0.5 + 3.0 * 0.5) * 0.5 + 5.0 * 0.5
    avg.update(torch.tensor(7.0))  # the state_dict brings ``_value`` up to date too
    saved = avg.state_dict()["__metric_state_per_rank"][0]["_value"]
    assert torch.equal(saved, torch.tensor(3.5 * 0.5 + 7.0 * 0.5))
