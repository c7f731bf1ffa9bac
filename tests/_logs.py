"""Test helper shared by the handlers that log (EarlyStopping, TerminateOnNan, TimeLimit)."""

from __future__ import annotations

import logging


def records_of(logger: logging.Logger, run, *args, **kwargs) -> list[logging.LogRecord]:
    """The records ``logger`` handles during ``run(*args, **kwargs)``, DEBUG included."""
    got: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = got.append  # type: ignore[method-assign]
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        run(*args, **kwargs)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    return got
