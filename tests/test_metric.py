"""Metric base: usages, attach/detach, how outputs reach update and results reach state.metrics."""

from __future__ import annotations

import pytest
import torch

from miniengine.engine import Engine, Events
from miniengine.metrics import (
    BatchFiltered,
    BatchWise,
    EpochWise,
    Metric,
    MetricUsage,
    NotComputableError,
    RunningBatchWise,
    RunningEpochWise,
    SingleEpochRunningBatchWise,
)

USAGES = [EpochWise, BatchWise, RunningBatchWise, SingleEpochRunningBatchWise, RunningEpochWise]


def make_sum(base):
    """A metric summing its outputs, on ``base`` (ours or Ignite's Metric)."""

    class Sum(base):
        required_output_keys = None

        def reset(self):
            self.total = 0

        def update(self, output):
            self.total = self.total + output

        def compute(self):
            return self.total

    return Sum


Sum = make_sum(Metric)


def writes(engine_cls, events, metric, data, usage, max_epochs=2):
    """Every value of ``state.metrics["m"]`` seen after each ITERATION/EPOCH_COMPLETED."""
    engine = engine_cls(lambda e, b: b)
    metric.attach(engine, "m", usage=usage)
    seen = []
    for event in (events.ITERATION_COMPLETED, events.EPOCH_COMPLETED):
        engine.add_event_handler(
            event, lambda e, n=event.name: seen.append((n, e.state.metrics.get("m")))
        )
    engine.run(data, max_epochs=max_epochs)
    return seen


def expected_writes(data, usage_name, max_epochs=2):
    """What each usage writes, from its table: (reset, update, write) events, by hand."""
    seen, total, value = [], 0, None
    for _ in range(max_epochs):
        if usage_name in ("epoch_wise", "single_epoch_running_batch_wise"):
            total = 0
        for x in data:
            if usage_name == "batch_wise":
                total = 0
            if usage_name != "running_epoch_wise":
                total += x
            if usage_name != "epoch_wise" and usage_name != "running_epoch_wise":
                value = total
            seen.append(("ITERATION_COMPLETED", value))
        if usage_name == "running_epoch_wise":
            total += data[-1]  # updated with the epoch's last output
        if usage_name in ("epoch_wise", "running_epoch_wise"):
            value = total
        seen.append(("EPOCH_COMPLETED", value))
    return seen


@pytest.mark.parametrize("usage", USAGES)
def test_each_usage_resets_updates_and_writes_per_its_table(usage):
    data = [1, 2, 4]
    assert writes(Engine, Events, Sum(), data, usage()) == expected_writes(data, usage.usage_name)
    # the name works as well as the object
    assert writes(Engine, Events, Sum(), data, usage.usage_name) == expected_writes(
        data, usage.usage_name
    )


@pytest.mark.parametrize("usage", USAGES)
def test_oracle_usages(usage):
    ignite_engine = pytest.importorskip("ignite.engine")
    ignite_metrics = pytest.importorskip("ignite.metrics")
    data = [1, 2, 4]
    ignite_sum = make_sum(ignite_metrics.Metric)()
    theirs = writes(ignite_engine.Engine, ignite_engine.Events, ignite_sum, data, usage.usage_name)
    assert writes(Engine, Events, Sum(), data, usage.usage_name) == theirs


def test_usage_events():
    assert [u.usage_name for u in USAGES] == [
        "epoch_wise",
        "batch_wise",
        "running_batch_wise",
        "single_epoch_running_batch_wise",
        "running_epoch_wise",
    ]
    u = RunningEpochWise()
    assert (u.STARTED, u.ITERATION_COMPLETED, u.COMPLETED) == (
        Events.STARTED,
        Events.EPOCH_COMPLETED,
        Events.EPOCH_COMPLETED,
    )
    assert isinstance(u, EpochWise) and isinstance(SingleEpochRunningBatchWise(), BatchWise)
    assert isinstance(BatchFiltered(every=2), MetricUsage)


def test_batch_filtered_updates_on_filtered_iterations():
    engine = Engine(lambda e, b: b)
    Sum().attach(engine, "m", usage=BatchFiltered(every=2))
    assert engine.run([1, 2, 4, 8]).metrics["m"] == 2 + 8


def test_bad_usage_messages():
    engine = Engine(lambda e, b: b)
    with pytest.raises(ValueError, match=r"Argument usage should be .*got epochwise"):
        Sum().attach(engine, "m", usage="epochwise")
    with pytest.raises(TypeError, match="Unhandled usage type <class 'int'>"):
        Sum().is_attached(engine, usage=1)


def test_attach_detach_is_attached():
    engine = Engine(lambda e, b: b)
    m = Sum()
    m.attach(engine, "a")
    m.attach(engine, "b")  # a second name: written twice, updated once
    assert m.is_attached(engine) and not m.is_attached(engine, "batch_wise")
    assert engine.run([1, 2]).metrics == {"a": 3, "b": 3}
    m.detach(engine)
    assert not m.is_attached(engine)
    assert not engine.has_event_handler(m.iteration_completed)
    engine.state.metrics.clear()
    assert engine.run([1, 2]).metrics == {}


def test_completed_writes_0d_tensors_as_numbers_and_spreads_dicts():
    class Fixed(Metric):
        def __init__(self, value, **kwargs):
            self.value = value
            super().__init__(**kwargs)

        def reset(self):
            pass

        def update(self, output):
            pass

        def compute(self):
            return self.value

    def write(value, name="m", **kwargs):
        engine = Engine(lambda e, b: b)
        Fixed(value, **kwargs).completed(engine, name)
        return engine.state.metrics

    assert write(torch.tensor(2.5)) == {"m": 2.5} and type(write(torch.tensor(2))["m"]) is int
    vector = write(torch.tensor([1.0, 2.0]))["m"]
    assert torch.equal(vector, torch.tensor([1.0, 2.0]))
    d = {"x": 1, "y": torch.tensor(2.0)}
    assert write(d) == {"x": 1, "y": torch.tensor(2.0), "m": d}
    assert write(d, metrics_result_mode="flatten") == {"x": 1, "y": torch.tensor(2.0)}
    assert write(d, metrics_result_mode="named") == {"m": d}
    with pytest.raises(ValueError, match=r"Argument name 'x' is conflicting with mapping keys"):
        write(d, name="x")
    assert write(d, name="x", metrics_result_mode="flatten")["x"] == 1
    with pytest.raises(ValueError, match="Argument metrics_result_mode should be one of"):
        Fixed(1, metrics_result_mode="nested")


class Pairs(Metric):
    """Records what update receives."""

    def reset(self):
        self.seen = []

    def update(self, output):
        self.seen.append(output)

    def compute(self):
        return len(self.seen)


def feed(metric, output):
    engine = Engine(lambda e, b: output)
    metric.attach(engine, "m")
    engine.run([0])
    return metric.seen


def test_dict_outputs_use_required_output_keys():
    y_pred, y = torch.tensor([1.0]), torch.tensor([0.0])
    assert feed(Pairs(), {"y": y, "y_pred": y_pred, "x": 1}) == [(y_pred, y)]
    with pytest.raises(ValueError, match=r"it should contain \('y_pred', 'y'\) keys, but given"):
        feed(Pairs(), {"y": y})

    class NoKeys(Pairs):
        required_output_keys = None

    with pytest.raises(TypeError, match="NoKeys metric should be a tuple/list, but given"):
        feed(NoKeys(), {"y": y})


def test_lists_of_tensors_are_unrolled_one_item_at_a_time():
    y_pred = [torch.tensor([0.1, 0.9]), torch.tensor([0.8, 0.2])]
    y = [1, 0]
    seen = feed(Pairs(), (y_pred, y))
    assert len(seen) == 2
    for (p, t), p0, t0 in zip(seen, y_pred, y, strict=True):
        assert torch.equal(p, p0.unsqueeze(0)) and torch.equal(t, torch.tensor([t0]))
    assert feed(Pairs(skip_unrolling=True), (y_pred, y)) == [(y_pred, y)]
    with pytest.raises(ValueError, match="Output should have 2 items of the same length, got 2"):
        feed(Pairs(), (y_pred, [1]))


def test_output_transform_and_no_autograd_in_updates():
    w = torch.tensor(3.0, requires_grad=True)
    engine = Engine(lambda e, b: (w * b, b))
    m = Sum(output_transform=lambda out: out[0])
    m.attach(engine, "m")
    engine.run([1.0, 2.0])
    assert engine.state.metrics["m"] == 9.0 and not m.total.requires_grad
    with pytest.raises(TypeError, match="Argument output_transform should be callable, got"):
        Sum(output_transform=1)


def test_metric_is_abstract_and_not_computable_is_a_runtime_error():
    with pytest.raises(TypeError):
        Metric()
    assert issubclass(NotComputableError, RuntimeError)
    assert Sum(device="cpu")._device == torch.device("cpu")
