"""State parameter schedulers: values on engine.state against formulas written here and Ignite."""

from __future__ import annotations

import pickle
import re
import sys
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import miniengine.handlers.state_param_scheduler as msps
from miniengine.engine import Engine, Events
from miniengine.handlers.state_param_scheduler import (
    ExpStateScheduler,
    LambdaStateScheduler,
    MultiStepStateScheduler,
    PiecewiseLinearStateScheduler,
    StateParamScheduler,
    StepStateScheduler,
)

# ---------------------------------------------------------------- independent formulas
# k is the scheduler's event index: 1 at the first event.


def exp_ref(k, initial_value, gamma):
    return initial_value * gamma**k


def step_ref(k, initial_value, gamma, step_size):
    return initial_value * gamma ** (k // step_size)


def multistep_ref(k, initial_value, gamma, milestones):
    return initial_value * gamma ** sum(1 for m in milestones if m <= k)


def piecewise_ref(k, milestones_values):
    """Flat before the first and after the last milestone; the last segment holding k wins."""
    ms = [m for m, _ in milestones_values]
    vs = [float(v) for _, v in milestones_values]
    if k < ms[0]:
        return vs[0]
    if k >= ms[-1]:
        return vs[-1]
    j = max(i for i in range(len(ms) - 1) if ms[i] <= k < ms[i + 1])
    return vs[j] + (vs[j + 1] - vs[j]) * (k - ms[j]) / (ms[j + 1] - ms[j])


def wave(k):
    return 10 * 0.99 ** (k % 9)


def cases(m):
    """name -> (scheduler class of module `m`, its kwargs, reference k -> value)."""
    pw1 = [(2, 0), (5, 10)]
    pw2 = [(3, 1.0), (10, 0.5), (10, 2.0), (14, 0.25), (20, 0.25), (25, -1.0)]
    return {
        "piecewise": (
            m.PiecewiseLinearStateScheduler,
            dict(milestones_values=pw1),
            lambda k: piecewise_ref(k, pw1),
        ),
        "piecewise-jump": (
            m.PiecewiseLinearStateScheduler,
            dict(milestones_values=pw2),
            lambda k: piecewise_ref(k, pw2),
        ),
        "piecewise-one": (
            m.PiecewiseLinearStateScheduler,
            dict(milestones_values=[(4, 3)]),
            lambda k: 3.0,
        ),
        "exp": (
            m.ExpStateScheduler,
            dict(initial_value=10, gamma=0.99),
            lambda k: exp_ref(k, 10, 0.99),
        ),
        "step": (
            m.StepStateScheduler,
            dict(initial_value=5.0, gamma=0.5, step_size=3),
            lambda k: step_ref(k, 5.0, 0.5, 3),
        ),
        "multistep": (
            m.MultiStepStateScheduler,
            dict(initial_value=2.0, gamma=0.9, milestones=[3, 6, 6, 11]),
            lambda k: multistep_ref(k, 2.0, 0.9, [3, 6, 6, 11]),
        ),
        "lambda": (m.LambdaStateScheduler, dict(lambda_obj=wave), wave),
    }


def run_recording(engine_cls, events, scheduler, event, data, max_epochs):
    """Run; after each `event`, record the attribute the scheduler wrote."""
    trainer = engine_cls(lambda e, b: None)
    scheduler.attach(trainer, event)
    seen = []
    trainer.add_event_handler(event, lambda e: seen.append(getattr(e.state, scheduler.param_name)))
    trainer.run(data, max_epochs=max_epochs)
    return trainer, seen


# ---------------------------------------------------------------- values on a real engine


@pytest.mark.parametrize("name", list(cases(msps)))
@pytest.mark.parametrize("on", ["epoch", "iteration"])
def test_values_follow_the_formula(name, on):
    cls, kwargs, ref = cases(msps)[name]
    event = Events.EPOCH_COMPLETED if on == "epoch" else Events.ITERATION_COMPLETED
    scheduler = cls(param_name="p", save_history=True, create_new=True, **kwargs)
    trainer, seen = run_recording(Engine, Events, scheduler, event, [0] * 3, 10)
    n = 10 if on == "epoch" else 30
    expected = [ref(k) for k in range(1, n + 1)]
    assert seen == pytest.approx(expected, rel=1e-12, abs=1e-12)
    assert trainer.state.param_history == {"p": seen}
    assert scheduler.event_index == n


def test_piecewise_matches_numpy_interp():
    mv = [(2, 1.0), (7, 3.0), (9, -1.0), (15, 0.5)]
    values = [
        v
        for _, v in PiecewiseLinearStateScheduler.simulate_values(
            20, param_name="p", milestones_values=mv
        )
    ]
    ms, vs = zip(*mv, strict=True)
    assert values == pytest.approx(np.interp(np.arange(1, 21), ms, vs), rel=1e-12)


def test_piecewise_values_are_floats_for_int_milestone_values():
    scheduler = PiecewiseLinearStateScheduler([(2, 0), (5, 10)], "p", create_new=True)
    values = [scheduler._next() for _ in range(7)]
    assert values == [0.0, 0.0, 10 / 3, 20 / 3, 10.0, 10.0, 10.0]
    assert all(type(v) is float for v in values)


def test_ignites_published_piecewise_history():
    """Ignite's test figures: 8 iterations a epoch, updated at each epoch's end."""
    scheduler = PiecewiseLinearStateScheduler(
        [(10, 0), (20, 10)], "p", save_history=True, create_new=True
    )
    trainer = Engine(lambda e, b: None)
    scheduler.attach(trainer, Events.EPOCH_COMPLETED)
    trainer.run([0] * 8, max_epochs=30)
    expected = [0.0] * 10 + [float(i) for i in range(1, 11)] + [10.0] * 10
    assert trainer.state.param_history["p"] == expected


def test_a_second_run_continues_the_schedule():
    scheduler = LambdaStateScheduler(wave, "p", create_new=True)
    trainer = Engine(lambda e, b: None)
    scheduler.attach(trainer, Events.EPOCH_COMPLETED)
    trainer.run([0] * 4, max_epochs=2)
    assert trainer.state.p == wave(2)
    trainer.run([0] * 4, max_epochs=13)
    assert trainer.state.p == wave(13)


def test_filtered_event_counts_only_its_firings():
    scheduler = ExpStateScheduler(1.0, 0.5, "p", save_history=True, create_new=True)
    trainer = Engine(lambda e, b: None)
    scheduler.attach(trainer, Events.ITERATION_COMPLETED(every=4))
    trainer.run([0] * 6, max_epochs=2)
    assert trainer.state.param_history["p"] == [0.5, 0.25, 0.125]


def test_the_previous_value_does_not_matter():
    trainer = Engine(lambda e, b: None)
    trainer.state.p = 123.0
    scheduler = StepStateScheduler(1.0, 0.1, 2, "p")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the attribute exists: no warning either
        scheduler.attach(trainer, Events.EPOCH_COMPLETED)
    assert trainer.state.p == 123.0  # attach leaves an existing value alone
    trainer.run([0], max_epochs=2)
    assert trainer.state.p == pytest.approx(0.1)


# ---------------------------------------------------------------- attach: create_new, history


def test_create_new_refuses_an_existing_attribute():
    trainer = Engine(lambda e, b: None)
    trainer.state.p = None
    scheduler = ExpStateScheduler(1.0, 0.5, "p", create_new=True)
    message = (
        "Attribute 'p' already exists in the engine.state. This may be a conflict between "
        "multiple handlers. Please choose another name."
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        scheduler.attach(trainer)
    assert not trainer.has_event_handler(scheduler)


def test_create_new_also_refuses_state_builtins():
    with pytest.raises(ValueError, match="'iteration' already exists"):
        ExpStateScheduler(1.0, 0.5, "iteration", create_new=True).attach(Engine(lambda e, b: 0))


def test_missing_attribute_is_created_with_a_warning_unless_create_new():
    trainer = Engine(lambda e, b: None)
    message = (
        "Attribute 'p' is not defined in the engine.state. MultiStepStateScheduler will create "
        "it. Remove this warning by setting create_new=True."
    )
    with pytest.warns(UserWarning, match=re.escape(message)):
        MultiStepStateScheduler(1.0, 0.5, [1], "p").attach(trainer)
    assert trainer.state.p is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        MultiStepStateScheduler(1.0, 0.5, [1], "q", create_new=True).attach(trainer)
    assert trainer.state.q is None


def test_history_is_made_at_attach_and_shared_between_schedulers():
    trainer = Engine(lambda e, b: None)
    a = ExpStateScheduler(1.0, 0.5, "a", save_history=True, create_new=True)
    b = StepStateScheduler(1.0, 0.5, 2, "b", save_history=True, create_new=True)
    c = ExpStateScheduler(1.0, 0.5, "c", create_new=True)
    for scheduler in (a, b, c):
        scheduler.attach(trainer, Events.EPOCH_COMPLETED)
    assert trainer.state.param_history == {"a": [], "b": []}
    trainer.run([0], max_epochs=3)
    assert trainer.state.param_history == {"a": [0.5, 0.25, 0.125], "b": [1.0, 0.5, 0.5]}


def test_no_history_unless_asked():
    trainer = Engine(lambda e, b: None)
    ExpStateScheduler(1.0, 0.5, "a", create_new=True).attach(trainer)
    trainer.run([0], max_epochs=2)
    assert not hasattr(trainer.state, "param_history")


def test_history_keeps_what_is_already_there():
    trainer = Engine(lambda e, b: None)
    trainer.state.param_history = {"lr": [[0.1]], "a": [7.0]}
    ExpStateScheduler(1.0, 0.5, "a", save_history=True, create_new=True).attach(trainer)
    trainer.run([0], max_epochs=1)
    assert trainer.state.param_history == {"lr": [[0.1]], "a": [7.0, 0.5]}


# ---------------------------------------------------------------- state_dict / resume


@pytest.mark.parametrize("name", list(cases(msps)))
def test_resume_from_state_dict_continues_exactly(name):
    cls, kwargs, _ = cases(msps)[name]
    whole = cls(param_name="p", save_history=True, create_new=True, **kwargs)
    whole_trainer, whole_seen = run_recording(
        Engine, Events, whole, Events.ITERATION_COMPLETED, [0] * 5, 6
    )

    first = cls(param_name="p", create_new=True, **kwargs)
    _, seen_first = run_recording(Engine, Events, first, Events.ITERATION_COMPLETED, [0] * 5, 3)
    saved = pickle.loads(pickle.dumps(first.state_dict()))
    # a different start, overwritten by the load
    second = cls(param_name="p", create_new=True, **kwargs)
    second.event_index = 99
    second.load_state_dict(saved)
    seen_second = [second._next() for _ in range(15)]
    assert seen_first + seen_second == whole_seen


def test_state_dict_holds_the_schedule():
    s = PiecewiseLinearStateScheduler([(0, 0.0), (4, 1.0)], "p", save_history=True)
    s._next()
    assert s.state_dict() == {
        "event_index": 1,
        "param_name": "p",
        "save_history": True,
        "values": [0.0, 1.0],
        "milestones": [0, 4],
        "_index": 0,
    }
    t = PiecewiseLinearStateScheduler([(0, 5.0)], "q")
    t.load_state_dict(s.state_dict())
    assert (t.param_name, t.save_history, t._next()) == ("p", True, 0.5)
    keys = {
        LambdaStateScheduler(wave, "p"): "lambda_obj",
        ExpStateScheduler(1, 0.5, "p"): "initial_value gamma",
        StepStateScheduler(1, 0.5, 2, "p"): "initial_value gamma step_size",
        MultiStepStateScheduler(1, 0.5, [2], "p"): "initial_value gamma milestones",
    }
    for scheduler, extra in keys.items():
        assert list(scheduler.state_dict()) == ["event_index", "param_name", "save_history"] + (
            extra.split()
        )


def test_load_state_dict_errors():
    s = ExpStateScheduler(1.0, 0.5, "p")
    with pytest.raises(TypeError, match="Argument state_dict should be a dictionary"):
        s.load_state_dict([1, 2])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="Required state attribute 'gamma' is absent"):
        s.load_state_dict(
            {"event_index": 1, "param_name": "p", "save_history": False, "initial_value": 1}
        )


def test_pickled_scheduler_runs_the_same():
    s = PiecewiseLinearStateScheduler([(1, 2.0), (5, 0.0)], "p", create_new=True)
    s._next()
    copy = pickle.loads(pickle.dumps(s))
    assert [copy._next() for _ in range(5)] == [s._next() for _ in range(5)]


# ---------------------------------------------------------------- simulate / plot


def test_simulate_values_rows_and_ignored_save_history():
    rows = ExpStateScheduler.simulate_values(
        3, initial_value=1.0, gamma=0.5, param_name="p", save_history=True
    )
    assert rows == [[0, 0.5], [1, 0.25], [2, 0.125]]


def test_plot_values_draws_the_simulated_values():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kwargs = dict(param_name="decay", milestones_values=[(2, 0.0), (6, 1.0)], create_new=True)
    lines = PiecewiseLinearStateScheduler.plot_values(8, **kwargs)
    assert len(lines) == 1
    assert list(lines[0].get_xdata()) == list(range(8))
    rows = PiecewiseLinearStateScheduler.simulate_values(8, **kwargs)
    assert list(lines[0].get_ydata()) == [v for _, v in rows]
    assert lines[0].get_label() == "decay"
    plt.close("all")


def test_plot_values_without_matplotlib_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)  # as if not installed
    with pytest.raises(ModuleNotFoundError, match="requires matplotlib.*pip install matplotlib"):
        ExpStateScheduler.plot_values(5, initial_value=1.0, gamma=0.5, param_name="p")


# ---------------------------------------------------------------- bad arguments


PIECEWISE_ERRORS = [
    (None, TypeError, "Argument milestones_values should be a list or tuple"),
    ([], ValueError, "Argument milestones_values should be with at least one value"),
    ([(0.5,)], ValueError, "Argument milestones_values should be a list of pairs"),
    ([(10, 0.5), (0.6,)], ValueError, "Argument milestones_values should be a list of pairs"),
    ([(10, 0.5), (5, 0.6)], ValueError, "Milestones should be increasing integers"),
    ([(0.5, 1)], TypeError, "Value of a milestone should be integer"),
]


@pytest.mark.parametrize("milestones_values, error, message", PIECEWISE_ERRORS)
def test_piecewise_bad_milestones(milestones_values, error, message):
    with pytest.raises(error, match=message):
        PiecewiseLinearStateScheduler(milestones_values, "p")


def test_other_bad_arguments():
    with pytest.raises(ValueError, match="Expected lambda_obj to be callable"):
        LambdaStateScheduler(3, "p")  # type: ignore[arg-type]
    for step_size in (0, -2, 2.5):
        with pytest.raises(
            ValueError, match=f"step_size should be a positive integer.*{step_size}"
        ):
            StepStateScheduler(1.0, 0.5, step_size, "p")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="Milestones should be increasing integers, but given 3"):
        MultiStepStateScheduler(1.0, 0.5, [5, 3], "p")
    with pytest.raises(TypeError, match="Value of a milestone should be integer"):
        MultiStepStateScheduler(1.0, 0.5, [2.5], "p")  # type: ignore[list-item]
    with pytest.raises(TypeError, match="Argument milestones should be a list or tuple"):
        MultiStepStateScheduler(1.0, 0.5, 3, "p")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="param_name should be a string, but given 7"):
        ExpStateScheduler(1.0, 0.5, 7)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="abstract"):
        StateParamScheduler("p")  # type: ignore[abstract]


def test_exported_from_handlers():
    import miniengine.handlers as h

    assert h.PiecewiseLinearStateScheduler is PiecewiseLinearStateScheduler
    assert {"StateParamScheduler", "MultiStepStateScheduler"} <= set(h.__all__)


# ---------------------------------------------------------------- Ignite as the oracle


def ignite():
    engine = pytest.importorskip("ignite.engine")
    return engine, pytest.importorskip("ignite.handlers.state_param_scheduler")


@pytest.mark.parametrize("name", list(cases(msps)))
def test_same_values_history_and_state_as_ignite(name):
    ie, isps = ignite()
    results = []
    for module, engine_cls, events in ((isps, ie.Engine, ie.Events), (msps, Engine, Events)):
        cls, kwargs, _ = cases(module)[name]
        scheduler = cls(param_name="p", save_history=True, create_new=True, **kwargs)
        trainer, seen = run_recording(
            engine_cls, events, scheduler, events.ITERATION_COMPLETED, [0] * 4, 7
        )
        state = {k: v for k, v in scheduler.state_dict().items() if k != "lambda_obj"}
        results.append((seen, trainer.state.param_history, state))
    assert results[1] == results[0]
    assert [type(v) for v in results[1][0]] == [type(v) for v in results[0][0]]


@pytest.mark.parametrize("name", list(cases(msps)))
def test_same_simulate_values_as_ignite(name):
    _, isps = ignite()
    theirs_cls, kwargs, _ = cases(isps)[name]
    ours_cls = cases(msps)[name][0]
    theirs = theirs_cls.simulate_values(40, param_name="p", save_history=True, **kwargs)
    assert ours_cls.simulate_values(40, param_name="p", save_history=True, **kwargs) == theirs


MILESTONE_SETS = [
    [(-5, 1.0), (-2, 2.0), (3, 0.0)],
    [(-5, 1.0), (-4, 2.0), (-2, 0.0)],
    [(0, 0.0), (0, 1.0), (2, 2.0), (2, 3.0), (5, 4.0), (5, 5.0)],
    [(4, 1.0), (4, 2.0)],
    [(7, 1.0)],
]


@pytest.mark.parametrize("milestones_values", MILESTONE_SETS)
def test_piecewise_state_dicts_load_both_ways_with_ignite(milestones_values):
    """Ignite keeps a segment counter `_index`: ours gives the same, so either loads the other."""
    _, isps = ignite()
    ours = PiecewiseLinearStateScheduler(milestones_values, "p")
    theirs = isps.PiecewiseLinearStateScheduler(milestones_values, "p")
    assert ours.state_dict() == theirs.state_dict()
    for _ in range(10):
        theirs.event_index += 1  # what Ignite's __call__ does before get_param()
        assert ours._next() == theirs.get_param()
        assert ours.state_dict() == theirs.state_dict()
    # swap mid-schedule: each continues from the other's state
    ours_next = PiecewiseLinearStateScheduler([(0, 9.0)], "p")
    ours_next.load_state_dict(theirs.state_dict())
    theirs_next = isps.PiecewiseLinearStateScheduler([(0, 9.0)], "p")
    theirs_next.load_state_dict(ours.state_dict())
    for _ in range(6):
        theirs_next.event_index += 1
        assert ours_next._next() == theirs_next.get_param() == ours._next()


@settings(max_examples=60, deadline=None)
@given(
    steps=st.lists(st.integers(0, 4), min_size=1, max_size=6),
    start=st.integers(-3, 6),
    values=st.lists(st.floats(-10, 10), min_size=6, max_size=6),
)
def test_piecewise_property_against_formula_and_ignite(steps, start, values):
    milestones = [start + sum(steps[: i + 1]) for i in range(len(steps))]
    mv = list(zip(milestones, values, strict=False))
    got = [
        v
        for _, v in PiecewiseLinearStateScheduler.simulate_values(
            30, param_name="p", milestones_values=mv
        )
    ]
    assert got == pytest.approx([piecewise_ref(k, mv) for k in range(1, 31)], abs=1e-9)
    _, isps = ignite()
    assert got == [
        v
        for _, v in isps.PiecewiseLinearStateScheduler.simulate_values(
            30, param_name="p", milestones_values=mv
        )
    ]


def test_same_errors_as_ignite():
    _, isps = ignite()
    messages_by_library = []
    for module in (isps, msps):
        messages = []
        for milestones_values, error, _ in PIECEWISE_ERRORS:
            with pytest.raises(error) as info:
                module.PiecewiseLinearStateScheduler(milestones_values, "p")
            messages.append(str(info.value))
        messages_by_library.append(messages)
    assert messages_by_library[1] == messages_by_library[0]

    ie, _ = ignite()
    texts = []
    for module, engine_cls in ((isps, ie.Engine), (msps, Engine)):
        trainer = engine_cls(lambda e, b: None)
        with pytest.warns(UserWarning) as record:
            module.ExpStateScheduler(1.0, 0.5, "p").attach(trainer)
        with pytest.raises(ValueError) as info:
            module.ExpStateScheduler(1.0, 0.5, "p", create_new=True).attach(trainer)
        texts.append((str(record[0].message), str(info.value)))
    assert texts[1] == texts[0]
