"""Entropy: by hand (numpy, float64, one prediction at a time), against Ignite, errors."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from miniengine.engine import Engine
from miniengine.exceptions import NotComputableError
from miniengine.metrics import Entropy

G = torch.Generator().manual_seed(0)
STATE_KEY = "__metric_state_per_rank"


def predictions(logits):
    """Every prediction's logits as a float64 vector: (b, :) or (b, :, i, j, ...)."""
    x = logits.double().numpy()
    for b, rest in itertools.product(
        range(x.shape[0]), itertools.product(*map(range, x.shape[2:]))
    ):
        yield x[(b, slice(None), *rest)]


def by_hand(logits):
    entropies = []
    for z in predictions(logits):
        p = np.exp(z) / np.exp(z).sum()
        entropies.append(-(p * np.log(p)).sum())
    return float(np.mean(entropies))


def cases():
    return {
        "(B, C), uneven batches": (torch.randn(12, 5, generator=G), 5),
        "(B, C), spread logits": (5 * torch.randn(10, 50, generator=G), 10),
        "(B, C, H, W)": (torch.randn(6, 3, 4, 4, generator=G), 4),
        "(B, C, L) float64": (torch.randn(5, 4, 7, generator=G, dtype=torch.float64), 2),
    }


@pytest.mark.parametrize("name", list(cases()))
def test_by_hand_and_oracle(name):
    logits, size = cases()[name]
    batches = [(logits[i : i + size], None) for i in range(0, len(logits), size)]
    engine = Engine(lambda e, b: b)
    Entropy().attach(engine, "h")
    got = engine.run(batches).metrics["h"]
    assert isinstance(got, float)
    assert got == pytest.approx(by_hand(logits), rel=1e-6)
    im = pytest.importorskip("ignite.metrics")
    ours, theirs = Entropy(), im.Entropy()
    for batch in batches:
        ours.update(batch)
        theirs.update(batch)
    assert ours.compute() == theirs.compute() == got
    assert list(ours.state_dict()[STATE_KEY][0]) == list(theirs.state_dict()[STATE_KEY][0])


def test_known_values():
    h = Entropy()
    h.update((torch.zeros(3, 8), None))
    assert h.compute() == pytest.approx(math.log(8))
    h.reset()
    h.update((torch.tensor([[0.0, math.log(3.0)]]), None))  # p = (1/4, 3/4)
    assert h.compute() == pytest.approx(-(0.25 * math.log(0.25) + 0.75 * math.log(0.75)))
    h.reset()
    h.update((torch.tensor([[200.0, 0.0, 0.0]]), None))  # p underflows to (1, 0, 0): no nan
    assert h.compute() == 0.0


def test_errors():
    h = Entropy()
    with pytest.raises(NotComputableError, match="Entropy must have at least one example"):
        h.compute()
    for bad in (torch.randn(10), torch.tensor(1.0)):
        with pytest.raises(
            ValueError, match=r"y_pred must be in the shape of \(B, C\) or \(B, C, ...\), got"
        ):
            h.update((bad, None))
    with pytest.raises(TypeError, match="y_pred should be a tensor of logits, got <class 'list'>"):
        h.update(([[1.0, 2.0]], None))


def test_detached_empty_batches_and_dict_output():
    h = Entropy(device="cpu")
    h.update((torch.zeros(0, 4), None))  # no predictions: no change
    with pytest.raises(NotComputableError):
        h.compute()
    h.update((torch.zeros(2, 4, requires_grad=True), None))
    assert not h._sum_of_entropies.requires_grad and h._sum_of_entropies.device.type == "cpu"
    engine = Engine(lambda e, b: {"y_pred": b, "y": None})
    Entropy().attach(engine, "h")
    assert engine.run([torch.zeros(2, 4)]).metrics["h"] == pytest.approx(math.log(4))
