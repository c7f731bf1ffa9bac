"""Test helpers shared by the regression metrics (MSE, MAE, RMSE): random batches, a runner."""

from __future__ import annotations

import torch
from hypothesis import strategies as st


@st.composite
def regression_batches(draw):
    """1 to 4 batches of (y_pred, y), 1 to 5 examples each, all of one example shape."""
    g = torch.Generator().manual_seed(draw(st.integers(0, 2**16)))
    shape = draw(st.sampled_from([(), (3,), (2, 2)]))
    sizes = draw(st.lists(st.integers(1, 5), min_size=1, max_size=4))
    return [
        (torch.randn(n, *shape, generator=g), torch.randn(n, *shape, generator=g)) for n in sizes
    ]


def run(metric, batches):
    for batch in batches:
        metric.update(batch)
    return metric.compute()


def errors_by_hand(batches, error):
    """(sum of ``error(y_pred - y)`` over every element, in float64; number of examples)."""
    total = sum(error(p.double() - y.double()).sum().item() for p, y in batches)
    return total, sum(len(y) for _, y in batches)
