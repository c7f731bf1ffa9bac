"""``MeanAveragePrecision``: the area under each class's precision-recall curve, averaged."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Literal

import torch

from miniengine import distributed as idist
from miniengine.metrics.accuracy import _BaseClassification
from miniengine.metrics.metric import Metric, _identity

__all__ = ["MeanAveragePrecision"]

_CLASS_MEANS = ("micro", "macro", "weighted")


def _checked_thresholds(
    values: Sequence[float] | torch.Tensor, name: str, device: torch.device, dtype: torch.dtype
) -> torch.Tensor:
    """``values`` as a sorted 1-d tensor, after checking that they lie in [0, 1]."""
    if isinstance(values, Sequence):
        values = torch.tensor(values)
    if not isinstance(values, torch.Tensor):
        raise TypeError(f"{name} should be a sequence of floats or a tensor, given {type(values)}.")
    if values.ndim != 1:
        raise ValueError(
            f"{name} should be a one-dimensional tensor or a sequence of floats, "
            f"given a {values.ndim}-dimensional tensor."
        )
    values = values.sort().values
    if len(values) and (values[0] < 0 or values[-1] > 1):
        raise ValueError(f"{name} values should be between 0 and 1, given {values}")
    return values.to(device, dtype=dtype)


def _gathered(
    parts: list[torch.Tensor], lead: tuple[int, ...], dtype: torch.dtype, metric: Metric
) -> torch.Tensor:
    """``parts`` joined along their last dimension, those of every rank in rank order."""
    mine = torch.cat(parts, dim=-1) if parts else torch.empty((*lead, 0), dtype=dtype)
    mine = mine.to(metric._device)
    if metric._world_size == 1:
        return mine
    # ranks hold different numbers of items: they must learn each other's before gathering
    lengths = idist.all_gather(torch.tensor([mine.shape[-1]], device=mine.device))
    assert isinstance(lengths, torch.Tensor)  # a tensor in, a tensor out
    shapes = [(*lead, n) for n in lengths.tolist()]
    return torch.cat(idist.all_gather_tensors_with_shapes(mine, shapes), dim=-1)


def _value_at_recalls(
    recall: torch.Tensor, precision: torch.Tensor, rec_thresholds: torch.Tensor
) -> torch.Tensor:
    """The precision of the first point whose recall reaches each threshold (0 if none does)."""
    wanted = rec_thresholds.to(recall.dtype).expand(*recall.shape[:-1], -1).contiguous()
    where = torch.searchsorted(recall.contiguous(), wanted)
    reached = where < recall.shape[-1]
    return precision.gather(-1, where.clamp(max=max(recall.shape[-1] - 1, 0))) * reached


class MeanAveragePrecision(_BaseClassification):
    """Average precision (area under the precision-recall curve) per class, then their mean.

    For each class, the examples are sorted by score; every distinct score is a threshold with
    a recall ``r_k`` and a precision ``P_k``, and ``AP = sum_k (r_k - r_{k-1}) P_k`` (with
    ``r_0 = 0``), as scikit-learn's ``average_precision_score``. With ``rec_thresholds``, the
    sum runs over those recalls instead, each taking the precision of the first point that
    reaches it (0 if none does). ``y_pred`` holds scores (floats): binary ``(N, ...)``,
    multiclass ``(N, C, ...)`` with ``y`` of class indices ``(N, ...)``, or multilabel
    ``(N, C, ...)`` with ``is_multilabel=True``. Everything is kept until ``compute``, which
    gives a float for binary input, else a tensor. A class without positives has AP 0.

    Args:
        rec_thresholds: the recalls to measure precision at (values in [0, 1], any order);
            None: every distinct score of the data.
        class_mean: "macro" (plain mean over classes), "weighted" (weighted by positives),
            "micro" (all classes pooled into one curve) or None (a tensor of per-class APs).
        is_multilabel: treat ``(N, C, ...)`` 0/1 targets as multilabel.
        output_transform: maps the output to ``(y_pred, y)``.
        device: where the kept scores live.
        skip_unrolling: see ``Metric``.

    Example:
        >>> m = MeanAveragePrecision()
        >>> m.update((torch.tensor([0.1, 0.4, 0.35, 0.8]), torch.tensor([0, 0, 1, 1])))
        >>> round(m.compute(), 4)  # recall 1/2 at precision 1, then 1 at precision 2/3
        0.8333
    """

    def __init__(
        self,
        rec_thresholds: Sequence[float] | torch.Tensor | None = None,
        class_mean: Literal["micro", "macro", "weighted"] | None = "macro",
        is_multilabel: bool = False,
        output_transform: Callable = _identity,
        device: str | torch.device = "cpu",
        skip_unrolling: bool = False,
    ) -> None:
        if class_mean is not None and class_mean not in _CLASS_MEANS:
            raise ValueError(f"Wrong `class_mean` parameter, given {class_mean}")
        super().__init__(output_transform, is_multilabel, device, skip_unrolling)
        self.class_mean = class_mean
        self.rec_thresholds: torch.Tensor | None = None
        if rec_thresholds is not None:
            self.rec_thresholds = _checked_thresholds(
                rec_thresholds, "rec_thresholds", self._device, self._double_dtype
            )

    def reset(self) -> None:
        """Forget the scores and targets kept."""
        self._y_pred: list[torch.Tensor] = []
        self._y_true: list[torch.Tensor] = []
        super().reset()

    @staticmethod
    def _check_binary(y_pred: torch.Tensor, y: torch.Tensor) -> None:
        # scores, not 0/1 predictions: only the targets are checked
        if not torch.equal(y, y**2):
            raise ValueError("For binary cases, y must be comprised of 0's and 1's.")

    def _check_type(self, output: Sequence[torch.Tensor]) -> None:
        super()._check_type(output)
        y_pred, y = output
        if y_pred.dtype in (torch.int, torch.long):
            raise TypeError(f"`y_pred` should be a float tensor, given {y_pred.dtype}")
        if self._type == "multiclass" and y.dtype != torch.long:
            warnings.warn(
                "`y` should be of dtype long when entry type is multiclass",
                RuntimeWarning,
                stacklevel=3,
            )

    def update(self, output: Sequence[torch.Tensor]) -> None:
        """Keep one batch's scores, one row per class, and its targets.

        Args:
            output: ``(y_pred, y)``.
        """
        self._check_shape(output)
        self._check_type(output)
        y_pred, y = output[0].detach(), output[1].detach()
        if self._type == "binary":
            scores, y = y_pred.reshape(1, -1), y.reshape(1, -1)
        else:
            c = y_pred.shape[1]
            scores = y_pred.transpose(0, 1).reshape(c, -1)
            if self._type == "multilabel":
                y = y.transpose(0, 1).reshape(c, -1)
            elif y.numel() and y.max() + 1 > c:
                raise ValueError(
                    f"y_pred contains fewer classes than y. Number of classes in prediction is "
                    f"{c} and an element in y has invalid class = {y.max().item() + 1}."
                )
            else:
                y = y.reshape(-1)
        self._y_pred.append(scores.to(self._device, dtype=self._double_dtype))
        self._y_true.append(y.to(self._device, dtype=self._target_dtype()))

    def _target_dtype(self) -> torch.dtype:
        # 0/1 targets fit a byte; class indices do not
        return torch.long if self._type == "multiclass" else torch.uint8

    def _average_precision(self, scores: torch.Tensor, positive: torch.Tensor) -> torch.Tensor:
        order = torch.argsort(scores, stable=True, descending=True)
        scores, hits = scores[order], positive[order].to(self._double_dtype).cumsum(0)
        # ties share one threshold: keep the last point of each run of equal scores
        last = torch.ones_like(scores, dtype=torch.bool)
        last[:-1] = scores[1:] != scores[:-1]
        hits, seen = hits[last], (torch.nonzero(last).flatten() + 1).to(self._double_dtype)
        n_positive = positive.sum()
        recall = hits / n_positive if n_positive > 0 else torch.ones_like(hits)
        precision = hits / seen
        if self.rec_thresholds is not None:
            precision = _value_at_recalls(recall, precision, self.rec_thresholds)
            recall = self.rec_thresholds
        steps = recall.diff(prepend=recall.new_zeros(1))
        return (steps * precision).sum()

    def compute(self) -> torch.Tensor | float:
        """The mean (as ``class_mean`` says) of the classes' average precisions."""
        if self._num_classes is None:
            raise RuntimeError("Metric could not be computed without any update method call")
        c, multiclass = self._num_classes, self._type == "multiclass"
        y_true = _gathered(self._y_true, () if multiclass else (c,), self._target_dtype(), self)
        scores = _gathered(self._y_pred, (c,), self._double_dtype, self)
        if multiclass:
            y_true = torch.nn.functional.one_hot(y_true, c).T
        if self.class_mean == "micro":
            y_true, scores = y_true.reshape(1, -1), scores.reshape(1, -1)
        support = y_true.sum(dim=-1)
        aps = torch.zeros(len(support), dtype=self._double_dtype, device=self._device)
        for k in range(len(support)):
            if scores.shape[-1]:
                aps[k] = self._average_precision(scores[k], y_true[k])
        if self._type == "binary":
            return aps.item()
        if self.class_mean is None:
            return aps
        if self.class_mean == "weighted":
            return (support * aps).sum() / support.sum()
        return aps.mean()
