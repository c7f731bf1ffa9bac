"""``RunningAverage``: an exponential moving average of the step's output or of another metric."""

from __future__ import annotations

import warnings
from collections import OrderedDict
from collections.abc import Callable, Mapping
from numbers import Number, Real
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from miniengine import distributed as idist
from miniengine.events import Events
from miniengine.metrics.metric import (
    Metric,
    MetricUsage,
    RunningBatchWise,
    SingleEpochRunningBatchWise,
    _add_once,
    _identity,
    _remove_if_added,
)

if TYPE_CHECKING:
    from miniengine.engine import Engine

__all__ = ["RunningAverage"]

# A 0-d tensor of these dtypes is averaged as a NumPy scalar of the same precision (``_fast``):
# the same roundings as Ignite's tensor arithmetic, at a fraction of the cost of three tiny tensor
# ops. ``_value`` (the attribute Ignite's tests and state dicts read) is then the tensor it stands
# for, brought up to date by ``compute`` and ``state_dict`` rather than at every update.
_SCALAR_TYPES: dict[torch.dtype, type[np.floating]] = {
    torch.float32: np.float32,
    torch.float64: np.float64,
}
# NumPy >= 2 computes ``np.float32 * python_float`` in float32 (NEP 50); NumPy 1 widens it to
# float64, so there each value is wrapped first (slower, same numbers).
_WRAP_VALUES = np.lib.NumpyVersion(np.__version__) < "2.0.0"


def _shape(x: Any) -> tuple[int, ...]:
    return tuple(getattr(x, "shape", ()))  # a Python number has the shape of a 0-d tensor


class RunningAverage(Metric):
    """Exponential moving average of ``output_transform(engine.state.output)`` or of ``src``.

    The first value is taken as it is (no bias correction), then each new value ``x`` gives
    ``v = v * alpha + (1 - alpha) * x``. With a metric ``src``, ``x`` is ``src.compute()`` and
    ``src`` is reset after each read. Tensors are detached; a 0-d result is written to
    ``engine.state.metrics`` as a float.

    Args:
        src: a metric to average, or None to average the process function's output.
        alpha: weight of the old value, in (0, 1].
        output_transform: picks the number to average from the output; required when ``src`` is
            None, not allowed otherwise.
        epoch_bound: deprecated: True acts as ``usage=SingleEpochRunningBatchWise()``, False as
            ``usage=RunningBatchWise()``, whatever usage ``attach`` is given.
        device: where tensor values are kept (None: CPU, or ``src``'s device).
        skip_unrolling: see ``Metric``.

    Example:
        >>> from miniengine.engine import Engine
        >>> engine = Engine(lambda engine, batch: batch)
        >>> RunningAverage(alpha=0.5, output_transform=lambda x: x).attach(engine, "avg")
        >>> engine.run([4.0, 0.0, 8.0]).metrics["avg"]  # 4, then 4*.5 + 0*.5, then 2*.5 + 8*.5
        5.0
    """

    src: Metric | None
    alpha: float
    epoch_bound: bool | None
    required_output_keys = None
    # Nothing to sum over processes: a distributed run averages each new output over ranks
    # (``src``, a metric, is reduced by its own ``compute``).
    _accumulators = ()
    _state_dict_all_req_keys = ("_value", "src")

    def __init__(
        self,
        src: Metric | None = None,
        alpha: float = 0.98,
        output_transform: Callable | None = None,
        epoch_bound: bool | None = None,
        device: str | torch.device | None = None,
        skip_unrolling: bool = False,
    ) -> None:
        if not (src is None or isinstance(src, Metric)):
            raise TypeError("Argument src should be a Metric or None.")
        if not isinstance(alpha, Real):
            raise TypeError(
                f"Argument alpha should be a float between 0.0 and 1.0, got {alpha!r} "
                f"of type {type(alpha).__name__}"
            )
        if not (0.0 < alpha <= 1.0):
            raise ValueError(f"Argument alpha should be a float between 0.0 and 1.0, got {alpha!r}")
        if src is not None:
            if output_transform is not None:
                raise ValueError("Argument output_transform should be None if src is a Metric.")
            if device is not None:
                raise ValueError("Argument device should be None if src is a Metric.")
            device = src._device
        elif output_transform is None:
            raise ValueError(
                "Argument output_transform should not be None if src corresponds to the output "
                "of process function."
            )
        if epoch_bound is not None:
            warnings.warn(
                "`epoch_bound` is deprecated and will be removed in the future. Consider using "
                "`usage` argument of`attach` method instead. `epoch_bound=True` is equivalent "
                "with `usage=SingleEpochRunningBatchWise()` and `epoch_bound=False` is equivalent "
                "with `usage=RunningBatchWise()`.",
                stacklevel=2,
            )
        self.src = src
        self.alpha = alpha
        self.epoch_bound = epoch_bound
        super().__init__(
            output_transform or _identity,
            device=device if device is not None else "cpu",
            skip_unrolling=skip_unrolling,
        )

    def reset(self) -> None:
        """Forget the average (and reset ``src``)."""
        self._value: Any = None
        # Set while ``_fast``, a NumPy scalar, holds the value of a 0-d tensor of this dtype.
        self._dtype: torch.dtype | None = None
        self._fast: Any = None
        if self.src is not None:
            self.src.reset()

    def update(self, output: Any) -> None:
        """Fold one value into the average.

        Args:
            output: the transformed output (ignored when ``src`` is a metric).
        """
        if self.src is not None:
            value = self.src.compute()
            self.src.reset()
        elif self._world_size > 1:
            self._update_slowly(output)  # averaged over ranks there
            return
        else:
            value = output
        v, alpha = self._value, self.alpha
        if type(value) is float and self._dtype is None:
            self._value = value if v is None else v * alpha + (1.0 - alpha) * value
        elif (
            isinstance(value, torch.Tensor)
            and value.ndim == 0
            and (value.dtype is self._dtype or (v is None and value.dtype in _SCALAR_TYPES))
        ):
            x: Any = value.item()
            if v is None:
                self._start_scalar(value)
            else:
                if _WRAP_VALUES:
                    x = self._scalar(x)
                self._fast = self._fast * self._alpha + self._beta * x
        else:
            self._update_slowly(value)

    def _start_scalar(self, value: torch.Tensor) -> None:
        """Keep the 0-d tensor ``value`` as a NumPy scalar of its dtype from now on."""
        self._dtype = value.dtype
        self._scalar = scalar = _SCALAR_TYPES[value.dtype]
        self._fast = scalar(value.item())
        self._value = value.detach().to(self._device, copy=True)
        self._alpha, self._beta = scalar(self.alpha), scalar(1.0 - self.alpha)

    def _update_slowly(self, value: Any) -> None:
        # Ignite's arithmetic on whatever came: tensors of any shape, ints, mixed types.
        v = self.compute()
        if not isinstance(value, (Number, torch.Tensor, np.ndarray)):
            raise TypeError(
                "RunningAverage can only average numbers and tensors, got "
                f"{value!r} of type {type(value).__name__}: check the process function's output "
                "and output_transform (or src)"
            )
        if v is not None and _shape(v) != _shape(value):
            raise ValueError(
                f"RunningAverage got a value of shape {_shape(value)} after values of "
                f"shape {_shape(v)}: the averaged value must keep its shape"
            )
        self._dtype = None
        if isinstance(value, torch.Tensor):
            value = value.detach()
        if self.src is None:
            if isinstance(value, torch.Tensor):
                value = value.to(self._device, copy=True)
            if self._world_size > 1:
                value = idist.all_reduce(value)
            value = value / self._world_size  # as in Ignite: the mean over ranks, ints -> floats
        self._value = value if v is None else v * self.alpha + (1.0 - self.alpha) * value

    def compute(self) -> Any:
        """The current average: None before the first value."""
        if self._dtype is not None:
            self._value = torch.tensor(self._fast, dtype=self._dtype, device=self._device)
        return self._value

    def _state_dict_per_rank(self) -> OrderedDict[str, Any]:
        self.compute()  # ``_value`` up to date
        return super()._state_dict_per_rank()

    def _load_state_dict_per_rank(self, state: Mapping[str, Any]) -> None:
        self._dtype = None
        super()._load_state_dict_per_rank(state)
        value = self._value
        if isinstance(value, torch.Tensor) and value.ndim == 0 and value.dtype in _SCALAR_TYPES:
            self._start_scalar(value)

    def iteration_completed(self, engine: Engine) -> None:
        """Handler that folds ``engine.state.output`` (or ``src``'s value) into the average.

        Args:
            engine: the engine the metric is attached to.
        """
        if self.src is not None:
            self.update(None)  # the output went to ``src``, which has its own handler
            return
        output = self._output_transform(engine.state.output)
        if type(output) is float or isinstance(output, torch.Tensor):
            self.update(output)  # the common cases skip the dict and list checks
        else:
            self._feed(output)

    def completed(self, engine: Engine, name: str) -> None:
        """Handler that writes the average to ``engine.state.metrics[name]``.

        Args:
            engine: the engine the metric is attached to.
            name: the key in ``engine.state.metrics``.
        """
        v = self._value
        if self._dtype is not None:
            v = float(self._fast)
        elif type(v) is not float:
            return super().completed(engine, name)
        engine.state.metrics[name] = v

    def _usage(self, usage: str | MetricUsage) -> MetricUsage:
        usage = self._check_usage(usage)
        if self.epoch_bound is None:
            return usage
        return SingleEpochRunningBatchWise() if self.epoch_bound else RunningBatchWise()

    def attach(
        self, engine: Engine, name: str, usage: str | MetricUsage = "running_batch_wise"
    ) -> None:
        """Register the handlers: by default reset on STARTED, update and write every iteration.

        ``src`` is updated on every ITERATION_COMPLETED whatever the usage, so with
        ``RunningEpochWise`` the average is over ``src``'s value for each whole epoch.

        Args:
            engine: the engine to attach to.
            name: the key in ``engine.state.metrics``.
            usage: ``RunningBatchWise``, ``SingleEpochRunningBatchWise`` or ``RunningEpochWise``
                (object or name).

        Example:
            >>> from miniengine.engine import Engine
            >>> engine = Engine(lambda engine, batch: batch)
            >>> avg = RunningAverage(alpha=0.5, output_transform=lambda x: x)
            >>> avg.attach(engine, "avg", usage="single_epoch_running_batch_wise")
            >>> engine.run([4.0, 0.0], max_epochs=2).metrics["avg"]  # reset each epoch
            2.0
        """
        usage = self._usage(usage)
        if self.src is not None:
            self.src._world_size = idist.get_world_size()
            _add_once(engine, Events.ITERATION_COMPLETED, self.src.iteration_completed)
        super().attach(engine, name, usage)

    def detach(self, engine: Engine, usage: str | MetricUsage = "running_batch_wise") -> None:
        """Remove the handlers that ``attach`` registered, ``src``'s included.

        Args:
            engine: the engine to detach from.
            usage: the usage given to ``attach``.

        Example:
            >>> from miniengine.engine import Engine
            >>> engine, avg = Engine(lambda e, b: b), RunningAverage(output_transform=float)
            >>> avg.attach(engine, "avg"); avg.detach(engine)
            >>> avg.is_attached(engine, RunningBatchWise())
            False
        """
        usage = self._usage(usage)
        if self.src is not None:
            _remove_if_added(engine, Events.ITERATION_COMPLETED, self.src.iteration_completed)
        super().detach(engine, usage)
