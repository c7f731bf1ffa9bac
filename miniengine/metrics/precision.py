"""``Precision``: TP / (TP + FP), and the machinery it shares with ``Recall``."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch.nn.functional import one_hot

from miniengine.metrics.accuracy import _BaseClassification
from miniengine.metrics.metric import _identity, _need_examples

__all__ = ["Precision"]


class _BasePrecisionRecall(_BaseClassification):
    """Per-class ratios ``numerator / denominator`` accumulated in float64; ``average`` reduces.

    average: False or None -> one value per class (a 0-d tensor in the binary case);
    True or "macro" -> their mean; "weighted" -> their mean weighted by each class's support;
    "micro" -> the ratio of the summed counts; "samples" (multilabel) -> mean of per-example ratios.
    """

    _accumulators = ("_numerator", "_denominator", "_weight")
    _state_dict_all_req_keys = ("_numerator", "_denominator", "_weight", "_updated")

    def __init__(
        self,
        output_transform: Callable = _identity,
        average: bool | str | None = False,
        is_multilabel: bool = False,
        device: str | torch.device = "cpu",
        skip_unrolling: bool = False,
    ) -> None:
        if not (
            average is None
            or isinstance(average, bool)
            or average in ("macro", "micro", "weighted", "samples")
        ):
            raise ValueError(
                "Argument average should be None or a boolean or one of values"
                " 'macro', 'micro', 'weighted' and 'samples'."
            )
        self._average = "macro" if average is True else average
        self.eps = 1e-20
        super().__init__(output_transform, is_multilabel, device, skip_unrolling)

    def reset(self) -> None:
        """Forget the predictions seen."""
        self._numerator: Any = 0
        self._denominator: Any = 0
        self._weight: Any = 0
        self._updated = False
        super().reset()

    def _check_type(self, output: Sequence[torch.Tensor]) -> None:
        super()._check_type(output)
        y_pred, y = output
        if self._type in ("binary", "multiclass") and self._average == "samples":
            raise ValueError(
                "Argument average='samples' is incompatible with binary and multiclass input data."
            )
        if self._type == "multiclass" and y.dtype != torch.long:
            warnings.warn(
                "`y` should be of dtype long when entry type is multiclass",
                RuntimeWarning,
                stacklevel=3,
            )
        long_inputs = y.dtype == torch.long and y_pred.dtype == torch.long
        if self._type == "binary" and self._average is not False and not long_inputs:
            warnings.warn(
                "`y` and `y_pred` should be of dtype long when entry type is binary and "
                "average!=False",
                RuntimeWarning,
                stacklevel=3,
            )

    def _prepare(self, output: Sequence[torch.Tensor]) -> tuple[torch.Tensor, ...]:
        """``(y_pred, y, y_pred * y)`` as float64 0/1 tensors of shape (M, C)."""
        y_pred, y = output[0].detach(), output[1].detach()
        if self._type == "multilabel":
            c = y_pred.shape[1]
            y_pred = y_pred.transpose(1, -1).reshape(-1, c)
            y = y.transpose(1, -1).reshape(-1, c)
        else:
            c = 2 if self._type == "binary" else y_pred.shape[1]
            if self._type == "multiclass" and y.max() + 1 > c:
                raise ValueError(
                    f"y_pred contains fewer classes than y. Number of classes in the prediction "
                    f"is {c} and an element in y has invalid class = {y.max().item() + 1}."
                )
            y = y.reshape(-1)
            if self._type == "binary" and self._average is False:
                y_pred = y_pred.reshape(-1)  # binary, not averaged: one class, the positive one
            else:
                predicted = y_pred.argmax(dim=1) if self._type == "multiclass" else y_pred.long()
                y = one_hot(y.long(), c)
                y_pred = one_hot(predicted.reshape(-1), c)
        y_pred = y_pred.to(device=self._device, dtype=self._double_dtype)
        y = y.to(device=self._device, dtype=self._double_dtype)
        return y_pred, y, y * y_pred

    def _positives(self, y_pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The denominator's 0/1 tensor: predicted ones for precision, actual ones for recall."""
        raise NotImplementedError

    def update(self, output: Sequence[torch.Tensor]) -> None:
        """Count one batch: TP and the positives ``_positives`` picks.

        Args:
            output: ``(y_pred, y)``.
        """
        self._check_shape(output)
        self._check_type(output)
        if output[1].numel() == 0:
            return  # no examples: nothing to count (and ``y.max()`` would fail)
        y_pred, y, correct = self._prepare(output)
        positives = self._positives(y_pred, y)
        if self._average == "samples":
            self._numerator += torch.sum(correct.sum(dim=1) / (positives.sum(dim=1) + self.eps))
            self._denominator += y.shape[0]
        elif self._average == "micro":
            self._denominator += positives.sum()
            self._numerator += correct.sum()
        else:
            self._denominator += positives.sum(dim=0)
            self._numerator += correct.sum(dim=0)
            if self._average == "weighted":
                self._weight += y.sum(dim=0)
        self._updated = True

    def compute(self) -> torch.Tensor | float:
        """The ratio, reduced as ``average`` says."""
        _need_examples(self._updated, type(self).__name__)
        eps = 0 if self._average == "samples" else self.eps
        fraction = self._numerator / (self._denominator + eps)
        if self._average == "weighted":
            return ((fraction @ self._weight) / (self._weight.sum() + self.eps)).item()
        if self._average in ("micro", "samples"):
            return fraction.item()
        if self._average == "macro":
            return fraction.mean().item()
        return fraction


class Precision(_BasePrecisionRecall):
    """Precision, TP / (TP + FP): of the examples predicted as a class, the share that are.

    Inputs as for ``Accuracy``: binary 0/1 predictions, multiclass scores (arg-max taken), or
    multilabel 0/1 tensors with ``is_multilabel=True``.

    Args:
        output_transform: maps the output to ``(y_pred, y)``.
        average: False/None (per class), True/"macro", "micro", "weighted" or "samples".
        is_multilabel: treat ``(N, C, ...)`` 0/1 tensors as multilabel.
        device: where the counts live.
        skip_unrolling: see ``Metric``.

    Example:
        >>> p = Precision()
        >>> p.update((torch.tensor([1, 1, 1, 0]), torch.tensor([1, 0, 1, 1])))
        >>> round(p.compute().item(), 4)  # 2 of 3 predicted positives are right
        0.6667
    """

    def _positives(self, y_pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return y_pred
