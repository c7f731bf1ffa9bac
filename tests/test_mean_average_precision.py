"""MeanAveragePrecision: by hand (plain-python curves), against Ignite, errors, engine, 2 ranks."""

from __future__ import annotations

import warnings

import pytest
import torch

from miniengine.engine import Engine, Events
from miniengine.metrics import MeanAveragePrecision

G = torch.Generator().manual_seed(0)


def ap_by_hand(scores: list[float], positive: list[int], rec_thresholds=None) -> float:
    """One class: a (recall, precision) point per distinct score, highest first; then the sum
    of precision times the recall gained (or, with thresholds, precision at the first point
    reaching each threshold times the threshold's step)."""
    n_pos = sum(positive)
    points = []
    for cut in sorted(set(scores), reverse=True):
        chosen = [p for s, p in zip(scores, positive, strict=True) if s >= cut]
        points.append((sum(chosen) / n_pos if n_pos else 1.0, sum(chosen) / len(chosen)))
    if rec_thresholds is None:
        steps = [(r, p) for r, p in points]
    else:
        steps = []
        for t in sorted(rec_thresholds):
            reached = [p for r, p in points if r >= t]
            steps.append((t, reached[0] if reached else 0.0))
    total, before = 0.0, 0.0
    for r, p in steps:
        total += (r - before) * p
        before = r
    return total


def map_by_hand(y_pred, y, kind, class_mean, rec_thresholds=None):
    """Columns of scores per class, then the mean ``class_mean`` asks for."""
    if kind == "binary":
        return ap_by_hand(y_pred.flatten().tolist(), y.flatten().int().tolist(), rec_thresholds)
    c = y_pred.shape[1]
    scores = y_pred.transpose(0, 1).reshape(c, -1).tolist()
    if kind == "multiclass":
        flat = y.flatten().tolist()
        targets = [[int(v == k) for v in flat] for k in range(c)]
    else:
        targets = y.transpose(0, 1).reshape(c, -1).int().tolist()
    if class_mean == "micro":
        pooled = [s for row in scores for s in row], [t for row in targets for t in row]
        return ap_by_hand(*pooled, rec_thresholds)
    aps = [ap_by_hand(s, t, rec_thresholds) for s, t in zip(scores, targets, strict=True)]
    if class_mean is None:
        return aps
    if class_mean == "weighted":
        support = [sum(t) for t in targets]
        return sum(a * w for a, w in zip(aps, support, strict=True)) / sum(support)
    return sum(aps) / len(aps)


def data(kind: str, n: int = 24, ties: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    scores = torch.rand(n, 3, 2, generator=G)
    if ties:
        scores = (scores * 4).round() / 4
    if kind == "binary":
        return scores[:, 0].contiguous(), torch.randint(0, 2, (n, 2), generator=G)
    if kind == "multiclass":
        return scores, torch.randint(0, 3, (n, 2), generator=G)
    return scores, torch.randint(0, 2, (n, 3, 2), generator=G)


def test_small_case_by_hand():
    # scores 0.8 (+), 0.4 (-), 0.35 (+), 0.1 (-): recall 1/2 at precision 1, 1 at 2/3
    m = MeanAveragePrecision()
    m.update((torch.tensor([0.1, 0.4, 0.35, 0.8]), torch.tensor([0, 0, 1, 1])))
    assert m.compute() == pytest.approx(0.5 * 1 + 0.5 * 2 / 3, rel=1e-15)
    # recall thresholds 0.25 and 0.875: precision 1 (first point reaching 0.25), then 2/3
    # (a list becomes a float32 tensor, as in Ignite: these values are exact there)
    m = MeanAveragePrecision(rec_thresholds=[0.875, 0.25])
    m.update((torch.tensor([0.1, 0.4, 0.35, 0.8]), torch.tensor([0, 0, 1, 1])))
    assert m.compute() == pytest.approx(0.25 * 1 + 0.625 * 2 / 3, rel=1e-15)
    # equal scores are one threshold: both 0.5s enter together (recall 1, precision 1/2)
    m = MeanAveragePrecision()
    m.update((torch.tensor([0.5, 0.5, 0.2]), torch.tensor([1, 0, 0])))
    assert m.compute() == pytest.approx(0.5, rel=1e-15)


@pytest.mark.parametrize("kind", ["binary", "multiclass", "multilabel"])
@pytest.mark.parametrize("class_mean", [None, "macro", "micro", "weighted"])
@pytest.mark.parametrize("thresholds", [None, (0.0, 0.3125, 0.5625, 1.0)])
def test_by_hand_and_oracle(kind, class_mean, thresholds):
    y_pred, y = data(kind, ties=class_mean == "micro")
    batches = [(y_pred[:10], y[:10]), (y_pred[10:], y[10:])]
    args = {"rec_thresholds": thresholds, "class_mean": class_mean}
    m = MeanAveragePrecision(**args, is_multilabel=kind == "multilabel")
    engine = Engine(lambda e, b: b)
    m.attach(engine, "map")
    got = engine.run(batches).metrics["map"]
    expected = map_by_hand(y_pred, y, kind, class_mean, thresholds)
    if kind == "binary" or class_mean is not None:
        assert isinstance(got, float)  # a 0-d tensor is written as a number
        assert got == pytest.approx(expected, rel=1e-12)
    else:
        assert got.dtype == torch.float64
        assert got.tolist() == pytest.approx(expected, rel=1e-12)
    im = pytest.importorskip("ignite.metrics")
    theirs = im.MeanAveragePrecision(**args, is_multilabel=kind == "multilabel")
    ours = MeanAveragePrecision(**args, is_multilabel=kind == "multilabel")
    for batch in batches:
        theirs.update(batch)
        ours.update(batch)
    a, b = theirs.compute(), ours.compute()
    assert type(a) is type(b)
    if isinstance(a, torch.Tensor):
        assert a.shape == b.shape and a.dtype == b.dtype
        assert torch.allclose(a, b, rtol=1e-13, atol=0)
    else:
        assert a == pytest.approx(b, rel=1e-13)


def test_class_without_positives_scores_zero():
    m = MeanAveragePrecision(class_mean=None)
    m.update((torch.tensor([[0.9, 0.1, 0.0], [0.2, 0.7, 0.1]]), torch.tensor([0, 1])))
    assert m.compute().tolist() == [1.0, 1.0, 0.0]
    binary = MeanAveragePrecision(rec_thresholds=[0.5])
    binary.update((torch.tensor([0.3, 0.6]), torch.tensor([0, 0])))
    assert binary.compute() == 0.0


def test_extra_dimensions_and_binary_column():
    # (N, C, H, W) multiclass is the same as its (N * H * W, C) flattening
    y_pred, y = data("multiclass")
    flat = MeanAveragePrecision(class_mean=None)
    flat.update((y_pred.transpose(1, 2).reshape(-1, 3), y.reshape(-1)))
    shaped = MeanAveragePrecision(class_mean=None)
    shaped.update((y_pred, y))
    assert torch.allclose(flat.compute(), shaped.compute(), rtol=1e-15)
    # binary scores may come as (N, 1)
    col = MeanAveragePrecision()
    col.update((torch.tensor([[0.1], [0.4], [0.35], [0.8]]), torch.tensor([0, 0, 1, 1])))
    assert col.compute() == pytest.approx(5 / 6, rel=1e-15)


def test_errors_match_ignite():
    with pytest.raises(ValueError, match="rec_thresholds should be a one-dimensional tensor"):
        MeanAveragePrecision(rec_thresholds=torch.zeros(2, 2))
    with pytest.raises(TypeError, match="rec_thresholds should be a sequence of floats or a ten"):
        MeanAveragePrecision(rec_thresholds={0.1, 0.2})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="rec_thresholds values should be between 0 and 1"):
        MeanAveragePrecision(rec_thresholds=[0.0, 1.5])
    with pytest.raises(ValueError, match="Wrong `class_mean` parameter, given samples"):
        MeanAveragePrecision(class_mean="samples")  # type: ignore[arg-type]
    with pytest.raises(RuntimeError, match="could not be computed without any update method"):
        MeanAveragePrecision().compute()
    with pytest.raises(TypeError, match="`y_pred` should be a float tensor, given torch.int64"):
        MeanAveragePrecision().update((torch.tensor([0, 1]), torch.tensor([1, 0])))
    with pytest.raises(ValueError, match="For binary cases, y must be comprised of 0's and 1's"):
        MeanAveragePrecision().update((torch.tensor([0.2, 0.9]), torch.tensor([2, 0])))
    m = MeanAveragePrecision()
    with pytest.warns(RuntimeWarning, match="`y` should be of dtype long when entry type is mul"):
        m.update((torch.tensor([[0.5, 0.4, 0.1]]), torch.tensor([2.0])))
    with pytest.raises(ValueError, match="y_pred contains fewer classes than y. Number of classes"):
        m.update((torch.tensor([[0.5, 0.4, 0.1]]), torch.tensor([3])))
    with pytest.raises(RuntimeError, match="Input data type has changed from multiclass to binary"):
        m.update((torch.tensor([0.5]), torch.tensor([1])))


def test_reset_between_epochs_and_state_dict():
    y_pred, y = data("multilabel")
    m = MeanAveragePrecision(is_multilabel=True)
    engine = Engine(lambda e, b: b)
    m.attach(engine, "map")
    seen = []
    engine.add_event_handler(Events.EPOCH_COMPLETED, lambda e: seen.append(e.state.metrics["map"]))
    engine.run([(y_pred[:12], y[:12]), (y_pred[12:], y[12:])], max_epochs=2)
    assert seen[0] == seen[1] == pytest.approx(map_by_hand(y_pred, y, "multilabel", "macro"))
    # as in Ignite, the kept scores are not part of the state
    state = m.state_dict()
    assert list(state) == ["__metric_state_per_rank"]
    assert state["__metric_state_per_rank"] == [{}]


def _two_ranks(rank, out):
    torch.manual_seed(0)
    y_pred, y = torch.rand(20, 4), torch.randint(0, 4, (20,))
    part = slice(0, 6) if rank == 0 else slice(6, 20)  # uneven shares
    engine = Engine(lambda e, b: b)
    MeanAveragePrecision(class_mean=None).attach(engine, "map")
    got = engine.run([(y_pred[part], y[part])]).metrics["map"]
    empty = MeanAveragePrecision(is_multilabel=True)
    labels = torch.randint(0, 2, (20, 4))
    empty.update((y_pred, labels) if rank == 0 else (y_pred[:0], labels[:0]))  # rank 1: no rows
    torch.save({"map": got, "empty": empty.compute()}, out / f"map{rank}.pt")


def test_two_ranks_pool_every_score(tmp_path):
    from test_distributed import _launch  # the 2-process gloo launcher

    _launch(_two_ranks, tmp_path)
    torch.manual_seed(0)
    y_pred, y = torch.rand(20, 4), torch.randint(0, 4, (20,))
    labels = torch.randint(0, 2, (20, 4))
    for rank in range(2):
        seen = torch.load(tmp_path / f"map{rank}.pt")
        assert seen["map"].tolist() == pytest.approx(map_by_hand(y_pred, y, "multiclass", None))
        expected = map_by_hand(y_pred, labels, "multilabel", "macro")
        assert seen["empty"].item() == pytest.approx(expected)


def test_no_warning_for_long_multiclass_targets():
    m = MeanAveragePrecision()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m.update((torch.tensor([[0.5, 0.4, 0.1]]), torch.tensor([0])))
