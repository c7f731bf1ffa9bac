"""The error for a name that a miniengine module lacks, pointing to the coverage table.

miniengine mirrors Ignite's module paths, so ``from miniengine.handlers import ClearMLLogger``
is what a ported script tries first. Such a name should fail with a hint to the table of Ignite
0.5.5's public names (implemented / deliberately not / not yet), not with a bare
``cannot import name``. A package opts in from its module ``__getattr__``:

    def __getattr__(name):
        raise missing_name(__name__, name)

Python offers no exception that serves both ways a missing name is looked up:

- ``from m import name`` looks the name up with ``getattr`` and, if that raises
  ``AttributeError``, drops it (message and all) for its own ``ImportError: cannot import
  name``. Only an ``ImportError`` raised by ``__getattr__`` reaches the user as it is.
- ``hasattr(m, name)`` and ``getattr(m, name, default)`` swallow only ``AttributeError``: an
  ``ImportError`` would escape them, and ``importlib`` itself calls ``hasattr`` on packages
  during ``from package import name``.

(``ImportError`` and ``AttributeError`` cannot be combined in one class: their instance
layouts conflict.) So ``missing_name`` looks at the code that asked: a ``from ... import``
statement gets an ``ImportError``, everything else an ``AttributeError``; both carry the
hint.
"""

from __future__ import annotations

import sys
from types import FrameType

__all__ = ["COVERAGE_PAGE", "missing_name"]

# The section of the docs that lists every public name of Ignite 0.5.5 and its status here.
COVERAGE_PAGE = "docs/differences.md#coverage-of-ignite-055s-public-names"


def _asked_by_from_import(frame: FrameType | None) -> bool:
    # Skip the module __getattr__ functions in between (a package may forward to another).
    while frame is not None and frame.f_code.co_name == "__getattr__":
        frame = frame.f_back
    if frame is None:
        return False
    import opcode  # only on this rare path: a missing name

    code, at = frame.f_code.co_code, frame.f_lasti
    # f_lasti is the byte offset of the instruction being run (the lookup itself); Python 3.10
    # points at its EXTENDED_ARG prefix when the name's index exceeds 255.
    while 0 <= at < len(code) and code[at] == opcode.EXTENDED_ARG:
        at += 2
    return 0 <= at < len(code) and code[at] == opcode.opmap["IMPORT_FROM"]


def missing_name(module: str, name: str) -> ImportError | AttributeError:
    """The error to raise from ``module.__getattr__`` for a ``name`` it does not have.

    Call it directly from the module's ``__getattr__`` (it inspects the code that asked).
    Public names get a hint to the coverage table; private and dunder names, which tools
    probe all the time, get Python's plain ``AttributeError``.

    Args:
        module: the module's ``__name__``.
        name: the attribute asked for.

    Returns:
        An ``ImportError`` when asked by ``from module import name``, else an
        ``AttributeError`` (so that ``hasattr`` is False).

    Example:
        >>> err = missing_name("miniengine.handlers", "ClearMLLogger")
        >>> type(err).__name__
        'AttributeError'
        >>> print(err)  # doctest: +NORMALIZE_WHITESPACE
        module 'miniengine.handlers' has no attribute 'ClearMLLogger'. miniengine does not
        have this name; for Ignite 0.5.5's public names and their status in miniengine, see
        docs/differences.md#coverage-of-ignite-055s-public-names
    """
    obj = sys.modules.get(module)  # lets Python suggest a close name ("Did you mean ...?")
    if name.startswith("_"):
        return AttributeError(f"module {module!r} has no attribute {name!r}", name=name, obj=obj)
    hint = (
        "miniengine does not have this name; for Ignite 0.5.5's public names and their "
        f"status in miniengine, see {COVERAGE_PAGE}"
    )
    if _asked_by_from_import(sys._getframe(1)):
        path = getattr(obj, "__file__", None)
        return ImportError(
            f"cannot import name {name!r} from {module!r}. {hint}", name=module, path=path
        )
    return AttributeError(
        f"module {module!r} has no attribute {name!r}. {hint}", name=name, obj=obj
    )
