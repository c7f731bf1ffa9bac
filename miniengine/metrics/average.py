"""``Average``: the mean of the values seen (numbers, vectors, or batches of vectors)."""

from __future__ import annotations

from collections.abc import Callable
from numbers import Number
from typing import Any

import torch

from miniengine.metrics.metric import Metric, _identity, _need_examples

__all__ = ["Average"]


class Average(Metric):
    """Arithmetic mean of the (transformed) outputs since the last reset.

    A number or a tensor of up to one dimension counts as one example; a tensor of shape
    ``(N, ...)`` with two or more dimensions counts as ``N`` examples. The sum is kept in float64.

    Args:
        output_transform: maps ``engine.state.output`` to the value to average.
        device: where the sum lives.
        skip_unrolling: see ``Metric``.

    Example:
        >>> avg = Average()
        >>> avg.update(1.0); avg.update(torch.tensor([[2.0], [6.0]]))
        >>> avg.compute()
        tensor([3.], dtype=torch.float64)
    """

    required_output_keys = None
    _accumulators = _state_dict_all_req_keys = ("accumulator", "num_examples")

    def __init__(
        self,
        output_transform: Callable = _identity,
        device: str | torch.device = "cpu",
        skip_unrolling: bool = False,
    ) -> None:
        super().__init__(output_transform, device=device, skip_unrolling=skip_unrolling)

    def reset(self) -> None:
        """Forget the values seen."""
        self.accumulator = torch.tensor(0.0, dtype=self._double_dtype, device=self._device)
        self.num_examples = 0

    def update(self, output: Any) -> None:
        """Add one value, or a batch of them.

        Args:
            output: a number or a tensor.
        """
        if isinstance(output, torch.Tensor):
            output = output.detach().to(self.accumulator)
            if output.ndim > 1:
                self.num_examples += output.shape[0]
                output = output.sum(dim=0)
            else:
                self.num_examples += 1
        elif isinstance(output, Number):
            self.num_examples += 1
        else:
            raise TypeError(f"Output should be a number or torch.Tensor, but given {type(output)}")
        self.accumulator = self.accumulator + output

    def compute(self) -> torch.Tensor:
        """The mean, as a float64 tensor."""
        _need_examples(self.num_examples, type(self).__name__)
        return self.accumulator / self.num_examples
