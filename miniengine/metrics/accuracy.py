"""``Accuracy`` for binary, multiclass and multilabel outputs, and the input checks it shares."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import torch

from miniengine.metrics.metric import Metric, _identity, _need_examples

__all__ = ["Accuracy"]


class _BaseClassification(Metric):
    """Shape and type checks for ``(y_pred, y)``; finds the case: binary, multiclass, multilabel.

    - binary: ``y_pred`` and ``y`` of shape (N, ...) (or ``y_pred`` (N, 1, ...)), values 0 or 1;
    - multiclass: ``y_pred`` (N, C, ...) scores, ``y`` (N, ...) class indices;
    - multilabel (``is_multilabel=True``): both (N, C, ...) of 0s and 1s, C > 1.
    """

    def __init__(
        self,
        output_transform: Callable = _identity,
        is_multilabel: bool = False,
        device: str | torch.device = "cpu",
        skip_unrolling: bool = False,
    ) -> None:
        self._is_multilabel = is_multilabel
        super().__init__(output_transform, device=device, skip_unrolling=skip_unrolling)

    def reset(self) -> None:
        self._type: str | None = None
        self._num_classes: int | None = None

    @staticmethod
    def get_sequence_transform(
        ignore_index: int | Iterable[int] | None = None, output_transform: Callable = _identity
    ) -> Callable[[Sequence[torch.Tensor]], tuple[torch.Tensor, torch.Tensor]]:
        """An ``output_transform`` for sequence models: one example per position, padding dropped.

        ``y_pred`` of shape (N, S, C) becomes (N*S, C) and ``y`` of shape (N, S) becomes (N*S,);
        positions whose target is ``ignore_index`` (one int, or several) are left out.

        Args:
            ignore_index: the target value(s) of padding or other tokens not to score.
            output_transform: applied first, to get ``(y_pred, y)`` from the output.

        Example:
            >>> transform = Accuracy.get_sequence_transform(ignore_index=-1)
            >>> y_pred = torch.tensor([[[0.9, 0.1], [0.2, 0.8], [0.5, 0.5]]])  # N=1, S=3, C=2
            >>> transform((y_pred, torch.tensor([[0, 0, -1]])))[1]
            tensor([0, 0])
        """

        def transform(output: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
            y_pred, y = output_transform(output)
            if y_pred.ndim != 3 or y.ndim != 2:
                raise ValueError(
                    "Expected y_pred to be 3D (N, S, C) and y to be 2D (N, S), "
                    f"but got y_pred={y_pred.ndim}D and y={y.ndim}D."
                )
            if y_pred.shape[:2] != y.shape:
                raise ValueError(
                    f"y_pred and y have incompatible shapes: y_pred={y_pred.shape} "
                    f"(expected first two dims to match y={y.shape})."
                )
            y_pred, y = y_pred.reshape(-1, y_pred.shape[-1]), y.reshape(-1)
            if ignore_index is not None:
                if isinstance(ignore_index, Iterable):
                    ignored = torch.tensor(list(ignore_index))
                else:
                    ignored = torch.tensor([ignore_index])
                keep = ~torch.isin(y, ignored.to(y))
                y_pred, y = y_pred[keep], y[keep]
            return y_pred, y

        return transform

    def _check_shape(self, output: Sequence[torch.Tensor]) -> None:
        y_pred, y = output
        if not (y.ndim == y_pred.ndim or y.ndim + 1 == y_pred.ndim):
            raise ValueError(
                "y must have shape of (batch_size, ...) and y_pred must have "
                "shape of (batch_size, num_categories, ...) or (batch_size, ...), "
                f"but given {y.shape} vs {y_pred.shape}."
            )
        pred_shape = y_pred.shape
        if y.ndim + 1 == y_pred.ndim:
            pred_shape = pred_shape[:1] + pred_shape[2:]
        if y.shape != pred_shape:
            raise ValueError("y and y_pred must have compatible shapes.")
        if self._is_multilabel and not (y.shape == y_pred.shape and y.ndim > 1 and y.shape[1] > 1):
            raise ValueError(
                "y and y_pred must have same shape of (batch_size, num_categories, ...) and "
                "num_categories > 1."
            )

    @staticmethod
    def _check_binary(y_pred: torch.Tensor, y: torch.Tensor) -> None:
        if not torch.equal(y, y**2):
            raise ValueError("For binary cases, y must be comprised of 0's and 1's.")
        if not torch.equal(y_pred, y_pred**2):
            raise ValueError("For binary cases, y_pred must be comprised of 0's and 1's.")

    def _check_type(self, output: Sequence[torch.Tensor]) -> None:
        y_pred, y = output
        if y.ndim + 1 == y_pred.ndim:
            num_classes = y_pred.shape[1]
            kind = "binary" if num_classes == 1 else "multiclass"
            if kind == "binary":
                self._check_binary(y_pred, y)
        else:
            self._check_binary(y_pred, y)
            kind = "multilabel" if self._is_multilabel else "binary"
            num_classes = y_pred.shape[1] if self._is_multilabel else 1
        if self._type is None:
            self._type, self._num_classes = kind, num_classes
        elif self._type != kind:
            raise RuntimeError(f"Input data type has changed from {self._type} to {kind}.")
        elif self._num_classes != num_classes:
            raise ValueError(
                "Input data number of classes has changed from "
                f"{self._num_classes} to {num_classes}"
            )


class Accuracy(_BaseClassification):
    """Fraction of correct predictions.

    Binary: ``y_pred`` holds 0/1 predictions (threshold your scores first). Multiclass: the
    arg-max of ``y_pred`` over dim 1 is compared with ``y``. Multilabel: an example counts as
    correct only when all its labels are right.

    Args:
        output_transform: maps the output to ``(y_pred, y)``.
        is_multilabel: treat ``(N, C, ...)`` 0/1 tensors as multilabel.
        device: where the counts live.
        skip_unrolling: see ``Metric``.

    Example:
        >>> acc = Accuracy()
        >>> acc.update((torch.tensor([1, 0, 1, 1]), torch.tensor([1, 0, 0, 1])))
        >>> acc.compute()
        0.75
    """

    _accumulators = _state_dict_all_req_keys = ("_num_correct", "_num_examples")

    def reset(self) -> None:
        """Forget the predictions seen."""
        self._num_correct = torch.tensor(0, device=self._device)
        self._num_examples = 0
        super().reset()

    def update(self, output: Sequence[torch.Tensor]) -> None:
        """Count one batch's correct predictions.

        Args:
            output: ``(y_pred, y)``.
        """
        self._check_shape(output)
        self._check_type(output)
        y_pred, y = output[0].detach(), output[1].detach()
        if self._type == "binary":
            correct = y_pred.reshape(-1).to(y) == y.reshape(-1)
        elif self._type == "multiclass":
            correct = (y_pred.argmax(dim=1) == y).reshape(-1)
        else:  # multilabel: (N, C, ...) -> (N * ..., C), all labels must match
            c = y_pred.shape[1]
            y_pred = y_pred.transpose(1, -1).reshape(-1, c)
            y = y.transpose(1, -1).reshape(-1, c)
            correct = (y == y_pred.type_as(y)).all(dim=-1)
        self._num_correct += correct.sum().to(self._device)
        self._num_examples += correct.shape[0]

    def compute(self) -> float:
        """Correct predictions / predictions."""
        _need_examples(self._num_examples, "Accuracy")
        return self._num_correct.item() / self._num_examples
