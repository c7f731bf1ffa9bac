"""HSIC: against Song et al.'s U-statistic by hand and against Ignite; median; errors; two ranks."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from miniengine.engine import Engine
from miniengine.exceptions import NotComputableError
from miniengine.metrics import HSIC


def gaussian_kernel(z, sigma):
    """k(a, b) = exp(-|a - b|^2 / (2 sigma^2)); sigma < 0: sigma^2 = median of all |a - b|^2."""
    z = np.asarray(z, dtype=np.float64).reshape(len(z), -1)
    d = np.array([[np.sum((a - b) ** 2) for b in z] for a in z])
    var = np.median(d) if sigma < 0 else sigma**2
    return np.exp(-d / (2 * var))


def u_statistic(x, y, sigma_x=-1.0, sigma_y=-1.0):
    """Song et al. (2012), Theorem 2: the unbiased HSIC is the mean over distinct (i, j, q, r)
    of k_ij l_ij + k_ij l_qr - 2 k_ij l_iq; clipped at 0 as the metric does per batch."""
    k, l_ = gaussian_kernel(x, sigma_x), gaussian_kernel(y, sigma_y)
    terms = [
        k[i, j] * l_[i, j] + k[i, j] * l_[q, r] - 2 * k[i, j] * l_[i, q]
        for i, j, q, r in itertools.permutations(range(len(k)), 4)
    ]
    return max(sum(terms) / len(terms), 0.0)


def by_hand(batches, sigma_x=-1.0, sigma_y=-1.0):
    """The mean over the batches of four or more samples."""
    values = [u_statistic(x, y, sigma_x, sigma_y) for x, y in batches if len(x) >= 4]
    return sum(values) / len(values)


def run(metric, batches):
    for batch in batches:
        metric.update(batch)
    return metric.compute()


@st.composite
def cases(draw):
    """(sigma_x, sigma_y, 1 to 3 batches of 4 to 7 samples), y dependent on x or not."""
    g = torch.Generator().manual_seed(draw(st.integers(0, 2**16)))
    sigma_x, sigma_y = draw(st.sampled_from([-1.0, 1.0, 2.5])), draw(st.sampled_from([-1.0, 0.5]))
    dependent = draw(st.booleans())
    batches = []
    for n in draw(st.lists(st.integers(4, 7), min_size=1, max_size=3)):
        x = torch.randn(n, 2, 3, generator=g)  # (B, 2, 3): flattened to 6 features
        noise = torch.randn(n, 4, generator=g)
        y = torch.sin(x.flatten(1)[:, :4] * 2) + 0.1 * noise if dependent else noise
        batches.append((x, y))
    return sigma_x, sigma_y, batches


@settings(max_examples=25, deadline=None)
@given(cases())
def test_by_hand(case):
    sigma_x, sigma_y, batches = case
    double = [(x.double(), y.double()) for x, y in batches]
    got = run(HSIC(sigma_x=sigma_x, sigma_y=sigma_y), double)
    assert got == pytest.approx(by_hand(batches, sigma_x, sigma_y), rel=1e-6, abs=1e-9)


@settings(max_examples=25, deadline=None)
@given(cases())
def test_oracle(case):
    im = pytest.importorskip("ignite.metrics")
    sigma_x, sigma_y, batches = case
    mine = run(HSIC(sigma_x=sigma_x, sigma_y=sigma_y), batches)
    theirs = run(im.HSIC(sigma_x=sigma_x, sigma_y=sigma_y), batches)
    # float32, summed in another order: the terms cancel, so compare to their size (~1)
    assert mine == pytest.approx(theirs, abs=1e-6)


def test_median_heuristic_is_sigma_squared_equal_to_the_median_distance():
    g = torch.Generator().manual_seed(3)
    for n in (6, 7):  # 36 distances: the mean of the middle two; 49: the middle one
        x = torch.randn(n, 3, generator=g).double()
        y = torch.sin(x[:, :2] * 2)
        dx, dy = torch.cdist(x, x) ** 2, torch.cdist(y, y) ** 2
        explicit = HSIC(math.sqrt(np.median(dx.numpy())), math.sqrt(np.median(dy.numpy())))
        explicit.update((x, y))
        heuristic = HSIC()
        heuristic.update((x, y))
        assert heuristic.compute() == pytest.approx(explicit.compute(), rel=1e-6)
        assert explicit.compute() > 0  # not clipped: the comparison means something
        if n == 6:  # torch.median picks the lower middle value, not the mean of the two
            lower = HSIC(math.sqrt(dx.median().item()), math.sqrt(dy.median().item()))
            lower.update((x, y))
            assert heuristic.compute() != pytest.approx(lower.compute(), rel=1e-6)


def test_sees_a_dependence_without_correlation():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(128, 1, generator=g)
    hsic_dep, hsic_ind = HSIC(), HSIC()
    hsic_dep.update((x, x**2))  # x and x^2 are uncorrelated, yet one fixes the other
    hsic_ind.update((x, torch.randn(128, 1, generator=g)))
    assert hsic_ind.compute() < 0.005 < 0.02 < hsic_dep.compute()


def test_attach_with_dicts_small_batches_skipped_and_integer_inputs():
    g = torch.Generator().manual_seed(1)
    a = torch.randn(6, 3, generator=g), torch.randn(6, 3, generator=g)
    b = torch.randn(2, 3, generator=g), torch.randn(2, 3, generator=g)  # skipped
    c = torch.randint(0, 5, (5, 4), generator=g), torch.randint(0, 5, (5, 2), generator=g)
    data = [{"y_pred": a[0], "y": a[1]}, b, c]
    engine = Engine(lambda e, batch: batch)
    HSIC(sigma_x=2.0, sigma_y=2.0).attach(engine, "hsic")
    got = engine.run(data).metrics["hsic"]
    assert got == pytest.approx(by_hand([a, b, c], 2.0, 2.0), rel=1e-5)
    ignite_engine = pytest.importorskip("ignite.engine")
    im = pytest.importorskip("ignite.metrics")
    theirs = ignite_engine.Engine(lambda e, batch: batch)
    im.HSIC(sigma_x=2.0, sigma_y=2.0).attach(theirs, "hsic")
    assert got == pytest.approx(theirs.run(data).metrics["hsic"], rel=1e-5)


def test_errors():
    hsic = HSIC(ignore_invalid_batch=False)
    assert (hsic.sigma_x, hsic.sigma_y) == (-1, -1)
    with pytest.raises(NotComputableError, match="HSIC must have at least one batch"):
        hsic.compute()
    x = torch.randn(3, 2)
    with pytest.raises(ValueError, match="more than four samples, got only 3 samples"):
        hsic.update((x, x))
    hsic.update((torch.randn(4, 2), torch.randn(4, 2)))  # four are enough
    with pytest.raises(ValueError, match=r"same B, got \(4, 2\) and \(5, 2\)"):
        hsic.update((torch.randn(4, 2), torch.randn(5, 2)))
    with pytest.raises(ValueError, match=r"shape of \(B, \.\.\.\) with the same B, got \(5,\)"):
        hsic.update((torch.randn(5), torch.randn(5, 1)))
    for name in ("sigma_x", "sigma_y"):
        for bad in ("1", None, True):
            with pytest.raises(TypeError, match=f"Argument {name} should be a number"):
                HSIC(**{name: bad})
        for bad in (0, 0.0, math.nan):
            with pytest.raises(ValueError, match=f"Argument {name} should be positive"):
                HSIC(**{name: bad})


def test_no_graph_and_state_dict():
    hsic = HSIC()
    x = torch.randn(6, 3, generator=torch.Generator().manual_seed(0), requires_grad=True)
    hsic.update((x, x * 2))
    assert not hsic._sum_of_hsic.requires_grad
    copy = HSIC()
    copy.load_state_dict(hsic.state_dict())
    assert copy.compute() == hsic.compute() > 0
    assert list(hsic.state_dict()["__metric_state_per_rank"][0]) == ["_sum_of_hsic", "_num_batches"]


def _shard(rank, part):
    g = torch.Generator().manual_seed(10 * rank + part)
    n = 4 + 2 * rank
    x = torch.randn(n, 3, generator=g)
    return x, torch.cos(x[:, :2]) + 0.1 * torch.randn(n, 2, generator=g)


def _two_ranks(rank, out):
    # No Ignite oracle here: in a gloo child its metrics at times abort the process at exit
    # ("terminate called without an active exception"). It is compared in one process above.
    seen = {}
    hsic = HSIC(sigma_y=1.5)
    hsic.update(_shard(rank, 0))
    hsic.update(_shard(rank, 1))
    if rank == 0:
        hsic.update((torch.randn(2, 3), torch.randn(2, 2)))  # skipped: not counted as a batch
    seen["mine"] = hsic.compute()
    torch.save(seen, out / f"hsic{rank}.pt")


def test_two_ranks_average_over_all_batches(tmp_path):
    from test_distributed import _launch  # the 2-process gloo launcher

    _launch(_two_ranks, tmp_path)
    seen = [torch.load(tmp_path / f"hsic{r}.pt") for r in range(2)]
    want = by_hand([_shard(r, p) for r in range(2) for p in range(2)], sigma_y=1.5)
    for s in seen:
        assert s["mine"] == pytest.approx(want, abs=1e-6)  # float32 (see test_oracle)
