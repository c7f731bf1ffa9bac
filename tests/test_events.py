"""Events and filters: the filter arithmetic (property tests, and Ignite as an oracle),
equality, EventsList, RemovableEventHandle, argument errors."""

from __future__ import annotations

import gc
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from miniengine import Engine, Events, EventsList
from miniengine.engine.events import Between, CallableEventWithFilter, Every, Once

try:
    import ignite.engine as ignite_engine
except ImportError:
    ignite_engine = None

N = 60  # iterations run in the property tests


def fired(event, n_iters=N) -> list[int]:
    """Iterations at which a handler on `event` ran in a real run of n_iters iterations."""
    engine = Engine(lambda e, b: None)
    out: list[int] = []
    engine.add_event_handler(event, lambda e: out.append(e.state.iteration))
    engine.run(range(n_iters))
    return out


@given(st.integers(1, 70))
def test_every(every):
    assert fired(Events.ITERATION_COMPLETED(every=every)) == list(range(every, N + 1, every))


@given(st.lists(st.integers(1, 80), min_size=1, max_size=5) | st.integers(1, 80))
def test_once(once):
    wanted = {once} if isinstance(once, int) else set(once)
    assert fired(Events.ITERATION_STARTED(once=once)) == sorted(k for k in wanted if k <= N)


@given(
    st.none() | st.integers(0, 70), st.none() | st.integers(0, 70), st.none() | st.integers(1, 9)
)
def test_before_after_every(after, before, every):
    if after is None and before is None and every is None:
        return
    if before is not None and before <= (after or 0) + 1:  # no count left: refused
        with pytest.raises(ValueError, match="leave no count to fire at"):
            Events.ITERATION_COMPLETED(every=every, before=before, after=after)
        return
    event = Events.ITERATION_COMPLETED(every=every, before=before, after=after)
    # With a window, counting starts at the first value inside it; alone, every=k means k, 2k...
    start = every if after is None and before is None else (after or 0) + 1
    expected = [n for n in range(start, N + 1, every or 1) if before is None or n < before]
    assert fired(event) == expected


@pytest.mark.skipif(ignite_engine is None, reason="pytorch-ignite not installed")
@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from(["every", "once", "window"]),
    st.integers(1, 12), st.integers(0, 30), st.integers(0, 40),
)  # fmt: skip
def test_filters_fire_where_ignites_do(kind, k, after, before):
    empty = kind == "window" and before <= after + 1

    def run(lib):
        if kind == "every":
            events = [lib.Events.ITERATION_COMPLETED(every=k), lib.Events.EPOCH_COMPLETED(every=k)]
        elif kind == "once":
            events = [lib.Events.ITERATION_STARTED(once=[k, after + 1])]
        else:
            events = [lib.Events.GET_BATCH_STARTED(every=k, after=after, before=before)]
        engine = lib.Engine(lambda e, b: None)
        out: list = []
        for i, ev in enumerate(events):
            engine.add_event_handler(ev, lambda e, i=i: out.append((i, e.state.iteration)))
        engine.run(range(7), max_epochs=5)
        return out

    if empty:  # Ignite accepts a window with no count in it, and never fires; we refuse it
        assert run(ignite_engine) == []
        with pytest.raises(ValueError, match="leave no count to fire at"):
            run(__import__("miniengine"))
        return
    assert run(__import__("miniengine")) == run(ignite_engine)


@given(
    st.sampled_from(["every", "once", "window"]),
    st.integers(1, 9), st.integers(0, 20), st.integers(0, 30), st.integers(0, 40),
)  # fmt: skip
def test_next_after_is_the_first_firing_count_above(kind, k, after, gap, count):
    if kind == "every":
        event_filter = Every(k)
    elif kind == "once":
        event_filter = Once(frozenset({k, after + 1, after + gap + 1}))
    else:
        event_filter = Between(after, math.inf if gap == 0 else after + gap + 2, k)
    firing = [n for n in range(count + 1, 200) if event_filter(None, n)]
    assert event_filter.next_after(count) == (firing[0] if firing else math.inf)


def test_filters_are_small_readable_objects():
    assert Events.ITERATION_COMPLETED(every=100).filter == Every(100)
    assert Events.EPOCH_COMPLETED(once=[2, 5]).filter == Once(frozenset({2, 5}))
    assert Events.EPOCH_COMPLETED(once=5).filter.counts == {5}
    window = Events.ITERATION_STARTED(after=3, before=9, every=2).filter
    assert (window.after, window.before, window.every) == (3, 9, 2)
    assert Events.ITERATION_STARTED(after=3).filter == Between(3, math.inf, 1)
    assert repr(Events.GET_BATCH_STARTED(once=1)) == "Events.GET_BATCH_STARTED(once=[1])"

    def odd(engine, count):
        return count % 2 == 1

    assert Events.STARTED(event_filter=odd).filter is odd  # a user's function, unchanged
    assert repr(Events.STARTED(event_filter=odd)) == "Events.STARTED(event_filter=odd)"
    assert repr(Events.EPOCH_STARTED(after=0)) == "Events.EPOCH_STARTED(after=0)"
    assert repr(Events.EPOCH_STARTED(before=5)) == "Events.EPOCH_STARTED(before=5)"
    assert repr(Events.EPOCH_STARTED(after=2, every=3)) == "Events.EPOCH_STARTED(after=2, every=3)"


def test_custom_event_filter_gets_engine_and_count():
    seen = []
    event = Events.EPOCH_STARTED(event_filter=lambda e, n: seen.append((type(e), n)) or n == 2)
    engine = Engine(lambda e, b: None)
    engine.add_event_handler(event, lambda e: seen.append("ran"))
    engine.run([1], max_epochs=3)
    assert seen == [(Engine, 1), (Engine, 2), "ran", (Engine, 3)]


def test_default_event_filter_is_ignites_deprecated_true():
    ours = Events.default_event_filter
    theirs = ignite_engine.Events.default_event_filter if ignite_engine else ours
    for f in (ours, theirs):
        with pytest.warns(UserWarning, match="default_event_filter is deprecated") as caught:
            assert f(None, 7) is True
    assert str(caught[0].message) == (
        "Events.default_event_filter is deprecated and will be removed. Please, use None instead"
    )


def test_every_one_is_no_filter():
    assert Events.ITERATION_COMPLETED(every=1).filter is None


def test_filtered_event_equals_base_event_and_hashes_alike():
    a, b = Events.EPOCH_COMPLETED(every=2), Events.EPOCH_COMPLETED
    assert a == b and hash(a) == hash(b) and a != Events.EPOCH_STARTED
    assert Events.STARTED == "STARTED" and Events.STARTED.value == "started"
    assert {b: 1}[a] == 1
    assert repr(Events.COMPLETED) == "Events.COMPLETED"
    assert repr(a) == "Events.EPOCH_COMPLETED(every=2)"


def test_events_list():
    events = Events.STARTED | Events.ITERATION_COMPLETED(every=3) | Events.COMPLETED
    assert isinstance(events, EventsList) and len(events) == 3
    assert [e.name for e in events] == ["STARTED", "ITERATION_COMPLETED", "COMPLETED"]
    assert events[1].filter is not None
    with pytest.raises(TypeError, match="Argument event should be Events"):
        Events.STARTED | "COMPLETED"


def test_all_thirteen_builtins():
    assert len(Events) == 13
    assert all(e.value == e.name.lower() for e in Events)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({}, ValueError, "Only one of the input arguments"),
        ({"every": 2, "once": 3}, ValueError, "Only one of the input arguments.*once=3"),
        ({"event_filter": lambda e, n: True, "every": 2}, ValueError, "Only one"),
        ({"every": 0}, ValueError, "every should be integer and greater than zero, got 0"),
        ({"every": 1.5}, ValueError, "every should be integer.*got 1.5"),
        ({"once": []}, ValueError, "once should either be a positive integer.*got \\[\\]"),
        ({"once": [1, 0]}, ValueError, "once should either"),
        ({"once": 0}, ValueError, "once should either"),
        ({"before": -1}, ValueError, "before should be integer and greater or equal to zero"),
        ({"before": 2, "after": 5}, ValueError, "after=5 and before=2 leave no count to fire"),
        ({"before": 1}, ValueError, "after=0 and before=1 leave no count to fire"),
        ({"after": "3"}, ValueError, "after should be integer.*got '3'"),
        ({"event_filter": 3}, TypeError, "event_filter should be a callable"),
        (
            {"event_filter": lambda n: True},
            ValueError,
            "'event_filter': takes parameters .* but will be called with \\['engine', 'event'\\]",
        ),
    ],
)
def test_filter_argument_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        Events.ITERATION_COMPLETED(**kwargs)


def test_removable_handle_is_weak_and_idempotent():
    engine = Engine(lambda e, b: None)

    def h():
        pass

    handle = engine.add_event_handler(Events.COMPLETED, h)
    handle.remove()
    handle.remove()  # no error the second time
    assert not engine.has_event_handler(h)
    handle = engine.add_event_handler(Events.COMPLETED, h)
    del engine
    gc.collect()
    handle.remove()  # the engine is gone: nothing to do


def test_callable_event_with_filter_standalone():
    e = CallableEventWithFilter("my_event", name="MY_EVENT")
    assert (e.name, e.value, e.filter) == ("MY_EVENT", "my_event", None)
    assert e(every=5).filter(None, 10) and not e(every=5).filter(None, 11)
