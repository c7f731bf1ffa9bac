"""``Recall``: TP / (TP + FN)."""

from __future__ import annotations

import torch

from miniengine.metrics.precision import _BasePrecisionRecall

__all__ = ["Recall"]


class Recall(_BasePrecisionRecall):
    """Recall, TP / (TP + FN): of the examples of a class, the share predicted as it.

    Args:
        output_transform, average, is_multilabel, device, skip_unrolling: as for ``Precision``.

    Example:
        >>> r = Recall()
        >>> r.update((torch.tensor([1, 1, 1, 0]), torch.tensor([1, 0, 1, 1])))
        >>> round(r.compute().item(), 4)  # 2 of 3 actual positives are found
        0.6667
    """

    def _positives(self, y_pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return y
