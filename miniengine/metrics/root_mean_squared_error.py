"""``RootMeanSquaredError``: the square root of ``MeanSquaredError``."""

from __future__ import annotations

import math

from miniengine.metrics.mean_squared_error import MeanSquaredError

__all__ = ["RootMeanSquaredError"]


class RootMeanSquaredError(MeanSquaredError):
    """``sqrt(MeanSquaredError)``: the same sums, the root taken in ``compute``.

    Args:
        output_transform, device, skip_unrolling: as for ``MeanSquaredError``.

    Example:
        >>> import torch
        >>> rmse = RootMeanSquaredError()
        >>> rmse.update((torch.tensor([3.0, 0.0]), torch.tensor([0.0, 4.0])))
        >>> rmse.compute()  # sqrt((9 + 16) / 2)
        3.5355339059327378
    """

    def compute(self) -> float:
        """The root of the mean squared error."""
        return math.sqrt(super().compute())
