"""Build the API reference (HTML) from the docstrings with pdoc; fail on any warning.

Usage: ``python docs/build_api.py [OUTPUT_DIR]`` (default: a temporary directory, removed
afterwards, which is enough to check that the reference builds). pdoc has no "warnings as
errors" switch, so this script records every warning pdoc emits, prints them, and exits with
status 1 if there was one. tests/test_docs.py runs it.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
import tempfile
import warnings
from pathlib import Path


def public_modules(package: str = "miniengine") -> list[str]:
    """The package and all its submodules whose names do not start with ``_``."""
    root = importlib.import_module(package)
    names = [package]
    for info in pkgutil.walk_packages(root.__path__, prefix=f"{package}."):
        if not any(part.startswith("_") for part in info.name.split(".")):
            names.append(info.name)
    return names


def _materialise_lazy_names(module_name: str) -> None:
    # miniengine's packages import some names on first use (a module __getattr__); pdoc looks
    # only in the module's __dict__, so put them there for the build.
    module = importlib.import_module(module_name)
    for name in getattr(module, "__all__", []):
        if hasattr(module, name):  # a name that does not resolve is left for pdoc to report
            module.__dict__.setdefault(name, getattr(module, name))


def build(output_dir: Path) -> list[str]:
    """Write the HTML reference into ``output_dir``; return pdoc's warnings as text."""
    import pdoc
    import pdoc.render

    modules = public_modules()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.filterwarnings("ignore", ".*kept for code ported from Ignite", DeprecationWarning)
        for name in modules:
            _materialise_lazy_names(name)
        pdoc.render.configure(docformat="google", show_source=True)
        pdoc.pdoc(*modules, output_directory=output_dir)
    return [f"{w.category.__name__}: {w.message}" for w in caught]


def main(argv: list[str]) -> int:
    """Build the reference where ``argv`` says; return the exit status (1 on any warning).

    Args:
        argv: the command-line arguments, without the program name.
    """
    parser = argparse.ArgumentParser(
        description="Build miniengine's API reference (HTML, with pdoc) from the docstrings; "
        "exit with status 1 if pdoc warns about anything."
    )
    parser.add_argument(
        "output_dir",
        nargs="?",
        type=Path,
        help="where to write the HTML (default: a temporary directory, removed afterwards: "
        "enough to check that the reference builds)",
    )
    args = parser.parse_args(argv)
    if args.output_dir is not None:
        problems = build(args.output_dir)
        where = str(args.output_dir)
    else:
        with tempfile.TemporaryDirectory() as d:
            problems = build(Path(d))
            pages = len(list(Path(d).rglob("*.html")))
        where = f"a temporary directory ({pages} pages)"
    for problem in problems:
        print(problem, file=sys.stderr)
    print(f"API reference built in {where}; {len(problems)} warnings")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
