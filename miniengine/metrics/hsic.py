"""``HSIC``: the Hilbert-Schmidt Independence Criterion, estimated per batch and averaged."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from numbers import Real

import torch

from miniengine.exceptions import NotComputableError
from miniengine.metrics.maximum_mean_discrepancy import _squared_distances
from miniengine.metrics.metric import Metric, _identity

__all__ = ["HSIC"]


def _median(values: torch.Tensor) -> torch.Tensor:
    """``torch.quantile(values, 0.5)`` (the mean of the middle two for an even count)."""
    # torch.quantile refuses more than 2**24 values: a batch of 4096 samples
    flat = values.flatten().sort().values
    n = flat.numel()
    return torch.lerp(flat[(n - 1) // 2], flat[n // 2], 0.5)


def _kernel_without_diagonal(z: torch.Tensor, sigma: float) -> torch.Tensor:
    gram = z @ z.T
    sq = gram.diagonal()
    d = _squared_distances(gram, sq, sq)
    var = _median(d) if sigma < 0 else sigma**2
    return torch.exp(-0.5 * d / var).fill_diagonal_(0.0)


def _check_sigma(name: str, sigma: float) -> None:
    if isinstance(sigma, bool) or not isinstance(sigma, (Real, torch.Tensor)):
        raise TypeError(f"Argument {name} should be a number, got {sigma!r}")
    if not (sigma < 0 or sigma > 0):
        raise ValueError(
            f"Argument {name} should be positive (the bandwidth) or negative (the median "
            f"heuristic), got {sigma!r}"
        )


class HSIC(Metric):
    """The mean over batches of Song et al.'s (2012) unbiased HSIC estimate, with Gaussian kernels.

    ``y_pred`` (X) and ``y`` (Y) hold the same number B of samples, each flattened. K and L are
    the Gram matrices of ``exp(-|a - b|^2 / (2 sigma^2))`` on X and on Y with their diagonals
    set to 0; a negative sigma takes sigma² = the median of the squared distances (diagonal
    included). With 1 a vector of ones, each batch gives ``max(HSIC, 0)``::

        HSIC = (tr(KL) + 1'K1 1'L1 / ((B-1)(B-2)) - 2 1'KL1 / (B-2)) / (B (B-3))

    HSIC is 0 when X and Y are independent. It needs B >= 4. The sum is kept in float32.

    Args:
        sigma_x: the kernel's bandwidth on X; negative: the median heuristic.
        sigma_y: the same on Y.
        ignore_invalid_batch: skip a batch of fewer than four samples (else ``ValueError``).
        output_transform: maps the output to ``(y_pred, y)``.
        device: where the sum lives.
        skip_unrolling: see ``Metric``.

    Example:
        >>> hsic = HSIC()
        >>> x = torch.arange(50.0).view(10, 5)
        >>> y = torch.sin(x * torch.pi / 25)  # a function of x: not independent
        >>> hsic.update((x, y))
        >>> round(hsic.compute(), 6)
        0.092266
        >>> hsic.update((x[:3], y[:3]))  # fewer than four samples: skipped
        >>> round(hsic.compute(), 6)
        0.092266
    """

    _accumulators = _state_dict_all_req_keys = ("_sum_of_hsic", "_num_batches")

    def __init__(
        self,
        sigma_x: float = -1,
        sigma_y: float = -1,
        ignore_invalid_batch: bool = True,
        output_transform: Callable = _identity,
        device: str | torch.device = "cpu",
        skip_unrolling: bool = False,
    ) -> None:
        _check_sigma("sigma_x", sigma_x)
        _check_sigma("sigma_y", sigma_y)
        super().__init__(output_transform, device=device, skip_unrolling=skip_unrolling)
        self.sigma_x = sigma_x
        self.sigma_y = sigma_y
        self.ignore_invalid_batch = ignore_invalid_batch

    def reset(self) -> None:
        """Forget the batches seen."""
        self._sum_of_hsic = torch.tensor(0.0, device=self._device)
        self._num_batches = 0

    def update(self, output: Sequence[torch.Tensor]) -> None:
        """Add one batch's HSIC estimate.

        Args:
            output: ``(y_pred, y)``, shapes (B, ...) with the same B.
        """
        x, y = output[0].detach(), output[1].detach()
        if x.ndim < 2 or y.ndim < 2 or x.shape[0] != y.shape[0]:
            raise ValueError(
                "y_pred and y must be in the shape of (B, ...) with the same B, got "
                f"{tuple(x.shape)} and {tuple(y.shape)}."
            )
        b = x.shape[0]
        if b < 4:
            if self.ignore_invalid_batch:
                return
            raise ValueError(
                f"A batch must contain more than four samples, got only {b} samples "
                "(four are enough; ignore_invalid_batch=True skips smaller batches)."
            )
        dtype = x.dtype if x.is_floating_point() else torch.get_default_dtype()
        k = _kernel_without_diagonal(x.flatten(start_dim=1).to(dtype), self.sigma_x)
        dtype = y.dtype if y.is_floating_point() else torch.get_default_dtype()
        l_ = _kernel_without_diagonal(y.flatten(start_dim=1).to(dtype), self.sigma_y)
        # K and L are symmetric: tr(KL) = sum(K * L), 1'KL1 = (K1) . (L1); no B x B product
        k_ones, l_ones = k.sum(dim=1), l_.sum(dim=1)
        hsic = (
            (k * l_).sum()
            + k_ones.sum() * l_ones.sum() / ((b - 1) * (b - 2))
            - 2.0 * (k_ones @ l_ones) / (b - 2)
        ) / (b * (b - 3))
        self._sum_of_hsic += hsic.clamp(min=0.0).to(self._device)
        self._num_batches += 1

    def compute(self) -> float:
        """The mean HSIC per batch."""
        if self._num_batches == 0:
            raise NotComputableError("HSIC must have at least one batch before it can be computed.")
        return self._sum_of_hsic.item() / self._num_batches
