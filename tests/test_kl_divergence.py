"""KLDivergence: by hand (numpy, float64, one prediction at a time), against Ignite, errors."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from miniengine.engine import Engine
from miniengine.exceptions import NotComputableError
from miniengine.metrics import KLDivergence

G = torch.Generator().manual_seed(0)
STATE_KEY = "__metric_state_per_rank"


def predictions(logits):
    """Every prediction's logits as a float64 vector: (b, :) or (b, :, i, j, ...)."""
    x = logits.double().numpy()
    for b, rest in itertools.product(
        range(x.shape[0]), itertools.product(*map(range, x.shape[2:]))
    ):
        yield x[(b, slice(None), *rest)]


def softmax(z):
    return np.exp(z) / np.exp(z).sum()


def by_hand(y_pred, y):
    """Mean of KL(p || q) = sum p log(p / q), p from y (the target), q from y_pred."""
    kls = []
    for zq, zp in zip(predictions(y_pred), predictions(y), strict=True):
        p, q = softmax(zp), softmax(zq)
        kls.append((p * np.log(p / q)).sum())
    return float(np.mean(kls))


def cases():
    def pair(*shape, scale=1.0, dtype=torch.float32):
        return (
            scale * torch.randn(*shape, generator=G, dtype=dtype),
            torch.rand(*shape, generator=G, dtype=dtype),
        )

    return {
        "(B, C), uneven batches": (*pair(12, 5), 5),
        "(B, C), spread logits": (*pair(10, 50, scale=5.0), 10),
        "(B, C, H, W)": (*pair(6, 3, 4, 4), 4),
        "(B, C, L) float64": (*pair(5, 4, 7, dtype=torch.float64), 2),
    }


@pytest.mark.parametrize("name", list(cases()))
def test_by_hand_and_oracle(name):
    y_pred, y, size = cases()[name]
    batches = [(y_pred[i : i + size], y[i : i + size]) for i in range(0, len(y), size)]
    engine = Engine(lambda e, b: b)
    KLDivergence().attach(engine, "kl")
    got = engine.run(batches).metrics["kl"]
    assert isinstance(got, float)
    assert got == pytest.approx(by_hand(y_pred, y), rel=1e-5)
    im = pytest.importorskip("ignite.metrics")
    ours, theirs = KLDivergence(), im.KLDivergence()
    for batch in batches:
        ours.update(batch)
        theirs.update(batch)
    assert ours.compute() == theirs.compute() == got
    assert list(ours.state_dict()[STATE_KEY][0]) == list(theirs.state_dict()[STATE_KEY][0])


def test_direction_and_known_values():
    q_logits = torch.tensor([[0.0, math.log(3.0)]])  # (1/4, 3/4)
    p_logits = torch.zeros(1, 2)  # (1/2, 1/2)
    kl = KLDivergence()
    kl.update((q_logits, p_logits))  # KL(p || q): y is the target
    assert kl.compute() == pytest.approx(0.5 * math.log(4 / 3))
    kl.reset()
    kl.update((p_logits, q_logits))
    assert kl.compute() == pytest.approx(0.25 * math.log(0.5) + 0.75 * math.log(1.5))
    kl.reset()
    same = torch.randn(4, 6, generator=G)
    kl.update((same, same + 3.0))  # shifted logits: the same distributions
    assert kl.compute() == pytest.approx(0.0, abs=1e-6)


def test_errors():
    kl = KLDivergence()
    with pytest.raises(NotComputableError, match="KLDivergence must have at least one example"):
        kl.compute()
    with pytest.raises(
        ValueError,
        match=r"y_pred and y must be in the same shape, got torch.Size\(\[2, 2\]\) != "
        r"torch.Size\(\[1, 2\]\)",
    ):
        kl.update((torch.zeros(2, 2), torch.zeros(1, 2)))
    with pytest.raises(
        ValueError, match=r"y_pred must be in the shape of \(B, C\) or \(B, C, ...\), got"
    ):
        kl.update((torch.zeros(3), torch.zeros(3)))


def test_detached_and_empty_batches():
    kl = KLDivergence(device="cpu")
    kl.update((torch.zeros(0, 3), torch.zeros(0, 3)))  # no predictions: no change
    with pytest.raises(NotComputableError):
        kl.compute()
    kl.update((torch.randn(2, 3, requires_grad=True), torch.randn(2, 3, requires_grad=True)))
    assert not kl._sum_of_kl.requires_grad and kl._sum_of_kl.device.type == "cpu"
