"""``SSIM``: structural similarity between images, averaged over images."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from numbers import Real

import torch
import torch.nn.functional as F

from miniengine.metrics.metric import Metric, _identity, _need_examples, _same_dtype_and_shape

__all__ = ["SSIM"]


class SSIM(Metric):
    """Mean over images of the SSIM map, from window-weighted local statistics of each channel.

    At every pixel, with ``mu``, ``var`` and ``cov`` the means, variances and covariance of
    ``y_pred`` (p) and ``y`` (t) weighted by a window centred there::

        ssim = (2 mu_p mu_t + C1) (2 cov + C2) / ((mu_p^2 + mu_t^2 + C1) (var_p + var_t + C2))

    with ``C1 = (k1 * data_range) ** 2`` and ``C2 = (k2 * data_range) ** 2``. An image's value
    is the mean of its map over channels and pixels; borders are reflect-padded so the map has
    the image's size. The gaussian window is normalised to sum 1. The "uniform" window is
    Ignite's: weight 1/5 on the (at most) 5 central taps of each dimension and 0 elsewhere, so
    it is 5 wide whatever ``kernel_size`` (and for ``kernel_size`` 1 or 3 its weights sum to
    less than 1).

    ``y_pred`` and ``y`` have the same dtype and shape, (N, C, H, W), or (N, C, D, H, W) with
    ``ndims=3``. Integer images become float32; the map is computed in the images' dtype on
    their device (a CPU batch goes to ``device`` if that is an accelerator, with a warning, as
    in Ignite), the sum in float64.

    Args:
        data_range: the range of the pixel values (1.0 for images in [0, 1], 255 for uint8).
        kernel_size: the window's size, odd and positive, one int or one per image dimension.
        sigma: the gaussian window's standard deviation, one float or one per image dimension.
        k1: the constant of ``C1``.
        k2: the constant of ``C2``.
        gaussian: use a gaussian window; ``False`` for the uniform one.
        output_transform: maps the output to ``(y_pred, y)``.
        device: where the sum lives.
        skip_unrolling: see ``Metric``.
        ndims: 2 for (N, C, H, W) images, 3 for (N, C, D, H, W) volumes.

    Example:
        >>> y = torch.linspace(0, 1, 2 * 3 * 16 * 16).reshape(2, 3, 16, 16)
        >>> ssim = SSIM(data_range=1.0)
        >>> ssim.update((y, y))  # identical images
        >>> ssim.compute()
        1.0
        >>> ssim.reset()
        >>> ssim.update((y * 0.75, y))
        >>> round(ssim.compute(), 4)
        0.9503
    """

    _accumulators = ("_sum_of_ssim", "_num_examples")
    # Ignite saves the window it last used too: its state_dicts load here and back
    _state_dict_all_req_keys = ("_sum_of_ssim", "_num_examples", "_kernel")
    data_range: float
    kernel_size: list[int]
    sigma: list[float]
    c1: float
    c2: float
    ndims: int
    gaussian: bool
    _kernel_nd: torch.Tensor

    def __init__(
        self,
        data_range: int | float,
        kernel_size: int | Sequence[int] = 11,
        sigma: float | Sequence[float] = 1.5,
        k1: float = 0.01,
        k2: float = 0.03,
        gaussian: bool = True,
        output_transform: Callable = _identity,
        device: str | torch.device = "cpu",
        skip_unrolling: bool = False,
        ndims: int = 2,
    ) -> None:
        if ndims not in (2, 3):
            raise ValueError(f"Expected ndims to be 2 or 3. Got {ndims}.")
        sizes = _per_dim(kernel_size, int, "kernel_size", "int", ndims)
        sigmas = _per_dim(sigma, float, "sigma", "float", ndims)
        if any(not isinstance(k, int) or k % 2 == 0 or k <= 0 for k in sizes):
            raise ValueError(
                f"Expected kernel_size to have odd positive number. Got {kernel_size}."
            )
        if any(not isinstance(s, Real) or s <= 0 for s in sigmas):
            raise ValueError(f"Expected sigma to have positive number. Got {sigma}.")
        if not isinstance(data_range, (Real, torch.Tensor)) or not data_range > 0:
            raise ValueError(f"Argument data_range should be a positive number, got {data_range!r}")
        super().__init__(output_transform, device=device, skip_unrolling=skip_unrolling)
        self.data_range, self.ndims, self.gaussian = data_range, ndims, gaussian
        self.kernel_size, self.sigma = sizes, sigmas
        self.c1, self.c2 = (k1 * data_range) ** 2, (k2 * data_range) ** 2
        window = _window(sizes[0], sigmas[0], gaussian, self._device)
        for size, s in zip(sizes[1:], sigmas[1:], strict=True):
            window = window[..., None] * _window(size, s, gaussian, self._device)
        self._kernel_nd = window
        self._kernel: torch.Tensor | None = None  # the window per channel, as last used

    def reset(self) -> None:
        """Forget the images seen."""
        self._sum_of_ssim = torch.tensor(0.0, dtype=self._double_dtype, device=self._device)
        self._num_examples = 0

    def update(self, output: Sequence[torch.Tensor]) -> None:
        """Add each image's SSIM.

        Args:
            output: ``(y_pred, y)``.
        """
        y_pred, y = output[0].detach(), output[1].detach()
        _same_dtype_and_shape(y_pred, y)
        if y.ndim != self.ndims + 2:
            raise ValueError(
                "Expected y_pred and y to have BxCxHxW or BxCxDxHxW shape. "
                f"Got y_pred: {y_pred.shape} and y: {y.shape}."
            )
        if not y_pred.is_floating_point():
            y_pred, y = y_pred.float(), y.float()
        if y_pred.device.type == "cpu" and self._device.type != "cpu":
            warnings.warn(
                "y_pred tensor is on cpu device but previous computation was on another device: "
                f"{self._device}. Copying every batch there costs time: give SSIM tensors that "
                "are on its device.",
                stacklevel=2,
            )
            y_pred, y = y_pred.to(self._device), y.to(self._device)
        n, channels = y_pred.shape[:2]
        kernel = self._kernel
        if kernel is None or kernel.shape[0] != channels or kernel.device != y_pred.device:
            kernel = self._kernel_nd.expand(channels, 1, *self._kernel_nd.shape)
        self._kernel = kernel = kernel.to(y_pred.device, y_pred.dtype)
        # each dimension padded by its own half window (Ignite mixes them up for 3-d windows)
        padding = [k // 2 for k in reversed(self.kernel_size) for _ in range(2)]
        stacked = torch.cat([y_pred, y, y_pred * y_pred, y * y, y_pred * y])
        conv = F.conv3d if self.ndims == 3 else F.conv2d
        local = conv(F.pad(stacked, padding, mode="reflect"), kernel, groups=channels)
        mu_p, mu_t, mean_pp, mean_tt, mean_pt = local.unflatten(0, (5, n))
        mu_pp, mu_tt, mu_pt = mu_p.pow(2), mu_t.pow(2), mu_p * mu_t
        num = (2 * mu_pt + self.c1) * (2 * (mean_pt - mu_pt) + self.c2)
        den = (mu_pp + mu_tt + self.c1) * ((mean_pp - mu_pp) + (mean_tt - mu_tt) + self.c2)
        ssim_map = num / den
        double = torch.float32 if ssim_map.device.type == "mps" else self._double_dtype  # no f64
        per_image = torch.mean(ssim_map, list(range(1, ssim_map.ndim)), dtype=double)
        self._sum_of_ssim += per_image.sum().to(self._device)
        self._num_examples += n

    def compute(self) -> float:
        """The mean SSIM per image."""
        _need_examples(self._num_examples, "SSIM")
        return (self._sum_of_ssim / self._num_examples).item()


def _per_dim(value: object, kind: type, name: str, kind_name: str, ndims: int) -> list:
    if isinstance(value, kind):
        return [value] * ndims
    if not isinstance(value, Sequence) or isinstance(value, str):
        raise ValueError(
            f"Argument {name} should be either {kind_name} or a sequence of {kind_name} of "
            f"length {ndims}. Got {value!r}."
        )
    if len(value) != ndims:
        raise ValueError(f"Expected {name} to have length of {ndims}. Got {len(value)}.")
    return list(value)


def _window(size: int, sigma: float, gaussian: bool, device: torch.device) -> torch.Tensor:
    if gaussian:
        half = (size - 1) * 0.5
        weights = torch.exp(-0.5 * (torch.linspace(-half, half, size, device=device) / sigma) ** 2)
        return weights / weights.sum()
    weights = torch.zeros(size, device=device)
    weights[max(size // 2 - 2, 0) : size // 2 + 3] = 1 / 5
    return weights
