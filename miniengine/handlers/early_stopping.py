"""EarlyStopping: stop training when a score has not improved for a while."""

from __future__ import annotations

import warnings
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any, Literal

from miniengine.engine import Engine, Events
from miniengine.utils import setup_logger

__all__ = ["EarlyStopping"]


def _warn_old_name(old: str, new: str) -> None:
    warnings.warn(
        f"'{old}' is deprecated and will be removed in a future version. Please use '{new}' "
        "instead.",
        DeprecationWarning,
        stacklevel=3,
    )


def _old_name(old: str, new: str) -> Any:
    """A property ``old`` that reads and writes attribute ``new``, warning each time."""

    def get(self: Any) -> Any:
        _warn_old_name(old, new)
        return getattr(self, new)

    def set(self: Any, value: Any) -> None:
        _warn_old_name(old, new)
        setattr(self, new, value)

    return property(get, set)


class EarlyStopping:
    """Terminate ``trainer`` after ``patience`` calls without improvement of a score.

    Each call computes ``score = score_function(engine)`` (usually on the evaluator, after
    it completes). The first score becomes the best one. A later score improves on it when,
    for ``mode="max"``, it exceeds ``best + threshold`` (``threshold_mode="abs"``) or
    ``best * (1 + threshold)`` (``"rel"``); for ``mode="min"`` the signs flip. An improvement
    becomes the new best and resets the counter; anything else counts one. Without
    ``cumulative``, a score that is better than the best by less than the threshold still
    becomes the new best (so slow, steady progress stops training); with it, the best only
    moves on a real improvement. Stopping logs "EarlyStopping: Stop training" at INFO on stderr
    (logger ``miniengine.handlers.early_stopping.EarlyStopping``, made by ``setup_logger``).

    Args:
        patience: calls without improvement to tolerate before stopping (>= 1).
        score_function: ``score_function(engine) -> float``, higher is better with ``"max"``.
        trainer: the engine to terminate.
        threshold: the smallest change that counts as an improvement (>= 0).
        cumulative: measure the change from the best score, not from the last one.
        threshold_mode: ``"abs"`` or ``"rel"``, see above.
        mode: ``"max"`` or ``"min"``.
        min_delta: deprecated name of ``threshold``; overrides it when given.
        min_delta_mode: deprecated name of ``threshold_mode``; overrides it when given.
        cumulative_delta: deprecated name of ``cumulative``; overrides it when given.

    Example:
        >>> from miniengine.engine import Engine, Events
        >>> scores = iter([0.5, 0.6, 0.6, 0.55, 0.7])
        >>> trainer = Engine(lambda engine, batch: None)
        >>> stop = EarlyStopping(2, lambda engine: next(scores), trainer)
        >>> _ = trainer.add_event_handler(Events.EPOCH_COMPLETED, stop)
        >>> trainer.run([0], max_epochs=10).epoch
        4
    """

    def __init__(
        self,
        patience: int,
        score_function: Callable[[Engine], float],
        trainer: Engine,
        threshold: float = 0.0,
        cumulative: bool = False,
        threshold_mode: Literal["abs", "rel"] = "abs",
        mode: Literal["min", "max"] = "max",
        min_delta: float | None = None,
        min_delta_mode: Literal["abs", "rel"] | None = None,
        cumulative_delta: bool | None = None,
    ):
        if not callable(score_function):
            raise TypeError("Argument score_function should be a function.")
        if patience < 1:
            raise ValueError("Argument patience should be positive integer.")
        if not isinstance(trainer, Engine):
            raise TypeError("Argument trainer should be an instance of Engine.")
        if min_delta is not None:
            _warn_old_name("min_delta", "threshold")
            threshold = min_delta
        if min_delta_mode is not None:
            _warn_old_name("min_delta_mode", "threshold_mode")
            threshold_mode = min_delta_mode
        if cumulative_delta is not None:
            _warn_old_name("cumulative_delta", "cumulative")
            cumulative = cumulative_delta
        if threshold < 0.0:
            raise ValueError("Argument threshold should not be a negative number.")
        if threshold_mode not in ("abs", "rel"):
            raise ValueError("Argument threshold_mode should be either 'abs' or 'rel'.")
        if mode not in ("min", "max"):
            raise ValueError("Argument mode should be either 'min' or 'max'.")
        self.patience = patience
        self.score_function = score_function
        self.trainer = trainer
        self.threshold = threshold
        self.cumulative = cumulative
        self.threshold_mode = threshold_mode
        self.mode = mode
        self.counter = 0
        self.best_score: float | None = None
        # as Ignite's: "EarlyStopping: Stop training" reaches stderr without any logging set-up
        self.logger = setup_logger(f"{__name__}.{type(self).__name__}")

    # The older argument names stay readable and writable as attributes, with a warning.
    min_delta = _old_name("min_delta", "threshold")
    min_delta_mode = _old_name("min_delta_mode", "threshold_mode")
    cumulative_delta = _old_name("cumulative_delta", "cumulative")

    def __call__(self, engine: Engine) -> None:
        score = self.score_function(engine)
        if self.best_score is None:
            self.best_score = score
            return
        sign = 1 if self.mode == "max" else -1
        if self.threshold_mode == "abs":
            bar = self.best_score + sign * self.threshold
        else:
            bar = self.best_score * (1 + sign * self.threshold)
        improved = score > bar if self.mode == "max" else score < bar
        if improved:
            self.best_score = score
            self.counter = 0
            return
        if not self.cumulative:
            pick = max if self.mode == "max" else min
            self.best_score = pick(score, self.best_score)
        self.counter += 1
        self.logger.debug("EarlyStopping: %i / %i", self.counter, self.patience)
        if self.counter >= self.patience:
            self.logger.info("EarlyStopping: Stop training")
            self.trainer.terminate()

    def reset(self) -> None:
        """Forget the best score and the counter (e.g. when a new training run starts)."""
        self.counter = 0
        self.best_score = None

    def attach(
        self,
        engine: Engine,
        event: Any = Events.COMPLETED,
        reset_engine: Engine | None = None,
        reset_event: Any = Events.STARTED,
    ) -> None:
        """Check the score on ``event`` of ``engine``; reset on ``reset_event``.

        Args:
            engine: usually the evaluator.
            event: when to compute the score (default ``COMPLETED``).
            reset_engine: the engine whose ``reset_event`` resets this handler (default:
                ``engine``; pass the trainer to keep the count across evaluations).
            reset_event: default ``STARTED``.
        """
        engine.add_event_handler(event, self)
        (reset_engine or engine).add_event_handler(reset_event, self.reset)

    def state_dict(self) -> OrderedDict[str, Any]:
        """``counter``, ``best_score`` and ``threshold_mode``: what a resumed run needs."""
        return OrderedDict(
            counter=self.counter, best_score=self.best_score, threshold_mode=self.threshold_mode
        )

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore the state saved by ``state_dict()``.

        Args:
            state_dict: a mapping with ``counter`` and ``best_score`` (and optionally
                ``threshold_mode``).
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(
                f"Argument state_dict should be a dictionary, but given {type(state_dict)}"
            )
        for key in ("counter", "best_score"):
            if key not in state_dict:
                raise ValueError(
                    f"Required state attribute '{key}' is absent in provided state_dict "
                    f"'{state_dict.keys()}'"
                )
        self.counter = state_dict["counter"]
        self.best_score = state_dict["best_score"]
        self.threshold_mode = state_dict.get("threshold_mode", self.threshold_mode)
