"""A command-line tool's dispatch on ``sys.argv`` inside an endless loop, run once.

The 1.5B's todo list (2026-12-07, twice) wrapped ``command = sys.argv[1]`` and its
``if command == 'add': ...`` in ``while True:``: ``python main.py add 'buy milk'`` added the
item until it was killed, filling todo.json, and the next command crashed on the half-written
file. Told "did not end within 6 s: a command-line tool does the command it is given and
exits", the fix sent the same loop back. The command line never changes inside such a loop,
so every turn does the same thing: the loop is removed and its body runs once.

Only a ``while True:`` (or ``while 1:``) with no ``else``, whose body reads ``sys.argv`` and
has no ``input()``, ``break``, ``return``, ``sleep`` or event loop of its own to wait on, and no
string spanning lines (dedenting would change it). The caller keeps the change only when the
program then ends by itself (``run/phases._check_and_repair``).
"""

from __future__ import annotations

import ast
from collections.abc import Mapping

from chatdev.checks.bindings import parse_sources
from chatdev.repair.argv import reads_argv

_WAITS = {"input", "sleep", "wait", "mainloop", "poll", "select", "accept", "recv", "readline", "getch", "tick"}


def run_once(sources: Mapping[str, str]) -> dict[str, str]:
    """``{path: new text}`` for each file with such a loop, its body run once ({} when none)."""
    out: dict[str, str] = {}
    for path, tree in sorted(parse_sources(sources).items()):
        loops = [node for node in ast.walk(tree) if _endless_dispatch(node)]
        if not loops:
            continue
        lines = sources[path].splitlines(keepends=True)
        for loop in sorted(loops, key=lambda n: n.lineno, reverse=True):  # bottom up: line numbers hold
            lines = _unwrapped(lines, loop)
        out[path] = "".join(lines)
    return out


def _endless_dispatch(node: ast.AST) -> bool:
    if not isinstance(node, ast.While) or node.orelse:
        return False
    if not (isinstance(node.test, ast.Constant) and node.test.value in (True, 1)):
        return False
    inner = [n for stmt in node.body for n in ast.walk(stmt)]
    if not any(reads_argv(n) for n in inner):
        return False
    for n in inner:
        if isinstance(n, (ast.Break, ast.Return, ast.While, ast.Yield, ast.Await)):
            return False
        if isinstance(n, ast.Attribute) and n.attr == "event":  # pygame.event.get(): a game's loop
            return False
        if isinstance(n, ast.Call):
            name = n.func.attr if isinstance(n.func, ast.Attribute) else getattr(n.func, "id", "")
            if name in _WAITS:
                return False
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and (n.end_lineno or n.lineno) > n.lineno:
            return False
    return node.body[0].lineno > node.lineno  # the body on lines of its own


def _unwrapped(lines: list[str], loop: ast.While) -> list[str]:
    """``lines`` with ``loop``'s header removed and its body dedented to the header's column."""
    first, last = loop.body[0].lineno, loop.end_lineno or loop.body[-1].lineno
    header = lines[loop.lineno - 1]
    at = len(header) - len(header.lstrip())
    body = lines[first - 1:last]
    step = min((len(ln) - len(ln.lstrip()) for ln in body if ln.strip()), default=at) - at
    # a comment indented less than the body loses only what it has
    dedented = [ln[min(step, len(ln) - len(ln.lstrip())):] if ln.strip() else ln for ln in body]
    return [*lines[:loop.lineno - 1], *lines[loop.lineno:first - 1], *dedented, *lines[last:]]
