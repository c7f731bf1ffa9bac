"""``MeanSquaredError``: the mean of ``(y_pred - y) ** 2`` per example."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from miniengine.metrics.metric import Metric, _need_examples

__all__ = ["MeanSquaredError"]


class MeanSquaredError(Metric):
    """Sum of squared errors over all elements, divided by the number of examples (``len(y)``).

    ``y_pred`` and ``y`` have the same number of elements (``y`` is viewed as ``y_pred``). The
    sum is kept in float32, as in Ignite.

    Args:
        output_transform: maps the output to ``(y_pred, y)``.
        device: where the sum lives.
        skip_unrolling: see ``Metric``.

    Example:
        >>> mse = MeanSquaredError()
        >>> y_pred = torch.tensor([[1.0, 2.0], [3.0, 3.0]])
        >>> y = torch.tensor([[1.0, 0.0], [0.0, 3.0]])
        >>> mse.update((y_pred, y))
        >>> mse.compute()  # (0 + 4 + 9 + 0) / 2 examples
        6.5
    """

    _accumulators = _state_dict_all_req_keys = ("_sum_of_squared_errors", "_num_examples")

    def reset(self) -> None:
        """Forget the errors seen."""
        self._sum_of_squared_errors = torch.tensor(0.0, device=self._device)
        self._num_examples = 0

    def update(self, output: Sequence[torch.Tensor]) -> None:
        """Add one batch's squared errors.

        Args:
            output: ``(y_pred, y)``.
        """
        y_pred, y = output[0].detach(), output[1].detach()
        errors = (y_pred - y.view_as(y_pred)) ** 2
        self._sum_of_squared_errors += errors.sum().to(self._device)
        self._num_examples += y.shape[0]

    def compute(self) -> float:
        """The sum of squared errors per example."""
        _need_examples(self._num_examples, "MeanSquaredError")
        return self._sum_of_squared_errors.item() / self._num_examples
