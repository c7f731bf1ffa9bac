"""Ignite's ``contrib`` paths, kept so that ported code imports unchanged.

Ignite 0.5 moved most of ``ignite.contrib`` into ``ignite.handlers`` and ``ignite.metrics`` but
still serves the old paths. miniengine does the same: ``miniengine.contrib.handlers`` and
``miniengine.contrib.metrics`` re-export what miniengine has, and
``miniengine.contrib.engines.common`` holds ``setup_common_training_handlers`` and friends.
Importing one of the old *submodules* (``miniengine.contrib.handlers.tensorboard_logger``)
warns with a ``DeprecationWarning`` naming the new path, as Ignite's do.

Example:
    >>> from miniengine.contrib.handlers import ProgressBar
    >>> from miniengine.handlers import ProgressBar as Same
    >>> ProgressBar is Same
    True
"""

from __future__ import annotations

import importlib
import warnings
from types import ModuleType

from miniengine._missing import missing_name

_SUBPACKAGES = ("engines", "handlers", "metrics")
__all__: list[str] = []  # the public names live in the subpackages


def _warn_moved(old: str, new: str) -> None:
    ignite_old, ignite_new = (p.replace("miniengine.", "ignite.", 1) for p in (old, new))
    warnings.warn(
        f"{old} is kept for code ported from Ignite, whose {ignite_old} has moved to "
        f"{ignite_new} and will be removed in version 0.6.0. Import from {new} instead.",
        DeprecationWarning,
        stacklevel=3,  # past this function and the old module: the line that imported it
    )


def __getattr__(name: str) -> ModuleType:
    if name in _SUBPACKAGES:
        return importlib.import_module(f"{__name__}.{name}")
    raise missing_name(__name__, name)
