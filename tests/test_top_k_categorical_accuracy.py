"""TopKCategoricalAccuracy: by hand (hypothesis) and against Ignite; argument and shape errors."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from miniengine.engine import Engine
from miniengine.exceptions import NotComputableError
from miniengine.metrics import TopKCategoricalAccuracy


@st.composite
def scored_batches(draw):
    """(k, batches of (scores (n, c), classes (n,))); distinct scores, so the top k is unique."""
    c = draw(st.integers(2, 6))
    k = draw(st.integers(1, c))
    g = torch.Generator().manual_seed(draw(st.integers(0, 2**16)))
    sizes = draw(st.lists(st.integers(0, 5), min_size=1, max_size=4).filter(any))
    return k, [
        (torch.rand(n, c, generator=g), torch.randint(0, c, (n,), generator=g)) for n in sizes
    ]


def run(metric, batches):
    for batch in batches:
        metric.update(batch)
    return metric.compute()


@settings(max_examples=60, deadline=None)
@given(scored_batches())
def test_by_hand(case):
    k, batches = case
    hits = examples = 0
    for scores, classes in batches:
        for row, true in zip(scores.tolist(), classes.tolist(), strict=True):
            better = sum(s > row[true] for s in row)  # classes scored above the true one
            hits += better < k
            examples += 1
    assert run(TopKCategoricalAccuracy(k=k), batches) == hits / examples


@settings(max_examples=60, deadline=None)
@given(scored_batches())
def test_oracle(case):
    im = pytest.importorskip("ignite.metrics")
    k, batches = case
    assert run(TopKCategoricalAccuracy(k=k), batches) == run(
        im.TopKCategoricalAccuracy(k=k), batches
    )


def test_attach_default_k_and_not_computable():
    engine = Engine(lambda e, b: b)
    TopKCategoricalAccuracy().attach(engine, "top5")  # k=5 by default, as in Ignite
    scores = torch.arange(6.0).repeat(2, 1)  # class 5 best, class 0 worst
    assert engine.run([(scores, torch.tensor([0, 1]))]).metrics["top5"] == 0.5
    with pytest.raises(NotComputableError, match="TopKCategoricalAccuracy must have at least one"):
        TopKCategoricalAccuracy().compute()


@pytest.mark.parametrize("k", [0, -1, 2.5, "3", True])
def test_bad_k_is_refused_at_construction(k):
    with pytest.raises(ValueError, match=f"Argument k should be a positive integer, got {k!r}"):
        TopKCategoricalAccuracy(k=k)


def test_fewer_classes_than_k_is_a_clear_error():
    with pytest.raises(ValueError, match=r"num_classes >= k = 5, got \(2, 3\)"):
        TopKCategoricalAccuracy().update((torch.rand(2, 3), torch.tensor([0, 1])))
