"""Tests for the package as a user gets it: its name, version, license, build, and types."""

from __future__ import annotations

import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import miniengine

tomllib = pytest.importorskip("tomllib", reason="Python 3.11+ reads pyproject.toml itself")

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PROJECT = PYPROJECT["project"]
DISTRIBUTION = "pytorch-miniengine"
# PEP 440, the forms this project uses: 1.2.3, 1.2.3rc1, 1.2.3.dev0, 1.2.3.post1
VERSION = re.compile(r"^\d+\.\d+\.\d+((a|b|rc)\d+)?(\.post\d+)?(\.dev\d+)?$")


def test_the_version_is_written_once_in_the_package() -> None:
    assert VERSION.match(miniengine.__version__), miniengine.__version__
    assert "version" not in PROJECT and PROJECT["dynamic"] == ["version"]
    assert PYPROJECT["tool"]["setuptools"]["dynamic"]["version"] == {
        "attr": "miniengine.__version__"
    }
    changelog = (ROOT / "CHANGELOG.md").read_text()
    released = re.findall(r"^## \[?(\d+\.\d+\.\d+)\]? ", changelog, re.M)
    assert "0.1.0" in released and re.search(r"^## Unreleased", changelog, re.M)
    if ".dev" in miniengine.__version__:  # on its way to a release the changelog has yet to list
        assert miniengine.__version__.split(".dev")[0] not in released
    else:
        assert miniengine.__version__ in released


def test_the_installed_distribution_has_the_same_version() -> None:
    try:
        installed = importlib.metadata.version(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        pytest.skip(f"{DISTRIBUTION} is not installed here (pip install -e . installs it)")
    assert installed == miniengine.__version__


def test_name_license_and_links() -> None:
    assert PROJECT["name"] == DISTRIBUTION  # "miniengine" on the package index is another project
    assert PROJECT["license"] == "BSD-3-Clause"  # an SPDX expression, not the deprecated table
    assert PROJECT["license-files"] == ["LICENSE"]
    license_text = (ROOT / "LICENSE").read_text()
    assert license_text.startswith("BSD 3-Clause License")
    assert re.search(r"Copyright \(c\) \d{4}, the miniengine authors", license_text)
    # PEP 639: with a license expression, license classifiers are an error.
    assert not [c for c in PROJECT["classifiers"] if c.startswith("License ::")]
    assert "Typing :: Typed" in PROJECT["classifiers"]
    assert {"Homepage", "Documentation", "Source", "Issues", "Changelog"} <= set(PROJECT["urls"])
    assert (ROOT / "miniengine" / "py.typed").is_file()


def test_wheel_builds_without_warnings_and_holds_the_package(tmp_path: Path) -> None:
    setuptools = pytest.importorskip("setuptools")
    if int(setuptools.__version__.split(".")[0]) < 77:
        pytest.skip(f"setuptools {setuptools.__version__} here; the build needs 77 or later")
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, source)
    shutil.copytree(ROOT / "miniengine", source / "miniengine", ignore=shutil.ignore_patterns(
        "__pycache__"))  # fmt: skip
    build = (
        "import sys, warnings; warnings.simplefilter('always')\n"
        "from setuptools import build_meta\n"
        "print(build_meta.build_wheel(sys.argv[1]))\n"
    )
    out = tmp_path / "dist"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}  # its notes
    run = subprocess.run(
        [sys.executable, "-c", build, str(out)],
        cwd=source,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    assert not re.search(r"Warning|deprecat", run.stdout + run.stderr, re.I), run.stderr
    wheel = out / run.stdout.splitlines()[-1]
    assert wheel.name == f"pytorch_miniengine-{miniengine.__version__}-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        metadata = archive.read(f"pytorch_miniengine-{miniengine.__version__}.dist-info/METADATA")
    assert "miniengine/py.typed" in names and "miniengine/engine/__init__.py" in names
    assert {name.split("/")[0] for name in names} == {
        "miniengine",
        f"pytorch_miniengine-{miniengine.__version__}.dist-info",
    }
    assert "License-Expression: BSD-3-Clause" in metadata.decode()
    assert any(name.endswith(".dist-info/licenses/LICENSE") for name in names)


USER_SCRIPT = """
from miniengine import Engine, Events
from miniengine.metrics import RunningAverage

engine = Engine(lambda engine, batch: batch * 2)
RunningAverage(output_transform=lambda x: x).attach(engine, "avg")
engine.add_event_handler(Events.EPOCH_COMPLETED(every=2), lambda e: None)
iteration: int = engine.state.iteration
"""


def test_a_users_script_type_checks_against_the_installed_package(tmp_path: Path) -> None:
    """What `pip install -e .` from the README gives a user's project: mypy sees miniengine.

    setuptools' default ("strict") editable install hides the package behind an import hook
    that type checkers cannot follow: mypy then says "Cannot find implementation or library
    stub". The README installs with `--config-settings editable_mode=compat`.
    """
    pytest.importorskip("mypy")
    try:
        importlib.metadata.distribution(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        pytest.skip(f"{DISTRIBUTION} is not installed here (pip install -e . installs it)")
    (tmp_path / "good.py").write_text(USER_SCRIPT)
    # A wrong type that mypy can only catch if it reads miniengine's annotations.
    (tmp_path / "bad.py").write_text(USER_SCRIPT + "name: str = engine.state.iteration\n")

    def mypy(script: str) -> subprocess.CompletedProcess[str]:
        # Run outside the repository: a user's project does not have miniengine/ beside it.
        cache = ROOT / ".mypy_cache"  # shared with `mypy miniengine`: torch's stubs are big
        command = [sys.executable, "-m", "mypy", "--cache-dir", str(cache), script]
        return subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=600)

    good = mypy("good.py")
    assert good.returncode == 0, good.stdout + good.stderr
    bad = mypy("bad.py")
    assert bad.returncode == 1
    assert 'Incompatible types in assignment (expression has type "int"' in bad.stdout
    assert "Cannot find implementation" not in bad.stdout
