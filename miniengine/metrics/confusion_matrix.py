"""``ConfusionMatrix``: counts of (true class, predicted class) pairs for multiclass outputs."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from miniengine.metrics.metric import Metric, _identity, _need_examples

__all__ = ["ConfusionMatrix"]


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
