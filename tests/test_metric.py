"""Metric base: usages, attach/detach, how outputs reach update and results reach state.metrics."""

from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from miniengine.engine import Engine, Events
from miniengine.metrics import (
    Accuracy,
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
from miniengine.metrics.metric import sync_all_reduce

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


def test_not_computable_error_lives_in_miniengine_exceptions():
    from miniengine import exceptions

    assert NotComputableError is exceptions.NotComputableError
    with pytest.raises(exceptions.NotComputableError, match="Accuracy must have at least one"):
        Accuracy().compute()


# --- state_dict / load_state_dict ---------------------------------------------------------

G = torch.Generator().manual_seed(3)
BATCHES = [
    (torch.rand(6, 4, generator=G), torch.randint(0, 4, (6,), generator=G)) for _ in range(3)
]


def _mse(y_pred, y):
    return ((y_pred - y) ** 2).mean().item()


def _regression(out):
    return out[0][:, 0], out[1].float()


# name -> (factory taking a metrics module, usage); the same for miniengine and Ignite
STATEFUL = {
    "accuracy": lambda M: M.Accuracy(),
    "precision": lambda M: M.Precision(average=False),
    "precision_weighted": lambda M: M.Precision(average="weighted"),
    "recall_macro": lambda M: M.Recall(average=True),
    "loss": lambda M: M.Loss(F.cross_entropy),
    "average": lambda M: M.Average(output_transform=lambda out: out[0]),
    "confusion_matrix": lambda M: M.ConfusionMatrix(num_classes=4),
    "mse": lambda M: M.MeanSquaredError(output_transform=_regression),
    "mae": lambda M: M.MeanAbsoluteError(output_transform=_regression),
    "rmse": lambda M: M.RootMeanSquaredError(output_transform=_regression),
    "top2": lambda M: M.TopKCategoricalAccuracy(k=2),
    "psnr": lambda M: M.PSNR(1.0, output_transform=lambda out: (out[0], out[0] * 0.5)),
    "epoch_metric": lambda M: M.EpochMetric(_mse, output_transform=_regression),
    "running_output": lambda M: M.RunningAverage(output_transform=lambda out: out[0].mean()),
    "running_accuracy": lambda M: M.RunningAverage(M.Accuracy(), alpha=0.7),
    "lambda": lambda M: M.Precision(average=False).mean(),
    "f1": lambda M: M.Fbeta(1.0),
}


def _run_all(engine_cls, metrics_module):
    engine = engine_cls(lambda e, b: b)
    made = {name: make(metrics_module) for name, make in STATEFUL.items()}
    for name, metric in made.items():
        metric.attach(engine, name)
    engine.run(BATCHES)
    return made


def _same(a, b, where="state"):
    assert type(a) is type(b), f"{where}: {type(a)} vs {type(b)}"
    if isinstance(a, dict):
        assert list(a) == list(b), where
        for k in a:
            _same(a[k], b[k], f"{where}[{k!r}]")
    elif isinstance(a, list):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _same(x, y, f"{where}[{i}]")
    elif isinstance(a, torch.Tensor):
        assert a.dtype == b.dtype and torch.equal(a, b), f"{where}: {a} vs {b}"
    else:
        assert a == b, f"{where}: {a} vs {b}"


def _value(x):
    return x.tolist() if isinstance(x, torch.Tensor) else x


def test_oracle_state_dict_format_and_cross_loading():
    ie = pytest.importorskip("ignite.engine")
    im = pytest.importorskip("ignite.metrics")
    import miniengine.metrics as mm

    mine, theirs = _run_all(Engine, mm), _run_all(ie.Engine, im)
    for name in STATEFUL:
        _same(mine[name].state_dict(), theirs[name].state_dict(), name)
        # each library loads the other's state and computes the same value
        ours_from_theirs = STATEFUL[name](mm)
        ours_from_theirs.load_state_dict(theirs[name].state_dict())
        want = _value(theirs[name].compute())
        assert _value(ours_from_theirs.compute()) == want, name
        if name == "epoch_metric":
            continue  # Ignite 0.5.5 cannot load a non-empty EpochMetric state into a fresh one
        theirs_from_ours = STATEFUL[name](im)
        theirs_from_ours.load_state_dict(mine[name].state_dict())
        assert _value(theirs_from_ours.compute()) == want, name


def test_state_dicts_load_with_weights_only_and_give_the_same_values(tmp_path):
    import miniengine.metrics as mm

    made = _run_all(Engine, mm)
    torch.save({name: m.state_dict() for name, m in made.items()}, tmp_path / "metrics.pt")
    states = torch.load(tmp_path / "metrics.pt", weights_only=True)
    for name, metric in made.items():
        fresh = STATEFUL[name](mm)
        fresh.load_state_dict(states[name])
        assert _value(fresh.compute()) == _value(metric.compute()), name


def test_state_dict_is_a_copy():
    acc = Accuracy()
    acc.update(BATCHES[0])
    state = acc.state_dict()
    acc.update(BATCHES[1])  # adds in place to the accumulators
    fresh = Accuracy()
    fresh.load_state_dict(state)
    assert (
        fresh._num_examples == 6
        and fresh.compute() == (BATCHES[0][0].argmax(1) == BATCHES[0][1]).float().mean().item()
    )


@pytest.mark.parametrize(
    ("state", "error", "message"),
    [
        ([1], TypeError, "Argument state_dict should be a dictionary, but given <class 'list'>"),
        ({"x": 1}, ValueError, "Expected single key: __metric_state_per_rank, but given"),
        ({"__metric_state_per_rank": [{}, {}]}, ValueError, "size equal world_size: 1, but got 2"),
        (
            {"__metric_state_per_rank": [{"_num_correct": 1}]},
            ValueError,
            "Required state attribute '_num_examples' is absent in provided state_dict",
        ),
    ],
)
def test_load_state_dict_errors(state, error, message):
    with pytest.raises(error, match=message):
        Accuracy().load_state_dict(state)


def test_load_state_dict_of_another_kind_of_running_average_is_refused():
    from miniengine.metrics import RunningAverage

    with_src = RunningAverage(Accuracy())
    plain = RunningAverage(output_transform=lambda x: x)
    with pytest.raises(ValueError, match="State attribute 'src' is None here"):
        plain.load_state_dict(with_src.state_dict())
    with pytest.raises(ValueError, match="State attribute 'src' is a metric here"):
        with_src.load_state_dict(plain.state_dict())


def test_unsupported_state_attribute_and_missing_attribute():
    class Odd(Sum):
        _state_dict_all_req_keys = ("total",)

    odd = Odd()
    odd.total = object()
    with pytest.raises(TypeError, match="Found attribute of unsupported type.*'total'"):
        odd.state_dict()

    class Missing(Sum):
        _state_dict_all_req_keys = ("nothing",)

    with pytest.raises(ValueError, match="not among metric attributes: nothing"):
        Missing().state_dict()


# --- exact resume: a run stopped anywhere, saved, loaded into new objects, continued -------

EPOCH_LENGTH, EPOCHS = 4, 3
RESUME_DATA = [
    (torch.rand(5, 3, generator=G), torch.randint(0, 3, (5,), generator=G), float(i) ** 1.5)
    for i in range(EPOCH_LENGTH)
]


def _trainer():
    """A trainer with one metric of each usage, writing every value it logs into ``log``."""
    from miniengine.metrics import Fbeta, RunningAverage

    engine = Engine(lambda e, b: {"y_pred": b[0], "y": b[1], "loss": b[2] * e.state.iteration})
    metrics = {
        "avg_loss": (RunningAverage(output_transform=lambda o: o["loss"], alpha=0.9), None),
        "avg_acc": (RunningAverage(Accuracy(), alpha=0.8), None),
        "epoch_avg": (
            RunningAverage(output_transform=lambda o: torch.tensor(o["loss"]), alpha=0.5),
            "single_epoch_running_batch_wise",
        ),
        "epochs_acc": (RunningAverage(Accuracy(), alpha=0.5), "running_epoch_wise"),
        "acc": (Accuracy(), "epoch_wise"),
        "f1": (Fbeta(1.0), "epoch_wise"),
        "acc_every_2": (Accuracy(), BatchFiltered(every=2)),
        "batch_acc": (Accuracy(), "batch_wise"),
    }
    for name, (metric, usage) in metrics.items():
        metric.attach(engine, name, **({"usage": usage} if usage else {}))
    log = []

    def keep(engine, event):
        # what was written since the last record (a resumed engine starts with no metrics)
        log.append(
            (event, engine.state.iteration, {k: _value(v) for k, v in engine.state.metrics.items()})
        )
        engine.state.metrics.clear()

    for event in (Events.ITERATION_COMPLETED, Events.EPOCH_COMPLETED):
        engine.add_event_handler(event, keep, event.name)
    return engine, {name: m for name, (m, _) in metrics.items()}, log


@pytest.mark.parametrize("stop", range(1, EPOCH_LENGTH * EPOCHS))
def test_resume_from_state_dicts_logs_what_an_uninterrupted_run_logs(stop, tmp_path):
    engine, _, full = _trainer()
    engine.run(RESUME_DATA, max_epochs=EPOCHS)

    first, metrics, log = _trainer()
    # save after everything the stop iteration does: its epoch's end, when it ends one
    at_end = stop % EPOCH_LENGTH == 0
    when = Events.EPOCH_COMPLETED(once=stop // EPOCH_LENGTH) if at_end else None
    when = when or Events.ITERATION_COMPLETED(once=stop)

    @first.on(when)
    def save_and_stop(engine):
        states = {name: m.state_dict() for name, m in metrics.items()}
        torch.save({"engine": engine.state_dict(), **states}, tmp_path / "ckpt.pt")
        engine.terminate()

    first.run(RESUME_DATA, max_epochs=EPOCHS)
    states = torch.load(tmp_path / "ckpt.pt", weights_only=True)
    second, metrics, log_after = _trainer()
    second.load_state_dict(states.pop("engine"))
    for name, state in states.items():
        metrics[name].load_state_dict(state)
    second.run(RESUME_DATA)
    assert log + log_after == full


def test_resume_through_checkpoint(tmp_path):
    from miniengine.handlers import Checkpoint, DiskSaver

    engine, _, full = _trainer()
    engine.run(RESUME_DATA, max_epochs=EPOCHS)

    first, metrics, log = _trainer()
    to_save = {"trainer": first, **metrics}
    saver = Checkpoint(to_save, DiskSaver(tmp_path), n_saved=None)
    first.add_event_handler(Events.ITERATION_COMPLETED(once=6), saver)
    first.add_event_handler(Events.ITERATION_COMPLETED(once=6), lambda e: e.terminate())
    first.run(RESUME_DATA, max_epochs=EPOCHS)

    second, metrics, log_after = _trainer()
    Checkpoint.load_objects({"trainer": second, **metrics}, saver.last_checkpoint)
    second.run(RESUME_DATA)
    assert log + log_after == full


class StatefulSum(Sum):
    _state_dict_all_req_keys = ("total",)


def test_loaded_state_is_kept_by_a_resumed_run_only_and_once():
    def make():
        engine, total = Engine(lambda e, b: b), StatefulSum()
        total.attach(engine, "s", usage="running_batch_wise")
        return engine, total

    engine, total = make()
    engine.run([1, 2], max_epochs=1)
    states = engine.state_dict(), total.state_dict()
    # a fresh run (iteration 0) is not a resumed one: STARTED resets as usual
    fresh, fresh_total = make()
    fresh_total.load_state_dict(states[1])
    assert fresh.run([5]).metrics["s"] == 5
    # resumed: the first STARTED keeps the sum; a later run's STARTED resets it (Ignite's rule)
    resumed, resumed_total = make()
    resumed.load_state_dict(states[0])
    resumed_total.load_state_dict(states[1])
    straight, _ = make()
    assert resumed.run([1, 2], max_epochs=2).metrics["s"] == 6
    assert straight.run([1, 2], max_epochs=2).metrics["s"] == 6
    assert resumed.run([1, 2], max_epochs=3).metrics["s"] == 3
    assert straight.run([1, 2], max_epochs=3).metrics["s"] == 3


# --- two processes: named reductions, per-rank state dicts, gathered EpochMetric ----------


class Reduced(Metric):
    """One attribute per reduction op, each reduced by ``sync_all_reduce`` as its name says."""

    required_output_keys = None

    def reset(self):
        self.total, self.best, self.worst = 0, float("-inf"), float("inf")
        self.prod = torch.tensor(1.0)

    def update(self, x):
        self.total += x
        self.best, self.worst = max(self.best, x), min(self.worst, x)
        self.prod = self.prod * x

    @sync_all_reduce("total", "best:MAX", "worst:MIN", "prod:PRODUCT")
    def compute(self):
        return self.total, self.best, self.worst, self.prod.item()


def _two_ranks(rank, out):
    """Run in each of 2 gloo processes; saves what it saw to ``out/metric<rank>.pt``."""
    from miniengine.metrics import EpochMetric

    seen = {}
    reduced = Reduced()
    for x in (rank + 1.0, rank + 2.0):  # rank 0: 1, 2; rank 1: 2, 3
        reduced.update(x)
    seen["reduced"] = reduced.compute()
    seen["local_after"] = reduced.total, reduced.best, reduced.prod.item()

    acc = Accuracy()  # rank 0 gets 1 of 2 right, rank 1 2 of 3
    acc.update((torch.tensor([1, 0, 1][: 2 + rank]), torch.tensor([1, 1, 1][: 2 + rank])))
    state = acc.state_dict()
    seen["ranks_in_state"] = len(state["__metric_state_per_rank"])
    fresh = Accuracy()
    fresh.load_state_dict(state)  # each rank takes its own part
    seen["own_examples"] = fresh._num_examples
    seen["accuracy"] = fresh.compute()

    epoch = EpochMetric(lambda p, y: (p.sum().item(), len(y)), check_compute_fn=False)
    epoch.update((torch.ones(3 + 2 * rank), torch.zeros(3 + 2 * rank)))  # 3 and 5 examples
    seen["epoch_metric"] = epoch.compute()
    torch.save(seen, out / f"metric{rank}.pt")


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory):
    from test_distributed import _launch  # the 2-process gloo launcher of the idist tests

    out = tmp_path_factory.mktemp("metric_ranks")
    _launch(_two_ranks, out)
    return [torch.load(out / f"metric{r}.pt", weights_only=False) for r in range(2)]


def test_sync_all_reduce_named_reductions_on_two_ranks(two_ranks):
    for rank, seen in enumerate(two_ranks):
        # SUM 3 + 5, MAX of 2 and 3, MIN of 1 and 2, PRODUCT 2 * 6
        assert seen["reduced"] == (8.0, 3.0, 1.0, 12.0)
        # the local values are back after compute
        assert seen["local_after"] == ((3.0, 2.0, 2.0), (5.0, 3.0, 6.0))[rank]


def test_state_dict_holds_every_rank_and_each_loads_its_own(two_ranks):
    for rank, seen in enumerate(two_ranks):
        assert seen["ranks_in_state"] == 2
        assert seen["own_examples"] == 2 + rank
        assert seen["accuracy"] == 3 / 5


def test_epoch_metric_gathers_uneven_shards(two_ranks):
    assert [seen["epoch_metric"] for seen in two_ranks] == [(8.0, 8), (8.0, 8)]


def test_a_metric_miniengine_lacks_points_to_the_coverage_table():
    with pytest.raises(ImportError, match="cannot import name 'FID'.*differences.md"):
        from miniengine.metrics import FID  # noqa: F401
