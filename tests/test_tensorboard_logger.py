"""TensorboardLogger and its handlers: event files read back with TensorBoard's own reader."""

from __future__ import annotations

import os
import signal
import sys

import numpy as np
import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import (
    HISTOGRAMS,
    SCALARS,
    EventAccumulator,
)
from test_base_logger import WAYS, end_run

from miniengine.engine import Engine, Events
from miniengine.handlers.tensorboard_logger import (
    GradsHistHandler,
    GradsScalarHandler,
    OptimizerParamsHandler,
    OutputHandler,
    TensorboardLogger,
    WeightsHistHandler,
    WeightsScalarHandler,
    global_step_from_engine,
)


def f32(x):
    """TensorBoard stores scalars as float32."""
    return float(np.float32(x))


def read(log_dir):
    """{tag: [(step, value)]} for scalars and {tag: [(step, HistogramValue)]} for histograms."""
    acc = EventAccumulator(str(log_dir), size_guidance={SCALARS: 0, HISTOGRAMS: 0})
    acc.Reload()
    tags = acc.Tags()
    scalars = {t: [(e.step, e.value) for e in acc.Scalars(t)] for t in tags["scalars"]}
    hists = {
        t: [(e.step, e.histogram_value) for e in acc.Histograms(t)] for t in tags["histograms"]
    }
    return scalars, hists


def scalars_of(log_dir):
    return read(log_dir)[0]


DATA = [1.0, 2.0, 3.0]


# ------------------------------------------------------------------ OutputHandler
def test_output_each_iteration(tmp_path):
    trainer = Engine(lambda engine, batch: batch * 0.5)
    with TensorboardLogger(log_dir=tmp_path) as tb:
        tb.attach_output_handler(
            trainer, Events.ITERATION_COMPLETED, tag="train", output_transform=lambda o: {"loss": o}
        )
        tb.attach_output_handler(
            trainer, Events.ITERATION_COMPLETED(every=2), tag="raw", output_transform=lambda o: o
        )
        trainer.run(DATA, max_epochs=2)
    expected = [(i, f32(DATA[(i - 1) % 3] * 0.5)) for i in range(1, 7)]
    assert scalars_of(tmp_path) == {"train/loss": expected, "raw/output": expected[1::2]}


def test_metrics_all_nested_and_state_attributes(tmp_path):
    trainer = Engine(lambda engine, batch: None)

    @trainer.on(Events.EPOCH_COMPLETED)
    def compute(engine):
        e = engine.state.epoch
        engine.state.alpha = 0.25 * e
        engine.state.metrics = {
            "acc": e / 10,
            "per_class": [0.1 * e, (0.2, 0.3)],
            "nested": {"a": {"b": torch.tensor(e)}},
            "vec": torch.tensor([1.0, -e]),
            "np": np.float64(e / 4),
        }

    with TensorboardLogger(log_dir=tmp_path) as tb:
        handler = OutputHandler("val", metric_names="all", state_attributes=["alpha"])
        tb.attach(trainer, handler, Events.EPOCH_COMPLETED)
        trainer.run(DATA, max_epochs=2)
    epochs = (1, 2)
    expected = {
        "val/acc": [(e, f32(e / 10)) for e in epochs],
        "val/per_class/0": [(e, f32(0.1 * e)) for e in epochs],
        "val/per_class/1/0": [(e, f32(0.2)) for e in epochs],
        "val/per_class/1/1": [(e, f32(0.3)) for e in epochs],
        "val/nested/a/b": [(e, float(e)) for e in epochs],
        "val/vec/0": [(e, 1.0) for e in epochs],
        "val/vec/1": [(e, -float(e)) for e in epochs],
        "val/np": [(e, e / 4) for e in epochs],
        "val/alpha": [(e, 0.25 * e) for e in epochs],
    }
    assert scalars_of(tmp_path) == expected


def test_missing_metric_and_unsupported_value_warn_and_skip(tmp_path):
    evaluator = Engine(lambda engine, batch: None)

    @evaluator.on(Events.COMPLETED)
    def compute(engine):
        engine.state.metrics.update(acc=0.5, image=torch.zeros(2, 2))

    with TensorboardLogger(log_dir=tmp_path) as tb:
        handler = OutputHandler("val", metric_names=["acc", "image", "f1"])
        tb.attach(evaluator, handler, Events.COMPLETED)
        with pytest.warns(UserWarning) as caught:
            evaluator.run(DATA)
    assert sorted(str(w.message) for w in caught) == [
        "Logger output_handler can not log metrics value type <class 'torch.Tensor'>",
        "Provided metric name 'f1' is missing in engine's state metrics: ['acc', 'image']",
    ]
    assert scalars_of(tmp_path) == {"val/acc": [(1, 0.5)]}


def test_evaluator_logged_at_trainer_epoch(tmp_path):
    trainer = Engine(lambda engine, batch: None)
    evaluator = Engine(lambda engine, batch: batch)

    @evaluator.on(Events.EPOCH_COMPLETED)
    def compute(engine):
        engine.state.metrics["score"] = trainer.state.epoch * 1.5

    trainer.add_event_handler(Events.EPOCH_COMPLETED, lambda: evaluator.run(DATA))
    with TensorboardLogger(log_dir=tmp_path) as tb:
        tb.attach_output_handler(
            evaluator,
            Events.EPOCH_COMPLETED,
            tag="val",
            metric_names=["score"],
            global_step_transform=global_step_from_engine(trainer),
        )
        trainer.run(DATA, max_epochs=3)
    assert scalars_of(tmp_path) == {"val/score": [(e, e * 1.5) for e in (1, 2, 3)]}


@pytest.mark.parametrize(
    "step",
    [np.int64(7), np.uint8(7), torch.tensor(7), True],
    ids=["np64", "npu8", "tensor", "bool"],
)
def test_integral_steps_accepted(tmp_path, step):
    trainer = Engine(lambda engine, batch: batch)
    with TensorboardLogger(log_dir=tmp_path) as tb:
        handler = OutputHandler(
            "t", output_transform=float, global_step_transform=lambda e, n: step
        )
        tb.attach(trainer, handler, Events.COMPLETED)
        trainer.run([2.0])
    assert scalars_of(tmp_path) == {"t/output": [(int(step), 2.0)]}


@pytest.mark.parametrize("step", [7.0, "7", None, torch.tensor(7.0)])
def test_non_integral_step_refused(tmp_path, step):
    trainer = Engine(lambda engine, batch: batch)
    with TensorboardLogger(log_dir=tmp_path) as tb:
        handler = OutputHandler(
            "t", output_transform=float, global_step_transform=lambda e, n: step
        )
        tb.attach(trainer, handler, Events.COMPLETED)
        with pytest.raises(TypeError, match=f"global_step must be int, got {type(step)}"):
            trainer.run([2.0])


# ------------------------------------------------------------------ optimizer, weights, grads
def test_optimizer_params(tmp_path):
    a, b = torch.zeros(1, requires_grad=True), torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.SGD(
        [{"params": [a]}, {"params": [b], "lr": 0.01}], lr=0.1, momentum=0.9
    )
    trainer = Engine(lambda engine, batch: None)

    @trainer.on(Events.ITERATION_COMPLETED)
    def decay(engine):
        for group in optimizer.param_groups:
            group["lr"] *= 0.5

    with TensorboardLogger(log_dir=tmp_path) as tb:
        tb.attach_opt_params_handler(trainer, Events.ITERATION_STARTED, optimizer, tag="opt")
        handler = OptimizerParamsHandler(optimizer, param_name="momentum")
        tb.attach(trainer, handler, Events.EPOCH_COMPLETED)
        trainer.run(DATA)
    assert scalars_of(tmp_path) == {
        "opt/lr/group_0": [(i, f32(0.1 * 0.5 ** (i - 1))) for i in (1, 2, 3)],
        "opt/lr/group_1": [(i, f32(0.01 * 0.5 ** (i - 1))) for i in (1, 2, 3)],
        "momentum/group_0": [(1, f32(0.9))],
        "momentum/group_1": [(1, f32(0.9))],
    }


def training(tmp_path, *handlers, event=Events.ITERATION_COMPLETED, epochs=1, counter="iteration"):
    """Train a tiny model; log with ``handlers(model)``; record the parameters ourselves."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.Tanh(), torch.nn.Linear(2, 1))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    batches = [(torch.randn(4, 3), torch.randn(4, 1)) for _ in range(3)]

    def step(engine, batch):
        optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss(model(batch[0]), batch[1])
        loss.backward()
        optimizer.step()
        return loss.item()

    trainer = Engine(step)
    seen = []  # (step, {name: (weight copy, grad copy)}) at each logging event
    with TensorboardLogger(log_dir=tmp_path) as tb:
        for make in handlers:
            tb.attach(trainer, make(model), event)

        @trainer.on(event)
        def snapshot(engine):
            params = {
                n: (p.detach().clone(), None if p.grad is None else p.grad.clone())
                for n, p in model.named_parameters()
            }
            seen.append((getattr(engine.state, counter), params))

        trainer.run(batches, max_epochs=epochs)
    return read(tmp_path), seen


def test_weights_and_grads_scalars(tmp_path):
    (scalars, _), seen = training(
        tmp_path,
        lambda m: WeightsScalarHandler(m),
        lambda m: GradsScalarHandler(m, reduction=torch.max, tag="model", whitelist=["2."]),
    )
    names = ["0.weight", "0.bias", "2.weight", "2.bias"]
    expected = {
        f"weights_norm/{n.replace('.', '/')}": [(i, f32(p[n][0].norm())) for i, p in seen]
        for n in names
    }
    expected |= {
        f"model/grads_max/{n.replace('.', '/')}": [(i, f32(p[n][1].max())) for i, p in seen]
        for n in names[2:]
    }
    assert scalars == expected


def test_grads_skipped_before_backward(tmp_path):
    (scalars, hists), _ = training(
        tmp_path, GradsScalarHandler, GradsHistHandler, WeightsHistHandler, event=Events.STARTED
    )
    assert scalars == {}
    assert sorted(hists) == [f"weights/{n}/{k}" for n in (0, 2) for k in ("bias", "weight")]


def test_weights_and_grads_histograms(tmp_path):
    (_, hists), seen = training(
        tmp_path,
        lambda m: WeightsHistHandler(m, tag="w", whitelist=lambda n, p: n.endswith("weight")),
        GradsHistHandler,
        event=Events.EPOCH_COMPLETED,
        epochs=2,
        counter="epoch",
    )
    assert sorted(hists) == sorted(
        ["w/weights/0/weight", "w/weights/2/weight"]
        + [f"grads/{n}/{k}" for n in (0, 2) for k in ("weight", "bias")]
    )
    for tag, logged in hists.items():
        name = ".".join(tag.split("/")[-2:])
        which = 1 if tag.startswith("grads") else 0
        assert [s for s, _ in logged] == [s for s, _ in seen] == [1, 2]
        for (_, h), (_, params) in zip(logged, seen, strict=True):
            t = params[name][which].double()
            assert h.num == t.numel()
            assert (h.min, h.max) == (t.min().item(), t.max().item())
            assert h.sum == pytest.approx(t.sum().item(), rel=1e-6, abs=1e-9)
            assert sum(h.bucket) == t.numel()


@pytest.mark.parametrize(
    "handler, message",
    [
        (OutputHandler("t", output_transform=float), "Handler 'OutputHandler' works only"),
        (OptimizerParamsHandler(torch.optim.SGD([torch.ones(1)], lr=1)), "Handler Optimizer"),
        (WeightsScalarHandler(torch.nn.Linear(1, 1)), "Handler 'WeightsScalarHandler' works"),
        (WeightsHistHandler(torch.nn.Linear(1, 1)), "Handler 'WeightsHistHandler' works"),
        (GradsScalarHandler(torch.nn.Linear(1, 1)), "Handler 'GradsScalarHandler' works"),
        (GradsHistHandler(torch.nn.Linear(1, 1)), "Handler 'GradsHistHandler' works"),
    ],
)
def test_handlers_need_a_tensorboard_logger(handler, message):
    engine = Engine(lambda engine, batch: batch)
    engine.run([1.0])
    with pytest.raises(RuntimeError, match=message):
        handler(engine, object(), Events.COMPLETED)


# ------------------------------------------------------------------ the logger itself
def test_writer_fall_through_close_and_context_manager(tmp_path):
    tb = TensorboardLogger(log_dir=str(tmp_path), flush_secs=60)
    assert tb.log_dir == str(tmp_path) and tb.get_logdir() == str(tmp_path)
    tb.add_scalar("direct", 3.0, 5)  # SummaryWriter.add_scalar, through the logger
    with pytest.raises(AttributeError, match="no_such_thing"):
        _ = tb.no_such_thing
    with tb as entered:
        assert entered is tb
    tb.close()  # again: nothing happens
    assert tb.writer.all_writers is None  # SummaryWriter's own "closed" marker
    assert scalars_of(tmp_path) == {"direct": [(5, 3.0)]}
    half_built = TensorboardLogger.__new__(TensorboardLogger)  # as unpickling makes it
    with pytest.raises(AttributeError, match="'TensorboardLogger' object has no attribute"):
        _ = half_built.writer


def test_events_list_and_handle_removal(tmp_path):
    trainer = Engine(lambda engine, batch: None)
    with TensorboardLogger(log_dir=tmp_path) as tb:
        handle = tb.attach(
            trainer,
            OutputHandler("t", state_attributes=["iteration"]),
            Events.STARTED | Events.ITERATION_COMPLETED(once=2) | Events.COMPLETED,
        )
        trainer.run(DATA, max_epochs=2)
        handle.remove()
        trainer.run(DATA, max_epochs=2)  # logs nothing more
    # STARTED and COMPLETED count epochs: steps 0 and 2
    assert scalars_of(tmp_path) == {"t/iteration": [(0, 0.0), (2, 2.0), (2, 6.0)]}


def test_one_flush_hook_per_engine_removed_on_close(tmp_path):
    trainer = Engine(lambda engine, batch: batch)
    tb = TensorboardLogger(log_dir=tmp_path)
    tb.attach_output_handler(trainer, Events.ITERATION_COMPLETED, tag="a", output_transform=float)
    tb.attach_output_handler(trainer, Events.EPOCH_COMPLETED, tag="b", output_transform=float)
    assert len(trainer.run_end_hooks) == 1
    tb.close()
    assert trainer.run_end_hooks == []


needs_fork = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
fork_warning = pytest.mark.filterwarnings("ignore:.*multi-threaded.*fork:DeprecationWarning")


def in_child(body):
    """Run ``body()`` in a forked child that dies with ``os._exit`` right after: no atexit, no
    garbage collection, no chance for TensorBoard's writer thread to finish its queue."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover (child)
        code = 1
        try:
            signal.alarm(60)  # never hang the test run: a stuck child is killed
            body()
            code = 0
        finally:
            os._exit(code)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


@needs_fork
@fork_warning
@pytest.mark.parametrize("way", WAYS)
def test_everything_on_disk_when_run_ends(tmp_path, way):
    def step(engine, batch):
        if engine.state.iteration == 30:
            end_run(engine, way)
        return float(batch)

    def body():
        # The writer thread then runs only when this thread waits, as it does in a flush;
        # a big queue means writing never waits. Without the flush, most scalars are lost.
        sys.setswitchinterval(100)
        tb = TensorboardLogger(log_dir=tmp_path, max_queue=10_000)
        trainer = Engine(step)
        tb.attach_output_handler(
            trainer, Events.ITERATION_COMPLETED, tag="t", output_transform=lambda o: [o] * 5
        )
        try:
            trainer.run(range(40))
        except (ValueError, KeyboardInterrupt):
            pass  # no close(), and the process ends at once

    assert in_child(body) == 0
    last = {"completed": 40, "terminate": 30, "interrupt": 30}.get(way, 29)
    expected = [(i, float(i - 1)) for i in range(1, last + 1)]
    assert scalars_of(tmp_path) == {f"t/output/{i}": expected for i in range(5)}


@needs_fork
@fork_warning
def test_tensorboard_imported_only_when_a_logger_is_made():
    def body():
        for name in list(sys.modules):
            if name.startswith(("miniengine", "torch.utils.tensorboard", "tensorboard")):
                del sys.modules[name]
        import miniengine.handlers.tensorboard_logger as tbl

        assert "torch.utils.tensorboard" not in sys.modules
        assert tbl.OutputHandler("t", metric_names="all") is not None
        assert "torch.utils.tensorboard" not in sys.modules

    assert in_child(body) == 0


# ------------------------------------------------------------------ Ignite as oracle
def scenario(lib, log_dir):
    """One training run logging every kind of thing; ``lib`` is miniengine or ignite."""
    if lib == "ignite":
        from ignite.engine import Engine, Events
        from ignite.handlers import tensorboard_logger as tbl
    else:
        from miniengine.engine import Engine, Events
        from miniengine.handlers import tensorboard_logger as tbl
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 1))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.5)
    batches = [(torch.randn(5, 3), torch.randn(5, 1)) for _ in range(4)]

    def step(engine, batch):
        optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss(model(batch[0]), batch[1])
        loss.backward()
        optimizer.step()
        return {"loss": loss.detach(), "parts": [loss.item(), 2 * loss.item()]}

    trainer = Engine(step)
    evaluator = Engine(lambda engine, batch: model(batch[0]).mean().item())

    @evaluator.on(Events.COMPLETED)
    def compute(engine):
        engine.state.metrics.update(mean=engine.state.output, deep={"a": [1, {"b": 2.5}]})

    @trainer.on(Events.EPOCH_COMPLETED)
    def evaluate(engine):
        engine.state.alpha = engine.state.epoch / 3
        evaluator.run(batches[:2])
        for group in optimizer.param_groups:
            group["lr"] *= 0.5

    with tbl.TensorboardLogger(log_dir=log_dir) as tb:
        tb.attach_output_handler(
            trainer, Events.ITERATION_COMPLETED, tag="training", output_transform=lambda o: o
        )
        tb.attach_output_handler(
            trainer, Events.EPOCH_COMPLETED, tag="training", state_attributes=["alpha"]
        )
        tb.attach_output_handler(
            evaluator,
            Events.COMPLETED,
            tag="validation",
            metric_names="all",
            global_step_transform=tbl.global_step_from_engine(trainer),
        )
        tb.attach_opt_params_handler(trainer, Events.ITERATION_STARTED, optimizer=optimizer)
        tb.attach(
            trainer,
            tbl.OptimizerParamsHandler(optimizer, "momentum", tag="opt"),
            Events.STARTED | Events.EPOCH_COMPLETED(every=2),
        )
        every2 = Events.ITERATION_COMPLETED(every=2)
        tb.attach(trainer, tbl.WeightsScalarHandler(model, tag="m"), every2)
        tb.attach(trainer, tbl.GradsScalarHandler(model, torch.mean, whitelist=["2"]), every2)
        tb.attach(trainer, tbl.WeightsHistHandler(model), Events.EPOCH_COMPLETED)
        tb.attach(trainer, tbl.GradsHistHandler(model, tag="g"), Events.EPOCH_COMPLETED)
        trainer.run(batches, max_epochs=3)
    return read(log_dir)


def test_same_files_as_ignite(tmp_path):
    pytest.importorskip("ignite")
    ours_scalars, ours_hists = scenario("miniengine", tmp_path / "ours")
    ignite_scalars, ignite_hists = scenario("ignite", tmp_path / "ignite")
    assert len(ours_scalars) == 15 and len(ours_hists) == 8
    assert ours_scalars == ignite_scalars
    assert ours_hists.keys() == ignite_hists.keys()
    for tag, ours in ours_hists.items():
        assert [(s, h.min, h.max, h.num, h.sum, list(h.bucket)) for s, h in ours] == [
            (s, h.min, h.max, h.num, h.sum, list(h.bucket)) for s, h in ignite_hists[tag]
        ]


def test_without_tensorboard_the_error_says_what_to_install(monkeypatch):
    import sys

    from miniengine.handlers.tensorboard_logger import TensorboardLogger

    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)
    with pytest.raises(ModuleNotFoundError, match="requires either tensorboardX or torch.*"
                       "pip install tensorboard"):  # fmt: skip
        TensorboardLogger(log_dir=None)
