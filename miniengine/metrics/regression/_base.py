"""What the regression metrics share: input checks, a median, and a sum of per-sample errors."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence

import torch

from miniengine import distributed as idist
from miniengine.metrics.metric import Metric, _need_examples

_FLOATS = (torch.float16, torch.float32, torch.float64)


def _check_output_shapes(output: Sequence[torch.Tensor]) -> None:
    y_pred, y = output[0], output[1]
    for name, t in (("y_pred", y_pred), ("y", y)):
        if not (t.ndim == 1 or (t.ndim == 2 and t.shape[1] == 1)):
            raise ValueError(f"Input {name} should have shape (N,) or (N, 1), but given {t.shape}")
    if y_pred.shape != y.shape:
        raise ValueError(
            f"Input data shapes should be the same, but given {y_pred.shape} and {y.shape}"
        )


def _check_output_types(output: Sequence[torch.Tensor]) -> None:
    for name, t in (("y_pred", output[0]), ("y", output[1])):
        if t.dtype not in _FLOATS:
            raise TypeError(f"Input {name} dtype should be float 16, 32 or 64, but given {t.dtype}")


def _torch_median(values: torch.Tensor) -> float:
    """The median of all elements; for an even count, the mean of the two middle ones (numpy's
    rule, where ``torch.median`` would return the lower one)."""
    ordered = values.detach().flatten().sort().values
    n = len(ordered)
    if n % 2:
        return float(ordered[n // 2])
    return float((ordered[n // 2 - 1] + ordered[n // 2]) / 2)


def _gathered(tensors: list[torch.Tensor], device: torch.device) -> torch.Tensor:
    """The kept batches concatenated, with every rank's (shards may differ in size)."""
    local = torch.cat(tensors)
    if idist.get_world_size() == 1:
        return local
    return torch.cat([t.to(device) for t in idist.all_gather(local.cpu())])


class _BaseRegression(Metric):
    """Checks ``(y_pred, y)`` (both (N,) or (N, 1), float), squeezes them to (N,) and passes
    them to ``_update``."""

    def update(self, output: Sequence[torch.Tensor]) -> None:
        """Check one batch and add it.

        Args:
            output: ``(y_pred, y)``, of shape (N,) or (N, 1) each, floating point.
        """
        _check_output_shapes(output)
        _check_output_types(output)
        y_pred, y = output[0].detach(), output[1].detach()
        if y_pred.ndim == 2:  # checked above: (N, 1)
            y_pred, y = y_pred.squeeze(-1), y.squeeze(-1)
        self._update(y_pred, y)

    @abstractmethod
    def _update(self, y_pred: torch.Tensor, y: torch.Tensor) -> None: ...


class _SumOfErrors(_BaseRegression):
    """``_errors(y_pred, y)`` summed over all samples; ``compute`` divides by the count.

    The sum is float32 (Ignite's default) unless ``_in_double``. The distances (Canberra,
    Manhattan, Wave Hedges) are plain sums: they set ``_mean = False``.
    """

    _accumulators: tuple[str, ...] = ("_sum_of_errors", "_num_examples")
    _state_dict_all_req_keys: tuple[str, ...] = _accumulators
    _in_double = False
    _mean = True

    def reset(self) -> None:
        """Forget the errors seen."""
        dtype = self._double_dtype if self._in_double else torch.float32
        self._sum_of_errors = torch.tensor(0.0, dtype=dtype, device=self._device)
        self._num_examples = 0

    @abstractmethod
    def _errors(self, y_pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor: ...

    def _update(self, y_pred: torch.Tensor, y: torch.Tensor) -> None:
        self._sum_of_errors += self._errors(y_pred, y).sum().to(self._device)
        self._num_examples += y.shape[0]

    def compute(self) -> float:
        """The sum of the errors, per sample unless the metric is a distance."""
        if not self._mean:  # a distance: 0.0 before any sample, as in Ignite
            return self._sum_of_errors.item()
        _need_examples(self._num_examples, type(self).__name__)
        return self._sum_of_errors.item() / self._num_examples
