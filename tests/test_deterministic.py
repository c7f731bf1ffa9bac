"""DeterministicEngine, ReproducibleBatchSampler and update_dataloader: the same batches and the
same randomness as Ignite's (oracle), resume from any iteration or epoch checked by hand, and
Ignite's error messages."""

from __future__ import annotations

import random

import pytest
import torch
from torch.utils.data import BatchSampler, DataLoader, RandomSampler

from miniengine.engine import DeterministicEngine, Engine, Events
from miniengine.engine.deterministic import ReproducibleBatchSampler, update_dataloader

try:
    import ignite.engine as ignite_engine
except ImportError:  # the oracle tests skip
    ignite_engine = None

needs_ignite = pytest.mark.skipif(ignite_engine is None, reason="pytorch-ignite not installed")

EPOCHS = 3


def _shuffled_loader():
    return DataLoader(torch.arange(20), batch_size=3, shuffle=True)  # 7 batches, last of 2


def _plain_list():
    return list(range(7))


def _run(engine_cls, events, make_data, saved_at=None, cut_epoch_at=None):
    """Run for EPOCHS epochs from seed 3, then (if saved_at) again in a new engine from the
    state dict saved at that iteration. Returns one list per run of (iteration, batch, a torch
    draw, a Python draw), the draws made inside the process function."""
    seen: list = []

    def step(engine, batch):
        batch = batch.tolist() if torch.is_tensor(batch) else batch
        seen.append((engine.state.iteration, batch, torch.rand(1).item(), random.random()))

    engine, saved = engine_cls(step), {}
    if cut_epoch_at:
        engine.add_event_handler(events.ITERATION_COMPLETED(once=cut_epoch_at), _cut_epoch)
    engine.add_event_handler(
        events.ITERATION_COMPLETED, lambda e: saved.__setitem__(e.state.iteration, e.state_dict())
    )
    torch.manual_seed(3), random.seed(3)
    engine.run(make_data(), max_epochs=EPOCHS)
    runs = [list(seen)]
    if saved_at is not None:
        seen.clear()
        again = engine_cls(step)
        again.load_state_dict(saved_at(saved))
        torch.manual_seed(3), random.seed(3)
        again.run(make_data())
        runs.append(list(seen))
    return runs


def _cut_epoch(engine):
    engine.terminate_epoch()


# --------------------------------------------------------------------------- oracle
@needs_ignite
@pytest.mark.parametrize("make_data", [_shuffled_loader, _plain_list])
@pytest.mark.parametrize(
    "case",
    [
        {},
        {"cut_epoch_at": 5},
        # with the generators saved inside an epoch, at an epoch's end, with none
        {"saved_at": lambda sd: sd[4]},
        {"saved_at": lambda sd: sd[7]},
        {"saved_at": lambda sd: {**sd[9], "rng_states": None}},
    ],
    ids=["run", "terminate_epoch", "resume_inside", "resume_at_end", "resume_no_rng"],
)
def test_same_batches_and_randomness_as_ignite(make_data, case):
    ours = _run(DeterministicEngine, Events, make_data, **case)
    theirs = _run(ignite_engine.DeterministicEngine, ignite_engine.Events, make_data, **case)
    assert ours == theirs


@needs_ignite
def test_seed_drawn_as_ignite():
    seeds = []
    for cls in (DeterministicEngine, ignite_engine.DeterministicEngine):
        torch.manual_seed(11)
        seeds.append(cls(lambda e, b: None).run([1, 2]).seed)
    assert seeds[0] == seeds[1]


# --------------------------------------------------------------------------- by hand
def test_resume_at_every_iteration_sees_the_same_batches():
    (full,) = _run(DeterministicEngine, Events, _shuffled_loader)
    epochs = [[b for _, b, *_ in full[i * 7 : i * 7 + 7]] for i in range(EPOCHS)]
    assert epochs[0] != epochs[1] != epochs[2] != epochs[0]  # reshuffled at each epoch
    for i in range(1, 7 * EPOCHS):
        # Ignite's tests resume with rng_states=None: the batches then repeat exactly.
        _, resumed = _run(
            DeterministicEngine, Events, _shuffled_loader,
            saved_at=lambda sd, i=i: {**sd[i], "rng_states": None},
        )  # fmt: skip
        assert [b for _, b, *_ in resumed] == [b for _, b, *_ in full[i:]], i


def test_resume_inside_an_epoch_restores_the_randomness():
    (full,) = _run(DeterministicEngine, Events, _plain_list)
    for i in range(1, 7 * EPOCHS):
        if i % 7:  # inside an epoch: rng_states are restored, every draw repeats
            _, resumed = _run(
                DeterministicEngine, Events, _plain_list, saved_at=lambda sd, i=i: sd[i]
            )
            assert resumed == full[i:], i


def test_resume_from_epoch_sees_the_epochs_batches():
    (full,) = _run(DeterministicEngine, Events, _shuffled_loader)
    for epoch in range(EPOCHS):
        _, resumed = _run(
            DeterministicEngine, Events, _shuffled_loader,
            saved_at=lambda sd, e=epoch: {"epoch": e, "epoch_length": 7, "max_epochs": EPOCHS,
                                          "rng_states": None},
        )  # fmt: skip
        assert [b for _, b, *_ in resumed] == [b for _, b, *_ in full[epoch * 7 :]]


def test_dataloader_gets_a_reproducible_batch_sampler():
    engine = DeterministicEngine(lambda e, b: None)
    loader = _shuffled_loader()
    engine.run(loader)
    assert isinstance(engine.state.dataloader.batch_sampler, ReproducibleBatchSampler)
    assert engine.state.dataloader.batch_sampler.batch_sampler is loader.batch_sampler
    assert "rng_states" in engine.state_dict() and isinstance(engine, Engine)


def test_reproducible_batch_sampler_starts_at_an_iteration():
    sampler = ReproducibleBatchSampler(BatchSampler(RandomSampler(range(10)), 3, False))
    torch.manual_seed(1)
    whole = list(sampler)
    sampler.start_iteration = 2
    torch.manual_seed(1)
    assert list(sampler) == whole[2:] and sampler.start_iteration is None
    assert len(sampler) == 4 and sampler.sampler is sampler.batch_sampler.sampler


def test_update_dataloader_keeps_the_settings():
    loader = DataLoader(torch.arange(10), batch_size=4, shuffle=True, pin_memory=False)
    new = update_dataloader(loader, BatchSampler(range(10), 5, drop_last=False))
    assert type(new) is DataLoader and new.dataset is loader.dataset
    assert [b.tolist() for b in new] == [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]]


def test_terminate_epoch_seeds_by_the_cut_epoch():
    seeds = []
    engine = DeterministicEngine(lambda e, b: None)
    engine.add_event_handler(Events.ITERATION_COMPLETED(once=2), _cut_epoch)
    engine.add_event_handler(Events.EPOCH_STARTED, lambda e: seeds.append(torch.initial_seed()))
    engine.add_event_handler(Events.GET_BATCH_STARTED, lambda e: seeds.append(torch.initial_seed()))
    state = engine.run([1, 2, 3], max_epochs=2)
    # manual_seed(seed + iteration // period): the period is the cut epoch's length, 2
    assert seeds[-3:] == [state.seed + 1, state.seed + 1, state.seed + 1]


# --------------------------------------------------------------------------- errors
def test_errors():
    with pytest.raises(ValueError, match="does not support the option of data=None"):
        DeterministicEngine(lambda e, b: None).run(max_epochs=2, epoch_length=2)
    with pytest.raises(TypeError, match="Argument batch_sampler should be torch.utils.data"):
        ReproducibleBatchSampler("abc")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="iter_counter should be positive value, got 0"):
        DeterministicEngine(lambda e, b: None)._setup_seed(iter_counter=0)
    with pytest.raises(ValueError, match="Required user state attribute 'rng_states'"):
        DeterministicEngine(lambda e, b: None).load_state_dict(
            {"iteration": 0, "epoch_length": 2, "max_epochs": 1}
        )
