"""``Recall``: TP / (TP + FN)."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from miniengine.metrics.precision import _BasePrecisionRecall

__all__ = ["Recall"]


class Recall(_BasePrecisionRecall):
    """Recall, TP / (TP + FN): of the examples of a class, the share predicted as it.

    Inputs and ``average`` as for ``Precision``.

    Args:
        output_transform: maps the output to ``(y_pred, y)``.
        average: False/None (per class), True/"macro", "micro", "weighted" or "samples".
        is_multilabel: treat ``(N, C, ...)`` 0/1 tensors as multilabel.
        device: where the counts live.
        skip_unrolling: see ``Metric``.

    Example:
        >>> r = Recall()
        >>> r.update((torch.tensor([1, 1, 1, 0]), torch.tensor([1, 0, 1, 1])))
        >>> round(r.compute().item(), 4)  # 2 of 3 actual positives are found
        0.6667
    """

    def update(self, output: Sequence[torch.Tensor]) -> None:
        """Count one batch.

        Args:
            output: ``(y_pred, y)``.
        """
        _, y, correct = self._prepare(output)
        self._accumulate(y, y, correct)
