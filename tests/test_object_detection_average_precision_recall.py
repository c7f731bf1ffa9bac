"""Object detection AP/AR: hand-made scenes, a plain-python COCO evaluation, Ignite, 2 ranks.

Ignite 0.5.5's version needs torchvision (for IoU) and its tests need pycocotools: the oracle
test skips when torchvision is missing.
"""

from __future__ import annotations

import pytest
import torch

from miniengine.engine import Engine
from miniengine.metrics import (
    CommonObjectDetectionMetrics,
    ObjectDetectionAvgPrecisionRecall,
    coco_tensor_list_to_dict_list,
)

G = torch.Generator().manual_seed(0)
AREAS = {"all": (0, 1e10), "small": (0, 32**2), "medium": (32**2, 96**2), "large": (96**2, 1e10)}


def iou_by_hand(a, b, crowd):
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    area_a = (a[2] - a[0]) * (a[3] - a[1])
    union = area_a if crowd else area_a + (b[2] - b[0]) * (b[3] - b[1]) - w * h
    return w * h / union if union else 0.0


def coco_by_hand(preds, targets, num_classes, ious, recs, area="all", max_det=100):
    """pycocotools' evaluation, in plain python: per class and IoU threshold, the detections of
    each image (best ``max_det`` first) take in turn the free ground truth of highest IoU,
    counted boxes before ignored ones (crowd or outside the area); then the precision envelope
    read at the recall thresholds. Returns the (AP, AR) means over classes with ground truths."""
    lo, hi = AREAS[area]

    def inside(box):
        return lo <= (box[2] - box[0]) * (box[3] - box[1]) <= hi

    aps, ars = [], []
    for c in range(num_classes):
        n_gt, rows = 0, []  # rows: (score, [tp per threshold], [fp per threshold])
        for pred, tgt in zip(preds, targets, strict=True):
            boxes, labels = tgt["bbox"].tolist(), tgt["labels"].tolist()
            crowds = tgt.get("iscrowd", torch.zeros(len(labels))).bool().tolist()
            gts = [
                (b, cr, cr or not inside(b))
                for b, lab, cr in zip(boxes, labels, crowds, strict=True)
                if lab == c
            ]
            gts.sort(key=lambda g: g[2])  # counted ones first (stable)
            n_gt += sum(not g[2] for g in gts)
            dets = [
                (s, b)
                for s, b, lab in zip(
                    pred["scores"].tolist(),
                    pred["bbox"].tolist(),
                    pred["labels"].tolist(),
                    strict=True,
                )
                if lab == c
            ]
            dets = sorted(dets, key=lambda d: -d[0])[:max_det]
            outcome = [[None] * len(ious) for _ in dets]
            for t, thr in enumerate(ious):
                taken = [False] * len(gts)
                for d, (_, dbox) in enumerate(dets):
                    best, best_iou = None, thr
                    for g, (gbox, crowd, ignored) in enumerate(gts):
                        if taken[g] and not crowd:
                            continue
                        if best is not None and not gts[best][2] and ignored:
                            break
                        value = iou_by_hand(dbox, gbox, crowd)
                        if value >= best_iou:
                            best, best_iou = g, value
                    if best is None:
                        outcome[d][t] = "fp" if inside(dbox) else "ignored"
                    else:
                        taken[best] = True
                        outcome[d][t] = "ignored" if gts[best][2] else "tp"
            rows += [(s, o) for (s, _), o in zip(dets, outcome, strict=True)]
        if n_gt == 0:
            continue
        rows.sort(key=lambda r: -r[0])
        for t in range(len(ious)):
            tp = fp = 0
            curve = []
            for _, o in rows:
                tp, fp = tp + (o[t] == "tp"), fp + (o[t] == "fp")
                curve.append((tp / n_gt, tp / (tp + fp) if tp + fp else 0.0))
            total = 0.0
            for r in recs:
                later = [p for rc, p in curve if rc >= r]
                total += max(later) if later else 0.0
            aps.append(total / len(recs))
            ars.append(curve[-1][0] if curve else 0.0)
    if not aps:
        return -1.0, -1.0
    return sum(aps) / len(aps), sum(ars) / len(ars)


def det(boxes, scores, labels):
    return {
        "bbox": torch.tensor(boxes, dtype=torch.float64).reshape(-1, 4),
        "scores": torch.tensor(scores, dtype=torch.float64),
        "labels": torch.tensor(labels, dtype=torch.long),
    }


def gt(boxes, labels, crowd=None):
    out = {
        "bbox": torch.tensor(boxes, dtype=torch.float64).reshape(-1, 4),
        "labels": torch.tensor(labels, dtype=torch.long),
    }
    if crowd is not None:
        out["iscrowd"] = torch.tensor(crowd)
    return out


def random_scene(n_images, num_classes):
    """Integer boxes (some jittered copies of ground truths), scores with ties, some crowds."""
    preds, targets = [], []
    for _ in range(n_images):
        n_gt, n_det = (int(torch.randint(0, k, (1,), generator=G)) for k in (5, 8))
        corner = torch.randint(0, 120, (n_gt, 2), generator=G)
        gt_boxes = torch.cat([corner, corner + torch.randint(1, 110, (n_gt, 2), generator=G)], 1)
        copies = gt_boxes[torch.randint(0, max(n_gt, 1), (n_det,), generator=G)] if n_gt else None
        corner = torch.randint(0, 120, (n_det, 2), generator=G)
        boxes = torch.cat([corner, corner + torch.randint(1, 110, (n_det, 2), generator=G)], 1)
        if copies is not None:
            half = n_det // 2
            boxes[:half] = copies[:half] + torch.randint(-8, 8, (half, 4), generator=G)
        preds.append(
            {
                "bbox": boxes.double(),
                "scores": (torch.rand(n_det, generator=G, dtype=torch.float64) * 5).round() / 5,
                "labels": torch.randint(0, num_classes, (n_det,), generator=G),
            }
        )
        target = {
            "bbox": gt_boxes.double(),
            "labels": torch.randint(0, num_classes, (n_gt,), generator=G),
        }
        if torch.rand(1, generator=G) < 0.5:
            target["iscrowd"] = torch.rand(n_gt, generator=G) < 0.3
        targets.append(target)
    return preds, targets


def test_iou_by_hand():
    m = ObjectDetectionAvgPrecisionRecall()
    pred = torch.tensor([[0.0, 0.0, 4.0, 4.0], [0.0, 0.0, 0.0, 0.0]], dtype=torch.float64)
    gts = torch.tensor(
        [[2.0, 0.0, 6.0, 4.0], [1.0, 1.0, 3.0, 3.0], [8.0, 8.0, 9.0, 9.0]], dtype=torch.float64
    )
    got = m.box_iou(pred, gts, torch.tensor([False, True, False]))
    # 8 / (16 + 16 - 8); crowd: 4 / the detection's 16; disjoint; an empty box: 0/0 is 0
    assert got.tolist() == [[1 / 3, 0.25, 0.0], [0.0, 0.0, 0.0]]


def test_matching_by_hand():
    m = ObjectDetectionAvgPrecisionRecall(
        num_classes=2, iou_thresholds=[0.5], rec_thresholds=[0.5, 1.0]
    )
    box = [0.0, 0.0, 10.0, 10.0]
    # two detections on one box: the more confident one (listed second) takes it
    m.update(([det([box, box], [0.6, 0.9], [1, 1])], [gt([box], [1])]))
    # recall 1 at precision 1 after 0.9, precision 1/2 after 0.6: AP (1 + 1) / 2, AR 1
    assert m.compute() == (1.0, 1.0)
    # a detection of the wrong class matches nothing and a crowd box takes both of its own
    m.reset()
    m.update(
        (
            [det([box, box, box], [0.9, 0.8, 0.7], [0, 1, 1])],
            [gt([box, box], [1, 1], [True, False])],
        )
    )
    # class 0: no ground truth (left out); class 1: 0.8 takes the counted box, 0.7 the crowd
    assert m.compute() == (1.0, 1.0)
    # two boxes of equal IoU: the later one is taken, so the next detection gets the first
    m.reset()
    left, right = [0.0, 0.0, 10.0, 20.0], [10.0, 0.0, 20.0, 20.0]
    middle = [5.0, 0.0, 15.0, 20.0]  # IoU 1/3 with each
    m = ObjectDetectionAvgPrecisionRecall(num_classes=1, iou_thresholds=[0.3], rec_thresholds=[1.0])
    m.update(([det([middle, left], [0.9, 0.8], [0, 0])], [gt([left, right], [0, 0])]))
    # 0.9 takes ``right`` (the later tie), 0.8 then takes ``left``: both right
    assert m.compute() == (1.0, 1.0)


def test_area_range_and_detection_cap_by_hand():
    small, large = [0.0, 0.0, 10.0, 10.0], [0.0, 0.0, 200.0, 200.0]
    preds = [det([small, large, [300.0, 300.0, 310.0, 310.0]], [0.9, 0.8, 0.7], [0, 0, 0])]
    targets = [gt([small, large], [0, 0])]
    m = ObjectDetectionAvgPrecisionRecall(num_classes=1, area_range="small", iou_thresholds=[0.5])
    m.update((preds, targets))
    # small: the large box is ignored (its detection left out); the unmatched small detection
    # is a false positive after the true one: precision stays 1 up to recall 1
    assert m.compute() == (1.0, 1.0)
    m = ObjectDetectionAvgPrecisionRecall(num_classes=1, area_range="large", iou_thresholds=[0.5])
    m.update((preds, targets))
    # large: only the 200x200 box counts; the small detections are left out as outside
    assert m.compute() == (1.0, 1.0)
    m = ObjectDetectionAvgPrecisionRecall(
        num_classes=1, max_detections_per_image_per_class=1, iou_thresholds=[0.5]
    )
    m.update((preds, targets))
    # one detection kept: recall 1/2 at precision 1 -> 51 of the 101 recall thresholds
    assert m.compute() == (pytest.approx(51 / 101, rel=1e-15), 0.5)


@pytest.mark.parametrize("case", range(8))
def test_random_scenes_against_coco_by_hand(case):
    num_classes = 1 + case % 3
    preds, targets = random_scene(3 + case, num_classes)
    area = ["all", "small", "medium", "large"][case % 4]
    max_det = [100, 1, 2][case % 3]
    ious = [0.5, 0.55, 0.75] if case % 2 else [0.3]
    recs = [i / 10 for i in range(11)]
    m = ObjectDetectionAvgPrecisionRecall(
        iou_thresholds=ious,
        rec_thresholds=recs,
        num_classes=num_classes,
        max_detections_per_image_per_class=max_det,
        area_range=area,
    )
    m.update((preds[:2], targets[:2]))
    m.update((preds[2:], targets[2:]))
    # the thresholds go through float32 (a list becomes a float32 tensor), as in Ignite
    f32 = (
        [torch.tensor(v, dtype=torch.float32).item() for v in ious],
        [torch.tensor(v, dtype=torch.float32).item() for v in recs],
    )
    expected = coco_by_hand(preds, targets, num_classes, *f32, area=area, max_det=max_det)
    assert m.compute() == pytest.approx(expected, rel=1e-12)


def test_common_metrics_and_engine():
    preds, targets = random_scene(6, 2)
    engine = Engine(lambda e, b: b)
    common = CommonObjectDetectionMetrics(num_classes=2)
    common.attach(engine, "coco")
    metrics = engine.run([(preds[:3], targets[:3]), (preds[3:], targets[3:])]).metrics
    result = metrics["coco"]
    keys = [
        "AP@50..95",
        "AR-100",
        "AP@50",
        "AP@75",
        "AP-S",
        "AR-S",
        "AP-M",
        "AR-M",
        "AP-L",
        "AR-L",
        "AR-1",
        "AR-10",
    ]
    assert list(result) == keys
    assert all(metrics[k] == result[k] for k in keys)  # spread at top level too
    ious = torch.linspace(0.5, 0.95, 10).double().tolist()
    recs = torch.linspace(0, 1, 101).double().tolist()

    def hand(**kw):
        return coco_by_hand(preds, targets, 2, kw.pop("ious", ious), recs, **kw)

    assert (result["AP@50..95"], result["AR-100"]) == pytest.approx(hand(), rel=1e-12)
    assert result["AP@50"] == pytest.approx(hand(ious=[ious[0]])[0], rel=1e-12)
    assert result["AP@75"] == pytest.approx(hand(ious=[ious[5]])[0], rel=1e-12)
    for key, area in [("S", "small"), ("M", "medium"), ("L", "large")]:
        assert (result[f"AP-{key}"], result[f"AR-{key}"]) == pytest.approx(
            hand(area=area), rel=1e-12
        )
    assert result["AR-1"] == pytest.approx(hand(max_det=1)[1], rel=1e-12)
    assert result["AR-10"] == pytest.approx(hand(max_det=10)[1], rel=1e-12)
    state = common.state_dict()["__metric_state_per_rank"][0]
    assert list(state) == ["metrics", "ap_50_95"] and sorted(state["metrics"]) == [
        "1",
        "10",
        "L",
        "M",
        "S",
    ]


def test_oracle():
    pytest.importorskip("torchvision")  # Ignite computes IoU with torchvision
    im = pytest.importorskip("ignite.metrics")
    preds, targets = random_scene(8, 3)
    for kw in [{}, {"area_range": "medium"}, {"max_detections_per_image_per_class": 1}]:
        theirs = im.ObjectDetectionAvgPrecisionRecall(num_classes=3, **kw)
        ours = ObjectDetectionAvgPrecisionRecall(num_classes=3, **kw)
        for m in (theirs, ours):
            m.update((preds[:4], targets[:4]))
            m.update((preds[4:], targets[4:]))
        assert ours.compute() == pytest.approx(theirs.compute(), rel=1e-12)
    theirs, ours = (
        im.CommonObjectDetectionMetrics(num_classes=3),
        CommonObjectDetectionMetrics(num_classes=3),
    )
    theirs.update((preds, targets))
    ours.update((preds, targets))
    assert ours.compute() == pytest.approx(theirs.compute(), rel=1e-12)


def test_empty_data():
    none = det([], [], [])
    no_gt = gt([], [], [])
    m = ObjectDetectionAvgPrecisionRecall()
    m.update(([none], [no_gt]))
    assert m.compute() == (-1, -1)  # no ground truth anywhere: COCO's -1
    m.update(([det([[0.0, 0.0, 100.0, 100.0]], [1.0], [1])], [no_gt]))
    assert m.compute() == (-1, -1)
    m = ObjectDetectionAvgPrecisionRecall()
    m.update(([none], [gt([[0.0, 0.0, 100.0, 100.0]], [1], [False])]))
    assert m.compute() == (0, 0)  # a ground truth, no detection
    assert m.state_dict()["__metric_state_per_rank"] == [{}]  # as in Ignite: nothing kept


def test_errors():
    m = ObjectDetectionAvgPrecisionRecall()
    with pytest.raises(
        ValueError, match="y_pred and y should have the same number of samples, given 1 and 0"
    ):
        m.update(([{"bbox": None, "scores": None}], []))
    with pytest.raises(ValueError, match="y_pred and y should contain at least one sample."):
        m.update(([], []))
    with pytest.raises(ValueError, match="y_pred sample dictionaries should have 'bbox', 'scores'"):
        m.update(([{"bbox": None, "scores": None}], [{"bbox": None, "labels": None}]))
    with pytest.raises(ValueError, match="y sample dictionaries should have 'bbox', 'labels'"):
        m.update(([{"bbox": None, "scores": None, "labels": None}], [{"labels": None}]))
    with pytest.raises(ValueError, match="iou_thresholds values should be between 0 and 1"):
        ObjectDetectionAvgPrecisionRecall(iou_thresholds=[0.5, 1.5])
    with pytest.raises(ValueError, match="rec_thresholds should be a one-dimensional tensor"):
        ObjectDetectionAvgPrecisionRecall(rec_thresholds=torch.zeros(2, 2))
    with pytest.raises(ValueError, match="Argument area_range should be one of .* got 'tiny'"):
        ObjectDetectionAvgPrecisionRecall(area_range="tiny")  # type: ignore[arg-type]
    with pytest.raises(
        ValueError, match="Argument num_classes should be a positive integer, got 0"
    ):
        ObjectDetectionAvgPrecisionRecall(num_classes=0)


def test_coco_tensor_list_to_dict_list():
    y_pred = [torch.rand(2, 6, generator=G), torch.rand(0, 6, generator=G)]
    y5, y6 = [torch.rand(3, 5, generator=G)], [torch.rand(3, 6, generator=G)]
    preds, targets = coco_tensor_list_to_dict_list((y_pred, y5))
    assert sorted(preds[0]) == ["bbox", "class", "confidence"] and sorted(targets[0]) == [
        "bbox",
        "class",
    ]
    assert torch.equal(preds[0]["bbox"], y_pred[0][:, :4]) and torch.equal(
        preds[0]["confidence"], y_pred[0][:, 4]
    )
    assert torch.equal(preds[0]["class"], y_pred[0][:, 5]) and torch.equal(
        targets[0]["class"], y5[0][:, 4]
    )
    _, targets = coco_tensor_list_to_dict_list((preds, y6))
    assert torch.equal(targets[0]["iscrowd"], y6[0][:, 5])
    dicts = [{"bbox": torch.zeros(0, 4)}]
    assert coco_tensor_list_to_dict_list((dicts, dicts)) == (dicts, dicts)  # already dicts: kept


def _two_ranks(rank, out):
    preds, targets = random_scene(5, 2)  # the same scene on both ranks (fixed seed)
    part = slice(0, 1) if rank == 0 else slice(1, 5)
    engine = Engine(lambda e, b: b)
    ObjectDetectionAvgPrecisionRecall(num_classes=2).attach(engine, "od")
    got = engine.run([(preds[part], targets[part])]).metrics["od"]
    torch.save(got, out / f"od{rank}.pt")


def test_two_ranks_pool_every_image(tmp_path):
    from test_distributed import _launch  # the 2-process gloo launcher

    _launch(_two_ranks, tmp_path)
    G.manual_seed(0)
    preds, targets = random_scene(5, 2)
    ious = torch.linspace(0.5, 0.95, 10).double().tolist()
    recs = torch.linspace(0, 1, 101).double().tolist()
    expected = coco_by_hand(preds, targets, 2, ious, recs)
    for rank in range(2):
        assert torch.load(tmp_path / f"od{rank}.pt") == pytest.approx(expected, rel=1e-12)
