"""Tests for docs/: the guide's scripts run and print what their pages show, the links to source
lines point at what they name, and the API reference builds without warnings."""

from __future__ import annotations

import importlib
import inspect
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
GUIDE = DOCS / "guide"
sys.path.insert(0, str(DOCS))

import build_api  # noqa: E402
import links  # noqa: E402

STAGES = sorted(GUIDE.glob("[0-9][0-9]_*.py"))
PRINTS = re.compile(r"<!-- prints -->\n```text\n(.*?)```", re.S)


# Runs each stage script in a child of one Python process that has already imported torch and
# miniengine (a fork per script), which is several times faster than a fresh interpreter per
# script; without fork (Windows) each script gets its own interpreter.
RUNNER = """
import os, runpy, sys, traceback
import torch, miniengine, miniengine.metrics, miniengine.handlers.checkpoint  # shared imports
torch.optim.SGD([torch.zeros(1, requires_grad=True)])  # the first optimizer imports torch._dynamo
guide, out_dir, scripts = sys.argv[1], sys.argv[2], sys.argv[3:]
sys.path.insert(0, guide)
os.chdir(guide)
for name in scripts:
    pid = os.fork()
    if pid == 0:
        code = 0
        with open(os.path.join(out_dir, name + ".out"), "w") as out, open(
            os.path.join(out_dir, name + ".err"), "w"
        ) as err:
            os.dup2(out.fileno(), 1)
            os.dup2(err.fileno(), 2)
            sys.argv = [name]
            try:
                runpy.run_path(name, run_name="__main__")
            except BaseException:
                traceback.print_exc()
                code = 1
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    with open(os.path.join(out_dir, name + ".rc"), "w") as f:
        f.write(str(os.waitstatus_to_exitcode(status)))
"""


@pytest.fixture(scope="module")
def stage_runs(tmp_path_factory) -> dict[str, subprocess.CompletedProcess]:
    names = [p.name for p in STAGES]
    if not hasattr(os, "fork"):
        return {
            n: subprocess.run([sys.executable, n], cwd=GUIDE, capture_output=True, text=True)
            for n in names
        }
    out = tmp_path_factory.mktemp("stages")
    subprocess.run([sys.executable, "-c", RUNNER, str(GUIDE), str(out), *names], check=True)
    return {
        n: subprocess.CompletedProcess(
            n,
            int((out / f"{n}.rc").read_text()),
            (out / f"{n}.out").read_text(),
            (out / f"{n}.err").read_text(),
        )
        for n in names
    }


def test_the_guide_has_its_stages():
    assert [p.stem[:2] for p in STAGES] == [f"{i:02d}" for i in range(1, 11)]
    for script in STAGES:
        assert script.with_suffix(".md").is_file(), script


@pytest.mark.parametrize("script", STAGES, ids=lambda p: p.stem)
def test_stage_script_runs_and_prints_what_its_page_shows(script, stage_runs):
    run = stage_runs[script.name]
    assert run.returncode == 0, run.stderr
    shown = PRINTS.findall(script.with_suffix(".md").read_text())
    assert len(shown) == 1, f"{script.stem}.md should show the script's output once"
    assert run.stdout == shown[0]


@pytest.mark.parametrize(
    ("script", "promise"),
    [
        ("04_filters.py", "same in miniengine: True"),
        ("05_state_terminate_exceptions.py", "same events in miniengine: True"),
        ("06_metrics.py", "running_loss follows the formula: True"),
        ("08_checkpoints.py", "same weights as the uninterrupted run: True"),
    ],
)
def test_stage_keeps_its_promise(script, promise, stage_runs):
    lines = stage_runs[script].stdout.splitlines()
    matching = [line for line in lines if promise.split(":")[0] in line]
    assert matching and all(line.endswith(promise) for line in matching)


def test_links_to_source_lines_point_at_what_they_name():
    stale = links.check()
    assert stale == [], "run `python docs/links.py --fix` after editing the linked sources"
    assert sum(len(links.find_links(doc)) for doc in GUIDE.glob("*.md")) > 40


def test_a_drifted_link_is_caught_and_fixed(tmp_path):
    src = tmp_path / "src.py"
    src.write_text("import os\n\n\nclass Box:\n    def open(self):\n        pass\n")
    doc = tmp_path / "page.md"
    doc.write_text("[`Box.open`](src.py#L3) and [`Box`](src.py#L4) and [`import os`](src.py#L2)")
    assert len(links.check(tmp_path)) == 2
    assert links.fix(tmp_path) == []
    assert doc.read_text() == (
        "[`Box.open`](src.py#L5) and [`Box`](src.py#L4) and [`import os`](src.py#L1)"
    )
    assert links.check(tmp_path) == []


def test_relative_links_in_docs_lead_to_files():
    for doc in DOCS.rglob("*.md"):
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", doc.read_text()):
            if "://" in target:
                continue
            assert (doc.parent / target).exists(), f"{doc.relative_to(DOCS)} -> {target}"


def test_every_public_class_and_function_has_an_example():
    missing = []
    for name in build_api.public_modules():
        module = importlib.import_module(name)
        for attr in getattr(module, "__all__", []):
            obj = getattr(module, attr)
            if getattr(obj, "__module__", None) != name:
                continue  # documented where it is defined
            if (inspect.isclass(obj) or inspect.isfunction(obj)) and ">>>" not in (
                obj.__doc__ or ""
            ):
                missing.append(f"{name}.{attr}")
    assert missing == []


def test_api_reference_builds_without_warnings(tmp_path):
    pytest.importorskip("pdoc")
    assert build_api.build(tmp_path) == []
    pages = {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.html")}
    assert {"miniengine/engine.html", "miniengine/explain.html"} <= pages
    assert "describe" in (tmp_path / "miniengine" / "explain.html").read_text()


def test_api_build_reports_warnings(tmp_path, monkeypatch):
    pytest.importorskip("pdoc")
    package = tmp_path / "pkg" / "brokenpkg"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text('"""A package."""\n__all__ = ["missing"]\n')
    monkeypatch.syspath_prepend(str(tmp_path / "pkg"))
    monkeypatch.setattr(build_api, "public_modules", lambda: ["brokenpkg"])
    problems = build_api.build(tmp_path / "out")
    assert any("'missing'" in p for p in problems)


def test_api_build_help_prints_usage_and_builds_nothing(tmp_path):
    run = subprocess.run(
        [sys.executable, str(DOCS / "build_api.py"), "--help"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("usage: build_api.py [-h] [output_dir]")
    assert "a temporary directory" in run.stdout
    assert list(tmp_path.iterdir()) == []  # no site built into a directory named "--help"


def test_index_links_the_examples():
    index = (DOCS / "index.md").read_text()
    for example in ("../examples/mnist_like/train.py", "../examples/atari_gan/README.md"):
        assert f"]({example})" in index
