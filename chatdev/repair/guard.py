"""The calls that start a program, put under ``if __name__ == "__main__":`` when its tests import it.

The 1.5B writes a game as module code ending in a bare ``game_loop()``, and its tester then
writes ``from main import game_loop, restart_game``: collecting the tests starts the game,
which never returns (or dies first), so not one test runs and the failure reads like the
program's. The calls that end the entry file, and a top-level ``while`` loop among them, are
what starts it: moved under the guard, ``python main.py`` does exactly what it did, and an
import only defines. So is a top-level ``while`` loop with whatever follows it, up to a guard
the file already has (that guard stays, after the new one). Nothing else in the file changes.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping
from pathlib import PurePosixPath


def guard_entry(sources: Mapping[str, str], entry: str, tests: Mapping[str, str]) -> dict[str, str]:
    """``{entry: new text}`` with its closing calls under a main guard, when a file of ``tests``
    imports ``entry`` and ``entry`` has no guard ({} otherwise)."""
    text = sources.get(entry)
    if text is None or not entry.endswith(".py") or not _imported_by(entry, tests):
        return {}
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return {}
    guard = next((i for i, node in enumerate(tree.body) if _is_guard(node)), None)
    loop = next((i for i, node in enumerate(tree.body[:guard]) if isinstance(node, ast.While)), None)
    if loop is not None:
        # a game loop at the top level, with whatever follows it up to the guard (saving the high
        # score, say): the 1.5B breakout (2026-12-07) had `while running:`, then `with open(...)`,
        # then the guard this repair had put around its last calls; collecting its tests hung
        # for 100 s in each check and found none
        tail = tree.body[loop:guard]
        if any(isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) for n in tail):
            return {}  # definitions after the loop: moving them would hide them from the tests
    elif guard is not None:
        return {}
    else:
        start = len(tree.body)
        while start > 0 and _starts(tree.body[start - 1]):
            start -= 1
        tail = tree.body[start:]
        if not tail or not any(isinstance(node, ast.Expr) for node in tail):
            return {}
    if any(isinstance(n, ast.Constant) and isinstance(n.value, str) and (n.end_lineno or n.lineno) > n.lineno
           for node in tail for n in ast.walk(node)):
        return {}  # indenting would change a string that spans lines
    lines = text.splitlines(keepends=True)
    first = _first_line(tail[0])
    if lines[first - 1][:tail[0].col_offset].strip():
        return {}  # shares its line with the statement before (``x = 1; main()``)
    last = _first_line(tree.body[guard]) - 1 if guard is not None else len(lines)
    body = lines[first - 1:last]
    moved = ["    " + ln if ln.strip() else ln for ln in body]
    head = "".join(lines[:first - 1])
    if head and not head.endswith("\n"):
        head += "\n"
    new = head + 'if __name__ == "__main__":\n' + "".join(moved)
    if not new.endswith("\n"):
        new += "\n"
    new += "".join(lines[last:])
    try:
        compile(new, entry, "exec")
    except (SyntaxError, ValueError):
        return {}  # a string literal spanning lines, say: left alone
    return {entry: new}


def _starts(node: ast.stmt) -> bool:
    """A statement that runs the program: a bare call (``main()``, ``root.mainloop()``) or a loop."""
    return (isinstance(node, ast.Expr) and isinstance(node.value, ast.Call)) or isinstance(node, ast.While)


def _first_line(node: ast.stmt) -> int:
    decorators = getattr(node, "decorator_list", [])
    return min([node.lineno, *(d.lineno for d in decorators)])


def _is_guard(node: ast.stmt) -> bool:
    return (isinstance(node, ast.If) and isinstance(node.test, ast.Compare)
            and any(isinstance(n, ast.Name) and n.id == "__name__" for n in ast.walk(node.test)))


def _imported_by(entry: str, tests: Mapping[str, str]) -> bool:
    """Does a test file import ``entry`` as a module (``import main``, ``from main import x``)?"""
    module = PurePosixPath(entry).with_suffix("").as_posix().replace("/", ".")
    pattern = re.compile(rf"^\s*(?:from\s+{re.escape(module)}\s+import\b|import\s+{re.escape(module)}\b)", re.M)
    return any(pattern.search(text) for text in tests.values())
