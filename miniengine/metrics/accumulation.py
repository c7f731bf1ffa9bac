"""Accumulating one variable: ``VariableAccumulation`` and its means, ``Average`` and
``GeometricAverage``.

Each keeps a float64 sum (``accumulator``) and a count (``num_examples``): a number or a tensor of
up to one dimension counts as one example, a tensor of shape ``(N, ...)`` as ``N`` examples.
"""

from __future__ import annotations

from collections.abc import Callable
from numbers import Number
from typing import Any

import torch

from miniengine.metrics.metric import Metric, _identity, _need_examples

__all__ = ["Average", "GeometricAverage", "VariableAccumulation"]


class VariableAccumulation(Metric):
    """``accumulator = op(accumulator, value)`` for each value, and a count of the examples.

    ``compute()`` returns ``(accumulator, num_examples)``, both summed over processes in a
    distributed run. A tensor value is first converted to the accumulator's dtype and device.

    Args:
        op: ``op(accumulator, value) -> new accumulator``; ``accumulator`` starts as a 0-d float64
            tensor (float32 on MPS).
        output_transform: maps ``engine.state.output`` to the value.
        device: where the accumulator lives.
        skip_unrolling: see ``Metric``.

    Example:
        >>> total = VariableAccumulation(lambda acc, x: acc + x.sum(dim=0))
        >>> total.update(torch.tensor([[1.0, 2.0], [3.0, 4.0]]))  # two examples
        >>> total.compute()
        (tensor([4., 6.], dtype=torch.float64), 2)
    """

    required_output_keys = None
    _accumulators = _state_dict_all_req_keys = ("accumulator", "num_examples")

    def __init__(
        self,
        op: Callable[[torch.Tensor, Any], torch.Tensor],
        output_transform: Callable = _identity,
        device: str | torch.device = "cpu",
        skip_unrolling: bool = False,
    ) -> None:
        if not callable(op):
            raise TypeError(f"Argument op should be a callable, but given {type(op)}")
        self._op = op
        super().__init__(output_transform, device=device, skip_unrolling=skip_unrolling)

    def reset(self) -> None:
        """Back to a zero accumulator and no examples."""
        self.accumulator = torch.tensor(0.0, dtype=self._double_dtype, device=self._device)
        self.num_examples = 0

    def update(self, output: float | torch.Tensor) -> None:
        """Fold one value, or a batch of them, into the accumulator.

        Args:
            output: a number or a tensor.
        """
        if isinstance(output, torch.Tensor):
            output = output.detach().to(self.accumulator)
        elif not isinstance(output, Number):
            raise TypeError(f"Output should be a number or torch.Tensor, but given {type(output)}")
        self.accumulator = self._op(self.accumulator, output)
        batched = isinstance(output, torch.Tensor) and output.ndim > 1
        self.num_examples += output.shape[0] if batched else 1  # type: ignore[union-attr]

    def compute(self) -> Any:
        """``(accumulator, num_examples)``."""
        return self.accumulator, self.num_examples


def _add(total: torch.Tensor, x: float | torch.Tensor) -> torch.Tensor:
    if isinstance(x, torch.Tensor) and x.ndim > 1:
        x = x.sum(dim=0)
    return total + x


def _add_log(total: torch.Tensor, x: float | torch.Tensor) -> torch.Tensor:
    # A Python number becomes a default-dtype (float32) tensor before the log, as in Ignite:
    # the same roundings, so the same results.
    log = torch.log(x if isinstance(x, torch.Tensor) else torch.tensor(x))
    return total + (log.sum(dim=0) if log.ndim > 1 else log)


class Average(VariableAccumulation):
    """Arithmetic mean of the values seen: ``accumulator / num_examples``.

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

    def __init__(
        self,
        output_transform: Callable = _identity,
        device: str | torch.device = "cpu",
        skip_unrolling: bool = False,
    ) -> None:
        super().__init__(_add, output_transform, device=device, skip_unrolling=skip_unrolling)

    def compute(self) -> torch.Tensor:
        """The mean, as a float64 tensor."""
        _need_examples(self.num_examples, type(self).__name__)
        return self.accumulator / self.num_examples


class GeometricAverage(VariableAccumulation):
    """Geometric mean of the (positive) values seen: ``exp(sum of logs / num_examples)``.

    Args:
        output_transform: maps ``engine.state.output`` to the value to average.
        device: where the sum of logs lives.
        skip_unrolling: see ``Metric``.

    Example:
        >>> gm = GeometricAverage()
        >>> gm.update(torch.tensor([[1.0, 2.0], [4.0, 8.0]]))
        >>> gm.compute()  # a vector: one mean per column
        tensor([2., 4.], dtype=torch.float64)
        >>> gm.reset(); gm.update(2.0); gm.update(8.0)
        >>> round(gm.compute(), 6)  # a single value comes back as a float
        4.0
    """

    def __init__(
        self,
        output_transform: Callable = _identity,
        device: str | torch.device = "cpu",
        skip_unrolling: bool = False,
    ) -> None:
        super().__init__(_add_log, output_transform, device=device, skip_unrolling=skip_unrolling)

    def compute(self) -> float | torch.Tensor:
        """The mean: a float for a single value, else a float64 tensor."""
        _need_examples(self.num_examples, type(self).__name__)
        mean = torch.exp(self.accumulator / self.num_examples)
        return mean.item() if mean.numel() == 1 else mean
