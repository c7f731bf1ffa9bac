"""miniengine.metrics.regression: each metric by a numpy formula and against Ignite's; bad
inputs; empty metrics; state_dict; Ignite's old contrib paths; the two computed by scipy."""

from __future__ import annotations

import importlib
import importlib.util
import sys
import warnings

import numpy as np
import pytest
import torch

import miniengine.metrics
import miniengine.metrics.regression as reg
from miniengine.engine import Engine
from miniengine.exceptions import NotComputableError

SCIPY = ["KendallRankCorrelation", "SpearmanRankCorrelation"]  # their tests are at the end
NAMES = [n for n in reg.__all__ if n not in SCIPY]
MEDIANS = ["MedianAbsoluteError", "MedianAbsolutePercentageError", "MedianRelativeAbsoluteError"]
DISTANCES = ["CanberraMetric", "ManhattanDistance", "WaveHedgesDistance"]  # 0.0 when empty
CHECKED = [n for n in NAMES if n not in MEDIANS]  # the ones with Ignite's _BaseRegression checks


def _abs(p, y):
    return np.abs(y - p)


# name -> the value for all predictions p and targets y (float64 numpy arrays)
BY_HAND = {
    "CanberraMetric": lambda p, y: np.sum(_abs(p, y) / (np.abs(p) + np.abs(y))),
    "FractionalAbsoluteError": lambda p, y: np.mean(2 * _abs(p, y) / (np.abs(p) + np.abs(y))),
    "FractionalBias": lambda p, y: np.mean(2 * (y - p) / (p + y)),
    "GeometricMeanAbsoluteError": lambda p, y: np.exp(np.mean(np.log(_abs(p, y)))),
    "GeometricMeanRelativeAbsoluteError": lambda p, y: np.exp(
        np.mean(np.log(_abs(p, y) / np.abs(y - y.mean())))
    ),
    "ManhattanDistance": lambda p, y: np.sum(_abs(p, y)),
    "MaximumAbsoluteError": lambda p, y: np.max(_abs(p, y)),
    "MeanAbsoluteRelativeError": lambda p, y: np.mean(_abs(p, y) / np.abs(y)),
    "MeanError": lambda p, y: np.mean(y - p),
    "MeanNormalizedBias": lambda p, y: np.mean((y - p) / y),
    "MedianAbsoluteError": lambda p, y: np.median(_abs(p, y)),
    "MedianAbsolutePercentageError": lambda p, y: 100 * np.median(_abs(p, y) / np.abs(y)),
    "MedianRelativeAbsoluteError": lambda p, y: np.median(_abs(p, y) / np.abs(y - y.mean())),
    "PearsonCorrelation": lambda p, y: np.corrcoef(p, y)[0, 1],
    "R2Score": lambda p, y: 1 - np.sum((y - p) ** 2) / np.sum((y - y.mean()) ** 2),
    "WaveHedgesDistance": lambda p, y: np.sum(_abs(p, y) / np.maximum(p, y)),
}


def batches(seed=0, sizes=(7, 1, 12, 5), column=False, dtype=torch.float32):
    """Batches of positive values (no 0 target, no p + y == 0): every metric is defined."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for n in sizes:
        p, y = (torch.rand(n, generator=g, dtype=dtype) * 2 + 0.5 for _ in range(2))
        out.append((p[:, None], y[:, None]) if column else (p, y))
    return out


def run(metric, data):
    for batch in data:
        metric.update(batch)
    return metric.compute()


def test_the_names_are_ignites():
    assert len(reg.__all__) == 18
    assert set(NAMES) == set(BY_HAND)
    # as in Ignite, miniengine.metrics serves the package, not its names
    assert miniengine.metrics.regression is reg
    assert not hasattr(miniengine.metrics, "R2Score")


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("column", [False, True])
def test_by_hand(name, column):
    data = batches(seed=3, column=column)
    p = torch.cat([b[0] for b in data]).flatten().double().numpy()
    y = torch.cat([b[1] for b in data]).flatten().double().numpy()
    assert run(getattr(reg, name)(), data) == pytest.approx(BY_HAND[name](p, y), rel=1e-5)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize(
    "column, dtype", [(False, torch.float32), (True, torch.float32), (False, torch.float64)]
)
def test_oracle(name, column, dtype):
    theirs = getattr(pytest.importorskip("ignite.metrics.regression"), name)()
    for seed in range(3):
        data = batches(seed, sizes=(4, 9, 2, 16)[seed:], column=column, dtype=dtype)
        theirs.reset()
        assert run(getattr(reg, name)(), data) == run(theirs, data)


def test_oracle_half_precision_and_mixed_dtypes():
    ir = pytest.importorskip("ignite.metrics.regression")
    half = [(p.half(), y.half()) for p, y in batches(5)]
    mixed = [(p, y.double()) for p, y in batches(6)]
    for name in CHECKED:
        for data in (half, mixed):
            assert run(getattr(reg, name)(), data) == run(getattr(ir, name)(), data), name


def test_simple_values():
    p, y = torch.tensor([1.0, 2.0, 4.0]), torch.tensor([2.0, 2.0, 2.0])
    assert run(reg.ManhattanDistance(), [(p, y)]) == 3.0
    assert run(reg.MaximumAbsoluteError(), [(p, y)]) == 2.0
    assert run(reg.MeanError(), [(p, y)]) == pytest.approx(-1 / 3)
    assert run(reg.MedianAbsoluteError(), [(p, y)]) == 1.0
    assert run(reg.WaveHedgesDistance(), [(p, y)]) == 1.0  # 1 / 2 + 0 + 2 / 4
    # a perfect prediction; a constant one
    assert run(reg.R2Score(), [(y + p, y + p)]) == 1.0
    assert run(reg.PearsonCorrelation(), [(y, p)]) == 0.0  # std(y) = 0: eps, not a NaN


def test_even_count_median_is_the_mean_of_the_middle_two():
    m = reg.MedianAbsoluteError()
    m.update((torch.tensor([0.0, 1.0]), torch.zeros(2)))
    m.update((torch.tensor([[5.0], [2.0]]), torch.zeros(2, 1)))  # (N, 1) is kept as (N,)
    assert m.compute() == 1.5  # errors 0, 1, 2, 5


@pytest.mark.parametrize("name", CHECKED)
def test_bad_shapes_and_dtypes(name):
    m = getattr(reg, name)()
    with pytest.raises(ValueError, match=r"Input y_pred should have shape \(N,\) or \(N, 1\)"):
        m.update((torch.rand(4, 2), torch.rand(4, 2)))
    with pytest.raises(ValueError, match=r"Input y should have shape \(N,\) or \(N, 1\)"):
        m.update((torch.rand(4), torch.rand(4, 1, 1)))
    with pytest.raises(ValueError, match="Input data shapes should be the same, but given"):
        m.update((torch.rand(4), torch.rand(4, 1)))
    with pytest.raises(TypeError, match="Input y_pred dtype should be float 16, 32 or 64"):
        m.update((torch.ones(4, dtype=torch.long), torch.rand(4)))
    with pytest.raises(TypeError, match="Input y dtype should be float 16, 32 or 64"):
        m.update((torch.rand(4), torch.ones(4, dtype=torch.bfloat16)))


@pytest.mark.parametrize("name", MEDIANS)
def test_medians_take_epoch_metric_shapes(name):
    m = getattr(reg, name)()
    with pytest.raises(ValueError, match=r"Predictions should be of shape \(batch_size"):
        m.update((torch.rand(4, 1, 1), torch.rand(4)))


@pytest.mark.parametrize("name", [n for n in NAMES if n not in DISTANCES])
def test_compute_before_update(name):
    what = "sample" if name == "MeanAbsoluteRelativeError" else "example"
    with pytest.raises(NotComputableError, match=f"{name} must have at least one {what}"):
        getattr(reg, name)().compute()


@pytest.mark.parametrize("name", DISTANCES)
def test_distances_are_zero_before_update(name):
    assert getattr(reg, name)().compute() == 0.0


@pytest.mark.parametrize("name", ["MeanAbsoluteRelativeError", "MeanNormalizedBias"])
def test_zero_target_is_refused_in_update(name):
    with pytest.raises(NotComputableError, match="The ground truth has 0."):
        getattr(reg, name)().update((torch.ones(3), torch.tensor([1.0, 0.0, 2.0])))


@pytest.mark.parametrize("name", NAMES)
def test_state_dict_round_trip(name):
    first, rest = batches(8)[:2], batches(9)[:2]
    m, fresh = getattr(reg, name)(), getattr(reg, name)()
    run(m, first)
    fresh.load_state_dict(m.state_dict())
    assert fresh.compute() == m.compute()
    assert run(fresh, rest) == run(m, rest)


def test_state_dict_keys_are_ignites():
    ir = pytest.importorskip("ignite.metrics.regression")
    for name in NAMES:
        ours, theirs = getattr(reg, name)(), getattr(ir, name)()
        ours.update(batches(1)[0])
        theirs.update(batches(1)[0])
        assert ours.state_dict().keys() == theirs.state_dict().keys(), name


def test_attach_and_output_transform():
    engine = Engine(lambda e, batch: {"y_pred": batch[0], "y": batch[1], "loss": 0.0})
    reg.R2Score(output_transform=lambda o: (o["y_pred"], o["y"])).attach(engine, "r2")
    reg.MaximumAbsoluteError().attach(engine, "max", usage="batch_wise")  # keys y_pred, y
    data = batches(2)
    p = torch.cat([b[0] for b in data]).double().numpy()
    y = torch.cat([b[1] for b in data]).double().numpy()
    metrics = engine.run(data).metrics
    assert metrics["r2"] == pytest.approx(BY_HAND["R2Score"](p, y), rel=1e-5)
    assert metrics["max"] == (data[-1][0] - data[-1][1]).abs().max().item()  # the last batch's


def test_pearson_arguments_are_ignites():
    m = reg.PearsonCorrelation(1e-3, lambda o: o[::-1], device="cpu")
    assert m.eps == 1e-3
    m.update((torch.tensor([1.0, 2.0, 3.0]), torch.tensor([3.0, 2.0, 1.0])))
    assert m.compute() == pytest.approx(-1.0)


OLD_MODULES = {
    "canberra_metric": "CanberraMetric",
    "fractional_absolute_error": "FractionalAbsoluteError",
    "fractional_bias": "FractionalBias",
    "geometric_mean_absolute_error": "GeometricMeanAbsoluteError",
    "geometric_mean_relative_absolute_error": "GeometricMeanRelativeAbsoluteError",
    "manhattan_distance": "ManhattanDistance",
    "maximum_absolute_error": "MaximumAbsoluteError",
    "mean_absolute_relative_error": "MeanAbsoluteRelativeError",
    "mean_error": "MeanError",
    "mean_normalized_bias": "MeanNormalizedBias",
    "median_absolute_error": "MedianAbsoluteError",
    "median_absolute_percentage_error": "MedianAbsolutePercentageError",
    "median_relative_absolute_error": "MedianRelativeAbsoluteError",
    "r2_score": "R2Score",
    "wave_hedges_distance": "WaveHedgesDistance",
}


@pytest.mark.parametrize("module, name", OLD_MODULES.items())
def test_old_contrib_paths_warn_and_serve_the_same_class(module, name):
    old = f"miniengine.contrib.metrics.regression.{module}"
    sys.modules.pop(old, None)  # the warning comes with the first import only
    with pytest.warns(DeprecationWarning, match="will be removed in version 0.6.0") as record:
        imported = importlib.import_module(old)
    assert f"miniengine.metrics.regression.{module}" in str(record[0].message)
    assert getattr(imported, name) is getattr(reg, name)
    new = importlib.import_module(f"miniengine.metrics.regression.{module}")
    assert getattr(new, name) is getattr(reg, name)


def test_old_contrib_package_serves_the_names_without_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        from miniengine.contrib.metrics import regression as old

    assert sorted(old.__all__) == sorted(OLD_MODULES.values())
    for module, name in OLD_MODULES.items():
        assert getattr(old, name) is getattr(reg, name)
        assert getattr(old, module).__name__ in (  # Ignite's package binds the modules too
            f"miniengine.metrics.regression.{module}",
            f"miniengine.contrib.metrics.regression.{module}",  # once the old one is imported
        )
    with pytest.raises(AttributeError, match="docs/differences.md"):
        old.PearsonCorrelation  # noqa: B018 (never lived in Ignite's contrib)


def test_old_contrib_package_lists_ignites_names():
    pytest.importorskip("ignite")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        theirs = importlib.import_module("ignite.contrib.metrics.regression")
    from miniengine.contrib.metrics import regression as old

    # the classes; the module names (also in Ignite's __all__) are attributes here
    assert sorted(old.__all__) == sorted(n for n in theirs.__all__ if n[0].isupper())
    assert all(hasattr(old, n) for n in theirs.__all__)


# --- SpearmanRankCorrelation and KendallRankCorrelation: scipy computes them, as in Ignite ---

needs_scipy = pytest.mark.skipif(
    importlib.util.find_spec("scipy") is None, reason="scipy is not installed"
)
# name -> (the metric's keyword arguments, scipy's function and keyword arguments)
SCIPY_CASES = {
    "spearman": ("SpearmanRankCorrelation", {}, "spearmanr", {}),
    "kendall-b": ("KendallRankCorrelation", {}, "kendalltau", {"variant": "b"}),
    "kendall-c": ("KendallRankCorrelation", {"variant": "c"}, "kendalltau", {"variant": "c"}),
}


def rank_batches(seed, sizes=(6, 1, 11, 4), ties=False, column=False):
    """Random batches; with ``ties``, values rounded to one of a few levels."""
    data = batches(seed, sizes=sizes, column=column)
    if ties:
        data = [(p.mul(2).round(), y.mul(2).round()) for p, y in data]
    return data


@needs_scipy
@pytest.mark.parametrize("case", SCIPY_CASES)
@pytest.mark.parametrize("ties, column", [(False, False), (True, False), (False, True)])
def test_rank_correlations_are_ignites(case, ties, column):
    ir = pytest.importorskip("ignite.metrics.regression")
    name, kwargs, _, _ = SCIPY_CASES[case]
    ours, theirs = getattr(reg, name)(**kwargs), getattr(ir, name)(**kwargs)
    for seed in range(3):
        data = rank_batches(seed, ties=ties, column=column)
        ours.reset()
        theirs.reset()
        assert run(ours, data) == run(theirs, data)


@needs_scipy
@pytest.mark.parametrize("case", SCIPY_CASES)
def test_rank_correlations_are_scipys(case):
    import scipy.stats

    name, kwargs, fn, scipy_kwargs = SCIPY_CASES[case]
    data = rank_batches(4, ties=True)
    p = torch.cat([b[0] for b in data]).double().numpy()
    y = torch.cat([b[1] for b in data]).double().numpy()
    expected = getattr(scipy.stats, fn)(p, y, **scipy_kwargs).statistic
    assert run(getattr(reg, name)(**kwargs), data) == pytest.approx(expected, rel=1e-12)


@needs_scipy
def test_rank_correlations_by_hand():
    # Ignite's example. Ranks of p: 1 4 3 2 6 5, so sum(d^2) = 10 and Spearman is
    # 1 - 6 * 10 / (6 * 35); 4 discordant pairs of 15, so both taus are (11 - 4) / 15
    p = torch.tensor([0.5, 2.8, 1.9, 1.3, 6.0, 4.1])
    y = torch.arange(6.0)
    assert run(reg.SpearmanRankCorrelation(), [(p, y)]) == pytest.approx(1 - 60 / 210)
    assert run(reg.KendallRankCorrelation(), [(p, y)]) == pytest.approx(7 / 15)
    assert run(reg.KendallRankCorrelation("c"), [(p, y)]) == pytest.approx(7 / 15)


@needs_scipy
@pytest.mark.parametrize("name", SCIPY)
def test_rank_correlations_refuse_bad_shapes_and_dtypes(name):
    test_bad_shapes_and_dtypes(name)  # Ignite's regression checks, before EpochMetric's


@needs_scipy
@pytest.mark.parametrize("name", SCIPY)
def test_rank_correlations_before_update(name):
    with pytest.raises(NotComputableError, match=f"{name} must have at least one example"):
        getattr(reg, name)().compute()


@needs_scipy
@pytest.mark.parametrize("name", SCIPY)
def test_rank_correlations_state_dict_round_trip(name):
    test_state_dict_round_trip(name)
    ir = pytest.importorskip("ignite.metrics.regression")
    ours, theirs = getattr(reg, name)(), getattr(ir, name)()
    ours.update(batches(1)[0])
    theirs.update(batches(1)[0])
    assert ours.state_dict().keys() == theirs.state_dict().keys()


@needs_scipy
def test_kendall_variant_is_checked():
    assert reg.KendallRankCorrelation("c").variant == "c"
    with pytest.raises(ValueError, match="variant accepts 'b' or 'c', got 'a'."):
        reg.KendallRankCorrelation("a")


@pytest.mark.parametrize("name", SCIPY)
def test_rank_correlations_need_scipy(name, monkeypatch):
    # None in sys.modules makes the import fail as if scipy were not installed
    monkeypatch.setitem(sys.modules, "scipy", None)
    monkeypatch.setitem(sys.modules, "scipy.stats", None)
    with pytest.raises(ModuleNotFoundError, match="This module requires scipy to be installed."):
        getattr(reg, name)()
    if name == "KendallRankCorrelation":  # scipy is looked for first, as in Ignite
        with pytest.raises(ModuleNotFoundError):
            reg.KendallRankCorrelation("a")
