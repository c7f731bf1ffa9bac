"""State parameter schedulers: change a value on ``engine.state`` as training goes on.

Where the schedulers of ``param_scheduler`` write into an optimizer, these write an attribute
of ``engine.state`` (an EMA decay, a loss weight, a temperature) that other handlers read.
Each time its event fires, a state scheduler counts first and then sets the value::

    event_index += 1
    setattr(engine.state, param_name, get_param())

So the first event gets the schedule's value at index 1, not 0 (the optimizer schedulers
count after setting, so theirs starts at 0): after epoch ``k`` of a scheduler attached to
``EPOCH_COMPLETED``, ``engine.state.<param_name>`` is the schedule's value at ``k``.
"""

from __future__ import annotations

import numbers
import warnings
from bisect import bisect_right
from collections.abc import Callable, Sequence
from typing import Any

from miniengine.engine import Engine, Events
from miniengine.handlers.param_scheduler import (
    BaseParamScheduler,
    PiecewiseLinear,
    _fake_optimizer,
    _history,
)

__all__ = [
    "ExpStateScheduler",
    "LambdaStateScheduler",
    "MultiStepStateScheduler",
    "PiecewiseLinearStateScheduler",
    "StateParamScheduler",
    "StepStateScheduler",
]


class StateParamScheduler(BaseParamScheduler):
    """Base class: sets ``engine.state.<param_name>`` to ``get_param()`` at each event.

    The values depend only on the scheduler's own counter, never on what the attribute held
    before: another handler may create the attribute, the scheduler overwrites it.

    Args:
        param_name: the attribute of ``engine.state`` to set.
        save_history: also append each value to ``engine.state.param_history[param_name]``.
        create_new: say that the scheduler creates the attribute. ``attach`` then refuses an
            engine whose state already has it (two handlers fighting over one name); without
            it, ``attach`` warns when the attribute does not exist yet, and creates it.

    Example:
        >>> from miniengine.engine import Engine, Events
        >>> class Count(StateParamScheduler):
        ...     def get_param(self):
        ...         return self.event_index
        >>> trainer = Engine(lambda engine, batch: None)
        >>> Count("n", create_new=True).attach(trainer, Events.EPOCH_COMPLETED)
        >>> trainer.run([0, 0], max_epochs=3).n
        3
    """

    def __init__(self, param_name: str, save_history: bool = False, create_new: bool = False):
        if not isinstance(param_name, str):
            raise TypeError(f"Argument param_name should be a string, but given {param_name!r}")
        super().__init__(param_name, save_history)
        self.create_new = create_new

    def attach(self, engine: Engine, event: Any = Events.ITERATION_COMPLETED) -> None:
        """Create ``engine.state.<param_name>`` (as ``None``) and update it on ``event``.

        Args:
            engine: the engine whose state holds the value.
            event: when to update the value (default ``Events.ITERATION_COMPLETED``).

        Raises:
            ValueError: ``create_new=True`` and the state already has the attribute.

        Example:
            >>> from miniengine.engine import Engine
            >>> trainer = Engine(lambda engine, batch: None)
            >>> ExpStateScheduler(1.0, 0.5, "alpha", create_new=True).attach(trainer)
            >>> trainer.state.alpha is None
            True
            >>> trainer.run([0] * 3).alpha
            0.125
        """
        if hasattr(engine.state, self.param_name):
            if self.create_new:
                raise ValueError(
                    f"Attribute '{self.param_name}' already exists in the engine.state. "
                    "This may be a conflict between multiple handlers. Please choose another name."
                )
        else:
            if not self.create_new:
                warnings.warn(
                    f"Attribute '{self.param_name}' is not defined in the engine.state. "
                    f"{type(self).__name__} will create it. "
                    "Remove this warning by setting create_new=True.",
                    stacklevel=2,
                )
            setattr(engine.state, self.param_name, None)
        if self.save_history:
            _history(engine, self.param_name)
        engine.add_event_handler(event, self)

    def _next(self) -> Any:
        self.event_index += 1
        return self.get_param()

    def __call__(self, engine: Engine) -> None:
        value = self._next()
        setattr(engine.state, self.param_name, value)
        if self.save_history:
            _history(engine, self.param_name).append(value)

    @classmethod
    def simulate_values(cls, num_events: int, **scheduler_kwargs: Any) -> list[list[Any]]:
        """The values of ``num_events`` events as ``[i, value]`` rows (``i`` from 0).

        Args:
            num_events: how many events to simulate.
            scheduler_kwargs: the constructor's arguments (``save_history`` is ignored).

        Example:
            >>> StepStateScheduler.simulate_values(
            ...     4, param_name="p", initial_value=8.0, gamma=0.5, step_size=2)
            [[0, 8.0], [1, 4.0], [2, 4.0], [3, 2.0]]
        """
        kwargs = {k: v for k, v in scheduler_kwargs.items() if k != "save_history"}
        scheduler = cls(**kwargs)
        return [[i, scheduler._next()] for i in range(num_events)]


class LambdaStateScheduler(StateParamScheduler):
    """Set the value to ``lambda_obj(event_index)``.

    Args:
        lambda_obj: any callable from the event index (1 at the first event) to the value.
        param_name: the attribute of ``engine.state`` to set.
        save_history: also record the values into ``engine.state.param_history``.
        create_new: the scheduler creates the attribute (see ``StateParamScheduler``).

    Example:
        >>> values = LambdaStateScheduler.simulate_values(
        ...     5, lambda_obj=lambda i: i % 3, param_name="p", create_new=True)
        >>> [value for _, value in values]
        [1, 2, 0, 1, 2]
    """

    _state_attrs = StateParamScheduler._state_attrs + ("lambda_obj",)

    def __init__(
        self,
        lambda_obj: Callable[[int], Any],
        param_name: str,
        save_history: bool = False,
        create_new: bool = False,
    ):
        super().__init__(param_name, save_history, create_new)
        if not callable(lambda_obj):
            raise ValueError(
                f"Expected lambda_obj to be callable. But given {type(lambda_obj)}: {lambda_obj!r}"
            )
        self.lambda_obj = lambda_obj

    def get_param(self) -> Any:
        """``lambda_obj(event_index)``."""
        return self.lambda_obj(self.event_index)


class PiecewiseLinearStateScheduler(StateParamScheduler):
    """Interpolate linearly between ``(event_index, value)`` milestones.

    Before the first milestone the value is the first value, after the last one the last
    value; two milestones at the same index make a jump. The values are floats, as in Ignite.

    Args:
        milestones_values: ``(event_index, value)`` pairs with non-decreasing integer indices.
        param_name: the attribute of ``engine.state`` to set.
        save_history: also record the values into ``engine.state.param_history``.
        create_new: the scheduler creates the attribute (see ``StateParamScheduler``).

    Example:
        >>> values = PiecewiseLinearStateScheduler.simulate_values(
        ...     6, milestones_values=[(2, 0), (4, 1)], param_name="p", create_new=True)
        >>> [value for _, value in values]
        [0.0, 0.0, 0.5, 1.0, 1.0, 1.0]
    """

    # `_index` is Ignite's segment counter: saved so that Ignite loads our state dicts (and
    # ours loads Ignite's); here it is only derived from event_index.
    _state_attrs = StateParamScheduler._state_attrs + ("values", "milestones", "_index")

    def __init__(
        self,
        milestones_values: list[tuple[int, float]],
        param_name: str,
        save_history: bool = False,
        create_new: bool = False,
    ):
        super().__init__(param_name, save_history, create_new)
        # The optimizer scheduler checks the milestones and does the arithmetic; the optimizer
        # it would drive is a stand-in that nothing reads.
        self._curve = PiecewiseLinear(_fake_optimizer(), "value", milestones_values)
        self.milestones = list(self._curve.milestones)
        self.values = list(self._curve.values)

    @property
    def _index(self) -> int:
        # Ignite moves its counter to the segment of each event index it computes a value
        # for (1, 2, ...), but only for indices in [first milestone, last milestone).
        ms = self.milestones
        e = min(self.event_index, ms[-1] - 1)
        return 0 if e < max(1, ms[0]) else bisect_right(ms, e) - 1

    @_index.setter
    def _index(self, value: int) -> None:
        pass  # derived from event_index

    def get_param(self) -> float:
        """The interpolated value at the current ``event_index``."""
        curve = self._curve
        curve.event_index, curve.milestones, curve.values = (
            self.event_index,
            self.milestones,
            self.values,
        )
        # Ignite computes `v + (v - v) * ...` on flat stretches: a float even for int values.
        return curve.get_param() + 0.0


class ExpStateScheduler(StateParamScheduler):
    """Set the value to ``initial_value * gamma ** event_index`` (as torch's ``ExponentialLR``).

    Args:
        initial_value: the value at event index 0 (the first event gets one decay already).
        gamma: the factor applied at each event.
        param_name: the attribute of ``engine.state`` to set.
        save_history: also record the values into ``engine.state.param_history``.
        create_new: the scheduler creates the attribute (see ``StateParamScheduler``).

    Example:
        >>> values = ExpStateScheduler.simulate_values(
        ...     3, initial_value=1.0, gamma=0.5, param_name="p", create_new=True)
        >>> [value for _, value in values]
        [0.5, 0.25, 0.125]
    """

    _state_attrs = StateParamScheduler._state_attrs + ("initial_value", "gamma")

    def __init__(
        self,
        initial_value: float,
        gamma: float,
        param_name: str,
        save_history: bool = False,
        create_new: bool = False,
    ):
        super().__init__(param_name, save_history, create_new)
        self.initial_value = initial_value
        self.gamma = gamma

    def get_param(self) -> float:
        """``initial_value * gamma ** event_index``."""
        return self.initial_value * self.gamma**self.event_index


class StepStateScheduler(StateParamScheduler):
    """Multiply the value by ``gamma`` every ``step_size`` events (as torch's ``StepLR``).

    The value is ``initial_value * gamma ** (event_index // step_size)``.

    Args:
        initial_value: the value before the first decay.
        gamma: the factor applied at each decay.
        step_size: the number of events between decays, a positive integer.
        param_name: the attribute of ``engine.state`` to set.
        save_history: also record the values into ``engine.state.param_history``.
        create_new: the scheduler creates the attribute (see ``StateParamScheduler``).

    Example:
        >>> values = StepStateScheduler.simulate_values(
        ...     5, initial_value=1.0, gamma=0.5, step_size=2, param_name="p", create_new=True)
        >>> [value for _, value in values]
        [1.0, 0.5, 0.5, 0.25, 0.25]
    """

    _state_attrs = StateParamScheduler._state_attrs + ("initial_value", "gamma", "step_size")

    def __init__(
        self,
        initial_value: float,
        gamma: float,
        step_size: int,
        param_name: str,
        save_history: bool = False,
        create_new: bool = False,
    ):
        super().__init__(param_name, save_history, create_new)
        if not isinstance(step_size, numbers.Integral) or step_size < 1:
            raise ValueError(
                f"Argument step_size should be a positive integer, but given {step_size!r}"
            )
        self.initial_value: float = initial_value
        self.gamma: float = gamma
        self.step_size: int = step_size

    def get_param(self) -> float:
        """``initial_value * gamma ** (event_index // step_size)``."""
        return self.initial_value * self.gamma ** (self.event_index // self.step_size)


class MultiStepStateScheduler(StateParamScheduler):
    """Multiply the value by ``gamma`` at each milestone (as torch's ``MultiStepLR``).

    The value is ``initial_value * gamma ** (number of milestones <= event_index)``; a milestone
    given twice decays twice.

    Args:
        initial_value: the value before the first milestone.
        gamma: the factor applied at each milestone.
        milestones: event indices, non-decreasing integers.
        param_name: the attribute of ``engine.state`` to set.
        save_history: also record the values into ``engine.state.param_history``.
        create_new: the scheduler creates the attribute (see ``StateParamScheduler``).

    Example:
        >>> values = MultiStepStateScheduler.simulate_values(
        ...     5, initial_value=1.0, gamma=0.5, milestones=[2, 4], param_name="p", create_new=True)
        >>> [value for _, value in values]
        [1.0, 0.5, 0.5, 0.25, 0.25]
    """

    _state_attrs = StateParamScheduler._state_attrs + ("initial_value", "gamma", "milestones")

    def __init__(
        self,
        initial_value: float,
        gamma: float,
        milestones: list[int],
        param_name: str,
        save_history: bool = False,
        create_new: bool = False,
    ):
        super().__init__(param_name, save_history, create_new)
        if not isinstance(milestones, Sequence):
            raise TypeError(
                f"Argument milestones should be a list or tuple, but given {type(milestones)}"
            )
        for i, milestone in enumerate(milestones):
            if not isinstance(milestone, numbers.Integral):
                raise TypeError(
                    f"Value of a milestone should be integer, but given {type(milestone)}"
                )
            # bisect needs them sorted: out of order, Ignite silently gives wrong values
            if i > 0 and milestone < milestones[i - 1]:
                raise ValueError(
                    f"Milestones should be increasing integers, but given {milestone} is smaller "
                    f"than the previous milestone {milestones[i - 1]}"
                )
        self.initial_value = initial_value
        self.gamma = gamma
        self.milestones = list(milestones)

    def get_param(self) -> float:
        """``initial_value * gamma ** (number of milestones <= event_index)``."""
        return self.initial_value * self.gamma ** bisect_right(self.milestones, self.event_index)
