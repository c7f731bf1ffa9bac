"""Parameter schedulers: change an optimizer setting (usually ``lr``) as training goes on.

A scheduler is a handler. Each time its event fires it computes one value from its own counter
``event_index`` (0, 1, 2, ...), writes it into the optimizer's parameter groups, and counts on::

    value = get_param()                      # a pure function of the scheduler's state
    param_group[param_name] = value          # for each group it drives
    event_index += 1

So the value seen during iteration ``k`` (attached to ``ITERATION_STARTED``) is the schedule's
``k-1``-th value. Everything that determines the next value is in ``state_dict()``, so a
scheduler saved in the middle of a run and loaded into a fresh one continues with exactly the
values the uninterrupted run would have used.
"""

from __future__ import annotations

import copy
import math
import numbers
import warnings
from abc import ABC, abstractmethod
from bisect import bisect_right
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Literal

import torch
from torch.optim.lr_scheduler import LRScheduler as TorchLRScheduler
from torch.optim.lr_scheduler import ReduceLROnPlateau
from torch.utils.data import BatchSampler, DataLoader

from miniengine.engine import Engine, Events

__all__ = [
    "BaseParamScheduler",
    "BatchSizeScheduler",
    "ConcatScheduler",
    "CosineAnnealingScheduler",
    "CyclicalScheduler",
    "LRScheduler",
    "LinearCyclicalScheduler",
    "ParamGroupScheduler",
    "ParamScheduler",
    "PiecewiseLinear",
    "ReduceLROnPlateauScheduler",
    "create_lr_scheduler_with_warmup",
]


def _fake_optimizer() -> torch.optim.Optimizer:
    return torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.01)


def _check_optimizer(optimizer: Any) -> None:
    ok = isinstance(optimizer, torch.optim.Optimizer) or isinstance(
        getattr(optimizer, "param_groups", None), Sequence
    )
    if not ok:
        raise TypeError(
            "Argument optimizer should be torch.optim.Optimizer or has attribute 'param_groups' "
            f"as list/tuple, but given {type(optimizer)}"
        )


def _check_state_dict(state_dict: Any, keys: Sequence[str]) -> None:
    if not isinstance(state_dict, Mapping):
        raise TypeError(f"Argument state_dict should be a dictionary, but given {type(state_dict)}")
    for key in keys:
        if key not in state_dict:
            raise ValueError(
                f"Required state attribute '{key}' is absent in provided state_dict "
                f"'{state_dict.keys()}'"
            )


class BaseParamScheduler(ABC):
    """Base class of every scheduler: a value per event, from its own counter ``event_index``.

    Subclasses implement ``get_param()`` and ``simulate_values()``, and list the attributes
    that define their state in ``_state_attrs``; ``state_dict()`` and ``load_state_dict()``
    then save and restore exactly those (an attribute that has its own ``state_dict`` is saved
    through it).

    Args:
        param_name: the name of the value, e.g. ``"lr"`` or ``"batch_size"``.
        save_history: also append the values set at each event to
            ``engine.state.param_history[param_name]``.

    Example:
        >>> class Doubling(BaseParamScheduler):
        ...     def get_param(self):
        ...         return 2**self.event_index
        ...     @classmethod
        ...     def simulate_values(cls, num_events, **kwargs):
        ...         scheduler, values = cls("n"), []
        ...         for i in range(num_events):
        ...             values.append([i, scheduler.get_param()])
        ...             scheduler.event_index += 1
        ...         return values
        >>> Doubling.simulate_values(3)
        [[0, 1], [1, 2], [2, 4]]
    """

    _state_attrs: tuple[str, ...] = ("event_index", "param_name", "save_history")

    def __init__(self, param_name: str, save_history: bool = False):
        self.param_name = param_name
        self.event_index = 0
        self._save_history = save_history

    @property
    def save_history(self) -> bool:
        """Whether values are recorded into ``engine.state.param_history``."""
        return self._save_history

    @save_history.setter
    def save_history(self, value: bool) -> None:
        self._save_history = value

    @abstractmethod
    def get_param(self) -> Any:
        """The value for the current ``event_index``: one number, or one per parameter group."""

    @classmethod
    @abstractmethod
    def simulate_values(cls, num_events: int, **scheduler_kwargs: Any) -> list[list[Any]]:
        """Values over ``num_events`` events, as ``[index, value, ...]`` rows."""

    @classmethod
    def plot_values(cls, num_events: int, **scheduler_kwargs: Any) -> Any:
        """Plot ``simulate_values(num_events, **scheduler_kwargs)`` with matplotlib.

        matplotlib is imported only here (``pip install matplotlib``).

        Args:
            num_events: how many events to simulate.
            scheduler_kwargs: as for ``simulate_values``.

        Returns:
            the lines that ``matplotlib.pyplot.plot`` drew.

        Example:
            >>> PiecewiseLinear.plot_values(  # doctest: +SKIP
            ...     50, param_name="lr", milestones_values=[(0, 0.0), (10, 0.1), (50, 0.0)])
        """
        plt = _pyplot()
        values = cls.simulate_values(num_events, **scheduler_kwargs)
        return _plot(plt, values, scheduler_kwargs.get("param_name", "learning rate"))

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue the schedule exactly where it is.

        Example:
            >>> import torch
            >>> opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.0)
            >>> PiecewiseLinear(opt, "lr", [(0, 0.0), (4, 1.0)]).state_dict()["event_index"]
            0
        """
        state: dict[str, Any] = {}
        for name in self._state_attrs:
            value = getattr(self, name)
            if hasattr(value, "state_dict"):
                value = value.state_dict()
            state[name] = copy.deepcopy(value)
        return state

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore the state saved by ``state_dict()``.

        Args:
            state_dict: a mapping with every key of ``state_dict()``.

        Example:
            >>> import torch
            >>> opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.0)
            >>> a = PiecewiseLinear(opt, "lr", [(0, 0.0), (4, 1.0)])
            >>> a(None); a(None)
            >>> b = PiecewiseLinear(opt, "lr", [(0, 0.0), (4, 1.0)])
            >>> b.load_state_dict(a.state_dict())
            >>> b.get_param()
            0.5
        """
        _check_state_dict(state_dict, self._state_attrs)
        for name in self._state_attrs:
            value = state_dict[name]
            target = getattr(self, name)
            if isinstance(value, Mapping) and hasattr(target, "load_state_dict"):
                target.load_state_dict(value)
            else:
                setattr(self, name, copy.deepcopy(value))


def _pyplot() -> Any:
    try:
        import matplotlib.pyplot as plt  # type: ignore[import-not-found, unused-ignore]
    except ImportError as e:
        raise ModuleNotFoundError(
            "This method requires matplotlib to be installed: pip install matplotlib"
        ) from e
    return plt


def _plot(plt: Any, rows: list[list[Any]], label: str) -> Any:
    """One line per value column of ``simulate_values`` rows ``[index, value, ...]``."""
    steps = [row[0] for row in rows]
    columns = list(zip(*[_flatten(row[1:]) for row in rows], strict=True))
    lines = []
    for i, column in enumerate(columns):
        name = label if len(columns) == 1 else f"{label} {i}"
        lines += plt.plot(steps, column, label=name)
    plt.legend()
    plt.grid(which="both")
    return lines


def _flatten(values: list[Any]) -> list[Any]:
    return [v for value in values for v in (value if isinstance(value, list) else [value])]


class ParamScheduler(BaseParamScheduler):
    """Base class: sets ``optimizer.param_groups[i][param_name]`` to ``get_param()`` per event.

    Args:
        optimizer: a ``torch.optim.Optimizer``, or any object with a ``param_groups`` list.
        param_name: the key to set in each parameter group, e.g. ``"lr"`` or ``"momentum"``.
        save_history: also append the values set at each event to
            ``engine.state.param_history[param_name]`` (one list per event, one value per group).
        param_group_index: drive only this parameter group (default: all of them).

    Example:
        >>> import torch
        >>> class Halving(ParamScheduler):
        ...     def get_param(self):
        ...         return 1.0 / 2**self.event_index
        >>> opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
        >>> scheduler = Halving(opt, "lr")
        >>> for _ in range(3):
        ...     scheduler(None)
        >>> opt.param_groups[0]["lr"]
        0.25
    """

    _state_attrs = BaseParamScheduler._state_attrs + ("param_group_index",)

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        param_name: str,
        save_history: bool = False,
        param_group_index: int | None = None,
    ):
        super().__init__(param_name, save_history)
        _check_optimizer(optimizer)
        self.optimizer = optimizer
        self.param_group_index = param_group_index

    @property
    def optimizer_param_groups(self) -> list[dict[str, Any]]:
        """The parameter groups this scheduler writes to."""
        if self.param_group_index is None:
            return self.optimizer.param_groups
        return [self.optimizer.param_groups[self.param_group_index]]

    def _get_param(self) -> float | list[float]:
        return self.get_param()

    def __call__(self, engine: Engine | None, name: str | None = None) -> None:
        value = self._get_param()
        groups = self.optimizer_param_groups
        if isinstance(value, list):
            if len(value) != len(groups):
                raise ValueError(
                    "size of value is different than optimizer_param_groups "
                    f"{len(value)} != {len(groups)}"
                )
            for group, v in zip(groups, value, strict=True):
                group[self.param_name] = v
        else:
            for group in groups:
                group[self.param_name] = value
        if self.save_history and engine is not None:
            history = _history(engine, name or self.param_name)
            history.append([group[self.param_name] for group in groups])
        self.event_index += 1

    def attach(self, engine: Engine, event: Any = Events.ITERATION_STARTED) -> None:
        """Call this scheduler on ``event`` of ``engine``.

        Args:
            engine: the trainer.
            event: when to update the value (default ``Events.ITERATION_STARTED``).

        Example:
            >>> import torch
            >>> from miniengine.engine import Engine
            >>> opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.0)
            >>> trainer = Engine(lambda engine, batch: opt.param_groups[0]["lr"])
            >>> PiecewiseLinear(opt, "lr", [(0, 0.0), (4, 1.0)]).attach(trainer)
            >>> trainer.run([0] * 3).output
            0.5
        """
        engine.add_event_handler(event, self)

    @classmethod
    def simulate_values(cls, num_events: int, **scheduler_kwargs: Any) -> list[list[Any]]:
        """Values the scheduler would set over ``num_events`` events, as ``[index, value]``.

        The scheduler is built on a stand-in optimizer, so nothing real changes.

        Args:
            num_events: how many events to simulate.
            scheduler_kwargs: the constructor's arguments (``optimizer`` and ``save_history``
                are ignored).

        Example:
            >>> PiecewiseLinear.simulate_values(3, param_name="lr",
            ...                                 milestones_values=[(0, 0.0), (2, 1.0)])
            [[0, 0.0], [1, 0.5], [2, 1.0]]
        """
        kwargs = {
            k: v for k, v in scheduler_kwargs.items() if k not in ("optimizer", "save_history")
        }
        scheduler = cls(optimizer=_fake_optimizer(), save_history=False, **kwargs)
        values = []
        for i in range(num_events):
            scheduler(None)
            values.append([i, scheduler.optimizer_param_groups[0][scheduler.param_name]])
        return values


def _history(engine: Engine, name: str) -> list[Any]:
    """``engine.state.param_history[name]``, created if needed."""
    histories = getattr(engine.state, "param_history", None)
    if histories is None:
        histories = engine.state.param_history = {}  # type: ignore[attr-defined]
    return histories.setdefault(name, [])


class CyclicalScheduler(ParamScheduler):
    """Base class for schedules that repeat over cycles of ``cycle_size`` events.

    After each cycle the cycle length is multiplied by ``cycle_mult`` (rounded down), the end
    value by ``end_value_mult`` and the start value by ``start_value_mult``. With
    ``warmup_duration > 0``, each cycle is followed by that many events that go linearly from
    the cycle's end value back to the (new) start value.

    Args:
        optimizer: a ``torch.optim.Optimizer``, or any object with a ``param_groups`` list.
        param_name: the key to set in each parameter group.
        start_value: value at the start of a cycle.
        end_value: value at the middle (linear) or end (cosine) of a cycle.
        cycle_size: events per cycle, at least 2.
        cycle_mult: factor applied to ``cycle_size`` (and the warm-up) after each cycle.
        start_value_mult: factor applied to ``start_value`` after each cycle.
        end_value_mult: factor applied to ``end_value`` after each cycle.
        warmup_duration: events of linear warm-up between cycles (0: none).
        save_history: also record the values into ``engine.state.param_history``.
        param_group_index: drive only this parameter group (default: all of them).

    Example:
        >>> values = CosineAnnealingScheduler.simulate_values(
        ...     6, param_name="lr", start_value=1.0, end_value=0.0, cycle_size=2, cycle_mult=2)
        >>> [round(v, 2) for _, v in values]
        [1.0, 0.5, 1.0, 0.85, 0.5, 0.15]
    """

    _state_attrs = ParamScheduler._state_attrs + (
        "start_value",
        "end_value",
        "cycle_size",
        "cycle_mult",
        "cycle",
        "start_value_mult",
        "end_value_mult",
        "warmup_duration",
        "total_cycle_size",
    )

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        param_name: str,
        start_value: float,
        end_value: float,
        cycle_size: int,
        cycle_mult: float = 1.0,
        start_value_mult: float = 1.0,
        end_value_mult: float = 1.0,
        warmup_duration: int = 0,
        save_history: bool = False,
        param_group_index: int | None = None,
    ):
        super().__init__(optimizer, param_name, save_history, param_group_index)
        if cycle_size < 2:
            raise ValueError(
                f"Argument cycle_size should be positive and larger than 1, but given {cycle_size}"
            )
        self.start_value = start_value
        self.end_value = end_value
        self.cycle_size = cycle_size
        self.cycle_mult = cycle_mult
        self.cycle = 0
        self.start_value_mult = start_value_mult
        self.end_value_mult = end_value_mult
        self.warmup_duration = warmup_duration
        self.total_cycle_size = warmup_duration + cycle_size

    def __call__(self, engine: Engine | None, name: str | None = None) -> None:
        # The start value changes as soon as the cycle proper ends, so that the warm-up that
        # follows already heads for the next cycle's start value.
        if self.event_index != 0 and self.event_index == self.cycle_size:
            self.start_value *= self.start_value_mult
        if self.event_index != 0 and self.event_index == self.total_cycle_size:
            self.event_index = 0
            self.cycle_size = int(self.cycle_size * self.cycle_mult)
            self.warmup_duration = int(self.warmup_duration * self.cycle_mult)
            self.total_cycle_size = self.warmup_duration + self.cycle_size
            self.cycle += 1
            self.end_value *= self.end_value_mult
        super().__call__(engine, name)

    def _get_param(self) -> float | list[float]:
        if self.event_index > self.cycle_size:
            progress = (self.event_index - self.cycle_size) / self.warmup_duration
            return self.end_value + (self.start_value - self.end_value) * progress
        return self.get_param()


class LinearCyclicalScheduler(CyclicalScheduler):
    """Go linearly from ``start_value`` to ``end_value`` and back over each cycle.

    With ``monotonic=True`` only the first half is used: one straight line from ``start_value``
    to ``end_value`` per cycle (needed to combine with ``warmup_duration``). With cycle
    progress ``p = event_index / cycle_size``::

        value = end + (start - end) * |2p - 1|         (default)
        value = start + (end - start) * p              (monotonic)

    Args:
        optimizer: a ``torch.optim.Optimizer``, or any object with a ``param_groups`` list.
        param_name: the key to set in each parameter group.
        start_value: value at the start of a cycle.
        end_value: value at the middle of a cycle (at its end when ``monotonic``).
        cycle_size: events per cycle, at least 2.
        cycle_mult: factor applied to ``cycle_size`` after each cycle.
        start_value_mult: factor applied to ``start_value`` after each cycle.
        end_value_mult: factor applied to ``end_value`` after each cycle.
        warmup_duration: events of linear warm-up between cycles; needs ``monotonic=True``.
        save_history: also record the values into ``engine.state.param_history``.
        param_group_index: drive only this parameter group (default: all of them).
        monotonic: use only the rising (or falling) half of the cycle.

    Example:
        >>> values = LinearCyclicalScheduler.simulate_values(
        ...     5, param_name="lr", start_value=0.0, end_value=1.0, cycle_size=4)
        >>> [v for _, v in values]
        [0.0, 0.5, 1.0, 0.5, 0.0]
    """

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        param_name: str,
        start_value: float,
        end_value: float,
        cycle_size: int,
        cycle_mult: float = 1.0,
        start_value_mult: float = 1.0,
        end_value_mult: float = 1.0,
        warmup_duration: int = 0,
        save_history: bool = False,
        param_group_index: int | None = None,
        monotonic: bool = False,
    ):
        super().__init__(
            optimizer,
            param_name,
            start_value,
            end_value,
            cycle_size,
            cycle_mult,
            start_value_mult,
            end_value_mult,
            warmup_duration,
            save_history,
            param_group_index,
        )
        self.monotonic = monotonic
        if warmup_duration > 0 and not monotonic:
            raise ValueError(
                "Invalid combination when warmup_duration > 0 and monotonic=False, "
                "please use either set warmup_duration=0 or monotonic=True"
            )

    def get_param(self) -> float:
        """The value for the current ``event_index`` (formula in the class docstring)."""
        progress = self.event_index / self.cycle_size
        if self.monotonic:
            return self.start_value + (self.end_value - self.start_value) * progress
        return self.end_value + (self.start_value - self.end_value) * abs(progress - 0.5) * 2


class CosineAnnealingScheduler(CyclicalScheduler):
    """Go from ``start_value`` to ``end_value`` along half a cosine wave, once per cycle.

    With cycle progress ``p = event_index / cycle_size``::

        value = start + (end - start) / 2 * (1 - cos(pi * p))

    Cycles restart at ``start_value`` (SGDR-style warm restarts); see ``CyclicalScheduler``
    for ``cycle_mult``, ``*_value_mult`` and ``warmup_duration``.

    Args:
        optimizer: a ``torch.optim.Optimizer``, or any object with a ``param_groups`` list.
        param_name: the key to set in each parameter group.
        start_value: value at the start of a cycle.
        end_value: value at the end of a cycle.
        cycle_size: events per cycle, at least 2.
        cycle_mult: factor applied to ``cycle_size`` after each cycle.
        start_value_mult: factor applied to ``start_value`` after each cycle.
        end_value_mult: factor applied to ``end_value`` after each cycle.
        warmup_duration: events of linear warm-up between cycles.
        save_history: also record the values into ``engine.state.param_history``.
        param_group_index: drive only this parameter group (default: all of them).

    Example:
        >>> values = CosineAnnealingScheduler.simulate_values(
        ...     5, param_name="lr", start_value=0.0, end_value=1.0, cycle_size=4)
        >>> [round(v, 4) for _, v in values]
        [0.0, 0.1464, 0.5, 0.8536, 0.0]
    """

    def get_param(self) -> float:
        """The value for the current ``event_index`` (formula in the class docstring)."""
        progress = self.event_index / self.cycle_size
        return self.start_value + (self.end_value - self.start_value) / 2 * (
            1 - math.cos(math.pi * progress)
        )


class PiecewiseLinear(ParamScheduler):
    """Interpolate linearly between ``(event_index, value)`` milestones.

    Before the first milestone the value is the first value, after the last one the last
    value. Two milestones at the same index make a jump.

    Args:
        optimizer: a ``torch.optim.Optimizer``, or any object with a ``param_groups`` list.
        param_name: the key to set in each parameter group.
        milestones_values: ``(event_index, value)`` pairs with non-decreasing integer indices.
        save_history: also record the values into ``engine.state.param_history``.
        param_group_index: drive only this parameter group (default: all of them).

    Example:
        >>> values = PiecewiseLinear.simulate_values(
        ...     6, param_name="lr", milestones_values=[(1, 1.0), (3, 0.8), (5, 0.2)])
        >>> [round(v, 2) for _, v in values]
        [1.0, 1.0, 0.9, 0.8, 0.5, 0.2]
    """

    # `_index` is Ignite's segment counter: saved so that Ignite loads our state dicts (and
    # ours loads Ignite's); here it is only derived from event_index.
    _state_attrs = ParamScheduler._state_attrs + ("values", "milestones", "_index")

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        param_name: str,
        milestones_values: list[tuple[int, float]],
        save_history: bool = False,
        param_group_index: int | None = None,
    ):
        super().__init__(optimizer, param_name, save_history, param_group_index)
        if not isinstance(milestones_values, Sequence):
            raise TypeError(
                "Argument milestones_values should be a list or tuple, "
                f"but given {type(milestones_values)}"
            )
        if len(milestones_values) < 1:
            raise ValueError(
                "Argument milestones_values should be with at least one value, "
                f"but given {milestones_values}"
            )
        self.milestones: list[int] = []
        self.values: list[float] = []
        for pair in milestones_values:
            if not isinstance(pair, tuple) or len(pair) != 2:
                raise ValueError(
                    "Argument milestones_values should be a list of pairs (milestone, param_value)"
                )
            milestone, value = pair
            if not isinstance(milestone, numbers.Integral):
                raise TypeError(
                    f"Value of a milestone should be integer, but given {type(milestone)}"
                )
            if self.milestones and milestone < self.milestones[-1]:
                raise ValueError(
                    f"Milestones should be increasing integers, but given {milestone} is smaller "
                    f"than the previous milestone {self.milestones[-1]}"
                )
            self.milestones.append(milestone)
            self.values.append(value)

    @property
    def _index(self) -> int:
        # The segment of the last value given, held at the last one once past the milestones.
        e = min(self.event_index - 1, self.milestones[-1] - 1)
        return max(0, bisect_right(self.milestones, e) - 1)

    @_index.setter
    def _index(self, value: int) -> None:
        pass  # derived from event_index

    def get_param(self) -> float:
        """The interpolated value at the current ``event_index``."""
        e, ms, vs = self.event_index, self.milestones, self.values
        i = bisect_right(ms, e)  # ms[i-1] <= e < ms[i]
        if i == 0:
            return vs[0]
        if i == len(ms):
            return vs[-1]
        return vs[i - 1] + (vs[i] - vs[i - 1]) * (e - ms[i - 1]) / (ms[i] - ms[i - 1])


class ParamGroupScheduler:
    """Run several schedulers as one, e.g. one per parameter group.

    Args:
        schedulers: the parameter schedulers.
        names: the name each one records its history under (default: their ``param_name``).
        save_history: also record the values into ``engine.state.param_history``.

    Example:
        >>> import torch
        >>> w, b = torch.zeros(1, requires_grad=True), torch.zeros(1, requires_grad=True)
        >>> opt = torch.optim.SGD([{"params": [w]}, {"params": [b]}], lr=0.0)
        >>> both = ParamGroupScheduler([
        ...     PiecewiseLinear(opt, "lr", [(0, 0.0), (2, 1.0)], param_group_index=0),
        ...     PiecewiseLinear(opt, "lr", [(0, 0.0), (2, 0.1)], param_group_index=1),
        ... ], names=["lr_w", "lr_b"])
        >>> both(None); both(None)
        >>> [g["lr"] for g in opt.param_groups]
        [0.5, 0.05]
    """

    def __init__(
        self,
        schedulers: list[ParamScheduler],
        names: list[str] | None = None,
        save_history: bool = False,
    ):
        if not isinstance(schedulers, Sequence):
            raise TypeError(f"Argument schedulers should be a list/tuple, but given {schedulers}")
        if not all(isinstance(s, ParamScheduler) for s in schedulers):
            raise ValueError(
                "Argument schedulers should be a list/tuple of parameter schedulers, "
                f"but given {schedulers}"
            )
        if names is None:
            names = [s.param_name for s in schedulers]
        if not isinstance(names, (list, tuple)):
            raise TypeError(f"Argument names should be a list/tuple, but given {names}")
        if not all(isinstance(n, str) for n in names):
            raise ValueError(
                "Argument names should be a list/tuple of parameter scheduler's names, "
                f"but given {names}"
            )
        if len(names) != len(schedulers):
            raise ValueError(f"{len(schedulers)} should be equal {len(names)}")
        self.schedulers = list(schedulers)
        self.names = list(names)
        self.save_history = save_history
        self.optimizer = [s.optimizer for s in self.schedulers]
        self.param_name = [s.param_name for s in self.schedulers]

    def __call__(self, engine: Engine | None, name: str | None = None) -> None:
        for scheduler, own_name in zip(self.schedulers, self.names, strict=True):
            scheduler(engine, own_name)

    @property
    def save_history(self) -> bool:
        """Whether the schedulers record their values into ``engine.state.param_history``."""
        return self.schedulers[0].save_history

    @save_history.setter
    def save_history(self, value: bool) -> None:
        for s in self.schedulers:
            s.save_history = value

    @property
    def optimizer_param_groups(self) -> list[dict[str, Any]]:
        """The parameter groups of all the schedulers, in order."""
        return [g for s in self.schedulers for g in s.optimizer_param_groups]

    def get_param(self) -> list[float | list[float]]:
        """Each scheduler's current value."""
        return [s.get_param() for s in self.schedulers]

    @classmethod
    def simulate_values(
        cls, num_events: int, schedulers: list[ParamScheduler], **kwargs: Any
    ) -> list[list[Any]]:
        """Values over ``num_events`` events as ``[index, value_0, ...]``, one per scheduler.

        The schedulers and their optimizer are restored afterwards.

        Args:
            num_events: how many events to simulate.
            schedulers: the schedulers to run together.
            kwargs: other arguments of the constructor (``names``).

        Example:
            >>> import torch
            >>> w, b = torch.zeros(1, requires_grad=True), torch.zeros(1, requires_grad=True)
            >>> opt = torch.optim.SGD([{"params": [w]}, {"params": [b]}], lr=0.0)
            >>> ParamGroupScheduler.simulate_values(3, [
            ...     PiecewiseLinear(opt, "lr", [(0, 0.0), (2, 1.0)], param_group_index=0),
            ...     PiecewiseLinear(opt, "lr", [(0, 0.0), (2, 0.1)], param_group_index=1)])
            [[0, 0.0, 0.0], [1, 0.5, 0.05], [2, 1.0, 0.1]]
        """
        kwargs.pop("save_history", None)
        with _restored(schedulers):
            scheduler = cls(schedulers=schedulers, save_history=False, **kwargs)
            values = []
            for i in range(num_events):
                scheduler(None)
                row: list[Any] = [i]
                for s in schedulers:
                    row.append(_one_or_list([g[s.param_name] for g in s.optimizer_param_groups]))
                values.append(row)
        return values

    @classmethod
    def plot_values(cls, num_events: int, **scheduler_kwargs: Any) -> Any:
        """Plot ``simulate_values``: one line per scheduler (needs ``pip install matplotlib``).

        Args:
            num_events: how many events to simulate.
            scheduler_kwargs: as for ``simulate_values``.
        """
        plt = _pyplot()
        values = cls.simulate_values(num_events, **scheduler_kwargs)
        return _plot(plt, values, "learning rate")

    def attach(self, engine: Engine, event: Any = Events.ITERATION_STARTED) -> None:
        """Call these schedulers on ``event`` of ``engine``.

        Args:
            engine: the trainer.
            event: when to update the values.
        """
        engine.add_event_handler(event, self)

    def state_dict(self) -> dict[str, Any]:
        """The schedulers' states, as ``{"schedulers": [(name, state), ...]}``."""
        return {
            "schedulers": [
                (n, s.state_dict()) for n, s in zip(self.names, self.schedulers, strict=True)
            ]
        }

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore the states saved by ``state_dict()``.

        Args:
            state_dict: a mapping with key ``"schedulers"``.
        """
        _check_state_dict(state_dict, ["schedulers"])
        states = state_dict["schedulers"]
        if len(states) != len(self.schedulers):
            raise ValueError(
                f"Input state_dict contains {len(states)} state_dicts of param group schedulers, "
                f"but {len(self.schedulers)} needed"
            )
        for wanted, s, (name, state) in zip(self.names, self.schedulers, states, strict=True):
            if wanted != name:
                raise ValueError(
                    "Name of scheduler from input state dict does not correspond to required one, "
                    f"{name} vs {wanted}"
                )
            s.load_state_dict(state)


def _one_or_list(values: list[Any]) -> Any:
    return values[0] if len(values) == 1 else values


class ConcatScheduler(ParamScheduler):
    """Run schedulers one after the other: the i-th for ``durations[i]`` events.

    The last scheduler runs for as long as the training does. All of them must drive the same
    optimizer and parameter name.

    Args:
        schedulers: two or more parameter schedulers (or ``ParamGroupScheduler``).
        durations: one duration (in events) per scheduler but the last.
        save_history: also record the values into ``engine.state.param_history``.

    Example:
        >>> import torch
        >>> opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.0)
        >>> up = LinearCyclicalScheduler(opt, "lr", 0.0, 1.0, cycle_size=8)
        >>> down = CosineAnnealingScheduler(opt, "lr", 1.0, 0.2, cycle_size=4)
        >>> values = ConcatScheduler.simulate_values(8, schedulers=[up, down], durations=[4])
        >>> [round(v, 4) for _, v in values]
        [0.0, 0.25, 0.5, 0.75, 1.0, 0.8828, 0.6, 0.3172]
    """

    _state_attrs = ParamScheduler._state_attrs + (
        "_current_duration",
        "durations",
        "_scheduler_index",
    )

    def __init__(
        self,
        schedulers: list[ParamScheduler],
        durations: list[int],
        save_history: bool = False,
    ):
        if not isinstance(schedulers, Sequence):
            raise TypeError(f"Argument schedulers should be a sequence, but given {schedulers}")
        if len(schedulers) < 2:
            raise ValueError(
                "Argument schedulers should be of more than one parameter schedulers, "
                f"but given {schedulers}"
            )
        if not isinstance(durations, (list, tuple)):
            raise TypeError(f"Argument durations should be list/tuple, but given {durations}")
        if not all(isinstance(t, numbers.Integral) for t in durations):
            raise ValueError(
                f"Argument durations should be list/tuple of integers, but given {durations}"
            )
        if len(schedulers) != len(durations) + 1:
            raise ValueError(
                "Incorrect number schedulers or duration values, "
                f"given {len(schedulers)} and {len(durations)}"
            )
        for i, s in enumerate(schedulers):
            if not isinstance(s, (ParamScheduler, ParamGroupScheduler)):
                raise TypeError(
                    f"Value at index {i} of schedulers should be a parameter scheduler, "
                    f"but given {type(s)}"
                )
        optimizer = _common(
            schedulers, "optimizer", "schedulers should be related to same optimizer"
        )
        param_name = _common(
            schedulers, "param_name", "schedulers should be related to same param_name"
        )
        self.schedulers = list(schedulers)
        self.durations = list(durations)
        super().__init__(optimizer, param_name, save_history)
        self.save_history = save_history  # passed on to every scheduler
        self._scheduler_index = 0
        self._current_duration = self.durations[0]

    @property
    def _current(self) -> ParamScheduler | ParamGroupScheduler:
        return self.schedulers[self._scheduler_index]

    def __call__(self, engine: Engine | None, name: str | None = None) -> None:
        if self._current_duration == 0:
            self._scheduler_index += 1
            last = self._scheduler_index == len(self.durations)
            self._current_duration = -1 if last else self.durations[self._scheduler_index]
        self._current(engine, name)
        self._current_duration -= 1
        self.event_index += 1

    @property
    def optimizer_param_groups(self) -> list[dict[str, Any]]:
        """The parameter groups of the scheduler running now."""
        return self._current.optimizer_param_groups

    @property
    def save_history(self) -> bool:
        """Whether the schedulers record their values into ``engine.state.param_history``."""
        return self.schedulers[0].save_history

    @save_history.setter
    def save_history(self, value: bool) -> None:
        for s in self.schedulers:
            s.save_history = value

    def get_param(self) -> Any:
        """The current value of the scheduler running now."""
        return self._current.get_param()

    def state_dict(self) -> dict[str, Any]:
        """Own position in the sequence, plus every scheduler's state under ``"schedulers"``."""
        state = super().state_dict()
        state["schedulers"] = [s.state_dict() for s in self.schedulers]
        return state

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore the states saved by ``state_dict()``.

        Args:
            state_dict: a mapping with every key of ``state_dict()``.
        """
        _check_state_dict(state_dict, ["schedulers"])
        states = state_dict["schedulers"]
        if len(states) != len(self.schedulers):
            raise ValueError(
                f"Input state_dict contains {len(states)} state_dicts of concatenated schedulers, "
                f"but {len(self.schedulers)} needed"
            )
        for s, state in zip(self.schedulers, states, strict=True):
            s.load_state_dict(state)
        super().load_state_dict(state_dict)

    @classmethod
    def simulate_values(  # type: ignore[override]
        cls,
        num_events: int,
        schedulers: list[ParamScheduler],
        durations: list[int],
        param_names: list[str] | tuple[str, ...] | None = None,
    ) -> list[list[Any]]:
        """Values over ``num_events`` events, as ``[index, value, ...]``; schedulers untouched.

        The schedulers' and the optimizer's states are restored afterwards, so the same
        schedulers can then be used for training.

        Args:
            num_events: how many events to simulate.
            schedulers: the schedulers to concatenate.
            durations: as for the constructor.
            param_names: parameters to report (default: the schedulers' ``param_name``), one
                column per parameter group for each.
        """
        if param_names is not None:
            if not isinstance(param_names, (list, tuple)):
                raise TypeError(
                    f"Argument param_names should be list or tuple, but given {type(param_names)}"
                )
            if not all(isinstance(p, str) for p in param_names):
                raise ValueError(
                    "Argument param_names should be list or tuple of strings, "
                    f"but given {param_names}"
                )
        _common(schedulers, "optimizer", "schedulers should be related to same optimizer")
        with _restored(schedulers):
            scheduler = cls(schedulers=schedulers, durations=durations, save_history=False)
            names = param_names or [scheduler.param_name]
            values = []
            for i in range(num_events):
                scheduler(None)
                groups = scheduler.optimizer_param_groups
                values.append([i] + [g[n] for n in names for g in groups])
        return values


@contextmanager
def _restored(schedulers: Sequence[Any]) -> Iterator[None]:
    """Put the schedulers and their optimizers back as they were (for ``simulate_values``)."""
    states = [s.state_dict() for s in schedulers]
    history = [s.save_history for s in schedulers]
    optimizers: list[Any] = []
    for s in schedulers:
        for opt in s.optimizer if isinstance(s.optimizer, list) else [s.optimizer]:
            if not any(opt is o for o in optimizers):
                optimizers.append(opt)
    saved = [copy.deepcopy(o.state_dict()) for o in optimizers]
    try:
        with warnings.catch_warnings():
            # no optimizer.step() happens here, torch would warn about the order of calls
            warnings.simplefilter("ignore", UserWarning)
            yield
    finally:
        for s, state, h in zip(schedulers, states, history, strict=True):
            s.load_state_dict(state)
            s.save_history = h
        for opt, state in zip(optimizers, saved, strict=True):
            opt.load_state_dict(state)


def _common(schedulers: Sequence[Any], attr: str, message: str) -> Any:
    """The one value of ``attr`` shared by all schedulers (a ParamGroupScheduler has a list)."""
    found: list[Any] = []
    for s in schedulers:
        value = getattr(s, attr)
        for v in value if isinstance(value, list) else [value]:
            if not any(v is f for f in found):
                found.append(v)
    if len(found) != 1:
        raise ValueError(message)
    return found[0]


class LRScheduler(ParamScheduler):
    """Drive the learning rate with any ``torch.optim.lr_scheduler`` scheduler.

    At its ``k``-th event the wrapper sets the learning rates the torch scheduler gives after
    ``k`` calls of its ``step()``: the first event keeps the initial rates, each later event
    steps the torch scheduler once. Attached to ``ITERATION_STARTED`` this gives iteration
    ``k+1`` the same rates as the plain loop ``optimizer.step(); scheduler.step()`` does.
    (Ignite 0.5.5 calls ``get_lr()`` itself instead, which with torch 2 shifts or distorts
    the rates of schedulers whose ``get_lr()`` is incremental, e.g. ``ExponentialLR`` or
    ``LinearLR``; rates here are always torch's own.)

    Args:
        lr_scheduler: the torch scheduler (for ``ReduceLROnPlateau``, which needs a metric,
            use ``ReduceLROnPlateauScheduler``).
        save_history: also record the values into ``engine.state.param_history``.
        use_legacy: step on the first event too, for a wrapper attached to
            ``ITERATION_COMPLETED`` (as torch's loop steps after each iteration).

    Example:
        >>> import torch
        >>> from torch.optim.lr_scheduler import StepLR
        >>> opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
        >>> values = LRScheduler.simulate_values(5, lr_scheduler=StepLR(opt, 2, gamma=0.5))
        >>> [v for _, v in values]
        [0.1, 0.1, 0.05, 0.05, 0.025]
    """

    _state_attrs = ParamScheduler._state_attrs + ("lr_scheduler", "_step_first")

    def __init__(
        self,
        lr_scheduler: TorchLRScheduler,
        save_history: bool = False,
        use_legacy: bool = False,
    ):
        if not isinstance(lr_scheduler, TorchLRScheduler) or isinstance(
            lr_scheduler, ReduceLROnPlateau
        ):
            raise TypeError(
                "Argument lr_scheduler should be a subclass of "
                f"torch.optim.lr_scheduler.{TorchLRScheduler.__name__} (for ReduceLROnPlateau "
                f"use ReduceLROnPlateauScheduler), but given {type(lr_scheduler)}"
            )
        self.lr_scheduler = lr_scheduler
        super().__init__(lr_scheduler.optimizer, "lr", save_history=save_history)
        if use_legacy:
            warnings.warn(
                "Please make sure to attach scheduler to Events.ITERATION_COMPLETED "
                "instead of Events.ITERATION_STARTED to make sure to use "
                "the first lr value from the optimizer, otherwise it will be skipped",
                stacklevel=2,
            )
        self._step_first = use_legacy

    def __call__(self, engine: Engine | None, name: str | None = None) -> None:
        if self.event_index > 0 or self._step_first:
            self.lr_scheduler.step()
        super().__call__(engine, name)

    def get_param(self) -> float | list[float]:
        """The rates the torch scheduler set last (one number if there is one group)."""
        # On the first event this also restores the scheduler's initial rates, should another
        # scheduler (e.g. a warm-up in a ConcatScheduler) have changed them meanwhile.
        return _one_or_list(self.lr_scheduler.get_last_lr())

    @classmethod
    def simulate_values(  # type: ignore[override]
        cls, num_events: int, lr_scheduler: TorchLRScheduler, **kwargs: Any
    ) -> list[list[Any]]:
        """Rates over ``num_events`` events as ``[index, lr_group0, ...]``; scheduler untouched.

        Args:
            num_events: how many events to simulate.
            lr_scheduler: the torch scheduler; it and its optimizer are restored afterwards.
            kwargs: other arguments of the constructor.
        """
        if not isinstance(lr_scheduler, TorchLRScheduler):
            raise TypeError(
                "Argument lr_scheduler should be a subclass of "
                f"torch.optim.lr_scheduler.{TorchLRScheduler.__name__}, "
                f"but given {type(lr_scheduler)}"
            )
        optimizer = lr_scheduler.optimizer
        saved = copy.deepcopy(lr_scheduler.state_dict()), copy.deepcopy(optimizer.state_dict())
        try:
            with warnings.catch_warnings():
                # no optimizer.step() happens here, torch would warn about the order of calls
                warnings.simplefilter("ignore", UserWarning)
                scheduler = cls(lr_scheduler=lr_scheduler, save_history=False, **kwargs)
                values = []
                for i in range(num_events):
                    scheduler(None)
                    values.append([i] + [g["lr"] for g in scheduler.optimizer_param_groups])
        finally:
            lr_scheduler.load_state_dict(saved[0])
            optimizer.load_state_dict(saved[1])
        return values


class ReduceLROnPlateauScheduler(ParamScheduler):
    """Multiply the learning rate by ``factor`` when a metric stops improving.

    Attach it to the evaluator (usually on ``COMPLETED``): each call reads
    ``engine.state.metrics[metric_name]``. As ``torch.optim.lr_scheduler.ReduceLROnPlateau``:
    a value improves on the best so far when, with ``mode="min"``, it is below
    ``best * (1 - threshold)`` (``threshold_mode="rel"``) or ``best - threshold`` (``"abs"``);
    ``mode="max"`` flips the signs. More than ``patience`` calls in a row without improvement
    multiply each rate by ``factor`` (not below ``min_lr``; changes smaller than ``eps`` are
    skipped), then ``cooldown`` calls are not counted.

    Args:
        optimizer: the optimizer.
        metric_name: the metric to watch, attached to the engine this scheduler is called on.
        trainer: the engine whose ``state.param_history`` records the rates (``save_history``).
        save_history: record the rates after each call into ``trainer.state.param_history``.
        param_group_index: drive only this parameter group (default: all of them).
        mode: ``"min"`` (lower is better) or ``"max"``.
        factor: the multiplier, < 1.
        patience: calls without improvement tolerated before a reduction.
        threshold: the smallest change that counts as an improvement.
        threshold_mode: ``"rel"`` or ``"abs"``, see above.
        cooldown: calls after a reduction that are not counted.
        min_lr: the lowest rate: one number, or one per parameter group.
        eps: skip reductions smaller than this.
        verbose: not supported (a warning); use ``save_history``.

    Example:
        >>> values = ReduceLROnPlateauScheduler.simulate_values(
        ...     6, metric_values=[1.0, 0.5, 0.6, 0.7, 0.8, 0.9], init_lr=0.1,
        ...     factor=0.5, patience=2)
        >>> [v for _, v in values]
        [0.1, 0.1, 0.1, 0.1, 0.05, 0.05]
    """

    _state_attrs = ParamScheduler._state_attrs + (
        "metric_name",
        "best",
        "num_bad_epochs",
        "cooldown_counter",
    )

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        metric_name: str,
        trainer: Engine | None = None,
        save_history: bool = False,
        param_group_index: int | None = None,
        mode: Literal["min", "max"] = "min",
        factor: float = 0.1,
        patience: int = 10,
        threshold: float = 1e-4,
        threshold_mode: Literal["rel", "abs"] = "rel",
        cooldown: int = 0,
        min_lr: float | list[float] = 0.0,
        eps: float = 1e-8,
        verbose: bool | None = None,
    ):
        super().__init__(optimizer, "lr", save_history, param_group_index)
        if mode not in ("min", "max"):
            raise ValueError(f"Argument mode should be 'min' or 'max', but given {mode!r}")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(
                f"Argument threshold_mode should be 'rel' or 'abs', but given {threshold_mode!r}"
            )
        if not 0.0 <= factor < 1.0:
            raise ValueError(f"Factor should be < 1.0 (and >= 0), but given {factor}")
        n_groups = len(self.optimizer_param_groups)
        if isinstance(min_lr, (list, tuple)):
            if param_group_index is not None:
                raise TypeError(
                    "When param_group_index is given, min_lr should be a float, "
                    f"but given {type(min_lr)}"
                )
            if len(min_lr) != n_groups:
                raise ValueError(f"Argument min_lr should have {n_groups} values, got {min_lr}")
            self.min_lrs = [float(v) for v in min_lr]
        else:
            self.min_lrs = [float(min_lr)] * n_groups
        if verbose is not None:
            warnings.warn(
                "Found verbose=True in provided scheduler_kwargs. "
                "It would be set to False. Please use save_history instead.",
                stacklevel=2,
            )
        self.metric_name = metric_name
        self.trainer = trainer
        self.mode, self.factor, self.patience = mode, factor, patience
        self.threshold, self.threshold_mode = threshold, threshold_mode
        self.cooldown, self.eps = cooldown, eps
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs = 0
        self.cooldown_counter = 0

    def _improves(self, value: float) -> bool:
        # torch's formulas, so that a negative best behaves as there (rel: the bar moves
        # toward 0 with the sign of best)
        sign = -1.0 if self.mode == "min" else 1.0
        if self.threshold_mode == "rel":
            bar = self.best * (1.0 + sign * self.threshold)
        else:
            bar = self.best + sign * self.threshold
        return value < bar if self.mode == "min" else value > bar

    def __call__(self, engine: Engine | None, name: str | None = None) -> None:
        metrics = getattr(getattr(engine, "state", None), "metrics", None)
        if not isinstance(metrics, Mapping) or self.metric_name not in metrics:
            raise ValueError(
                "Argument engine should have in its 'state', attribute 'metrics' which itself "
                f"has the metric {self.metric_name}."
            )
        value = float(metrics[self.metric_name])
        if self._improves(value):
            self.best, self.num_bad_epochs = value, 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            for group, min_lr in zip(self.optimizer_param_groups, self.min_lrs, strict=True):
                new_lr = max(group["lr"] * self.factor, min_lr)
                if group["lr"] - new_lr > self.eps:
                    group["lr"] = new_lr
            self.cooldown_counter, self.num_bad_epochs = self.cooldown, 0
        super().__call__(self.trainer, name)

    def get_param(self) -> float | list[float]:
        """The current rates (one number if there is one group): this scheduler sets them."""
        return _one_or_list([group["lr"] for group in self.optimizer_param_groups])

    @classmethod
    def simulate_values(  # type: ignore[override]
        cls, num_events: int, metric_values: list[float], init_lr: float, **scheduler_kwargs: Any
    ) -> list[list[Any]]:
        """Rates over ``num_events`` calls that see ``metric_values``, as ``[index, lr]``.

        Args:
            num_events: how many calls to simulate.
            metric_values: the metric at each call (``num_events`` values).
            init_lr: the rate to start from.
            scheduler_kwargs: other arguments of the constructor (``optimizer``,
                ``metric_name`` and ``save_history`` are ignored).
        """
        if len(metric_values) != num_events:
            raise ValueError(
                "Length of argument metric_values should be equal to num_events. "
                f"{len(metric_values)} != {num_events}"
            )
        for key in ("optimizer", "metric_name", "save_history"):
            scheduler_kwargs.pop(key, None)
        optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=init_lr)
        scheduler = cls(optimizer, "metric", save_history=False, **scheduler_kwargs)
        engine = Engine(lambda engine, batch: None)
        values = []
        for i, metric in enumerate(metric_values):
            engine.state.metrics["metric"] = metric
            scheduler(engine)
            values.append([i, optimizer.param_groups[0]["lr"]])
        return values


class BatchSizeScheduler(BaseParamScheduler):
    """Set a DataLoader's batch size to ``scheduler_fn(event_index)`` at each event.

    The new size applies from the next pass over the data, so attach it to
    ``EPOCH_STARTED`` (the default). Note that the engine's ``epoch_length`` stays what it
    was at the start of the run: give ``epoch_length`` to ``run()`` if the number of batches
    per epoch should not follow ``len(dataloader)`` of the first epoch.

    Args:
        dataloader: a ``DataLoader`` with a ``BatchSampler`` (i.e. made with ``batch_size``).
        scheduler_fn: ``event_index -> batch size`` (a positive int).
        save_history: record the sizes into ``engine.state.param_history["batch_size"]``.

    Example:
        >>> from torch.utils.data import DataLoader
        >>> loader = DataLoader(list(range(8)), batch_size=2)
        >>> scheduler = BatchSizeScheduler(loader, scheduler_fn=lambda i: 2 * (i + 1))
        >>> scheduler(None); scheduler(None)
        >>> [len(batch) for batch in loader]
        [4, 4]
    """

    def __init__(
        self,
        dataloader: DataLoader,
        scheduler_fn: Callable[[int], int],
        save_history: bool = False,
    ):
        super().__init__("batch_size", save_history)
        if not isinstance(dataloader, DataLoader):
            raise TypeError(
                "Argument dataloader should be torch.utils.data.DataLoader, "
                f"but given {type(dataloader)}"
            )
        if not isinstance(dataloader.batch_sampler, BatchSampler):
            raise ValueError(
                "Argument dataloader should have a BatchSampler, i.e. dataloader.batch_sampler "
                "should be an instance of torch.utils.data.sampler.BatchSampler"
            )
        if not callable(scheduler_fn):
            raise TypeError(
                f"Argument scheduler_fn should be callable, but given {type(scheduler_fn)}"
            )
        self.dataloader = dataloader
        self.scheduler_fn = scheduler_fn

    def __call__(self, engine: Engine | None) -> None:
        size = self.get_param()
        if not isinstance(size, int) or size < 1:
            raise ValueError(
                "Batch size returned by scheduler_fn should be a positive integer, "
                f"but given {size}"
            )
        self.dataloader.batch_sampler.batch_size = size  # type: ignore[union-attr]
        if self.save_history and engine is not None:
            _history(engine, self.param_name).append(size)
        self.event_index += 1

    def get_param(self) -> int:
        """The batch size for the current ``event_index``."""
        return self.scheduler_fn(self.event_index)

    def attach(self, engine: Engine, event: Any = Events.EPOCH_STARTED) -> None:
        """Call this scheduler on ``event`` of ``engine`` (default ``EPOCH_STARTED``).

        Args:
            engine: the trainer.
            event: when to change the batch size.
        """
        engine.add_event_handler(event, self)

    @classmethod
    def simulate_values(cls, num_events: int, **scheduler_kwargs: Any) -> list[list[Any]]:
        """``[index, scheduler_fn(index)]`` for ``num_events`` events.

        Args:
            num_events: how many events to simulate.
            scheduler_kwargs: must contain ``scheduler_fn``.
        """
        if "scheduler_fn" not in scheduler_kwargs:
            raise ValueError("Argument scheduler_kwargs must contain 'scheduler_fn'")
        fn = scheduler_kwargs["scheduler_fn"]
        return [[i, fn(i)] for i in range(num_events)]


def create_lr_scheduler_with_warmup(
    lr_scheduler: ParamScheduler | TorchLRScheduler,
    warmup_start_value: float,
    warmup_duration: int,
    warmup_end_value: float | None = None,
    save_history: bool = False,
    output_simulated_values: list[Any] | None = None,
) -> ConcatScheduler:
    """Prepend a linear warm-up of ``warmup_duration`` events to a learning-rate scheduler.

    The rate goes linearly from ``warmup_start_value`` to ``warmup_end_value`` (default: each
    group's current rate) over ``warmup_duration`` events, then ``lr_scheduler`` takes over.
    If the scheduler's first rate differs from ``warmup_end_value``, one extra event sets that
    first rate, so neither end point is skipped; a torch scheduler then continues from its
    second value.

    Args:
        lr_scheduler: the scheduler after the warm-up: a ``ParamScheduler`` or a torch one.
        warmup_start_value: rate at the first event.
        warmup_duration: warm-up length in events, at least 2.
        warmup_end_value: rate at the last warm-up event (default: the optimizer's rate).
        save_history: also record the values into ``engine.state.param_history``.
        output_simulated_values: a list (e.g. ``[None] * 100``) to fill with the first
            ``len(list)`` simulated ``[index, value]`` pairs.

    Example:
        >>> import torch
        >>> from torch.optim.lr_scheduler import ExponentialLR
        >>> opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
        >>> values = [None] * 5
        >>> _ = create_lr_scheduler_with_warmup(
        ...     ExponentialLR(opt, gamma=0.98), warmup_start_value=0.0, warmup_duration=3,
        ...     warmup_end_value=0.1, output_simulated_values=values)
        >>> [round(v, 5) for _, v in values]
        [0.0, 0.05, 0.1, 0.098, 0.09604]
    """
    if not isinstance(lr_scheduler, (ParamScheduler, TorchLRScheduler)):
        raise TypeError(
            "Argument lr_scheduler should be a subclass of "
            f"torch.optim.lr_scheduler.{TorchLRScheduler.__name__} or ParamScheduler, "
            f"but given {type(lr_scheduler)}"
        )
    if not isinstance(warmup_duration, int):
        raise TypeError(f"Argument warmup_duration should be integer, but given {warmup_duration}")
    if not warmup_duration > 1:
        raise ValueError(
            f"Argument warmup_duration should be at least 2 events, but given {warmup_duration}"
        )
    if output_simulated_values is not None and not isinstance(output_simulated_values, list):
        raise TypeError(
            "Argument output_simulated_values should be a list of None, e.g. `[None] * 100`, "
            f"but given {type(output_simulated_values)}."
        )
    optimizer = lr_scheduler.optimizer
    is_torch = isinstance(lr_scheduler, TorchLRScheduler)
    first = None if is_torch else lr_scheduler.get_param()  # type: ignore[union-attr]
    warmups: list[ParamScheduler] = []
    length = 0
    for index, group in enumerate(optimizer.param_groups):
        end = group["lr"] if warmup_end_value is None else warmup_end_value
        milestones = [(0, warmup_start_value), (warmup_duration - 1, end)]
        if is_torch:
            if group["lr"] != end:
                milestones.append((warmup_duration, group["lr"]))
        elif (first[index] if isinstance(first, list) else first) == end:
            # The scheduler starts at the warm-up's end value: stop the warm-up one event
            # early (on the same line) so that value is not used twice.
            if warmup_duration > 2:
                step = (end - warmup_start_value) / (warmup_duration - 1)
                milestones[-1] = (warmup_duration - 2, end - step)
            else:
                milestones.pop()
        length = max(length, milestones[-1][0] + 1)
        warmups.append(
            PiecewiseLinear(optimizer, "lr", milestones, save_history, param_group_index=index)
        )
    after: ParamScheduler
    if is_torch:
        after = LRScheduler(lr_scheduler, save_history=save_history)  # type: ignore[arg-type]
        after._step_first = True  # its first value was already set by the warm-up
    else:
        after = lr_scheduler  # type: ignore[assignment]
    schedulers: list[Any] = [ParamGroupScheduler(warmups, save_history=save_history), after]
    combined = ConcatScheduler(schedulers, durations=[length], save_history=save_history)
    if output_simulated_values is not None:
        n = len(output_simulated_values)
        simulated = ConcatScheduler.simulate_values(n, schedulers=schedulers, durations=[length])
        output_simulated_values[:] = simulated
    return combined
