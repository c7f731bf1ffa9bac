"""ProgressBar: a tqdm bar per epoch, with chosen metrics and output in its postfix.

tqdm is an optional dependency: ``pip install tqdm``. For logs that are not a terminal, see also
``LogProgress``, which needs nothing.
"""

from __future__ import annotations

import sys
from typing import Any

from miniengine.engine import Engine
from miniengine.handlers.log_progress import (
    _collect,
    _count_attr,
    _description,
    _ProgressDisplay,
    _total,
)

__all__ = ["ProgressBar"]

# Seconds between redraws when the output is not a terminal (a CI log or a file), where each
# redraw stays in the log for good. tqdm's own default, 0.1 s, suits terminals.
NON_TTY_MININTERVAL = 30.0


def _tqdm_class() -> Any:
    try:
        from tqdm.autonotebook import tqdm  # type: ignore[import-untyped]  # as Ignite
    except ImportError as e:
        raise ModuleNotFoundError(
            "This submodule requires tqdm to be installed (an optional dependency of "
            "miniengine): `pip install tqdm`; or use miniengine.handlers.LogProgress, which "
            "needs nothing."
        ) from e
    return tqdm


def _is_tty(stream: Any) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # a closed file
        return False


class ProgressBar(_ProgressDisplay):
    """Show an engine's progress with tqdm: one bar per epoch (by default).

    The bar advances on ``event_name`` and closes on ``closing_event_name``. Its postfix shows
    the chosen metrics, the transformed output and state attributes (numbers, 0-d and 1-d
    tensors, strings; dicts and sequences are flattened into ``name_key`` entries). The bar
    and its postfix are updated only when tqdm is due to redraw (at most every
    ``mininterval`` seconds, tqdm's default 0.1 s) and at the end, so a step costs about one
    clock read.

    When the bar writes to something that is not a terminal (a CI log, a file), it redraws at
    most every 30 s (``NON_TTY_MININTERVAL``) unless ``mininterval`` is given, and it is kept
    at the end (cleared bars leave blank lines in a log): a log gets one line per epoch plus
    one per 30 s, never one per step.

    In a distributed run only one process shows a bar (rank 0 by default, read at ``attach``):
    the others would draw the same progress over it. Ignite's bar shows on every rank.

    Args:
        persist: keep the bar on screen once closed.
        bar_format: tqdm's ``bar_format``; ``None`` for tqdm's default layout.
        rank: the process that shows the bar; None for every process.
        tqdm_kwargs: passed on to ``tqdm`` (``file``, ``mininterval``, ``ncols``, ...). A
            ``desc`` replaces the default description ``"Epoch [e/E]"`` / ``"Iteration"``.

    Example:
        >>> import io
        >>> from miniengine.engine import Engine
        >>> out = io.StringIO()
        >>> trainer = Engine(lambda engine, batch: batch * 0.5)
        >>> ProgressBar(file=out).attach(trainer, output_transform=lambda x: {"loss": x})
        >>> _ = trainer.run([1.0, 2.0, 3.0, 4.0], max_epochs=2)
        >>> print(out.getvalue().replace("\\r", "\\n").strip().splitlines()[-1])
        Epoch [2/2]: [4/4] 100%|##########, loss=2 [00:00<00:00]
    """

    # Written once, in the shared base; named here so that the API reference shows it.
    attach = _ProgressDisplay.attach

    def __init__(
        self,
        persist: bool = False,
        bar_format: str | None = (
            "{desc}[{n_fmt}/{total_fmt}] {percentage:3.0f}%|{bar}{postfix} [{elapsed}<{remaining}]"
        ),
        rank: int | None = 0,
        **tqdm_kwargs: Any,
    ):
        self.pbar_cls = _tqdm_class()
        self.rank = rank
        self.pbar: Any = None
        self.persist = persist
        self.bar_format = bar_format
        self.tqdm_kwargs = tqdm_kwargs

    def _open(self, total: int | None, desc: str) -> Any:
        kwargs = dict(self.tqdm_kwargs)
        kwargs.pop("desc", None)
        leave = self.persist
        if not _is_tty(kwargs.get("file") or sys.stderr):
            kwargs.setdefault("mininterval", NON_TTY_MININTERVAL)
            leave = True
        # tqdm's set_description() would add the same ": ".
        self.pbar = self.pbar_cls(
            total=total, leave=leave, bar_format=self.bar_format, desc=f"{desc}: ", **kwargs
        )
        return self.pbar

    def _close(self, engine: Engine | None = None, fill: bool = True, show: tuple = ()) -> None:
        if self.pbar is not None and engine is not None:
            self._set_postfix(engine, show)
        if self.pbar is not None:
            if fill and self.pbar.total is not None:
                self.pbar.n = self.pbar.total
            self.pbar.close()
        self.pbar = None

    def log_message(self, message: str) -> None:
        """Print ``message`` above the bar without breaking it.

        Args:
            message: the text to print.
        """
        if self._shows_here():
            self.pbar_cls.write(message, file=self.tqdm_kwargs.get("file"))

    def _attach(self, engine: Engine, show: tuple, event_name: Any, closing: Any) -> None:
        step = _OutputHandler(self, show, event_name, closing)

        def ended() -> None:
            # A run cut short (terminate, interrupt, exception) must not leave its bar open for
            # the next run to continue; it shows where it stopped.
            if self.pbar is not None:
                self._set_postfix(engine, show)
                self.pbar.n = step.position(engine)
            self._close(fill=False)

        engine.add_event_handler(event_name, step)
        engine.add_event_handler(closing, self._close, show=show)
        engine.run_end_hooks.append(ended)

    def _set_postfix(self, engine: Engine, show: tuple) -> None:
        values = _collect(engine, *show)
        if values:
            self.pbar.set_postfix(values, refresh=False)


class _OutputHandler:
    """A bar's step: opens the bar at the first one, then moves it to the event's count. (A
    callable object named as Ignite's, so that profilers list the two bars' handlers alike.)"""

    def __init__(self, bar: ProgressBar, show: tuple, event_name: Any, closing: Any) -> None:
        self.bar, self.show, self.event_name, self.closing = bar, show, event_name, closing
        self.attr = _count_attr(event_name)

    def position(self, engine: Engine) -> int:
        count, total = getattr(engine.state, self.attr), self.bar.pbar.total
        return count if total is None else (count - 1) % total + 1

    def __call__(self, engine: Engine) -> None:
        bar, pbar = self.bar, self.bar.pbar
        if pbar is None:
            total = _total(engine, self.event_name)
            desc = _description(engine, bar.tqdm_kwargs.get("desc"), self.closing)
            pbar = bar._open(total, desc)
        # tqdm redraws at most every `mininterval` s: between redraws, skip the call to
        # update() and the postfix, so that a step costs one clock read.
        if pbar._time() - pbar.last_print_t >= pbar.mininterval:
            bar._set_postfix(engine, self.show)
            pbar.update(self.position(engine) - pbar.n)
