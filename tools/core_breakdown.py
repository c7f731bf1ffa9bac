"""What the core's lines of code are spent on: each code line of events.py and engine.py in one row.

Counts code lines as ``../shared/tools/core_size.py`` does (no docstrings, comments or blank
lines). A line belongs to "argument checks" when it is in a ``_check_*`` function, a filter's
``__post_init__``, a check helper, an ``_expect(...)`` call or a ``raise`` (with an ``if`` whose
only statement is that ``raise``); otherwise to the part its function or class is listed under
in ``PARTS``. Run from the repository's root: ``python tools/core_breakdown.py``.
"""

from __future__ import annotations

import ast
import io
import tokenize
from pathlib import Path

FILES = ["miniengine/engine/events.py", "miniengine/engine/engine.py"]
CHECKS = "_check_state_dict _check_limit _check_run_args __post_init__ _bind_error"
CHECKS += " _signature_error _expect _is_int _allowed_key"
PARTS = {
    "the loop (schedule, driver, data)": "_drive _run_events _iteration_events _data_ended "
    "_new_data_iter _epoch_completed _completed _handle_exception _Terminate _TerminateEpoch",
    "run() and its plan": "run _plan set_data _is_done _length",
    "resume state dicts": "state_dict_user_keys state_dict load_state_dict _epoch_end_due",
    "handlers (add, remove, view, fire)": "register_events has_registered_events "
    "add_event_handler on has_event_handler remove_event_handler event_handlers "
    "set_event_handlers _handlers_changed _fire_event fire_event HandlerEntry",
    "terminate / terminate_epoch / interrupt": "terminate terminate_epoch interrupt",
    "events and filters": "CountFilter Every Once Between CallableEventWithFilter EventEnum "
    "Events EventsList _key",
    "State, RemovableEventHandle": "State RemovableEventHandle",
    "Engine.__init__, the state property": "__init__ state",
    "SIGTERM, time format": "_sigterm_as_exit _hms",
}


def code_lines(src: str, tree: ast.AST) -> set[int]:
    docs: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                if isinstance(first.value.value, str):
                    docs.update(range(first.lineno, (first.end_lineno or first.lineno) + 1))
    skip = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT}
    tokens = tokenize.generate_tokens(io.StringIO(src).readline)
    return {t.start[0] for t in tokens if t.type not in skip | {tokenize.ENDMARKER}} - docs


def span(node: ast.AST) -> range:
    first = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
    return range(first, (node.end_lineno or node.lineno) + 1)


def check_lines(tree: ast.AST) -> set[int]:
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name in CHECKS.split():
            found.update(span(node))
        elif isinstance(node, ast.Call) and getattr(node.func, "id", "") == "_expect":
            found.update(span(node))
        elif isinstance(node, ast.Raise):
            found.update(span(node))
        elif isinstance(node, ast.If) and not node.orelse and len(node.body) == 1:
            if isinstance(node.body[0], ast.Raise):
                found.update(span(node))
    return found


def part_of(name: str, owner: str | None) -> str | None:
    for part, names in PARTS.items():
        if name in names.split():
            return part
    return part_of(owner, None) if owner else None


def visit(body: list[ast.stmt], cls: str | None, owner_of: dict[int, str]) -> None:
    """Record, for each line of these statements, the part its function or class belongs to."""
    for node in body:
        if isinstance(node, ast.ClassDef) and node.name == "Engine":
            visit(node.body, "Engine", owner_of)
        elif isinstance(node, ast.FunctionDef | ast.ClassDef):
            part = part_of(node.name, cls) or f"other: {node.name}"
            for line in span(node):
                owner_of.setdefault(line, part)
        elif isinstance(node, ast.Assign) and "HandlerEntry" in ast.unparse(node.targets):
            for line in span(node):
                owner_of.setdefault(line, "handlers (add, remove, view, fire)")


def main() -> None:
    totals: dict[str, int] = {}
    for path in FILES:
        src = Path(path).read_text()
        tree = ast.parse(src)
        code = code_lines(src, tree)
        checks = code & check_lines(tree)
        totals["argument checks and their messages"] = totals.get(
            "argument checks and their messages", 0
        ) + len(checks)
        owner_of: dict[int, str] = {}
        visit(tree.body, None, owner_of)
        for line in code - checks:
            part = owner_of.get(line, "imports, module level, class lines")
            totals[part] = totals.get(part, 0) + 1
    for part, n in sorted(totals.items(), key=lambda item: -item[1]):
        print(f"{n:5d}  {part}")
    print(f"{sum(totals.values()):5d}  in all")


if __name__ == "__main__":
    main()
