"""JSDivergence: by hand (numpy, float64, one prediction at a time), against Ignite, errors."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from miniengine.engine import Engine
from miniengine.exceptions import NotComputableError
from miniengine.metrics import JSDivergence

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
    """Mean of (KL(p || m) + KL(q || m)) / 2 with m = (p + q) / 2."""
    values = []
    for zq, zp in zip(predictions(y_pred), predictions(y), strict=True):
        p, q = softmax(zp), softmax(zq)
        m = (p + q) / 2
        values.append(((p * np.log(p / m)).sum() + (q * np.log(q / m)).sum()) / 2)
    return float(np.mean(values))


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
    JSDivergence().attach(engine, "js")
    got = engine.run(batches).metrics["js"]
    assert isinstance(got, float)
    assert got == pytest.approx(by_hand(y_pred, y), rel=1e-5)
    im = pytest.importorskip("ignite.metrics")
    ours, theirs = JSDivergence(), im.JSDivergence()
    for batch in batches:
        ours.update(batch)
        theirs.update(batch)
    assert ours.compute() == theirs.compute() == got
    assert list(ours.state_dict()[STATE_KEY][0]) == list(theirs.state_dict()[STATE_KEY][0])


def test_symmetric_and_bounded_by_log_2():
    a, b = torch.randn(8, 4, generator=G), 3 * torch.randn(8, 4, generator=G)
    forward, backward = JSDivergence(), JSDivergence()
    forward.update((a, b))
    backward.update((b, a))
    assert forward.compute() == pytest.approx(backward.compute(), rel=1e-6)
    disjoint = JSDivergence()
    disjoint.update((torch.tensor([[60.0, 0.0]]), torch.tensor([[0.0, 60.0]])))
    assert disjoint.compute() == pytest.approx(math.log(2))
    same = JSDivergence()
    same.update((a, a - 1.0))  # shifted logits: the same distributions
    assert same.compute() == pytest.approx(0.0, abs=1e-6)


def test_errors():
    js = JSDivergence()
    with pytest.raises(NotComputableError, match="JSDivergence must have at least one example"):
        js.compute()
    with pytest.raises(ValueError, match=r"y_pred and y must be in the same shape, got"):
        js.update((torch.zeros(2, 2), torch.zeros(1, 2)))
    with pytest.raises(
        ValueError, match=r"y_pred must be in the shape of \(B, C\) or \(B, C, ...\), got"
    ):
        js.update((torch.zeros(3), torch.zeros(3)))


def test_state_dict_resumes_the_mean():
    y_pred, y = torch.randn(6, 3, generator=G), torch.randn(6, 3, generator=G)
    whole, first, rest = JSDivergence(), JSDivergence(), JSDivergence()
    whole.update((y_pred, y))
    first.update((y_pred[:2], y[:2]))
    rest.load_state_dict(first.state_dict())
    rest.update((y_pred[2:], y[2:]))
    assert rest.compute() == pytest.approx(whole.compute(), rel=1e-6)
