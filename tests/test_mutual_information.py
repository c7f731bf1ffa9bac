"""MutualInformation: by hand (numpy, float64), against Ignite, its clamp, errors, 2 processes."""

from __future__ import annotations

import itertools
import json
import math
import os
import socket
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp

import miniengine.distributed as idist
from miniengine.engine import Engine
from miniengine.exceptions import NotComputableError
from miniengine.metrics import MutualInformation

G = torch.Generator().manual_seed(0)
STATE_KEY = "__metric_state_per_rank"


def predictions(logits):
    """Every prediction's logits as a float64 vector: (b, :) or (b, :, i, j, ...)."""
    x = logits.double().numpy()
    for b, rest in itertools.product(
        range(x.shape[0]), itertools.product(*map(range, x.shape[2:]))
    ):
        yield x[(b, slice(None), *rest)]


def entropy(p):
    return -(p * np.log(p)).sum()


def by_hand(logits):
    """H(mean of the p_i) - mean of H(p_i), at least 0."""
    probs = [np.exp(z) / np.exp(z).sum() for z in predictions(logits)]
    mi = entropy(np.mean(probs, axis=0)) - np.mean([entropy(p) for p in probs])
    return max(float(mi), 0.0)


def cases():
    return {
        "(B, C), uneven batches": (torch.randn(12, 5, generator=G), 5),
        "(B, C), spread logits": (5 * torch.randn(10, 50, generator=G), 10),
        "(B, C, H, W)": (2 * torch.randn(6, 3, 4, 4, generator=G), 4),
        "(B, C, L) float64": (torch.randn(5, 4, 7, generator=G, dtype=torch.float64), 2),
    }


@pytest.mark.parametrize("name", list(cases()))
def test_by_hand_and_oracle(name):
    logits, size = cases()[name]
    batches = [(logits[i : i + size], None) for i in range(0, len(logits), size)]
    engine = Engine(lambda e, b: b)
    MutualInformation().attach(engine, "mi")
    got = engine.run(batches).metrics["mi"]
    assert isinstance(got, float)
    assert got == pytest.approx(by_hand(logits), rel=1e-5)
    im = pytest.importorskip("ignite.metrics")
    ours, theirs = MutualInformation(), im.MutualInformation()
    for batch in batches:
        ours.update(batch)
        theirs.update(batch)
    assert ours.compute() == theirs.compute() == got


def test_known_values_and_the_clamp():
    mi = MutualInformation()
    mi.update((torch.tensor([[30.0, 0.0, 0.0], [0.0, 30.0, 0.0], [0.0, 0.0, 30.0]]), None))
    assert mi.compute() == pytest.approx(math.log(3), rel=1e-6)  # sure of 3 classes, evenly
    for seed in range(190, 200):  # the same prediction n times: 0, rounding may go below
        row = torch.randn(1, 7, generator=torch.Generator().manual_seed(seed))
        mi = MutualInformation()
        mi.update((row.repeat(13, 1), None))
        assert 0.0 <= mi.compute() < 1e-6


def test_a_class_never_predicted_adds_nothing_where_ignite_gives_nan():
    logits = torch.tensor([[0.0, 0.0, -200.0], [0.0, 30.0, -200.0]])  # class 2: probability 0
    mi = MutualInformation()
    mi.update((logits, None))
    assert mi.compute() == pytest.approx(by_hand(logits[:, :2]), rel=1e-5)
    im = pytest.importorskip("ignite.metrics")
    theirs = im.MutualInformation()
    theirs.update((logits, None))
    assert math.isnan(theirs.compute())


def test_errors():
    mi = MutualInformation()
    with pytest.raises(
        NotComputableError, match="MutualInformation must have at least one example"
    ):
        mi.compute()
    with pytest.raises(
        ValueError, match=r"y_pred must be in the shape of \(B, C\) or \(B, C, ...\), got"
    ):
        mi.update((torch.randn(10), None))
    mi.update((torch.randn(2, 3), None))
    with pytest.raises(ValueError, match="y_pred has 4 classes, but the earlier updates had 3"):
        mi.update((torch.randn(2, 4), None))
    assert mi._num_examples == 2  # the refused batch counted nowhere


def test_state_dict_keeps_the_entropies_that_ignites_leaves_out():
    logits = torch.randn(8, 4, generator=G)
    whole, first, rest = MutualInformation(), MutualInformation(), MutualInformation()
    whole.update((logits, None))
    first.update((logits[:3], None))
    state = first.state_dict()
    assert list(state[STATE_KEY][0]) == [
        "_sum_of_probabilities",
        "_sum_of_entropies",
        "_num_examples",
    ]
    rest.load_state_dict(state)
    rest.update((logits[3:], None))
    assert rest.compute() == pytest.approx(whole.compute(), rel=1e-6)
    assert not first._sum_of_probabilities.requires_grad


# ---------------------------------------------------------------- two processes (gloo)

WORLD = 2
ALL = 2 * torch.randn(32, 6, generator=torch.Generator().manual_seed(1))
PARTS = (slice(0, 10), slice(10, 32))  # uneven shards


def _rank_main(rank: int, port: int, out: str) -> None:
    os.environ.update(
        MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(WORLD)
    )
    os.environ["LOCAL_RANK"] = str(rank)
    torch.set_num_threads(1)
    idist.initialize("gloo", timeout=30.0)
    try:
        shard = ALL[PARTS[rank]]
        engine = Engine(lambda e, b: b)
        MutualInformation().attach(engine, "mi")
        batches = [(shard[i : i + 4], None) for i in range(0, len(shard), 4)]
        Path(out, f"rank{rank}.json").write_text(json.dumps(engine.run(batches).metrics["mi"]))
    finally:
        idist.finalize()


def test_two_processes_reduce_the_sums_before_computing(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.start_processes(_rank_main, args=(port, str(tmp_path)), nprocs=WORLD, start_method="spawn")
    got = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(WORLD)]
    one = MutualInformation()
    one.update((ALL, None))
    assert got[0] == got[1] == pytest.approx(one.compute(), rel=1e-6)
    assert got[0] == pytest.approx(by_hand(ALL), rel=1e-5)
    # the mean of each shard's own value would be another number
    shards = [by_hand(ALL[part]) for part in PARTS]
    assert got[0] != pytest.approx(sum(shards) / WORLD, rel=1e-3)
