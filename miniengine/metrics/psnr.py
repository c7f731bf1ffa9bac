"""``PSNR``: peak signal-to-noise ratio, averaged over images."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from numbers import Real

import torch

from miniengine.metrics.metric import Metric, _identity, _need_examples, _same_dtype_and_shape

__all__ = ["PSNR"]


class PSNR(Metric):
    """Mean over images of ``10 * log10(data_range ** 2 / (MSE + 1e-10))``, MSE per image.

    ``y_pred`` and ``y`` have the same shape (N, ...) and dtype; every dimension but the first
    counts in an image's MSE, so an RGB image's three channels are pooled. For YCbCr or YUV
    images, pick the Y channel with ``output_transform`` (``y_pred[:, 0], y[:, 0]``). Computed
    in float64.

    Args:
        data_range: the range of the pixel values (1.0 for images in [0, 1], 255 for uint8).
        output_transform: maps the output to ``(y_pred, y)``.
        device: where the sum lives.
        skip_unrolling: see ``Metric``.

    Example:
        >>> psnr = PSNR(data_range=1.0)
        >>> y = torch.zeros(2, 3, 4, 4)
        >>> psnr.update((y + 0.1, y))  # every pixel off by 0.1: MSE 0.01
        >>> round(psnr.compute(), 6)  # 10 * log10(1 / 0.01)
        20.0
    """

    _accumulators = _state_dict_all_req_keys = ("_sum_of_batchwise_psnr", "_num_examples")
    data_range: float

    def __init__(
        self,
        data_range: float,
        output_transform: Callable = _identity,
        device: str | torch.device = "cpu",
        skip_unrolling: bool = False,
    ) -> None:
        if not isinstance(data_range, (Real, torch.Tensor)) or not data_range > 0:
            raise ValueError(f"Argument data_range should be a positive number, got {data_range!r}")
        super().__init__(output_transform, device=device, skip_unrolling=skip_unrolling)
        self.data_range = data_range

    def reset(self) -> None:
        """Forget the images seen."""
        self._sum_of_batchwise_psnr = torch.tensor(
            0.0, dtype=self._double_dtype, device=self._device
        )
        self._num_examples = 0

    def update(self, output: Sequence[torch.Tensor]) -> None:
        """Add each image's PSNR.

        Args:
            output: ``(y_pred, y)``.
        """
        y_pred, y = output[0].detach(), output[1].detach()
        _same_dtype_and_shape(y_pred, y)
        error = y_pred.to(self._double_dtype) - y.to(self._double_dtype)
        mse = (error**2).mean(dim=tuple(range(1, y.ndim)))
        psnr = 10.0 * torch.log10(self.data_range**2 / (mse + 1e-10))
        self._sum_of_batchwise_psnr += psnr.sum().to(self._device)
        self._num_examples += y.shape[0]

    def compute(self) -> float:
        """The mean PSNR per image."""
        _need_examples(self._num_examples, "PSNR")
        return (self._sum_of_batchwise_psnr / self._num_examples).item()
