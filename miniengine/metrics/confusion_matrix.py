"""``ConfusionMatrix``: counts of (true class, predicted class) pairs for multiclass outputs.

Also the scores computed from it (``IoU``, ``mIoU``, ``DiceCoefficient``, ``cmAccuracy``, ...):
each returns a ``MetricsLambda`` over the matrix, in float64, to attach like any metric.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from numbers import Integral

import torch

from miniengine.metrics.metric import Metric, _identity, _need_examples
from miniengine.metrics.metrics_lambda import MetricsLambda

__all__ = [
    "ConfusionMatrix",
    "DiceCoefficient",
    "IoU",
    "JaccardIndex",
    "cmAccuracy",
    "cmPrecision",
    "cmRecall",
    "mIoU",
]


class ConfusionMatrix(Metric):
    """``cm[i, j]`` = number of examples of true class ``i`` predicted as class ``j``.

    ``y_pred`` holds scores of shape (N, C, ...), ``y`` class indices of shape (N, ...); targets
    outside ``[0, num_classes)`` are ignored (e.g. an "ignore" label of -1 or 255).

    Args:
        num_classes: C, at least 2.
        average: None for counts; "samples" divides by the number of examples (N, summed over
            batches), "recall" normalises each row, "precision" each column.
        output_transform: maps the output to ``(y_pred, y)``.
        device: where the counts live.
        skip_unrolling: see ``Metric`` (on by default here, as in Ignite).

    Example:
        >>> cm = ConfusionMatrix(num_classes=2)
        >>> cm.update((torch.tensor([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]]), torch.tensor([0, 0, 1])))
        >>> cm.compute()
        tensor([[1, 1],
                [1, 0]])
    """

    _accumulators = _state_dict_all_req_keys = ("confusion_matrix", "_num_examples")

    def __init__(
        self,
        num_classes: int,
        average: str | None = None,
        output_transform: Callable = _identity,
        device: str | torch.device = "cpu",
        skip_unrolling: bool = True,
    ) -> None:
        if average is not None and average not in ("samples", "recall", "precision"):
            raise ValueError("Argument average can None or one of 'samples', 'recall', 'precision'")
        if num_classes <= 1:
            raise ValueError("Argument num_classes needs to be > 1")
        self.num_classes = num_classes
        self.average = average
        super().__init__(output_transform, device=device, skip_unrolling=skip_unrolling)

    def reset(self) -> None:
        """Zero the counts."""
        c = self.num_classes
        self.confusion_matrix = torch.zeros(c, c, dtype=torch.int64, device=self._device)
        self._num_examples = 0

    def _check_shape(self, y_pred: torch.Tensor, y: torch.Tensor) -> None:
        expected = (
            "y_pred must have shape (batch_size, num_classes (currently set to "
            f"{self.num_classes}), ...)"
        )
        if y_pred.ndim < 2:
            raise ValueError(f"{expected}, but given {y_pred.shape}")
        if y_pred.shape[1] != self.num_classes:
            raise ValueError(
                f"y_pred does not have correct number of classes: {y_pred.shape[1]} vs "
                f"{self.num_classes}"
            )
        if y.ndim + 1 != y_pred.ndim:
            raise ValueError(
                f"{expected} and y must have shape of (batch_size, ...), "
                f"but given {y.shape} vs {y_pred.shape}."
            )
        if y.shape != y_pred.shape[:1] + y_pred.shape[2:]:
            raise ValueError("y and y_pred must have compatible shapes.")

    def update(self, output: Sequence[torch.Tensor]) -> None:
        """Count one batch.

        Args:
            output: ``(y_pred, y)``.
        """
        y_pred, y = output[0].detach(), output[1].detach()
        self._check_shape(y_pred, y)
        self._num_examples += y_pred.shape[0]
        c = self.num_classes
        predicted, y = y_pred.argmax(dim=1).flatten(), y.flatten()
        keep = (y >= 0) & (y < c)
        # (true, predicted) -> one index in [0, c*c): counting them all is a single bincount
        counts = torch.bincount(c * y[keep] + predicted[keep], minlength=c * c)
        self.confusion_matrix += counts.reshape(c, c).to(self.confusion_matrix)

    def compute(self) -> torch.Tensor:
        """The matrix: int64 counts, or float32 when ``average`` is set."""
        _need_examples(self._num_examples, "Confusion matrix")
        if not self.average:
            return self.confusion_matrix
        cm = self.confusion_matrix.float()
        if self.average == "samples":
            return cm / self._num_examples
        return self.normalize(cm, self.average)

    @staticmethod
    def normalize(matrix: torch.Tensor, average: str) -> torch.Tensor:
        """Divide each row ("recall") or column ("precision") by its sum.

        Args:
            matrix: a confusion matrix (float).
            average: "recall" or "precision".

        Example:
            >>> ConfusionMatrix.normalize(torch.tensor([[3.0, 1.0], [0.0, 2.0]]), "recall")
            tensor([[0.7500, 0.2500],
                    [0.0000, 1.0000]])
        """
        if average == "recall":
            return matrix / (matrix.sum(dim=1).unsqueeze(1) + 1e-15)
        if average == "precision":
            return matrix / (matrix.sum(dim=0) + 1e-15)
        raise ValueError("Argument average should be one of 'samples', 'recall', 'precision'")


# The scores below: one MetricsLambda each, over a module-level function of the matrix, so the
# lambda's state_dict is the matrix's state and the ``ignore_index`` (Ignite builds a chain of
# lambdas whose state_dict fails on the ``torch.double`` argument). The 1e-15 terms are Ignite's:
# an empty class scores 0 instead of NaN.


def _check_cm(cm: object) -> None:
    if not isinstance(cm, ConfusionMatrix):
        raise TypeError(f"Argument cm should be instance of ConfusionMatrix, but given {type(cm)}")


def _check_ignore_index(cm: ConfusionMatrix, ignore_index: int | None) -> None:
    if ignore_index is None:
        return
    if not (isinstance(ignore_index, Integral) and 0 <= ignore_index < cm.num_classes):
        raise ValueError(
            f"ignore_index should be integer and in the range of [0, {cm.num_classes}), "
            f"but given {ignore_index}"
        )


def _check_iou_args(cm: ConfusionMatrix, ignore_index: int | None) -> None:
    _check_cm(cm)
    if cm.average not in (None, "samples"):
        raise ValueError(
            "ConfusionMatrix should have average attribute either None or 'samples', "
            f"got {cm.average!r}"
        )
    _check_ignore_index(cm, ignore_index)


def _without(scores: torch.Tensor, ignore_index: int | None) -> torch.Tensor:
    if ignore_index is None:
        return scores
    keep = [i for i in range(len(scores)) if i != ignore_index]
    return scores[keep]


def _iou(matrix: torch.Tensor, ignore_index: int | None) -> torch.Tensor:
    m = matrix.double()
    union = m.sum(dim=1) + m.sum(dim=0) - m.diag()
    return _without(m.diag() / (union + 1e-15), ignore_index)


def _mean_iou(matrix: torch.Tensor, ignore_index: int | None) -> torch.Tensor:
    return _iou(matrix, ignore_index).mean()


def _dice(matrix: torch.Tensor, ignore_index: int | None) -> torch.Tensor:
    m = matrix.double()
    return _without(2.0 * m.diag() / (m.sum(dim=1) + m.sum(dim=0) + 1e-15), ignore_index)


def _accuracy(matrix: torch.Tensor) -> torch.Tensor:
    m = matrix.double()
    return m.diag().sum() / (m.sum() + 1e-15)


def _per_class(matrix: torch.Tensor, dim: int, average: bool) -> torch.Tensor:
    # dim 0 sums each column (all predicted as the class): precision; dim 1 each row: recall
    m = matrix.double()
    scores = m.diag() / (m.sum(dim=dim) + 1e-15)
    return scores.mean() if average else scores


def IoU(cm: ConfusionMatrix, ignore_index: int | None = None) -> MetricsLambda:  # noqa: N802
    """Intersection over union per class: ``cm[i, i] / (row i + column i - cm[i, i])``.

    Args:
        cm: a ``ConfusionMatrix`` with ``average`` None or "samples".
        ignore_index: a class to leave out of the result (e.g. the background), or None.

    Example:
        >>> cm = ConfusionMatrix(num_classes=3)
        >>> iou = IoU(cm)
        >>> cm.update((torch.eye(3)[[1, 1, 0, 1, 1]], torch.tensor([0, 1, 0, 1, 2])))
        >>> iou.compute()  # class 0: 1 / (2 + 1 - 1), class 1: 2 / (2 + 4 - 2), class 2: 0
        tensor([0.5000, 0.5000, 0.0000], dtype=torch.float64)
    """
    _check_iou_args(cm, ignore_index)
    return MetricsLambda(_iou, cm, ignore_index)


def JaccardIndex(cm: ConfusionMatrix, ignore_index: int | None = None) -> MetricsLambda:  # noqa: N802
    """The Jaccard index per class: another name for ``IoU``.

    Args:
        cm: a ``ConfusionMatrix`` with ``average`` None or "samples".
        ignore_index: a class to leave out of the result, or None.

    Example:
        >>> cm = ConfusionMatrix(num_classes=2)
        >>> jaccard = JaccardIndex(cm, ignore_index=0)
        >>> cm.update((torch.eye(2)[[0, 1, 1]], torch.tensor([0, 1, 0])))
        >>> jaccard.compute()
        tensor([0.5000], dtype=torch.float64)
    """
    return IoU(cm, ignore_index)


def mIoU(cm: ConfusionMatrix, ignore_index: int | None = None) -> MetricsLambda:  # noqa: N802
    """The mean of ``IoU`` over the classes (those kept by ``ignore_index``).

    Args:
        cm: a ``ConfusionMatrix`` with ``average`` None or "samples".
        ignore_index: a class to leave out of the mean, or None.

    Example:
        >>> cm = ConfusionMatrix(num_classes=3)
        >>> miou = mIoU(cm, ignore_index=0)
        >>> cm.update((torch.eye(3)[[1, 1, 0, 1, 1]], torch.tensor([0, 1, 0, 1, 2])))
        >>> miou.compute()  # (0.5 + 0) / 2
        tensor(0.2500, dtype=torch.float64)
    """
    _check_iou_args(cm, ignore_index)
    return MetricsLambda(_mean_iou, cm, ignore_index)


def DiceCoefficient(cm: ConfusionMatrix, ignore_index: int | None = None) -> MetricsLambda:  # noqa: N802
    """Dice coefficient per class: ``2 cm[i, i] / (row i + column i)``.

    Args:
        cm: a ``ConfusionMatrix`` (any ``average``: the formula is applied to its value).
        ignore_index: a class to leave out of the result, or None.

    Example:
        >>> cm = ConfusionMatrix(num_classes=3)
        >>> dice = DiceCoefficient(cm, ignore_index=0)
        >>> cm.update((torch.eye(3)[[1, 1, 0, 1, 1]], torch.tensor([0, 1, 0, 1, 2])))
        >>> dice.compute()  # class 1: 2 * 2 / (2 + 4)
        tensor([0.6667, 0.0000], dtype=torch.float64)
    """
    _check_cm(cm)
    _check_ignore_index(cm, ignore_index)
    return MetricsLambda(_dice, cm, ignore_index)


def cmAccuracy(cm: ConfusionMatrix) -> MetricsLambda:  # noqa: N802
    """Accuracy from the matrix: its diagonal over its total.

    Args:
        cm: a ``ConfusionMatrix``.

    Example:
        >>> cm = ConfusionMatrix(num_classes=2)
        >>> accuracy = cmAccuracy(cm)
        >>> cm.update((torch.eye(2)[[0, 1, 1]], torch.tensor([0, 1, 0])))
        >>> accuracy.compute()
        tensor(0.6667, dtype=torch.float64)
    """
    _check_cm(cm)
    return MetricsLambda(_accuracy, cm)


def cmPrecision(cm: ConfusionMatrix, average: bool = True) -> MetricsLambda:  # noqa: N802
    """Precision from the matrix: each class's diagonal entry over its column.

    Args:
        cm: a ``ConfusionMatrix``.
        average: True for the mean over the classes, False for one value per class.

    Example:
        >>> cm = ConfusionMatrix(num_classes=2)
        >>> precision = cmPrecision(cm, average=False)
        >>> cm.update((torch.eye(2)[[0, 1, 1]], torch.tensor([0, 1, 0])))
        >>> precision.compute()
        tensor([1.0000, 0.5000], dtype=torch.float64)
    """
    _check_cm(cm)
    return MetricsLambda(_per_class, cm, 0, average)


def cmRecall(cm: ConfusionMatrix, average: bool = True) -> MetricsLambda:  # noqa: N802
    """Recall from the matrix: each class's diagonal entry over its row.

    Args:
        cm: a ``ConfusionMatrix``.
        average: True for the mean over the classes, False for one value per class.

    Example:
        >>> cm = ConfusionMatrix(num_classes=2)
        >>> recall = cmRecall(cm)
        >>> cm.update((torch.eye(2)[[0, 1, 1]], torch.tensor([0, 1, 0])))
        >>> recall.compute()  # (1/2 + 1/1) / 2
        tensor(0.7500, dtype=torch.float64)
    """
    _check_cm(cm)
    return MetricsLambda(_per_class, cm, 1, average)
