"""Ignite's old path of ``miniengine.handlers.tqdm_logger``, kept for ported code.

Importing this module warns (``DeprecationWarning``), as Ignite's old module does.

Example:
    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     from miniengine.contrib.handlers.tqdm_logger import ProgressBar
    >>> import miniengine.handlers.tqdm_logger
    >>> ProgressBar is miniengine.handlers.tqdm_logger.ProgressBar
    True
"""

from miniengine.contrib import _warn_moved
from miniengine.handlers.tqdm_logger import ProgressBar

__all__ = ["ProgressBar"]

_warn_moved(__name__, "miniengine.handlers.tqdm_logger")
