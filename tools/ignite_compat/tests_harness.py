"""Run PyTorch-Ignite 0.5.5's own test files against Ignite and against miniengine, and compare.

Two trees are built from Ignite's git repository (nothing of Ignite is stored in this repo):

    <work>/ref/tests   Ignite's tests/ at the tag, unchanged (they test ignite)
    <work>/ours/tests  the same files with their public imports rewritten ignite. -> miniengine.
                       (private names stay imported from ignite: they are Ignite internals)

Both get one extra autouse fixture in tests/ignite/conftest.py (a failed test must not leak its
torch.distributed process group into the next one). Each tree is run with pytest, writing
<work>/ref.xml / <work>/ours.xml (junit) and <work>/ref.log / <work>/ours.log, and the tests that
pass in ref but not in ours are listed (also in <work>/compare.txt), tagged PRIV when the test
or its failure reaches a private attribute, PUB otherwise.

usage: tools/ignite_compat/tests_harness.py [build|run|compare|all] [options] [-- PYTEST_ARGS]
       (see README.md next to this file)
"""

from __future__ import annotations

import argparse
import ast
import functools
import os
import re
import shutil
import signal
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]
DEFAULT_WORK = REPO_ROOT / ".ignite_compat" / "tests"
DEFAULT_IGNITE_REPO = "/work/.mirror/pytorch+ignite/repo"
DEFAULT_TAG = "v0.5.5"
FILES_TXT = HERE / "files.txt"
TREES = ("ref", "ours")

# Appended to tests/ignite/conftest.py in both trees.
CONFTEST_FIXTURE = """

@pytest.fixture(autouse=True)
def _harness_no_leaked_process_group():
    # harness hygiene: a test that fails mid-way must not leave its process group to the next
    import torch.distributed as dist

    was = dist.is_available() and dist.is_initialized()
    yield
    if not was and dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
"""

# ---------------------------------------------------------------------------------------- build
# 1. Public imports: ignite. -> miniengine. (every file of the tree that mentions ignite).
PUBLIC_REWRITES = [
    (re.compile(r"from ignite\."), "from miniengine."),
    (re.compile(r"from ignite import"), "from miniengine import"),
    (re.compile(r"import ignite\.([\w.]*) as"), r"import miniengine.\1 as"),
    (re.compile(r"^([ \t]*)import ignite$", re.M), r"\1import miniengine as ignite"),
    (re.compile(r'patch\("ignite\.'), 'patch("miniengine.'),
]

# 2. Ignite internals the tests reach into stay Ignite's (applied in this order, after step 1).
_DIST_UTILS_LINE = (
    "from miniengine.distributed.utils import _rank_not_in_group, "
    "all_gather_tensors_with_shapes, sync"
)
INTERNAL_REWRITES = [
    # First: this line of tests/ignite/distributed/utils/__init__.py mixes a private name with
    # two public helpers, which must be miniengine's (the rule after it would take all three).
    (
        re.compile(r"^([ \t]*)" + re.escape(_DIST_UTILS_LINE) + r"$", re.M),
        r"\1from ignite.distributed.utils import _rank_not_in_group"
        "\n"
        r"\1from miniengine.distributed import all_gather_tensors_with_shapes, sync",
    ),
    (
        re.compile(r"from miniengine\.distributed\.utils import _"),
        "from ignite.distributed.utils import _",
    ),
    (
        re.compile(r"from miniengine\.distributed\.utils import has_"),
        "from miniengine.distributed import has_",
    ),
    (
        re.compile(r"from miniengine\.distributed\.auto import _"),
        "from ignite.distributed.auto import _",
    ),
    (
        re.compile(r"from miniengine\.distributed\.auto import"),
        "from miniengine.distributed import",
    ),
    (re.compile(r"miniengine\.distributed\.comp_models"), "ignite.distributed.comp_models"),
    (re.compile(r"from miniengine\._utils"), "from ignite._utils"),
    (re.compile(r"from miniengine\.base"), "from ignite.base"),
]

# 4. The contrib deprecation tests import modules by name at run time.
DEPRECATION_TESTS = {
    "tests/ignite/contrib/handlers/test_warnings_of_deprecation_of_handlers.py": (
        '__import__(f"ignite.contrib.handlers',
        '__import__(f"miniengine.contrib.handlers',
    ),
    "tests/ignite/contrib/metrics/test_warnings_of_deprecation_of_metrics.py": (
        '__import__(f"ignite.contrib.metrics',
        '__import__(f"miniengine.contrib.metrics',
    ),
}


def _sub_all(text: str, rules: list[tuple[re.Pattern[str], str]]) -> str:
    for pattern, repl in rules:
        text = pattern.sub(repl, text)
    return text


def _text_files(root: Path):
    for path in sorted(root.rglob("*")):
        if not path.is_file():
            continue
        try:
            yield path, path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue


def split_private_imports(root: Path) -> None:
    """`from miniengine.X import _a, b` -> `from ignite.X import _a` + `from miniengine.X import b`.

    Names starting with `_` are Ignite internals: keep taking them from Ignite.
    """

    def names(aliases: list[ast.alias]) -> str:
        return ", ".join(a.name + (f" as {a.asname}" if a.asname else "") for a in aliases)

    for path in sorted(root.rglob("*.py")):
        src = path.read_text(encoding="utf-8")
        lines = src.splitlines(keepends=True)
        edits = []
        for node in ast.walk(ast.parse(src)):
            if not isinstance(node, ast.ImportFrom):
                continue
            module = node.module or ""
            if not module.startswith("miniengine"):
                continue
            private = [a for a in node.names if a.name.startswith("_")]
            if not private:
                continue
            public = [a for a in node.names if not a.name.startswith("_")]
            indent = " " * node.col_offset
            ignite_module = module.replace("miniengine", "ignite", 1)
            new = f"{indent}from {ignite_module} import {names(private)}\n"
            if public:
                new += f"{indent}from {module} import {names(public)}\n"
            edits.append((node.lineno, node.end_lineno, new))
        for first, last, new in sorted(edits, reverse=True):
            lines[first - 1 : last] = [new]
        if edits:
            path.write_text("".join(lines), encoding="utf-8")
            print(f"  private imports split: {path.relative_to(root)} ({len(edits)})")


def extract_tests(ignite_repo: str, tag: str, dst: Path) -> None:
    dst.mkdir(parents=True)
    archive = subprocess.Popen(
        ["git", "-C", ignite_repo, "archive", tag, "tests"], stdout=subprocess.PIPE
    )
    subprocess.run(["tar", "-x", "-C", str(dst)], stdin=archive.stdout, check=True)
    archive.stdout.close()
    if archive.wait() != 0:
        sys.exit(f"git archive {tag} tests failed in {ignite_repo}")


def build(work: Path, ignite_repo: str, tag: str) -> None:
    ref, ours = work / "ref", work / "ours"
    for tree in (ref, ours):
        if tree.exists():
            shutil.rmtree(tree)
    print(f"extracting tests/ of {ignite_repo} at {tag} -> {ref}")
    extract_tests(ignite_repo, tag, ref)
    shutil.copytree(ref, ours)

    for path, text in _text_files(ours):
        if "ignite" in text:
            new = _sub_all(text, PUBLIC_REWRITES)
            if new != text:
                path.write_text(new, encoding="utf-8")
    # the package's __init__ only imports an Ignite internal: keep it as it is
    shutil.copy2(ref / "tests/ignite/__init__.py", ours / "tests/ignite/__init__.py")
    for path, text in _text_files(ours):
        new = _sub_all(text, INTERNAL_REWRITES)
        if new != text:
            path.write_text(new, encoding="utf-8")
    split_private_imports(ours)
    for rel, (old, new) in DEPRECATION_TESTS.items():
        path = ours / rel
        path.write_text(path.read_text(encoding="utf-8").replace(old, new), encoding="utf-8")

    for tree in (ref, ours):
        with open(tree / "tests/ignite/conftest.py", "a", encoding="utf-8") as f:
            f.write(CONFTEST_FIXTURE)
    print(f"built {ref} and {ours}")


# ------------------------------------------------------------------------------------------ run
def default_python() -> str:
    venv = REPO_ROOT / ".venv" / "bin" / "python"
    return str(venv) if venv.exists() else sys.executable


def run_tree(work: Path, which: str, files: list[str], python: str, timeout: int, extra: list[str]):
    tree = work / which
    if not tree.is_dir():
        sys.exit(f"{tree} does not exist: run the build step first")
    env = dict(os.environ)
    env["PATH"] = str(Path(python).parent) + os.pathsep + env.get("PATH", "")
    # `-c /dev/null --rootdir . --confcutdir .`: no pytest config or conftest from a directory
    # above the work dir (e.g. this repo's pyproject.toml when the work dir lies inside the repo);
    # the trees are run exactly as from a bare directory (rootdir = the tree).
    cmd = [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-c", os.devnull]
    cmd += ["--rootdir", ".", "--confcutdir", ".", "--continue-on-collection-errors"]
    cmd += [f"--junitxml={work / (which + '.xml')}", *extra, *files]
    log_path = work / f"{which}.log"
    print(f"running {which}: {len(files)} test paths, log {log_path}", flush=True)
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            cmd, cwd=tree, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            rc = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            rc = 124
    summary = log_path.read_text(errors="replace").rstrip().splitlines()[-1:]
    print(f"  {which}: rc={rc} {summary[0] if summary else ''}", flush=True)


# -------------------------------------------------------------------------------------- compare
PRIV = re.compile(
    r"'_[a-z]\w*'|\._[a-z]\w*|_fire_event|_event_handlers|_dataloader_iter|ignite\.[\w.]*\._"
)


def load_junit(path: Path) -> dict[str, tuple[str, str]]:
    out: dict[str, tuple[str, str]] = {}
    for tc in ET.parse(path).getroot().iter("testcase"):
        key = f"{tc.get('classname')}::{tc.get('name')}"
        status, msg = "pass", ""
        for child in tc:
            if child.tag in ("failure", "error"):
                status, msg = "fail", (child.get("message") or "") + "\n" + (child.text or "")
            elif child.tag == "skipped":
                status = "skip"
        # a test that passes but errors in teardown appears twice: the failure wins
        if status == "fail" or key not in out:
            out[key] = (status, msg)
    return out


@functools.lru_cache(None)
def _parse(path: Path) -> tuple[str, ast.Module]:
    text = path.read_text(encoding="utf-8")
    return text, ast.parse(text)


def test_source(tree: Path, key: str) -> str:
    """Source of the test function named by a junit key, looked up in `tree`."""
    module, name = key.split("::")
    name = name.split("[")[0]
    parts = module.split(".")
    for i in range(len(parts), 0, -1):
        path = tree.joinpath(*parts[:i]).with_suffix(".py")
        if path.is_file():
            break
    else:
        return ""
    text, parsed = _parse(path)
    for node in ast.walk(parsed):
        if isinstance(node, ast.FunctionDef) and node.name == name:
            return ast.get_source_segment(text, node) or ""
    return ""


def compare(work: Path) -> list[str]:
    ref, ours = load_junit(work / "ref.xml"), load_junit(work / "ours.xml")
    ref_pass = [k for k, v in ref.items() if v[0] == "pass"]
    bad = [k for k in ref_pass if ours.get(k, ("missing", ""))[0] != "pass"]
    n_ok = len(ref_pass) - len(bad)
    lines = [f"ref pass {len(ref_pass)} ours pass of those {n_ok} fail {len(bad)}"]
    for key in bad:
        status, msg = ours.get(key, ("missing", ""))
        first = next(
            (line for line in msg.splitlines() if line.startswith("E ")),
            msg.splitlines()[0] if msg else status,
        )
        src = test_source(work / "ours", key)
        private = PRIV.search(msg[:3000]) or PRIV.search(src) or "RecordedEngine" in src
        lines.append(f"{'PRIV' if private else 'PUB'} {key} | {first[:150]}")
    return lines


# ----------------------------------------------------------------------------------------- main
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument(
        "step",
        nargs="?",
        default="all",
        choices=["build", "run", "compare", "all"],
        help="all (default) = build, run both trees, compare",
    )
    ap.add_argument("--work", type=Path, default=DEFAULT_WORK, help=f"default {DEFAULT_WORK}")
    ap.add_argument(
        "--ignite-repo",
        default=os.environ.get("IGNITE_REPO", DEFAULT_IGNITE_REPO),
        help="git repository of pytorch/ignite (env IGNITE_REPO; default %(default)s)",
    )
    ap.add_argument("--tag", default=DEFAULT_TAG, help="default %(default)s")
    ap.add_argument("--trees", default="ref,ours", help="trees to run (default ref,ours)")
    ap.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="PATH",
        help="run this test path instead of those in files.txt (repeatable)",
    )
    ap.add_argument("--python", default=default_python(), help="default %(default)s")
    ap.add_argument("--timeout", type=int, default=3000, help="seconds per tree (default 3000)")
    argv = sys.argv[1:]
    extra = argv[argv.index("--") + 1 :] if "--" in argv else []  # extra pytest arguments
    a = ap.parse_args(argv[: len(argv) - len(extra) - (1 if "--" in argv else 0)])
    work = a.work.resolve()
    work.mkdir(parents=True, exist_ok=True)

    if a.step in ("build", "all"):
        build(work, a.ignite_repo, a.tag)
    if a.step in ("run", "all"):
        files = a.only or FILES_TXT.read_text().split()
        for which in a.trees.split(","):
            if which not in TREES:
                sys.exit(f"unknown tree {which!r}: choose from {TREES}")
            run_tree(work, which, files, a.python, a.timeout, extra)
    if a.step in ("compare", "all"):
        lines = compare(work)
        (work / "compare.txt").write_text("\n".join(lines) + "\n")
        print("\n".join(lines))
        n_priv = sum(line.startswith("PRIV ") for line in lines)
        n_pub = sum(line.startswith("PUB ") for line in lines)
        print(f"({n_priv} PRIV, {n_pub} PUB; written to {work / 'compare.txt'})")


if __name__ == "__main__":
    main()
