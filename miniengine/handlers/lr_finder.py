"""FastaiLRFinder: the learning-rate range test, run before training to pick a learning rate.

The test trains for a while with a learning rate that grows at every iteration, from very small
to very large, and records the loss. The loss first barely moves, then falls, then explodes; a
good rate is where it falls fastest (L. Smith, "Cyclical Learning Rates for Training Neural
Networks", https://arxiv.org/abs/1506.01186, made popular by fastai's ``lr_find``). The model
and the optimizer are put back as they were when the test ends, so that training proper starts
from the same point.
"""

from __future__ import annotations

import contextlib
import io
import logging
import math
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, cast

import torch

from miniengine import distributed as idist
from miniengine.engine import Engine, Events, State
from miniengine.handlers.param_scheduler import (
    ParamGroupScheduler,
    ParamScheduler,
    PiecewiseLinear,
    _pyplot,
)

__all__ = ["FastaiLRFinder"]


@dataclass(frozen=True)
class _Sweep:
    """The settings of one range test, as ``attach`` checked them."""

    optimizer: torch.optim.Optimizer
    start_lrs: list[float]
    end_lrs: list[float]
    num_iter: int | None
    step_mode: str
    output_transform: Callable[[Any], Any]
    smooth_f: float
    diverge_th: float


class _ExponentialSweep(ParamScheduler):
    """At its event ``e``, group ``i`` gets ``start_i * (end_i / start_i) ** ((e + 1) / n)``."""

    _state_attrs = ParamScheduler._state_attrs + ("start_lrs", "end_lrs", "num_iter")

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        start_lrs: list[float],
        end_lrs: list[float],
        num_iter: int,
    ):
        super().__init__(optimizer, "lr")
        self.start_lrs, self.end_lrs, self.num_iter = start_lrs, end_lrs, num_iter

    def get_param(self) -> float | list[float]:
        # Ignite's formula and order of operations: the same floats to the last bit.
        r = (self.event_index + 1) / self.num_iter
        lrs = [s * (e / s) ** r for s, e in zip(self.start_lrs, self.end_lrs, strict=True)]
        return lrs[0] if len(lrs) == 1 else lrs


def _linear_sweep(
    optimizer: torch.optim.Optimizer, start_lrs: list[float], end_lrs: list[float], num_iter: int
) -> PiecewiseLinear | ParamGroupScheduler:
    if len(start_lrs) == 1:
        return PiecewiseLinear(optimizer, "lr", [(0, start_lrs[0]), (num_iter, end_lrs[0])])
    return ParamGroupScheduler(
        [
            PiecewiseLinear(optimizer, "lr", [(0, start), (num_iter, end)], param_group_index=i)
            for i, (start, end) in enumerate(zip(start_lrs, end_lrs, strict=True))
        ]
    )


def _planned_iterations(s: State) -> int | None:
    """How many iterations the run starting now will do, if that is known."""
    if s.max_iters is not None:
        return s.max_iters
    if s.epoch_length is None or s.max_epochs is None:
        return None
    return s.epoch_length * s.max_epochs


def _loss_value(loss: Any) -> float:
    if isinstance(loss, float):
        return loss
    if isinstance(loss, torch.Tensor):
        if loss.ndim == 0 or (loss.ndim == 1 and len(loss) == 1):
            return loss.item()
        raise ValueError(
            "if output of the engine is torch.Tensor, then it must be 0d torch.Tensor or 1d "
            f"torch.Tensor with 1 element, but got torch.Tensor of shape {loss.shape}."
        )
    raise TypeError(
        "output of the engine should be of type float or 0d torch.Tensor or 1d torch.Tensor "
        f"with 1 element, but got output of type {type(loss).__name__}; pick the loss out of "
        "the output with attach(..., output_transform=...), e.g. "
        "output_transform=lambda output: output['loss']"
    )


def _lrs_per_group(name: str, value: Any, num_groups: int) -> list[float]:
    if isinstance(value, float):
        return [value] * num_groups
    if isinstance(value, list):
        if len(value) != num_groups:
            raise ValueError(
                f"Number of values of {name} should be equal to optimizer values. "
                f"{name} values: {len(value)}, optimizer values (param groups): {num_groups}"
            )
        return value
    raise TypeError(f"{name} should be a float or list of floats, but given {type(value)}")


def _check_attach_args(
    to_save: Any, smooth_f: float, diverge_th: float, step_mode: str, num_iter: Any
) -> None:
    if not isinstance(to_save, Mapping):
        raise TypeError(f"Argument to_save should be a mapping, but given {type(to_save)}")
    # Both methods are needed: state_dict() now, load_state_dict() when the test ends.
    for method in ("state_dict", "load_state_dict"):
        for key, obj in to_save.items():
            if not hasattr(obj, method):
                raise TypeError(
                    f"Object {type(obj)} should have `{method}` method (to_save[{key!r}])"
                )
    if "optimizer" not in to_save:
        raise ValueError(f"Mapping to_save should contain 'optimizer' key, got {list(to_save)}")
    if not isinstance(to_save["optimizer"], torch.optim.Optimizer):
        raise TypeError(
            "Object to_save['optimizer'] should be torch optimizer, but given "
            f"{type(to_save['optimizer'])}"
        )
    if not 0 <= smooth_f < 1:
        raise ValueError(f"smooth_f is outside the range [0, 1]: {smooth_f} (0 <= smooth_f < 1)")
    if diverge_th < 1:
        raise ValueError(f"diverge_th should be larger than 1, but given {diverge_th}")
    if step_mode not in ("exp", "linear"):
        raise ValueError(f"step_mode should be 'exp' or 'linear', but given {step_mode!r}")
    if num_iter is not None:
        if not isinstance(num_iter, int):
            raise TypeError(f"if provided, num_iter should be an integer, but given {num_iter}")
        if num_iter <= 0:
            raise ValueError(f"if provided, num_iter should be positive, but given {num_iter}")


def _serialized(states: Mapping[str, Any]) -> bytes:
    # Serialised, not deep-copied: the copy of a model on the GPU then lives in host memory,
    # and torch.load puts each tensor back on the device it came from.
    buffer = io.BytesIO()
    torch.save(dict(states), buffer)
    return buffer.getvalue()


class FastaiLRFinder:
    """Learning-rate range test: raise the rate at every iteration, record the loss, suggest.

    Inside ``with finder.attach(trainer, to_save) as trainer:``, a ``trainer.run()`` is a range
    test; the handlers already on the trainer run as usual. After iteration ``k`` the finder
    reads the loss from ``trainer.state.output``, smooths it, and sets the optimizer's next
    rate ``r_k``, which it records with that loss (``n`` is ``num_iter``)::

        exp:     r_k = start * (end / start) ** (k / n)
        linear:  r_k = start + (end - start) * (k - 1) / n
        loss_k = smooth_f * raw_loss_k + (1 - smooth_f) * loss_(k-1)      (loss_1 = raw_loss_1)

    So the rate recorded with the loss of iteration ``k`` is the one iteration ``k + 1``
    trains with, as in Ignite; iteration 1 trains with the optimizer's own rate (``linear``) or
    one exponential step up from it (``exp``). The run stops (``trainer.terminate()``) once
    ``loss_k > diverge_th * min(loss_1, ..., loss_k)``, the loss has diverged, or else at the
    end of iteration ``n + 1``; a run planned shorter than ``n`` iterations is lengthened to
    ``n``. A run that completes without the loss diverging warns (``UserWarning``): the range
    did not reach the rates that are too large. Where several processes train
    (``miniengine.distributed``), ``raw_loss_k`` is the sum of their losses.

    Leaving the ``with`` block, also through an exception, removes the finder's handlers and
    restores ``to_save`` and the trainer's ``state_dict()`` as they were on entry. Then
    ``get_results()`` has the rates and losses, ``lr_suggestion()`` the rate where the loss
    fell fastest, ``apply_suggested_lr()`` sets it, and ``plot()`` draws the curve.

    Example:
        >>> import torch
        >>> from miniengine.engine import create_supervised_trainer
        >>> _ = torch.manual_seed(0)
        >>> model = torch.nn.Linear(4, 1)
        >>> optimizer = torch.optim.SGD(model.parameters(), lr=1e-4)
        >>> trainer = create_supervised_trainer(model, optimizer, torch.nn.MSELoss())
        >>> data = [(torch.randn(16, 4), torch.randn(16, 1)) for _ in range(100)]
        >>> finder = FastaiLRFinder()
        >>> to_save = {"model": model, "optimizer": optimizer}
        >>> with finder.attach(trainer, to_save) as trainer_with_finder:
        ...     state = trainer_with_finder.run(data)
        ...     print(state.iteration < len(data))  # stopped early: the loss diverged
        True
        >>> optimizer.param_groups[0]["lr"]  # restored
        0.0001
        >>> 1e-4 < finder.lr_suggestion() < 10.0
        True
    """

    _lr_schedule: _ExponentialSweep | PiecewiseLinear | ParamGroupScheduler

    def __init__(self) -> None:
        self._history: dict[str, list[Any]] = {}
        self._best_loss: float | None = None
        self._diverge_flag = False
        # As Ignite's: a plain logger, silent unless the application sets logging up.
        self.logger = logging.getLogger(f"{__name__}.{type(self).__name__}")

    @contextlib.contextmanager
    def attach(
        self,
        trainer: Engine,
        to_save: Mapping[str, Any],
        output_transform: Callable[[Any], Any] = lambda output: output,
        num_iter: int | None = None,
        start_lr: float | list[float] | None = None,
        end_lr: float | list[float] = 10.0,
        step_mode: str = "exp",
        smooth_f: float = 0.05,
        diverge_th: float = 5.0,
    ) -> Iterator[Engine]:
        """Make the trainer's runs range tests inside a ``with`` block; restore on leaving it.

        The arguments are checked, and the states saved, on entering the block.

        Args:
            trainer: the trainer; every handler it has runs during the test.
            to_save: the objects to restore afterwards, each with ``state_dict`` and
                ``load_state_dict``; ``to_save["optimizer"]`` is the optimizer to drive.
            output_transform: turns ``trainer.state.output`` into the loss (a float, or a
                tensor with one element).
            num_iter: iterations the rate takes from ``start_lr`` to ``end_lr`` (default: the
                iterations of the run).
            start_lr: the first rate, one for all parameter groups or a list with one per group
                (default: the optimizer's rates).
            end_lr: the last rate, as ``start_lr``; each must exceed its start.
            step_mode: ``"exp"`` (geometric steps) or ``"linear"``.
            smooth_f: weight of the new loss in the running average, ``0 <= smooth_f < 1``
                (0: no smoothing).
            diverge_th: stop once the loss exceeds ``diverge_th`` times its minimum (>= 1).

        Returns:
            A context manager that gives ``trainer``.

        Example:
            >>> import torch
            >>> from miniengine.engine import Engine
            >>> optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1e-4)
            >>> def made_up_loss(engine, batch):  # falls fastest at lr = 0.01, explodes past 1
            ...     lr = optimizer.param_groups[0]["lr"]
            ...     return 1 / (1 + 100 * lr) + lr**2
            >>> finder = FastaiLRFinder()
            >>> with finder.attach(Engine(made_up_loss), {"optimizer": optimizer}) as trainer:
            ...     print(trainer.run(range(100)).iteration)  # the loss diverged
            89
            >>> optimizer.param_groups[0]["lr"]  # restored
            0.0001
        """
        _check_attach_args(to_save, smooth_f, diverge_th, step_mode, num_iter)
        optimizer = to_save["optimizer"]
        groups = len(optimizer.param_groups)
        start_lrs = (
            [g["lr"] for g in optimizer.param_groups]
            if start_lr is None
            else _lrs_per_group("start_lr", start_lr, groups)
        )
        end_lrs = _lrs_per_group("end_lr", end_lr, groups)
        for i, (start, end) in enumerate(zip(start_lrs, end_lrs, strict=True)):
            if start >= end:
                where = f" (param group {i})" if groups > 1 else ""
                raise ValueError(
                    f"start_lr must be less than end_lr, start_lr={start} vs end_lr={end}{where}"
                )
        if trainer.has_event_handler(self._run, Events.STARTED):
            raise RuntimeError(
                "This FastaiLRFinder is already attached to the trainer: leave the first "
                "`with finder.attach(...)` block before attaching it again"
            )
        sweep = _Sweep(
            optimizer, start_lrs, end_lrs, num_iter, step_mode, output_transform, smooth_f,
            diverge_th,
        )  # fmt: skip
        saved = _serialized({k: obj.state_dict() for k, obj in to_save.items()})
        saved_trainer = _serialized(trainer.state_dict())
        trainer.add_event_handler(Events.STARTED, self._run, sweep)
        trainer.add_event_handler(Events.COMPLETED, self._completed)
        try:
            yield trainer
        finally:
            # Ignite restores only when the block ends normally; an interrupted or failed test
            # should not leave a half-trained model and a raised learning rate behind either.
            self._detach(trainer)
            trainer.load_state_dict(torch.load(io.BytesIO(saved_trainer), weights_only=False))
            for key, state in torch.load(io.BytesIO(saved), weights_only=False).items():
                to_save[key].load_state_dict(state)

    def _run(self, trainer: Engine, sweep: _Sweep) -> None:
        self._history = {"lr": [], "loss": []}
        self._best_loss = None
        self._diverge_flag = False
        s, num_iter = trainer.state, sweep.num_iter
        planned = _planned_iterations(s)
        if num_iter is None:
            if planned is None:
                raise ValueError(
                    "FastaiLRFinder needs num_iter when the length of the run is unknown (data "
                    "without len(), and no epoch_length or max_iters given to run())"
                )
            num_iter = planned
        elif planned is not None and planned < num_iter:
            s.max_iters = num_iter
            if s.max_epochs is not None and s.epoch_length is not None:
                s.max_epochs = math.ceil(num_iter / s.epoch_length)
        self.logger.debug("Running LR finder for %d iterations", num_iter)
        if sweep.step_mode == "exp":
            self._lr_schedule = _ExponentialSweep(
                sweep.optimizer, sweep.start_lrs, sweep.end_lrs, num_iter
            )
            # Ignite's exponential schedule is a torch scheduler, and building one takes a first
            # step from the optimizer's rate (torch's "initial_lr" if an earlier scheduler left
            # one): iteration 1 trains at that rate.
            for group, end in zip(sweep.optimizer.param_groups, sweep.end_lrs, strict=True):
                lr0 = group.get("initial_lr", group["lr"])
                group["lr"] = lr0 * (end / lr0) ** (1 / num_iter)
        else:
            self._lr_schedule = _linear_sweep(
                sweep.optimizer, sweep.start_lrs, sweep.end_lrs, num_iter
            )
        trainer.add_event_handler(Events.ITERATION_COMPLETED, self._step, sweep, num_iter)

    def _step(self, trainer: Engine, sweep: _Sweep, num_iter: int) -> None:
        if trainer.state.iteration > num_iter:
            trainer.terminate()  # this iteration is still recorded, as in Ignite
        self._log_lr_and_loss(trainer, sweep.output_transform, sweep.smooth_f, sweep.diverge_th)
        self._lr_schedule(trainer)

    def _log_lr_and_loss(
        self,
        trainer: Engine,
        output_transform: Callable[[Any], Any],
        smooth_f: float,
        diverge_th: float,
    ) -> None:
        # summed over the processes, as in Ignite; a number goes in, so a number comes out
        loss = cast(float, idist.all_reduce(_loss_value(output_transform(trainer.state.output))))
        losses = self._history["loss"]
        self._history["lr"].append(self._lr_schedule.get_param())
        if losses and smooth_f > 0:
            loss = smooth_f * loss + (1 - smooth_f) * losses[-1]
        # min(best, loss), not min(loss, best): a NaN loss never becomes the best, as in Ignite
        best = self._best_loss = loss if self._best_loss is None else min(self._best_loss, loss)
        losses.append(loss)
        if loss > diverge_th * best:
            self._diverge_flag = True
            self.logger.info("Stopping early, the loss has diverged")
            trainer.terminate()

    def _completed(self, trainer: Engine) -> None:
        if not self._diverge_flag:
            warnings.warn(
                "Run completed without loss diverging, increase end_lr, decrease diverge_th or "
                "look at lr_finder.plot()",
                UserWarning,
                stacklevel=2,
            )
        self.logger.debug("Completed LR finder run")
        trainer.remove_event_handler(self._step, Events.ITERATION_COMPLETED)

    def _detach(self, trainer: Engine) -> None:
        for handler, event in (
            (self._run, Events.STARTED),
            (self._completed, Events.COMPLETED),
            (self._step, Events.ITERATION_COMPLETED),
        ):
            if trainer.has_event_handler(handler, event):
                trainer.remove_event_handler(handler, event)

    def get_results(self) -> dict[str, list[Any]]:
        """The last test's records: ``{"lr": [...], "loss": [...]}`` (``{}`` before a test).

        A rate is a float, or a list with one per parameter group; a loss is the smoothed one.

        Example:
            >>> FastaiLRFinder().get_results()
            {}
        """
        return self._history

    def lr_suggestion(self) -> Any:
        """The recorded rate where the loss fell fastest, before its minimum.

        That is the rate of the record ``i`` with the most negative ``loss[i+1] - loss[i-1]``
        among the records up to the lowest loss (the first of them on a tie).

        Returns:
            A float, or a list with one rate per parameter group.

        Example:
            >>> import torch
            >>> from miniengine.engine import Engine
            >>> optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1e-4)
            >>> def made_up_loss(engine, batch):  # falls fastest at lr = 0.01, explodes past 1
            ...     lr = optimizer.param_groups[0]["lr"]
            ...     return 1 / (1 + 100 * lr) + lr**2
            >>> finder = FastaiLRFinder()
            >>> with finder.attach(Engine(made_up_loss), {"optimizer": optimizer}, smooth_f=0) as t:
            ...     _ = t.run(range(100))
            >>> round(finder.lr_suggestion(), 4)
            0.0112
        """
        if not self._history:
            raise RuntimeError(
                "learning rate finder didn't run yet so lr_suggestion can't be returned"
            )
        # torch, as in Ignite: the losses become float32 (the default dtype), and ties (also
        # those that float32 makes) break the same way.
        losses = torch.tensor(self._history["loss"])
        losses = losses[: int(losses.argmin()) + 1]
        if len(losses) < 3:
            raise RuntimeError(
                "FastaiLRFinder got unexpected curve shape, the curve should be somehow U-shaped, "
                "please decrease start_lr or increase end_lr to resolve this issue."
            )
        steepest = int((losses[2:] - losses[:-2]).argmin()) + 1
        return self._history["lr"][steepest]

    def apply_suggested_lr(self, optimizer: torch.optim.Optimizer) -> None:
        """Set the optimizer's rates to ``lr_suggestion()``.

        Args:
            optimizer: an optimizer with as many parameter groups as the one tested.

        Example:
            >>> import torch
            >>> from miniengine.engine import Engine
            >>> optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1e-4)
            >>> def made_up_loss(engine, batch):  # falls fastest at lr = 0.01, explodes past 1
            ...     lr = optimizer.param_groups[0]["lr"]
            ...     return 1 / (1 + 100 * lr) + lr**2
            >>> finder = FastaiLRFinder()
            >>> with finder.attach(Engine(made_up_loss), {"optimizer": optimizer}) as trainer:
            ...     _ = trainer.run(range(100))
            >>> finder.apply_suggested_lr(optimizer)
            >>> optimizer.param_groups[0]["lr"] == finder.lr_suggestion()
            True
        """
        suggested = self.lr_suggestion()
        lrs = suggested if isinstance(suggested, list) else [suggested]
        if len(lrs) != len(optimizer.param_groups):
            raise RuntimeError(
                "The number of parameter groups does not match between given optimizer and the "
                f"one used for estimating the learning rate: {len(lrs)} vs "
                f"{len(optimizer.param_groups)}"
            )
        for group, lr in zip(optimizer.param_groups, lrs, strict=True):
            group["lr"] = lr

    def plot(
        self,
        skip_start: int = 10,
        skip_end: int = 5,
        log_lr: bool = True,
        display_suggestion: bool = True,
        ax: Any | None = None,
        **kwargs: Any,
    ) -> Any:
        """Draw the loss against the rate with matplotlib (``pip install matplotlib``).

        Calls ``matplotlib.pyplot.show()``, as Ignite does.

        Args:
            skip_start: records to leave out at the start.
            skip_end: records to leave out at the end.
            log_lr: a logarithmic rate axis.
            display_suggestion: mark ``lr_suggestion()`` with a dot.
            ax: the axes to draw on (default: new ones, from ``plt.subplots(**kwargs)``).
            kwargs: for ``plt.subplots`` when ``ax`` is not given.

        Returns:
            The axes drawn on.

        Example:
            >>> ax = finder.plot(skip_end=0)  # doctest: +SKIP
            >>> ax.figure.savefig("lr_finder.png")  # doctest: +SKIP
        """
        plt = _pyplot()
        if not self._history:
            raise RuntimeError("learning rate finder didn't run yet so results can't be plotted")
        if skip_start < 0:
            raise ValueError(f"skip_start cannot be negative, but given {skip_start}")
        if skip_end < 0:
            raise ValueError(f"skip_end cannot be negative, but given {skip_end}")
        all_lrs, all_losses = self._history["lr"], self._history["loss"]
        stop = len(all_lrs) - skip_end
        lrs, losses = all_lrs[skip_start:stop], all_losses[skip_start:stop]
        if len(lrs) == 0:
            raise ValueError(
                f"skip_start={skip_start} and skip_end={skip_end} leave none of the "
                f"{len(all_lrs)} records to plot"
            )
        if ax is None:
            _, ax = plt.subplots(**kwargs)
        if display_suggestion:
            suggested = self.lr_suggestion()
            at = all_lrs.index(suggested)
            if skip_start >= at:
                warnings.warn(
                    "skip_start is larger than the suggested LR found and it will not be visible "
                    f"on the plot. Please, make the value smaller (the suggestion is record {at})",
                    UserWarning,
                    stacklevel=2,
                )
            rates = suggested if isinstance(suggested, list) else [suggested]
            for i, lr in enumerate(rates):
                ax.scatter(
                    lr, all_losses[at], color="red" if len(rates) == 1 else None, s=75,
                    marker="o", zorder=3, label=f"suggested lr for param_groups {i}",
                )  # fmt: skip
            ax.legend()
        ax.plot(lrs, losses)  # several groups: a rate column each, one line per group
        if log_lr:
            ax.set_xscale("log")
        first, last = lrs[0], lrs[-1]
        ax.set_xlim(
            [min(first) if isinstance(first, list) else first,
             max(last) if isinstance(last, list) else last]
        )  # fmt: skip
        ax.set_xlabel("Learning rate")
        ax.set_ylabel("Loss")
        plt.show()
        return ax
