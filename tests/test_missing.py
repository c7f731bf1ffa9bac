"""miniengine._missing: a missing name is an ImportError with the hint under ``from m import n``
and an AttributeError (with the hint) everywhere else, so ``hasattr`` stays False."""

from __future__ import annotations

import importlib
import sys

import pytest

from miniengine._missing import COVERAGE_PAGE, missing_name

GETATTR = "from miniengine._missing import missing_name\n\n\ndef __getattr__(name):\n"
GETATTR += "    raise missing_name(__name__, name)\n"


@pytest.fixture
def pkg(tmp_path, monkeypatch):
    """A package ``pk`` and a plain module ``pk.mod``, both using ``missing_name``; and
    ``pk.fwd``, whose ``__getattr__`` forwards to ``pk.mod`` (as contrib does to handlers)."""
    root = tmp_path / "pk"
    root.mkdir()
    (root / "__init__.py").write_text("present = 1\n" + GETATTR)
    (root / "mod.py").write_text(GETATTR)
    (root / "fwd.py").write_text(
        "import pk.mod\n\n\ndef __getattr__(name):\n    return getattr(pk.mod, name)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in ("pk", "pk.mod", "pk.fwd"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    return importlib.import_module("pk")


@pytest.mark.parametrize("where", ["pk", "pk.mod", "pk.fwd"])
def test_from_import_gives_import_error_with_the_hint(pkg, where):
    importlib.import_module(where)
    with pytest.raises(ImportError) as info:
        exec(f"from {where} import Missing", {})
    named = where.replace("fwd", "mod")  # pk.fwd forwards: pk.mod's error goes through
    assert str(info.value).startswith(f"cannot import name 'Missing' from '{named}'")
    assert COVERAGE_PAGE in str(info.value)
    assert not isinstance(info.value, ModuleNotFoundError)


def test_present_names_still_import_next_to_a_missing_one(pkg):
    namespace: dict = {}
    exec("from pk import present", namespace)
    assert namespace["present"] == 1
    with pytest.raises(ImportError, match="'Missing'"):
        exec("from pk import present, Missing", {})


@pytest.mark.parametrize("where", ["pk", "pk.mod", "pk.fwd"])
def test_hasattr_and_getattr_see_an_attribute_error(pkg, where):
    module = importlib.import_module(where)
    assert not hasattr(module, "Missing")
    assert getattr(module, "Missing", "default") == "default"
    with pytest.raises(AttributeError, match=COVERAGE_PAGE):
        module.Missing  # noqa: B018


def test_private_names_get_pythons_plain_error(pkg):
    with pytest.raises(AttributeError) as info:
        pkg.__wrapped__  # noqa: B018
    assert str(info.value) == "module 'pk' has no attribute '__wrapped__'"


def test_python_suggests_a_close_name(pkg):
    err = missing_name("pk", "presnt")
    assert err.name == "presnt" and err.obj is pkg  # what "Did you mean: 'present'?" needs


def test_hint_survives_a_long_name_table(pkg):
    # Past 255 names an instruction's argument needs a prefix (EXTENDED_ARG on Python 3.10).
    names = "\n".join(f"v{i} = {i}" for i in range(300))
    code = names + "\nfrom pk import Missing\n"
    with pytest.raises(ImportError, match=COVERAGE_PAGE):
        exec(compile(code, "<long>", "exec"), {})


def test_a_submodule_of_that_name_still_imports(pkg, tmp_path):
    # `from package import name` first tries `hasattr`, then a submodule: that must still work.
    (tmp_path / "pk" / "sub.py").write_text("x = 2\n")
    namespace: dict = {}
    exec("from pk import sub", namespace)
    assert namespace["sub"].x == 2
