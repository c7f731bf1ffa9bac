"""Exceptions that miniengine raises on purpose (Ignite's ``ignite.exceptions``).

Example:
    >>> from miniengine.exceptions import NotComputableError
    >>> from miniengine.metrics import Accuracy
    >>> try:
    ...     Accuracy().compute()
    ... except NotComputableError as e:
    ...     print(e)
    Accuracy must have at least one example before it can be computed.
"""

from __future__ import annotations

__all__ = ["NotComputableError"]


class NotComputableError(RuntimeError):
    """Raised by a metric's ``compute()`` when it has not seen enough data to give a value.

    A subclass of ``RuntimeError``, as in Ignite, so ``except RuntimeError`` catches it too.

    Example:
        >>> issubclass(NotComputableError, RuntimeError)
        True
    """
