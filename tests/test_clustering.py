"""Clustering scores (scikit-learn, installed by the user): a silhouette by hand, each score
against scikit-learn called directly and against Ignite, nan where undefined, the dict keys,
``silhouette_kwargs``, shape and dtype errors, and the refusal without scikit-learn."""

from __future__ import annotations

import math
import sys

import pytest
import torch

from miniengine.engine import Engine
from miniengine.exceptions import NotComputableError
from miniengine.metrics import clustering
from miniengine.metrics.clustering import (
    CalinskiHarabaszScore,
    DaviesBouldinScore,
    SilhouetteScore,
)
from miniengine.metrics.epoch_metric import EpochMetricWarning

G = torch.Generator().manual_seed(0)
SCORES = [SilhouetteScore, DaviesBouldinScore, CalinskiHarabaszScore]
SKLEARN_NAME = {
    SilhouetteScore: "silhouette_score",
    DaviesBouldinScore: "davies_bouldin_score",
    CalinskiHarabaszScore: "calinski_harabasz_score",
}


def run(metric, batches):
    engine = Engine(lambda e, b: b)
    metric.attach(engine, "score")
    return engine.run(batches).metrics["score"]


def blobs(n_per_cluster, centres, dim=3):
    """Gaussian clusters around ``centres`` (one float per cluster), shuffled."""
    x = torch.cat([c + torch.randn(n_per_cluster, dim, generator=G) for c in centres])
    y = torch.arange(len(centres)).repeat_interleave(n_per_cluster)
    order = torch.randperm(len(y), generator=G)
    return x[order], y[order]


def test_the_package_is_reachable_from_metrics():
    assert clustering.SilhouetteScore is SilhouetteScore
    assert clustering.__all__ == ["CalinskiHarabaszScore", "DaviesBouldinScore", "SilhouetteScore"]


def test_silhouette_by_hand():
    pytest.importorskip("sklearn")
    # points 0, 1 | 3, 7 on a line; for each, a = mean distance in its cluster, b to the other
    x = torch.tensor([[0.0, 0.0], [1.0, 0.0], [3.0, 0.0], [7.0, 0.0]])
    y = torch.tensor([0, 0, 1, 1])
    a = [1.0, 1.0, 4.0, 4.0]
    b = [(3 + 7) / 2, (2 + 6) / 2, (3 + 2) / 2, (7 + 6) / 2]
    want = sum((bi - ai) / max(ai, bi) for ai, bi in zip(a, b, strict=True)) / 4
    got = run(SilhouetteScore(), [(x[:1], y[:1]), (x[1:], y[1:])])
    assert isinstance(got, float)
    assert got == pytest.approx(want, abs=1e-6)


@pytest.mark.parametrize("score", SCORES, ids=lambda c: c.__name__)
@pytest.mark.parametrize("centres", [(-5.0, 0.0, 5.0), (-0.5, 0.0, 0.5)], ids=["apart", "mixed"])
def test_against_sklearn_and_ignite(score, centres):
    skm = pytest.importorskip("sklearn.metrics")
    x, y = blobs(20, centres)
    batches = [(x[i : i + 7], y[i : i + 7]) for i in range(0, len(y), 7)]  # last batch of 4
    got = run(score(), batches)
    assert got == getattr(skm, SKLEARN_NAME[score])(x.numpy(), y.numpy())
    ic = pytest.importorskip("ignite.metrics.clustering")
    theirs = getattr(ic, score.__name__)()
    for batch in batches:
        theirs.update(batch)
    assert got == theirs.compute()


@pytest.mark.parametrize("score", SCORES, ids=lambda c: c.__name__)
def test_dict_output_and_a_new_run_starts_afresh(score):
    pytest.importorskip("sklearn")
    x, y = blobs(5, (0.0, 4.0))
    metric = score()
    first = run(metric, [{"features": x, "labels": y, "other": 0}])
    x2, y2 = blobs(5, (0.0, 1.0))
    engine = Engine(lambda e, b: b)
    metric.attach(engine, "score")
    assert engine.run([(x2, y2)]).metrics["score"] != first
    with pytest.raises(ValueError, match=r"it should contain \('features', 'labels'\) keys"):
        run(score(), [{"y_pred": x, "y": y}])


@pytest.mark.parametrize("score", SCORES, ids=lambda c: c.__name__)
@pytest.mark.parametrize("check_compute_fn", [True, False])
@pytest.mark.parametrize(
    "labels", [torch.tensor([3, 3, 3]), torch.tensor([0, 1, 2])], ids=["one", "each own"]
)
def test_nan_where_the_score_is_undefined(score, check_compute_fn, labels, recwarn):
    pytest.importorskip("sklearn")
    metric = score(check_compute_fn=check_compute_fn)
    metric.update((torch.rand(3, 2, generator=G), labels))
    assert math.isnan(metric.compute())
    assert not [w for w in recwarn if issubclass(w.category, EpochMetricWarning)]


def test_silhouette_kwargs_reach_sklearn():
    skm = pytest.importorskip("sklearn.metrics")
    x, y = blobs(15, (0.0, 2.0, 4.0))
    got = run(SilhouetteScore(silhouette_kwargs={"metric": "manhattan"}), [(x, y)])
    assert got == skm.silhouette_score(x.numpy(), y.numpy(), metric="manhattan")
    assert got != skm.silhouette_score(x.numpy(), y.numpy())
    sampled = {"sample_size": 20, "random_state": 3}
    got = run(SilhouetteScore(silhouette_kwargs=sampled), [(x, y)])
    assert got == skm.silhouette_score(x.numpy(), y.numpy(), **sampled)


def test_silhouette_kwargs_sklearn_refuses_warn_then_raise():
    pytest.importorskip("sklearn")
    metric = SilhouetteScore(silhouette_kwargs={"metric": "no-such-metric"})
    with pytest.warns(EpochMetricWarning, match="problem with `compute_fn`"):
        metric.update(blobs(3, (0.0, 5.0)))
    with pytest.raises(ValueError, match="no-such-metric"):
        metric.compute()


def test_silhouette_kwargs_must_be_a_mapping():
    pytest.importorskip("sklearn")
    with pytest.raises(TypeError, match=r"silhouette_kwargs should be a dict .* got \['metric'\]"):
        SilhouetteScore(silhouette_kwargs=["metric"])


@pytest.mark.parametrize("score", SCORES, ids=lambda c: c.__name__)
def test_one_feature_per_sample_is_a_column_for_sklearn(score):
    # deliberate difference: Ignite squeezes (N, 1) to (N,), which scikit-learn then refuses
    skm = pytest.importorskip("sklearn.metrics")
    x, y = blobs(6, (0.0, 3.0), dim=1)
    assert run(score(), [(x, y)]) == getattr(skm, SKLEARN_NAME[score])(x.numpy(), y.numpy())


@pytest.mark.parametrize("score", SCORES, ids=lambda c: c.__name__)
def test_errors(score):
    pytest.importorskip("sklearn")
    metric = score()
    with pytest.raises(NotComputableError, match=f"{score.__name__} must have at least one"):
        metric.compute()
    labels = torch.tensor([0, 0, 1, 1])
    with pytest.raises(
        ValueError, match=r"Features should be of shape \(batch_size, n_targets\), got \(4,\)"
    ):
        metric.update((torch.zeros(4), labels))
    with pytest.raises(ValueError, match=r"Labels should be of shape \(batch_size, \), got \(4, 1"):
        metric.update((torch.zeros(4, 3), labels[:, None]))
    metric.update((torch.zeros(4, 3), labels))
    with pytest.raises(
        ValueError,
        match="Incoherent types between input features and stored features: "
        "torch.float32 vs torch.float64",
    ):
        metric.update((torch.zeros(4, 3, dtype=torch.float64), labels))
    with pytest.raises(
        ValueError,
        match="Incoherent types between input labels and stored labels: torch.int64 vs torch.int32",
    ):
        metric.update((torch.zeros(4, 3), labels.int()))
    assert len(metric._predictions) == 1  # nothing of the refused batches was kept


@pytest.mark.parametrize("score", SCORES, ids=lambda c: c.__name__)
def test_without_sklearn_construction_fails_with_ignites_message(score, monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn.metrics", None)  # import now raises ImportError
    with pytest.raises(ModuleNotFoundError, match="This module requires scikit-learn"):
        score()
