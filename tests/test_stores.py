"""EpochOutputStore: what it holds and what it puts on the state at each event, by hand and
against Ignite; a real tiny model's predictions collected over an epoch."""

from __future__ import annotations

import pytest
import torch

import miniengine.contrib.handlers
import miniengine.handlers
from miniengine.engine import Engine, Events
from miniengine.handlers import EpochOutputStore

BATCHES = [1, 2, 3]


def trace(engine_cls, events, store, name=None, max_epochs=2):
    """Run ``(10 * batch + epoch, batch)`` outputs; note ``store.data`` and the state's
    attribute ``name`` after the store's own handlers, at every epoch event."""
    engine = engine_cls(lambda e, b: (10 * b + e.state.epoch, b))
    store.attach(engine, name)
    seen = []

    def note(e):
        where = getattr(e.state, name, "unset") if name else "unset"
        seen.append((e.last_event_name.name, e.state.epoch, list(store.data), where))

    for event in (events.EPOCH_STARTED, events.EPOCH_COMPLETED):
        engine.add_event_handler(event, note)
    engine.run(BATCHES, max_epochs=max_epochs)
    return engine, seen


def by_hand(transform=lambda x: x, name=None):
    """What ``trace`` sees: emptied at each epoch's start, the epoch's outputs at its end."""
    seen, stored = [], "unset"
    for epoch in (1, 2):
        seen.append(("EPOCH_STARTED", epoch, [], stored))
        outputs = [transform((10 * b + epoch, b)) for b in BATCHES]
        stored = outputs if name else "unset"
        seen.append(("EPOCH_COMPLETED", epoch, outputs, stored))
    return seen


@pytest.mark.parametrize("name", [None, "", "preds"])
@pytest.mark.parametrize("transform", [None, lambda out: out[0]])
def test_by_hand_and_oracle(name, transform):
    kwargs = {"output_transform": transform} if transform else {}
    store = EpochOutputStore(**kwargs)
    engine, seen = trace(Engine, Events, store, name)
    assert seen == by_hand(transform or (lambda x: x), name)
    assert engine.has_event_handler(store.reset, Events.EPOCH_STARTED)
    assert engine.has_event_handler(store.update, Events.ITERATION_COMPLETED)
    assert engine.has_event_handler(store.store, Events.EPOCH_COMPLETED) is bool(name)
    ie = pytest.importorskip("ignite.engine")
    ih = pytest.importorskip("ignite.handlers")
    assert seen == trace(ie.Engine, ie.Events, ih.EpochOutputStore(**kwargs), name)[1]


def test_the_state_gets_the_list_itself_and_keeps_it_after_the_next_reset():
    store = EpochOutputStore()
    engine = Engine(lambda e, b: b * e.state.epoch)
    store.attach(engine, "outputs")
    kept = []
    engine.add_event_handler(Events.EPOCH_COMPLETED, lambda e: kept.append(e.state.outputs))
    engine.add_event_handler(
        Events.ITERATION_COMPLETED(once=5), lambda e: kept.append(e.state.outputs)
    )
    engine.run([1, 2, 3], max_epochs=2)
    first, during_second, second = kept
    assert first == [1, 2, 3] and second == [2, 4, 6]
    assert during_second is first  # until epoch 2 completes, the state shows epoch 1's list
    assert second is store.data is engine.state.outputs


def test_reset_update_store_by_hand():
    store = EpochOutputStore(output_transform=lambda out: out["y_pred"])
    engine = Engine(lambda e, b: b)
    engine.state.output = {"y_pred": 7, "y": 0}
    store.update(engine)
    store.update(engine)
    assert store.data == [7, 7]
    store.name = "kept"
    store.store(engine)
    assert engine.state.kept == [7, 7]
    store.reset()
    assert store.data == [] and engine.state.kept == [7, 7]


def test_real_model_predictions_of_an_epoch():
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2)
    x, y = torch.randn(10, 3), torch.randint(0, 2, (10,))

    @torch.no_grad()
    def evaluate(engine, batch):
        xb, yb = batch
        return model(xb), yb

    evaluator = Engine(evaluate)
    store = EpochOutputStore()
    store.attach(evaluator, "eval_outputs")
    loader = [(x[i : i + 4], y[i : i + 4]) for i in range(0, 10, 4)]
    outputs = evaluator.run(loader).eval_outputs
    assert len(outputs) == 3 and [len(p) for p, _ in outputs] == [4, 4, 2]
    torch.testing.assert_close(torch.cat([p for p, _ in outputs]), model(x).detach())
    assert torch.equal(torch.cat([t for _, t in outputs]), y)


def test_errors():
    with pytest.raises(TypeError, match="Argument output_transform should be callable"):
        EpochOutputStore(output_transform=0)  # type: ignore[arg-type]
    with pytest.raises(RuntimeError, match=r"needs a name: attach the store with attach\(engine"):
        EpochOutputStore().store(Engine(lambda e, b: b))


def test_exported_from_handlers_and_contrib_handlers():
    assert miniengine.handlers.EpochOutputStore is EpochOutputStore
    assert miniengine.contrib.handlers.EpochOutputStore is EpochOutputStore
    assert "EpochOutputStore" in miniengine.contrib.handlers.__all__
