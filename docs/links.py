"""Check, or fix, the links from the docs to source lines.

A link such as ``[`Engine._fire_event`](../../miniengine/engine.py#L332)`` names what it points
at in backticks. It is right when line 332 defines it (``def _fire_event`` / ``class ...`` /
``NAME =``), or, for a code snippet rather than a name, when the line contains the snippet.
Source files change, so line numbers drift: ``python docs/links.py`` lists the wrong ones and
``python docs/links.py --fix`` moves each to the line that defines the name (the nearest one).
tests/test_docs.py runs the check.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

DOCS = Path(__file__).resolve().parent
LINK = re.compile(
    r"\[`(?P<name>[^`]+)`[^\]]*\]\((?P<path>[^)#\s]+\.py)#L(?P<line>\d+)(?P<rest>[^)]*)\)"
)
IDENTIFIER = re.compile(r"[A-Za-z_][\w.]*(\(\))?")


@dataclass
class Link:
    doc: Path
    name: str
    target: Path
    line: int
    span: tuple[int, int]  # where the line number is in the doc's text


def find_links(doc: Path) -> list[Link]:
    text = doc.read_text()
    return [
        Link(doc, m["name"], (doc.parent / m["path"]).resolve(), int(m["line"]), m.span("line"))
        for m in LINK.finditer(text)
    ]


def _matches(name: str, line: str) -> bool:
    if not IDENTIFIER.fullmatch(name):
        return name in line
    short = name.removesuffix("()").rsplit(".", 1)[-1]
    return bool(re.search(rf"^\s*((async\s+)?def|class)\s+{re.escape(short)}\b", line)) or bool(
        re.match(rf"^\s*{re.escape(short)}\s*(:[^=]*)?=", line)
    )


def problem(link: Link) -> str | None:
    """Why ``link`` is wrong, or None if it points at what it names."""
    if not link.target.is_file():
        return f"{link.target} does not exist"
    lines = link.target.read_text().splitlines()
    if not 1 <= link.line <= len(lines):
        return f"line {link.line} is past the end of {link.target.name} ({len(lines)} lines)"
    if not _matches(link.name, lines[link.line - 1]):
        return f"line {link.line} of {link.target.name} does not define `{link.name}`"
    return None


def best_line(link: Link) -> int | None:
    """The line that defines ``link.name`` (inside its class, if qualified), nearest the old one."""
    lines = link.target.read_text().splitlines()
    parts = link.name.removesuffix("()").split(".")
    start, end = 0, len(lines)
    if IDENTIFIER.fullmatch(link.name) and len(parts) > 1:
        owner = [i for i, t in enumerate(lines) if re.match(rf"class\s+{parts[-2]}\b", t)]
        if owner:
            start = owner[0]
            later = [i for i in range(start + 1, len(lines)) if re.match(r"\S", lines[i])]
            end = next((i for i in later if not lines[i].startswith(")")), len(lines))
    hits = [i + 1 for i in range(start, end) if _matches(link.name, lines[i])]
    return min(hits, key=lambda n: abs(n - link.line)) if hits else None


def check(docs: Path = DOCS) -> list[str]:
    """Every wrong link under ``docs``, as ``doc: link: why``."""
    out = []
    for doc in sorted(docs.rglob("*.md")):
        for link in find_links(doc):
            if (why := problem(link)) is not None:
                out.append(f"{doc.relative_to(docs)}: `{link.name}` -> {why}")
    return out


def fix(docs: Path = DOCS) -> list[str]:
    """Move each wrong link to the line that defines its name; return what could not be fixed."""
    left = []
    for doc in sorted(docs.rglob("*.md")):
        text = doc.read_text()
        # Right to left, so that the spans of earlier links stay valid.
        for link in reversed(find_links(doc)):
            if problem(link) is None:
                continue
            line = best_line(link) if link.target.is_file() else None
            if line is None:
                left.append(f"{doc.relative_to(docs)}: `{link.name}` not found")
                continue
            a, b = link.span
            text = text[:a] + str(line) + text[b:]
        doc.write_text(text)
    return left


if __name__ == "__main__":
    problems = fix() if "--fix" in sys.argv else check()
    print("\n".join(problems) or "all links point at what they name")
    sys.exit(1 if problems else 0)
