"""Engine behaviour: traces against Ignite (oracle) and written by hand, fixed Ignite bugs,
errors, state_dict and exact resume."""

from __future__ import annotations

import logging

import pytest
import scenarios
import torch

from miniengine import Engine, EventEnum, Events, State

try:
    import ignite.engine as ignite_engine
except ImportError:  # the oracle tests skip
    ignite_engine = None

needs_ignite = pytest.mark.skipif(ignite_engine is None, reason="pytorch-ignite not installed")


# --------------------------------------------------------------------------- oracle traces
@needs_ignite
@pytest.mark.parametrize("scenario", scenarios.SCENARIOS, ids=lambda s: s.__name__)
def test_trace_equals_ignite(scenario):
    ours = scenario(Engine, Events)
    theirs = scenario(ignite_engine.Engine, ignite_engine.Events)
    assert ours == theirs


@needs_ignite
def test_custom_events_equal_ignite():
    ours = scenarios.custom_events(Engine, Events, EventEnum)
    theirs = scenarios.custom_events(
        ignite_engine.Engine, ignite_engine.Events, ignite_engine.EventEnum
    )
    assert ours == [("other", 1), ("even", 2), ("other", 2), ("other", 3), ("even", 4),
                    ("other", 4), ("other", 5)] == theirs  # fmt: skip


# --------------------------------------------------------------------------- traces by hand
def _events(trace):
    return [t for t in trace if isinstance(t, tuple) and t[0] != "step"]


def test_event_order_two_items_two_epochs():
    # The sequence from IGNITE_SEMANTICS.md, written out by hand.
    expected = [("STARTED", 0, 0), ("EPOCH_STARTED", 1, 0)]
    expected += [("GET_BATCH_STARTED", 1, 0), ("GET_BATCH_COMPLETED", 1, 0),
                 ("ITERATION_STARTED", 1, 1), ("ITERATION_COMPLETED", 1, 1),
                 ("GET_BATCH_STARTED", 1, 1), ("GET_BATCH_COMPLETED", 1, 1),
                 ("ITERATION_STARTED", 1, 2), ("ITERATION_COMPLETED", 1, 2),
                 ("EPOCH_COMPLETED", 1, 2), ("EPOCH_STARTED", 2, 2),
                 ("GET_BATCH_STARTED", 2, 2), ("DATALOADER_STOP_ITERATION", 2, 2),
                 ("GET_BATCH_COMPLETED", 2, 2), ("ITERATION_STARTED", 2, 3),
                 ("ITERATION_COMPLETED", 2, 3), ("GET_BATCH_STARTED", 2, 3),
                 ("GET_BATCH_COMPLETED", 2, 3), ("ITERATION_STARTED", 2, 4),
                 ("ITERATION_COMPLETED", 2, 4), ("EPOCH_COMPLETED", 2, 4),
                 ("COMPLETED", 2, 4)]  # fmt: skip
    assert _events(scenarios.two_epochs(Engine, Events)) == expected


def test_data_none_fires_no_batch_events_and_gives_none_batches():
    trace = scenarios.data_none(Engine, Events)
    names = {t[0] for t in _events(trace)}
    assert not names & {"GET_BATCH_STARTED", "GET_BATCH_COMPLETED", "DATALOADER_STOP_ITERATION"}
    assert [t for t in trace if t[0] == "step"] == [("step", None)] * 6


def test_unknown_length_sets_epoch_length_at_stop_iteration():
    trace = scenarios.generator_unknown_length(Engine, Events)
    assert trace[-1] == ("epoch_length", 3)
    first_epoch = trace[: trace.index(("EPOCH_COMPLETED", 1, 3)) + 1]
    assert "DATALOADER_STOP_ITERATION" not in {t[0] for t in first_epoch}


def test_shorter_epoch_length_continues_the_same_iterator():
    steps = [t[1] for t in scenarios.epoch_length_shorter(Engine, Events) if t[0] == "step"]
    assert steps == [1, 2, 3, 4, 5, 1]


def test_terminate_fires_terminate_then_completed_and_resumes_next_epoch():
    engine = Engine(lambda e, b: b)
    seen = []
    for name in ("EPOCH_COMPLETED", "TERMINATE", "COMPLETED"):
        engine.add_event_handler(getattr(Events, name), lambda e, n=name: seen.append(n))
    engine.add_event_handler(Events.ITERATION_COMPLETED(once=5), lambda e: e.terminate())
    state = engine.run([1, 2, 3], max_epochs=3)
    assert (state.epoch, state.iteration, seen) == (2, 5, ["EPOCH_COMPLETED", "TERMINATE",
                                                          "COMPLETED"])  # fmt: skip
    seen.clear()
    state = engine.run([1, 2, 3], max_epochs=3)  # epoch 2 is abandoned: epoch 3 runs whole
    assert (state.epoch, state.iteration, seen) == (3, 8, ["EPOCH_COMPLETED", "COMPLETED"])


def test_interrupt_continues_exactly():
    batches = []
    engine = Engine(lambda e, b: batches.append((e.state.epoch, e.state.iteration, b)))
    engine.add_event_handler(Events.ITERATION_COMPLETED(every=2), lambda e: e.interrupt())
    fired = []
    engine.add_event_handler(Events.INTERRUPT, lambda e: fired.append(e.state.iteration))
    assert [engine.run("abc", max_epochs=2).iteration for _ in range(4)] == [2, 4, 6, 6]
    assert fired == [2, 4, 6]
    uninterrupted = []
    Engine(lambda e, b: uninterrupted.append((e.state.epoch, e.state.iteration, b))).run(
        "abc", max_epochs=2
    )
    assert batches == uninterrupted


# --------------------------------------------------------------------------- Ignite bugs, fixed
def _raising_engine(at: int = 2) -> Engine:
    def step(engine, batch):
        if engine.state.iteration == at:
            raise RuntimeError("boom")

    return Engine(step)


def test_removing_last_exception_handler_lets_exceptions_escape():
    engine = _raising_engine()
    handle = engine.add_event_handler(Events.EXCEPTION_RAISED, lambda e, exc: None)
    engine.run([1, 2, 3])  # swallowed by the handler
    handle.remove()
    with pytest.raises(RuntimeError, match="boom"):
        engine.run([1, 2, 3])


def test_run_after_escaped_exception_works():
    engine = _raising_engine()
    with pytest.raises(RuntimeError):
        engine.run([1, 2, 3], max_epochs=2)
    engine._process_function = lambda e, b: b
    state = engine.run([1, 2, 3], max_epochs=2)
    assert isinstance(state, State)
    assert (state.epoch, state.iteration) == (2, 5)  # epoch 1 abandoned, epoch 2 whole


def test_reraising_exception_handler_is_called_once():
    engine = _raising_engine()
    calls = []

    def reraise(engine, exc):
        calls.append(exc)
        raise exc

    engine.add_event_handler(Events.EXCEPTION_RAISED, reraise)
    with pytest.raises(RuntimeError, match="boom"):
        engine.run([1, 2, 3])
    assert len(calls) == 1


def test_keyboard_interrupt_goes_to_exception_handlers_like_ignite():
    def step(engine, batch):
        raise KeyboardInterrupt

    engine = Engine(step)
    got = []
    engine.add_event_handler(Events.EXCEPTION_RAISED, lambda e, exc: got.append(type(exc)))
    engine.run([1])
    assert got == [KeyboardInterrupt]


def test_terminate_single_epoch_handler_must_accept_iter_counter():
    engine = Engine(lambda e, b: None)
    with pytest.raises(ValueError, match="iter_counter"):
        engine.add_event_handler(Events.TERMINATE_SINGLE_EPOCH, lambda e, x: None)
    engine.add_event_handler(Events.TERMINATE_SINGLE_EPOCH, lambda e, iter_counter: None)
    engine.add_event_handler(Events.TERMINATE_SINGLE_EPOCH, lambda e, **kw: None)


@pytest.mark.parametrize("name", ["EXCEPTION_RAISED", "TERMINATE", "TERMINATE_SINGLE_EPOCH",
                                  "INTERRUPT", "DATALOADER_STOP_ITERATION"])  # fmt: skip
def test_filter_on_event_without_counter_is_refused_at_registration(name):
    engine = Engine(lambda e, b: None)
    with pytest.raises(ValueError, match=f"{name} has no counter"):
        engine.add_event_handler(getattr(Events, name)(every=2), lambda: None)


# --------------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"data": 5}, TypeError, "data should be iterable, got int"),
        ({"data": [1], "max_epochs": 0}, ValueError, "max_epochs is invalid.*got 0"),
        ({"data": [1], "max_iters": -1}, ValueError, "max_iters is invalid.*got -1"),
        ({"data": [1], "max_epochs": 2, "max_iters": 2}, ValueError, "mutually exclusive"),
        ({"data": None}, ValueError, "epoch_length should be provided if data is None"),
        ({"data": []}, ValueError, "zero size"),
        ({"data": [1], "epoch_length": 0}, ValueError, "epoch_length should be a positive int"),
    ],
)
def test_run_argument_errors(kwargs, error, match):
    engine = Engine(lambda e, b: None)
    engine.state.max_epochs = 1 if "max_epochs" in kwargs and "max_iters" not in kwargs else None
    with pytest.raises(error, match=match):
        engine.run(**kwargs)
    engine.state.max_epochs = None
    assert engine.run([1, 2]).iteration == 2  # still usable


def test_run_errors_on_resume():
    engine = Engine(lambda e, b: None)
    engine.add_event_handler(Events.ITERATION_COMPLETED(once=3), Engine.terminate)
    engine.run(range(4), max_epochs=3)
    with pytest.raises(ValueError, match="switch from max_epochs to max_iters"):
        engine.run(range(4), max_iters=10)
    engine.state.epoch = 3
    with pytest.raises(ValueError, match="greater than or equal to the start epoch.*2 vs 3"):
        engine.run(range(4), max_epochs=2)
    with pytest.raises(ValueError, match="epoch_length should be same as in the state"):
        engine.state.epoch = 1
        engine.run(range(4), epoch_length=2)


def test_registration_errors():
    engine = Engine(lambda e, b: None)
    with pytest.raises(ValueError, match="not a valid event"):
        engine.add_event_handler("no_such_event", lambda: None)
    with pytest.raises(ValueError, match="Error adding .* 'handler'"):
        engine.add_event_handler(Events.STARTED, lambda a, b, c: None)
    with pytest.raises(TypeError, match="Value at 0 of event_names"):
        engine.register_events(3)
    with pytest.raises(ValueError, match="Expected event_to_attr to be dictionary"):
        engine.register_events("x", event_to_attr=[1])
    with pytest.raises(ValueError, match="not a valid event"):
        engine.fire_event("unregistered")
    with pytest.raises(ValueError, match="Input handler .* is not found"):
        engine.remove_event_handler(print, Events.STARTED)
    with pytest.raises(ValueError, match="process_function must accept \\(engine, batch\\)"):
        Engine(lambda: None)
    with pytest.raises(ValueError, match="Engine needs a process function, got None"):
        Engine(None)


def test_terminate_epoch_in_epoch_started_is_an_error():
    engine = Engine(lambda e, b: None)
    engine.add_event_handler(Events.EPOCH_STARTED, Engine.terminate_epoch)
    with pytest.raises(RuntimeError, match="terminate_epoch\\(\\) should not be called"):
        engine.run([1])


# --------------------------------------------------------------------------- handlers
def test_handlers_run_in_registration_order_and_can_be_removed_during_firing():
    engine = Engine(lambda e, b: None)
    calls = []

    def first(engine):
        calls.append("first")
        engine.remove_event_handler(first, Events.ITERATION_COMPLETED)

    engine.add_event_handler(Events.ITERATION_COMPLETED, first)
    engine.add_event_handler(Events.ITERATION_COMPLETED, lambda: calls.append("second"))
    engine.run([1, 2])
    assert calls == ["first", "second", "second"]


def test_has_event_handler_and_handle_remove_for_events_list():
    engine = Engine(lambda e, b: None)

    def h():
        pass

    handle = engine.add_event_handler(Events.STARTED | Events.COMPLETED(once=1), h)
    assert engine.has_event_handler(h, Events.COMPLETED) and engine.has_event_handler(h)
    handle.remove()
    assert not engine.has_event_handler(h)


def test_exception_handler_receives_args_after_exception():
    engine = _raising_engine(at=1)
    got = []
    engine.add_event_handler(Events.EXCEPTION_RAISED, lambda e, exc, tag: got.append(tag), "x")
    engine.run([1])
    assert got == ["x"]


# --------------------------------------------------------------------------- state
def test_state_persists_and_times_are_recorded():
    engine = Engine(lambda e, b: None)
    engine.state.custom = 7
    engine.state.metrics["m"] = 1.0
    state = engine.run([1, 2], max_epochs=2)
    assert state.custom == 7 and state.metrics == {"m": 1.0}
    assert state.times["EPOCH_COMPLETED"] > 0 and state.times["COMPLETED"] >= state.times[
        "EPOCH_COMPLETED"]  # fmt: skip
    assert "iteration: 4" in repr(state)


def test_state_dict_round_trip_and_user_keys():
    engine = Engine(lambda e, b: None)
    engine.state_dict_user_keys.append("alpha")
    engine.state.alpha = 0.25
    engine.run([1, 2, 3], max_iters=5)
    sd = engine.state_dict()
    assert dict(sd) == {"epoch_length": 3, "iteration": 5, "max_iters": 5, "alpha": 0.25,
                        "data_position": 2}  # fmt: skip
    other = Engine(lambda e, b: None)
    other.state_dict_user_keys.append("alpha")
    other.load_state_dict(sd)
    assert (other.state.epoch, other.state.iteration, other.state.alpha) == (1, 5, 0.25)


@pytest.mark.parametrize(
    "sd, match",
    [
        ({"iteration": 1, "max_epochs": 2}, "Required state attribute 'epoch_length'"),
        ({"epoch_length": 2, "max_epochs": 2}, "exactly one of '\\('iteration', 'epoch'\\)'"),
        ({"epoch_length": 2, "iteration": 1, "epoch": 1, "max_epochs": 2}, "exactly one of"),
        ({"epoch_length": 2, "iteration": 1}, "exactly one of '\\('max_epochs', 'max_iters'"),
        ({"epoch_length": -2, "iteration": 1, "max_epochs": 2}, "epoch_length should be a posi"),
        ({"epoch_length": 2, "iteration": 9, "max_epochs": 2}, "greater than or equal"),
        ({"epoch_length": 2, "iteration": 1, "max_epochs": 0}, "max_epochs is invalid"),
    ],
)
def test_load_state_dict_errors(sd, match):
    with pytest.raises(ValueError, match=match):
        Engine(lambda e, b: None).load_state_dict(sd)


def test_load_state_dict_needs_a_mapping_and_user_keys():
    engine = Engine(lambda e, b: None)
    with pytest.raises(TypeError, match="should be a dictionary"):
        engine.load_state_dict([1])
    engine.state_dict_user_keys.append("beta")
    with pytest.raises(ValueError, match="'beta' is absent"):
        engine.load_state_dict({"epoch_length": 2, "iteration": 0, "max_epochs": 1})


@pytest.mark.parametrize("stop_at", [1, 3, 4, 5, 8])
@pytest.mark.parametrize("epoch_length", [None, 3])
def test_resume_from_state_dict_mid_epoch_is_exact(stop_at, epoch_length):
    """A run stopped at any iteration and resumed in a fresh engine sees the same batches."""
    data = list(range(4))

    def run(engine):
        seen = []
        engine._process_function = lambda e, b: seen.append((e.state.epoch, e.state.iteration, b))
        return seen

    full = Engine(lambda e, b: None)
    expected = run(full)
    full.run(data, max_epochs=3, epoch_length=epoch_length)

    first = Engine(lambda e, b: None)
    got = run(first)
    saved = {}
    first.add_event_handler(
        Events.ITERATION_COMPLETED(once=stop_at),
        lambda e: (saved.update(e.state_dict()), e.terminate()),
    )
    first.run(data, max_epochs=3, epoch_length=epoch_length)
    second = Engine(lambda e, b: None)
    second.load_state_dict(saved)
    got_rest = run(second)
    second.run(data)
    assert got + got_rest == expected


def test_process_function_output_and_tensor_batches():
    engine = Engine(lambda e, b: b.sum())
    state = engine.run(torch.ones(3, 2))
    assert state.output.item() == 2.0 and state.batch.shape == (2,)


# --------------------------------------------------------------------------- run end, logging
@pytest.mark.parametrize("how", ["normal", "terminate", "interrupt", "exception", "ctrl-c"])
def test_run_end_callbacks_are_called_however_the_run_ends(how):
    def step(engine, batch):
        if engine.state.iteration == 2:
            if how == "exception":
                raise RuntimeError("x")
            if how == "ctrl-c":
                raise KeyboardInterrupt
            if how != "normal":
                getattr(engine, how)()

    engine = Engine(step)
    ended = []
    engine._on_run_end.append(lambda: ended.append(engine.state.iteration))
    try:
        engine.run([1, 2, 3])
    except (RuntimeError, KeyboardInterrupt):
        pass
    assert ended == [3 if how == "normal" else 2]


def test_logging_messages(caplog):
    engine = Engine(lambda e, b: None)
    with caplog.at_level(logging.INFO, logger="miniengine.engine.Engine"):
        engine.run([1, 2], max_epochs=2)
    text = caplog.text
    assert "Engine run starting with max_epochs=2." in text
    assert "Epoch[2] Complete. Time taken: 00:00:" in text
    assert "Engine run finished. Time taken:" in text


def test_distributed_sampler_gets_set_epoch_each_epoch():
    from torch.utils.data import DataLoader, DistributedSampler

    data = list(range(8))
    sampler = DistributedSampler(data, num_replicas=2, rank=0, shuffle=True, seed=3)
    loader = DataLoader(data, sampler=sampler, batch_size=2)
    seen = []
    Engine(lambda e, b: seen.append(b.tolist())).run(loader, max_epochs=3)
    expected = []
    for epoch in range(3):  # what a hand-written loop that calls set_epoch would see
        sampler.set_epoch(epoch)
        expected += [b.tolist() for b in loader]
    assert seen == expected
    assert seen[:2] != seen[2:4]  # the order does change between epochs


def test_get_event_attrib_value_uses_the_engines_counters():
    engine = Engine(lambda e, b: None)
    engine.register_events("backward", event_to_attr={"backward": "backwards"})
    engine.state.backwards = 5
    other = Engine(lambda e, b: None)
    engine.run([1, 2, 3])
    assert engine.state.get_event_attrib_value(Events.ITERATION_COMPLETED) == 3
    assert engine.state.get_event_attrib_value(Events.EPOCH_STARTED(every=2)) == 1
    assert engine.state.get_event_attrib_value("backward") == 5
    with pytest.raises(RuntimeError, match="Unknown event name 'backward'"):
        other.state.get_event_attrib_value("backward")  # counters are per engine


def test_refused_arguments_leave_the_engine_as_it_was():
    engine = Engine(lambda e, b: None)
    engine.run([1, 2, 3], max_epochs=2)
    before = dict(engine.state_dict())
    with pytest.raises(ValueError, match="max_epochs is invalid"):
        engine.run([1, 2, 3], max_epochs=0)
    with pytest.raises(ValueError, match="greater than or equal"):
        engine.load_state_dict({"epoch_length": 2, "iteration": 9, "max_epochs": 2})
    assert dict(engine.state_dict()) == before
    assert engine.run([1, 2, 3], max_epochs=2).iteration == 6
