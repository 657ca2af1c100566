"""An argument count check that refuses the task's own command line, fitted to it.

The 1.5B checks ``len(sys.argv)`` off by one or two again and again: the Caesar tool
wanted ``!= 3`` for ``encode 3 hello`` (three arguments, so ``len(sys.argv)`` is 4), the
unit converter ``!= 5`` for ``10 km m``; each printed its usage and stopped, and fix
cycles told exactly that ("it gives 3 arguments, so len(sys.argv) is 4") sent the same
code back. When a run given ``n`` arguments printed only its usage, and the program has
one kind of ``len(sys.argv) <op> K`` test that refuses ``n + 1``, ``K`` is changed so that
``n + 1`` passes; nothing else is touched. The caller keeps the change only when the
program then runs (``run/phases._verify_repairing``), so a program that really needs more
arguments is left as it was.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping


def fit_arity(sources: Mapping[str, str], n_args: int) -> dict[str, str]:
    """``{path: new text}`` for the one file whose ``len(sys.argv)`` test refuses ``n_args``
    arguments ({} when there is no such test, or several that disagree)."""
    wanted = n_args + 1
    edits: dict[str, list[tuple[int, int, int, int]]] = {}
    already = False  # a test that names this count already: the refusal is not about the count
    for path, text in sources.items():
        if not path.endswith(".py"):
            continue
        try:
            tree = ast.parse(text)
        except (SyntaxError, ValueError):
            continue
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Compare) and len(node.ops) == 1 and _is_len_argv(node.left)):
                continue
            const = node.comparators[0]
            if not (isinstance(const, ast.Constant) and type(const.value) is int):
                continue
            already |= isinstance(node.ops[0], (ast.Eq, ast.NotEq)) and const.value == wanted
            new = _fitted(node.ops[0], const.value, wanted)
            if new is not None and const.end_col_offset is not None:
                edits.setdefault(path, []).append((const.lineno, const.col_offset, const.end_col_offset, new))
    if len(edits) != 1 or already:
        return {}
    path, spots = next(iter(edits.items()))
    if len({spot[3] for spot in spots}) != 1:
        return {}  # tests that would need different numbers: not one off-by-one
    lines = sources[path].splitlines(keepends=True)
    for line, start, end, new in sorted(spots, reverse=True):
        text = lines[line - 1]
        lines[line - 1] = text[:start] + str(new) + text[end:]
    return {path: "".join(lines)}


def _fitted(op: ast.cmpop, k: int, wanted: int) -> int | None:
    """The constant that lets ``len(sys.argv) == wanted`` through, or None when it already does
    (or the test is of a kind that cannot be the refusal)."""
    if isinstance(op, (ast.Eq, ast.NotEq)):
        return wanted if k != wanted else None
    if isinstance(op, ast.Lt):  # `if len(sys.argv) < K: usage`
        return wanted if wanted < k else None
    if isinstance(op, ast.LtE):
        return wanted - 1 if wanted <= k else None
    return None


def _is_len_argv(node: ast.expr) -> bool:
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "len"
            and len(node.args) == 1):
        return False
    arg = node.args[0]
    return ((isinstance(arg, ast.Attribute) and arg.attr == "argv" and isinstance(arg.value, ast.Name)
             and arg.value.id == "sys") or (isinstance(arg, ast.Name) and arg.id == "argv"))
