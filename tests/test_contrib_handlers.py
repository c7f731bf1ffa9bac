"""miniengine.contrib.handlers: Ignite's old paths give miniengine's objects; old submodules warn
as Ignite's do; names miniengine lacks fail with a hint."""

from __future__ import annotations

import importlib
import subprocess
import sys
import warnings

import pytest

import miniengine.contrib.handlers as contrib_handlers
import miniengine.handlers

try:
    import ignite  # noqa: F401
except ImportError:  # the oracle tests skip
    HAVE_IGNITE = False
else:
    HAVE_IGNITE = True

needs_ignite = pytest.mark.skipif(not HAVE_IGNITE, reason="pytorch-ignite not installed")

# Ignite's old submodules that miniengine serves, and the module each one now lives in
SUBMODULES = [
    "base_logger",
    "lr_finder",
    "param_scheduler",
    "tensorboard_logger",
    "time_profilers",
    "tqdm_logger",
]


def fresh_import(name: str, monkeypatch: pytest.MonkeyPatch):
    """Import ``name`` as if for the first time (a module warns only when it first runs)."""
    monkeypatch.delitem(sys.modules, name, raising=False)
    return importlib.import_module(name)


@pytest.mark.parametrize("name", contrib_handlers.__all__)
def test_each_name_is_miniengines_own_object(name):
    assert getattr(contrib_handlers, name) is getattr(miniengine.handlers, name)


@pytest.mark.parametrize("module", SUBMODULES)
def test_old_submodules_warn_and_give_the_same_objects(module, monkeypatch):
    with pytest.warns(DeprecationWarning, match="will be removed in version 0.6.0") as seen:
        old = fresh_import(f"miniengine.contrib.handlers.{module}", monkeypatch)
    assert f"Import from miniengine.handlers.{module} instead" in str(seen[0].message)
    new = importlib.import_module(f"miniengine.handlers.{module}")
    assert old.__all__
    for name in old.__all__:
        assert getattr(old, name) is getattr(new, name)


def test_warning_points_at_the_importing_line(tmp_path):
    script = tmp_path / "script.py"
    script.write_text("from miniengine.contrib.handlers.tqdm_logger import ProgressBar\n")
    run = subprocess.run(
        [sys.executable, "-W", "always::DeprecationWarning", str(script)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert f"{script}:1: DeprecationWarning" in run.stderr


def test_module_names_give_the_new_modules_without_warning():
    # In a fresh process: importing an old submodule makes it the package's attribute.
    code = (
        "import warnings; warnings.simplefilter('error');"
        "from miniengine.contrib.handlers import tensorboard_logger, tqdm_logger;"
        "print(tensorboard_logger.__name__, tqdm_logger.__name__)"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.split() == [
        "miniengine.handlers.tensorboard_logger",
        "miniengine.handlers.tqdm_logger",
    ]


def test_a_name_miniengine_lacks_fails_with_the_hint():
    with pytest.raises(ImportError, match="cannot import name 'ClearMLLogger'") as info:
        from miniengine.contrib.handlers import ClearMLLogger  # noqa: F401
    assert "docs/differences.md#coverage-of-ignite-055s-public-names" in str(info.value)
    assert not hasattr(contrib_handlers, "ClearMLLogger")
    with pytest.raises(ModuleNotFoundError):  # no such module: Python's own error
        importlib.import_module("miniengine.contrib.handlers.visdom_logger")


def test_import_is_cheap():
    code = (
        "import sys, miniengine.contrib.handlers, miniengine.contrib.metrics;"
        "print(sorted(m for m in ('tensorboard', 'tqdm', 'miniengine.handlers.checkpoint')"
        " if m in sys.modules))"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "[]"


@needs_ignite
@pytest.mark.parametrize("module", SUBMODULES)
def test_old_submodules_list_ignites_names(module):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        theirs = importlib.import_module(f"ignite.contrib.handlers.{module}")
        ours = importlib.import_module(f"miniengine.contrib.handlers.{module}")
    assert sorted(ours.__all__) == sorted(theirs.__all__)
