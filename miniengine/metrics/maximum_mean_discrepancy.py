"""``MaximumMeanDiscrepancy``: the Gaussian-kernel MMD of two samples, averaged over batches."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from numbers import Real

import torch

from miniengine.exceptions import NotComputableError
from miniengine.metrics.metric import Metric, _identity

__all__ = ["MaximumMeanDiscrepancy"]


def _squared_distances(gram: torch.Tensor, a_sq: torch.Tensor, b_sq: torch.Tensor) -> torch.Tensor:
    """``|a_i - b_j|^2`` from ``gram = a @ b.T`` and the squared norms of the rows of a and b."""
    return a_sq[:, None] + b_sq[None, :] - 2.0 * gram


def _off_diagonal_mean(k: torch.Tensor) -> torch.Tensor:
    n = k.shape[0]
    return (k.sum() - k.diagonal().sum()) / (n * (n - 1))


class MaximumMeanDiscrepancy(Metric):
    """Square root of the batch mean of MMD², with the kernel ``exp(-|a - b|^2 / (2 var))``.

    ``x`` and ``y`` have the same shape (B, ...), B >= 2; each sample is flattened. For each
    batch, with k that kernel::

        MMD² = mean_{i != j} k(x_i, x_j) + mean_{i != j} k(y_i, y_j) - 2 mean_{i, j} k(x_i, y_j)

    (Gretton et al. 2012; the x-y term keeps i == j, as in Ignite). The three means are summed
    over batches in float32; ``compute`` gives ``sqrt(max(sum of MMD², 0) / batches)``.

    Args:
        var: the kernel's bandwidth sigma², a positive number.
        output_transform: maps the output to ``(x, y)``.
        device: where the sums live.
        skip_unrolling: see ``Metric``.

    Example:
        >>> mmd = MaximumMeanDiscrepancy()
        >>> x = torch.zeros(2, 3)
        >>> mmd.update((x, x + 100.0))  # k = 1 within each sample, 0 across them
        >>> round(mmd.compute(), 6)  # sqrt(1 + 1 - 2 * 0)
        1.414214
        >>> mmd.update((x, x))  # the same sample: 1 + 1 - 2 * 1
        >>> mmd.compute()  # sqrt((2 + 0) / 2 batches)
        1.0
    """

    _accumulators = _state_dict_all_req_keys = ("_xx_sum", "_yy_sum", "_xy_sum", "_num_batches")
    var: float

    def __init__(
        self,
        var: float = 1.0,
        output_transform: Callable = _identity,
        device: str | torch.device = "cpu",
        skip_unrolling: bool = False,
    ) -> None:
        if isinstance(var, bool) or not isinstance(var, (Real, torch.Tensor)) or not var > 0:
            raise ValueError(f"Argument var should be a positive number, got {var!r}")
        self.var = var
        super().__init__(output_transform, device=device, skip_unrolling=skip_unrolling)

    def reset(self) -> None:
        """Forget the batches seen."""
        self._xx_sum = torch.tensor(0.0, device=self._device)
        self._yy_sum = torch.tensor(0.0, device=self._device)
        self._xy_sum = torch.tensor(0.0, device=self._device)
        self._num_batches = 0

    def update(self, output: Sequence[torch.Tensor]) -> None:
        """Add one batch's three kernel means.

        Args:
            output: ``(x, y)``, two samples of the same shape (B, ...).
        """
        x, y = output[0].detach(), output[1].detach()
        if x.shape != y.shape:
            raise ValueError(f"x and y must be in the same shape, got {x.shape} != {y.shape}.")
        if x.ndim < 2:
            raise ValueError(f"x must be in the shape of (B, ...), got {x.shape}.")
        if x.shape[0] < 2:
            # the x-x and y-y means are over pairs i != j: none in a batch of one
            raise ValueError(f"A batch must contain at least two samples, got {x.shape[0]}.")
        x, y = x.flatten(start_dim=1), y.flatten(start_dim=1)
        xx, yy = x @ x.T, y @ y.T
        # norms read off the Gram diagonals make each self-distance exactly 0
        x_sq, y_sq = xx.diagonal(), yy.diagonal()
        scale = -0.5 / self.var
        k_xx = torch.exp(_squared_distances(xx, x_sq, x_sq) * scale)
        k_yy = torch.exp(_squared_distances(yy, y_sq, y_sq) * scale)
        k_xy = torch.exp(_squared_distances(x @ y.T, x_sq, y_sq) * scale)
        self._xx_sum += _off_diagonal_mean(k_xx).to(self._device)
        self._yy_sum += _off_diagonal_mean(k_yy).to(self._device)
        self._xy_sum += k_xy.mean().to(self._device)
        self._num_batches += 1

    def compute(self) -> float:
        """The square root of the mean MMD² per batch (negative sums count as 0)."""
        if self._num_batches == 0:
            # "Discrepacy": Ignite's spelling, which code matching on the message relies on
            raise NotComputableError(
                "MaximumMeanDiscrepacy must have at least one batch before it can be computed."
            )
        mmd2 = self._xx_sum + self._yy_sum - 2.0 * self._xy_sum
        return (mmd2.clamp(min=0.0) / self._num_batches).sqrt().item()
