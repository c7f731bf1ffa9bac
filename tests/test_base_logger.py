"""BaseLogger / handler bases: argument errors, flattening, steps, attach, the run-end hook."""

from __future__ import annotations

import gc
import weakref
from collections import namedtuple
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from miniengine.engine import Engine, EventEnum, Events
from miniengine.handlers.base_logger import (
    BaseLogger,
    BaseOptimizerParamsHandler,
    BaseOutputHandler,
    BaseWeightsHandler,
    BaseWeightsScalarHandler,
    global_step_from_engine,
)


class Collect(BaseOutputHandler):
    def __call__(self, engine, logger, event_name, log_text=False, key_tuple=False):
        return self._setup_output_metrics_state_attrs(engine, log_text, key_tuple)


class Recorder(BaseLogger):
    """A logger that only records what reaches it."""

    def __init__(self):
        self.calls, self.run_ends = [], 0

    def _create_output_handler(self, *args, **kwargs):
        return Collect(*args, **kwargs)

    def _create_opt_params_handler(self, *args, **kwargs):
        return lambda engine, logger, event: logger.calls.append((args, kwargs))

    def _run_ended(self):
        self.run_ends += 1


def fake_engine(metrics=None, output=None, **attrs):
    return SimpleNamespace(state=SimpleNamespace(metrics=metrics or {}, output=output, **attrs))


def record(engine, logger, event_name, *args, **kwargs):
    logger.calls.append((event_name.name, engine.state.iteration, args, kwargs))


# ------------------------------------------------------------------ BaseOutputHandler
@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"metric_names": "acc"}, TypeError, "metric_names should be either a list or equal 'all'"),
        ({"metric_names": ("acc",)}, TypeError, "got <class 'tuple'> instead"),
        ({"output_transform": 3}, TypeError, "output_transform should be a function"),
        ({}, ValueError, "Either metric_names, output_transform or state_attributes"),
        (
            {"metric_names": "all", "global_step_transform": 1},
            TypeError,
            "global_step_transform should be a function, got <class 'int'>",
        ),
    ],
)
def test_output_handler_argument_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        Collect("tag", **kwargs)


Point = namedtuple("Point", "x y")
NESTED = {
    "a": 1,
    "b": {"c": 2.5, "d": [3, {"e": 4}]},
    "p": Point(5, 6),
    "t0": torch.tensor(7.0),
    "t1": torch.tensor([8, 9]),
    "np": np.float32(0.5),
}
NESTED_FLAT = {
    "tag/a": 1,
    "tag/b/c": 2.5,
    "tag/b/d/0": 3,
    "tag/b/d/1/e": 4,
    "tag/p/0": 5,
    "tag/p/1": 6,
    "tag/t0": 7.0,
    "tag/t1/0": 8,
    "tag/t1/1": 9,
    "tag/np": 0.5,
}


def test_flattening_nested_values_to_slash_names():
    flat = Collect("tag", metric_names="all")(fake_engine(NESTED), None, None)
    assert flat == NESTED_FLAT
    assert type(flat["tag/t0"]) is float and type(flat["tag/t1/0"]) is int


def test_flattening_with_tuple_keys():
    flat = Collect("tag", metric_names="all")(fake_engine(NESTED), None, None, key_tuple=True)
    assert flat == {tuple(k.split("/")): v for k, v in NESTED_FLAT.items()}
    untagged = Collect(None, metric_names=["a"])(fake_engine(NESTED), None, None, key_tuple=True)
    assert untagged == {("a",): 1}


def test_metric_list_of_mixed_types_keeps_order():
    engine = fake_engine({"f": 0.5, "i": 2, "t": torch.tensor(1.5), "g": 4.0})
    flat = Collect("m", metric_names=["f", "i", "t", "g"])(engine, None, None)
    assert list(flat.items()) == [("m/f", 0.5), ("m/i", 2), ("m/t", 1.5), ("m/g", 4.0)]
    engine.state.metrics["i"] = 2.0  # now all floats
    assert Collect("m", metric_names=["g", "i"])(engine, None, None) == {"m/g": 4.0, "m/i": 2.0}


def test_sources_order_and_overwrite():
    engine = fake_engine({"loss": 1.0, "acc": 0.5}, output=2.0, alpha=0.1)
    handler = Collect(
        "t",
        metric_names=["acc", "loss"],
        output_transform=lambda out: {"loss": out * 2},
        state_attributes=["alpha", "epoch"],
    )
    with pytest.warns(UserWarning, match="can not log metrics value type <class 'NoneType'>"):
        flat = handler(engine, None, None)  # `epoch` is not an attribute: None, warned about
    assert list(flat.items()) == [("t/acc", 0.5), ("t/loss", 4.0), ("t/alpha", 0.1)]
    plain = Collect("t", output_transform=lambda out: out)(engine, None, None)
    assert plain == {"t/output": 2.0}


def test_missing_metric_and_unsupported_types_are_warned_about():
    engine = fake_engine({"acc": 0.5, "img": torch.zeros(2, 2), "name": "x", "arr": np.ones(2)})
    with pytest.warns(UserWarning) as caught:
        flat = Collect("t", metric_names=["acc", "nope", "img", "name", "arr"])(engine, None, None)
    assert flat == {"t/acc": 0.5}
    assert [str(w.message) for w in caught] == [
        "Provided metric name 'nope' is missing in engine's state metrics: "
        "['acc', 'img', 'name', 'arr']",
        "Logger output_handler can not log metrics value type <class 'torch.Tensor'>",
        "Logger output_handler can not log metrics value type <class 'str'>",
        "Logger output_handler can not log metrics value type <class 'numpy.ndarray'>",
    ]
    text = Collect("t", metric_names=["name"])(engine, None, None, log_text=True)
    assert text == {"t/name": "x"}


@pytest.mark.parametrize("key_tuple", [False, True])
@pytest.mark.parametrize("log_text", [False, True])
def test_flattening_matches_ignite(key_tuple, log_text):
    ignite_base = pytest.importorskip("ignite.handlers.base_logger")

    class IgniteCollect(ignite_base.BaseOutputHandler):
        def __call__(self, engine, logger, event_name):
            return self._setup_output_metrics_state_attrs(engine, log_text, key_tuple)

    metrics = {**NESTED, "s": "text", "m": torch.ones(2, 2)}
    engine = fake_engine(metrics, output=(1.5, {"z": torch.tensor(2)}), beta=[0.9, 0.99])
    kwargs = dict(metric_names="all", output_transform=lambda o: o, state_attributes=["beta"])
    with pytest.warns(UserWarning) as ours_warned:
        ours = Collect("tag", **kwargs)(engine, None, None, log_text, key_tuple)
    with pytest.warns(UserWarning) as theirs_warned:
        theirs = IgniteCollect("tag", **kwargs)(engine, None, None)
    assert list(ours.items()) == list(theirs.items())
    assert [str(w.message) for w in ours_warned] == [str(w.message) for w in theirs_warned]


# ------------------------------------------------------------------ steps
class Custom(EventEnum):
    BACKWARD = "backward"


def test_global_step_from_engine():
    trainer = Engine(lambda engine, batch: None)
    trainer.register_events(*Custom, event_to_attr={Custom.BACKWARD: "backwards"})
    trainer.run([0, 0, 0], max_epochs=2)
    trainer.state.backwards = 7
    step = global_step_from_engine(trainer)
    assert step(None, Events.EPOCH_COMPLETED) == 2
    assert step(None, Events.ITERATION_COMPLETED(every=2)) == 6
    assert step(None, Custom.BACKWARD) == 7
    assert step(None, Events.TERMINATE) == 2  # no counter: falls back to state.epoch
    assert global_step_from_engine(trainer, fallback_attr="iteration")(None, "nope") == 6
    by_iteration = global_step_from_engine(trainer, Events.ITERATION_COMPLETED)
    assert by_iteration(None, Events.EPOCH_COMPLETED) == 6


# ------------------------------------------------------------------ other bases
class Names(BaseWeightsHandler):
    def __call__(self, engine, logger, event_name):
        return [name for name, _ in self.weights]


MODEL = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ReLU(), torch.nn.Linear(3, 1))


@pytest.mark.parametrize(
    "whitelist, names",
    [
        (None, ["0.weight", "0.bias", "2.weight", "2.bias"]),
        (["2"], ["2.weight", "2.bias"]),
        (["0.bias", "2.weight"], ["0.bias", "2.weight"]),
        ("0", ["0.weight", "0.bias"]),
        (lambda name, p: p.ndim == 1, ["0.bias", "2.bias"]),
        ([], []),
    ],
)
def test_weights_whitelist(whitelist, names):
    handler = Names(MODEL, whitelist=whitelist)
    assert handler(None, None, None) == names
    assert all(p is dict(MODEL.named_parameters())[n] for n, p in handler.weights)


def test_weights_handler_errors():
    with pytest.raises(TypeError, match="model should be of type torch.nn.Module, but given"):
        Names(lambda x: x)

    class Reduce(BaseWeightsScalarHandler):
        def __call__(self, engine, logger, event_name): ...

    with pytest.raises(TypeError, match="reduction should be callable, but given <class 'int'>"):
        Reduce(MODEL, reduction=1)
    with pytest.raises(TypeError, match="reduction function should be a scalar, but got"):
        Reduce(MODEL, reduction=lambda t: t * 2)
    assert Reduce(MODEL, reduction=lambda t: 1.0).reduction(torch.ones(1)) == 1.0


def test_optimizer_params_handler_errors():
    class Params(BaseOptimizerParamsHandler):
        def __call__(self, engine, logger, event_name): ...

    with pytest.raises(TypeError, match="should be torch.optim.Optimizer or has attribute"):
        Params(object())
    with pytest.raises(TypeError, match="but given <class 'types.SimpleNamespace'>"):
        Params(SimpleNamespace(param_groups={"lr": 1}))
    duck = Params(SimpleNamespace(param_groups=[{"lr": 1}]), param_name="lr", tag="g")
    assert (duck.param_name, duck.tag) == ("lr", "g")


# ------------------------------------------------------------------ BaseLogger
def test_attach_passes_logger_event_and_arguments():
    engine = Engine(lambda engine, batch: None)
    logger = Recorder()
    logger.attach(engine, record, Events.ITERATION_COMPLETED(every=2), 1, key="v")
    handle = logger.attach(engine, record, Events.STARTED | Events.EPOCH_COMPLETED)
    engine.run([0, 0, 0, 0])
    assert logger.calls == [
        ("STARTED", 0, (), {}),
        ("ITERATION_COMPLETED", 2, (1,), {"key": "v"}),
        ("ITERATION_COMPLETED", 4, (1,), {"key": "v"}),
        ("EPOCH_COMPLETED", 4, (), {}),
    ]
    handle.remove()
    assert not engine.has_event_handler(record, Events.STARTED)
    assert not engine.has_event_handler(record, Events.EPOCH_COMPLETED)
    assert engine.has_event_handler(record, Events.ITERATION_COMPLETED)


@pytest.mark.parametrize("event", [Events.TERMINATE, Events.EXCEPTION_RAISED, "no_such_event"])
def test_attach_refuses_events_without_counter(event):
    engine = Engine(lambda engine, batch: None)
    with pytest.raises(RuntimeError, match="Unknown event name '.*'"):
        Recorder().attach(engine, record, event)
    if not isinstance(event, str):
        with pytest.raises(RuntimeError, match="Unknown event name"):
            Recorder().attach(engine, record, Events.STARTED | event)
    assert not engine.has_event_handler(record)  # nothing half-attached


def test_attach_custom_event_with_counter():
    engine = Engine(lambda engine, batch: engine.fire_event(Custom.BACKWARD))
    engine.register_events(*Custom, event_to_attr={Custom.BACKWARD: "backwards"})

    @engine.on(Custom.BACKWARD)
    def count(engine):
        engine.state.backwards += 1

    logger = Recorder()
    handler = logger._create_output_handler("t", state_attributes=["backwards"])
    logger.attach(engine, lambda e, lg, ev: lg.calls.append(handler(e, lg, ev)), Custom.BACKWARD)
    engine.run([0, 0])
    assert logger.calls == [{"t/backwards": 1}, {"t/backwards": 2}]


def test_shortcuts_create_handlers():
    engine = Engine(lambda engine, batch: batch)
    logger = Recorder()
    handle = logger.attach_output_handler(engine, Events.COMPLETED, tag="t", output_transform=int)
    logger.attach_opt_params_handler(engine, Events.COMPLETED, "opt", param_name="lr")
    engine.run([3])
    assert logger.calls == [(("opt",), {"param_name": "lr"})]
    output_handler = handle.handler()
    assert isinstance(output_handler, Collect) and output_handler.tag == "t"
    assert output_handler(engine, logger, Events.COMPLETED) == {"t/output": 3}


def test_run_end_hook_once_per_engine_and_removed_on_close():
    trainer, evaluator = Engine(lambda e, b: None), Engine(lambda e, b: None)
    logger = Recorder()
    for event in (Events.STARTED, Events.COMPLETED, Events.EPOCH_COMPLETED):
        logger.attach(trainer, record, event)
    logger.attach(evaluator, record, Events.COMPLETED)
    assert len(trainer.run_end_hooks) == 1 and len(evaluator.run_end_hooks) == 1
    trainer.run([0], max_epochs=2)
    evaluator.run([0])
    assert logger.run_ends == 2
    with logger:
        pass
    assert trainer.run_end_hooks == [] and evaluator.run_end_hooks == []
    logger.close()  # twice is fine


WAYS = ["completed", "terminate", "interrupt", "exception", "keyboard"]


def end_run(engine, way):
    """End ``engine``'s run now, the way named in ``WAYS`` ("completed": do nothing)."""
    if way == "terminate":
        engine.terminate()
    elif way == "interrupt":
        engine.interrupt()
    elif way == "exception":
        raise ValueError("boom")
    elif way == "keyboard":
        raise KeyboardInterrupt


def make_ending(way):
    def step(engine, batch):
        if engine.state.iteration == 2:
            end_run(engine, way)

    return Engine(step)


@pytest.mark.parametrize("way", WAYS)
def test_run_end_hook_called_however_the_run_ends(way):
    engine, logger = make_ending(way), Recorder()
    logger.attach(engine, record, Events.ITERATION_COMPLETED)
    error = {"exception": ValueError, "keyboard": KeyboardInterrupt}.get(way)
    if error:
        with pytest.raises(error):
            engine.run([0, 0, 0])
    else:
        engine.run([0, 0, 0])
    assert logger.run_ends == 1
    # raising in the step skips that iteration's ITERATION_COMPLETED
    expected = {"completed": 3, "terminate": 2, "interrupt": 2, "exception": 1, "keyboard": 1}
    assert len(logger.calls) == expected[way]


def test_engine_does_not_keep_a_detached_logger_alive():
    engine, logger = Engine(lambda e, b: None), Recorder()
    handle = logger.attach(engine, record, Events.COMPLETED)
    handle.remove()
    ref = weakref.ref(logger)
    del logger
    gc.collect()
    assert ref() is None
    engine.run([0])  # the stale hook does nothing
