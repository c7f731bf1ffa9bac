"""The coverage table in docs/differences.md: it lists every public name of Ignite 0.5.5's
modules, and its statuses are true (what it marks implemented imports from the miniengine path,
what it marks missing does not).

Run as a script (``python tests/test_ignite_coverage.py``) to print the table's rows for the
installed Ignite, each marked implemented when miniengine has the name and "not yet" otherwise:
the starting point when Ignite or miniengine changes (statuses and notes are then edited by hand).
"""

from __future__ import annotations

import importlib
import json
import re
import subprocess
import sys
import types
import warnings
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[1] / "docs" / "differences.md"
SECTION = "## Coverage of Ignite 0.5.5's public names"
STATUSES = ("implemented", "deliberately not", "not yet")

# The modules the table covers: Ignite's packages and modules that scripts import from.
MODULES = [
    "ignite.engine",
    "ignite.engine.engine",
    "ignite.engine.events",
    "ignite.metrics",
    "ignite.handlers",
    "ignite.distributed",
    "ignite.utils",
    "ignite.exceptions",
    "ignite.contrib.engines",
    "ignite.contrib.engines.common",
    "ignite.contrib.engines.tbptt",
    "ignite.contrib.handlers",
    "ignite.contrib.metrics",
    "ignite.contrib.metrics.regression",
]


def _public(module: types.ModuleType) -> list[str]:
    """``__all__`` (public by Ignite's own word, underscored entries dropped); for a module
    without one, its names that are not private and not imported from outside Ignite (typing,
    torch, the standard library) nor another Ignite package's module object."""
    if hasattr(module, "__all__"):
        return sorted(n for n in module.__all__ if not n.startswith("_"))
    names = []
    for name, value in vars(module).items():
        if name.startswith("_"):
            continue
        if isinstance(value, types.ModuleType):
            if value.__name__.startswith(module.__name__ + "."):  # its own submodule
                names.append(name)
            continue
        origin = getattr(value, "__module__", None)
        if origin is None or str(origin).startswith("ignite"):
            names.append(name)
    return sorted(names)


def ignite_public_names() -> dict[str, list[str]]:
    """Module -> public names of the installed pytorch-ignite, read in a fresh interpreter: a
    package without ``__all__`` gains an attribute for each submodule imported later (by other
    tests), which must not count."""
    run = subprocess.run(
        [sys.executable, __file__, "--json"], capture_output=True, text=True, check=True
    )
    return json.loads(run.stdout)


def _read_ignite_names() -> dict[str, list[str]]:
    """``ignite_public_names`` in this interpreter, also walking contrib's old submodules
    (``ignite.contrib.handlers.tqdm_logger``, ...)."""
    import pkgutil

    import ignite.contrib

    modules = list(MODULES)
    for info in pkgutil.walk_packages(ignite.contrib.__path__, "ignite.contrib."):
        if info.name not in modules and "._" not in info.name:
            modules.append(info.name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # contrib's old submodules warn when imported
        return {m: _public(importlib.import_module(m)) for m in modules}


def read_table(text: str | None = None) -> list[tuple[str, str, list[str]]]:
    """The rows ``(module, status, names)`` of the coverage section of docs/differences.md."""
    text = DOC.read_text() if text is None else text
    if SECTION not in text:
        return []
    section = text.split(SECTION, 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 3 or not cells[0].startswith("`ignite"):
            continue
        module = cells[0].strip("`")
        names = re.findall(r"`([^`]+)`", cells[2])
        rows.append((module, cells[1], names))
    return rows


def miniengine_path(module: str) -> str:
    return "miniengine" + module[len("ignite") :]


def has_name(module: str, name: str) -> bool:
    """Whether ``from <miniengine path of module> import name`` works."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            mod = importlib.import_module(miniengine_path(module))
        except ImportError:
            return False
        if hasattr(mod, name):
            return True
        try:  # a submodule not imported yet
            importlib.import_module(f"{mod.__name__}.{name}")
        except ImportError:
            return False
        return True


try:
    import ignite  # noqa: F401
except ImportError:
    HAVE_IGNITE = False
else:
    HAVE_IGNITE = True

ROWS = read_table()


def test_the_table_exists_and_uses_the_three_statuses():
    assert ROWS, f"no coverage table under {SECTION!r} in {DOC}"
    assert {status for _, status, _ in ROWS} <= set(STATUSES)


def test_the_summary_counts_the_table():
    counts = {status: 0 for status in STATUSES}
    for _, status, names in ROWS:
        counts[status] += len(names)
    summary = (
        f"Of {sum(counts.values())} names: {counts['implemented']} implemented, "
        f"{counts['deliberately not']} deliberately not, {counts['not yet']} not yet."
    )
    assert summary in " ".join(DOC.read_text().split())


@pytest.mark.skipif(not HAVE_IGNITE, reason="pytorch-ignite not installed")
def test_the_table_lists_every_public_name_of_ignite_once():
    listed: dict[tuple[str, str], int] = {}
    for module, _, names in ROWS:
        for name in names:
            listed[(module, name)] = listed.get((module, name), 0) + 1
    expected = {(m, n) for m, names in ignite_public_names().items() for n in names}
    assert sorted(expected - set(listed)) == [], "Ignite names missing from the table"
    assert sorted(set(listed) - expected) == [], "names in the table that Ignite does not have"
    assert [k for k, count in listed.items() if count > 1] == [], "names listed twice"


@pytest.mark.parametrize(
    "module, name",
    [(m, n) for m, s, names in ROWS if s == "implemented" for n in names],
)
def test_implemented_names_import_from_the_miniengine_path(module, name):
    assert has_name(module, name), f"from {miniengine_path(module)} import {name} fails"


@pytest.mark.parametrize(
    "module, name",
    [(m, n) for m, s, names in ROWS if s != "implemented" for n in names],
)
def test_missing_names_are_really_missing(module, name):
    # Catches a name that was added without updating the table.
    assert not has_name(module, name), f"{miniengine_path(module)}.{name} exists: mark it"


def test_a_missing_contrib_name_points_to_the_table():
    with pytest.raises(ImportError, match="coverage-of-ignite-055s-public-names"):
        from miniengine.contrib.handlers import WandBLogger  # noqa: F401


if __name__ == "__main__" and sys.argv[1:] == ["--json"]:
    print(json.dumps(_read_ignite_names()))
elif __name__ == "__main__":  # print the rows for the installed Ignite
    for module, names in _read_ignite_names().items():
        have = [n for n in names if has_name(module, n)]
        lack = [n for n in names if n not in have]
        for status, group in (("implemented", have), ("not yet", lack)):
            if group:
                print(f"| `{module}` | {status} | {', '.join(f'`{n}`' for n in group)} | |")
