"""``MultiLabelConfusionMatrix``: a 2x2 confusion matrix per class for multi-label outputs."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from numbers import Integral

import torch

from miniengine.metrics.metric import Metric, _identity, _need_examples

__all__ = ["MultiLabelConfusionMatrix"]

_INTEGER_TYPES = (torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64)


class MultiLabelConfusionMatrix(Metric):
    """``cm[i, t, p]``: how often class ``i`` is ``t`` in ``y`` where it is ``p`` in ``y_pred``.

    So ``cm[i]`` is ``[[TN, FP], [FN, TP]]`` of class ``i`` (sklearn's
    ``multilabel_confusion_matrix``). ``y_pred`` and ``y`` are integer tensors of 0s and 1s of
    the same shape (N, C, ...): ``y[n, i] == 1`` when example ``n`` has label ``i``. Every place
    of the dimensions after C (e.g. a pixel) counts once per class.

    Args:
        num_classes: C, at least 2.
        output_transform: maps the output to ``(y_pred, y)``.
        device: where the counts live.
        normalized: divide each class's matrix by its total (float64; float32 on MPS).
        skip_unrolling: see ``Metric``.

    Example:
        >>> mlcm = MultiLabelConfusionMatrix(num_classes=2)
        >>> y_pred = torch.tensor([[1, 0], [1, 1], [0, 0]])
        >>> y = torch.tensor([[1, 1], [0, 1], [0, 0]])
        >>> mlcm.update((y_pred, y))
        >>> mlcm.compute()
        tensor([[[1, 1],
                 [0, 1]],
        <BLANKLINE>
                [[1, 0],
                 [1, 1]]])
    """

    _accumulators = _state_dict_all_req_keys = ("confusion_matrix", "_num_examples")
    num_classes: int
    normalized: bool

    def __init__(
        self,
        num_classes: int,
        output_transform: Callable = _identity,
        device: str | torch.device = "cpu",
        normalized: bool = False,
        skip_unrolling: bool = False,
    ) -> None:
        if isinstance(num_classes, bool) or not isinstance(num_classes, Integral):
            raise TypeError(f"Argument num_classes should be an integer, got {num_classes!r}")
        if num_classes <= 1:
            raise ValueError(f"Argument num_classes needs to be > 1, got {num_classes}")
        self.num_classes = num_classes
        self.normalized = normalized
        super().__init__(output_transform, device=device, skip_unrolling=skip_unrolling)

    def reset(self) -> None:
        """Zero the counts."""
        shape = (self.num_classes, 2, 2)
        self.confusion_matrix = torch.zeros(shape, dtype=torch.int64, device=self._device)
        self._num_examples = 0

    def _check_input(self, y_pred: torch.Tensor, y: torch.Tensor) -> None:
        c = self.num_classes
        for name, t in (("y_pred", y_pred), ("y", y)):
            if t.ndim < 2:
                raise ValueError(
                    f"{name} must at least have shape (batch_size, num_classes (currently set to "
                    f"{c}), ...), got {tuple(t.shape)}"
                )
        if y_pred.shape[0] != y.shape[0]:
            raise ValueError(
                f"y_pred and y have different batch size: {y_pred.shape[0]} vs {y.shape[0]}"
            )
        for name, t in (("y_pred", y_pred), ("y", y)):
            if t.shape[1] != c:
                raise ValueError(
                    f"{name} does not have correct number of classes: {t.shape[1]} vs {c}"
                )
        if y.shape != y_pred.shape:
            raise ValueError(
                f"y and y_pred shapes must match, got {tuple(y.shape)} and {tuple(y_pred.shape)}"
            )
        for name, t in (("y_pred", y_pred), ("y", y)):
            if t.dtype not in _INTEGER_TYPES:
                raise ValueError(f"{name} must be of any type: {_INTEGER_TYPES}, got {t.dtype}")
        for name, t in (("y_pred", y_pred), ("y", y)):
            outside = t[(t != 0) & (t != 1)]
            if outside.numel():
                raise ValueError(
                    f"{name} must be a binary tensor (0s and 1s), got {outside[0].item()}"
                )

    def update(self, output: Sequence[torch.Tensor]) -> None:
        """Count one batch.

        Args:
            output: ``(y_pred, y)``.
        """
        y_pred, y = output[0].detach(), output[1].detach()
        self._check_input(y_pred, y)
        self._num_examples += y.shape[0]
        c = self.num_classes
        # (class, true, predicted) -> one index in [0, 4c): counting them all is a single bincount
        codes = 2 * y.long() + y_pred.long()
        codes = codes.transpose(0, 1).reshape(c, -1) + 4 * torch.arange(c, device=y.device)[:, None]
        counts = torch.bincount(codes.flatten(), minlength=4 * c)
        self.confusion_matrix += counts.reshape(c, 2, 2).to(self.confusion_matrix)

    def compute(self) -> torch.Tensor:
        """The counts (int64), or each class's matrix over its total when ``normalized``."""
        _need_examples(self._num_examples, "Confusion matrix")
        if not self.normalized:
            # a copy: later updates add to the counts in place
            return self.confusion_matrix.clone()
        counts = self.confusion_matrix.to(self._double_dtype)
        return counts / counts.sum(dim=(1, 2))[:, None, None]
