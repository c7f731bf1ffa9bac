"""Ignite's old path of ``miniengine.handlers.lr_finder``, kept for ported code.

Importing this module warns (``DeprecationWarning``), as Ignite's old module does.

Example:
    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     from miniengine.contrib.handlers.lr_finder import FastaiLRFinder
    >>> import miniengine.handlers.lr_finder
    >>> FastaiLRFinder is miniengine.handlers.lr_finder.FastaiLRFinder
    True
"""

from miniengine.contrib import _warn_moved
from miniengine.handlers.lr_finder import FastaiLRFinder

__all__ = ["FastaiLRFinder"]

_warn_moved(__name__, "miniengine.handlers.lr_finder")
