"""A function that uses a variable its callers hold: the variable passed in as a parameter.

The 1.5B's tic-tac-toe (2026-12-07) kept its board in ``main()`` as a local and passed it to
``is_valid_move(board, move)`` and ``print_board(board)``, but wrote ``get_player_input(player)``
reading ``board[move - 1]``: pyflakes said "undefined name 'board'", two code_fix cycles sent
the same function back, and the delivered game died of a ``NameError`` at the first move.
Where every call of the function sits in a function that holds the variable as a local, and
at least one call exists or a sibling function takes a parameter of that name, the only
reading under which the code is not broken is that the function meant the caller's value:
``pass_locals`` adds the parameter to the ``def`` and the argument to each call, and nothing
else. The caller keeps the change only when the static errors go down and the program still
runs (``run/phases._verify_repairing``).
"""

from __future__ import annotations

import ast
import builtins
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath

from chatdev.checks.bindings import bindings, parse_sources

_UNDEFINED = re.compile(r"^([\w./-]+\.py):(\d+):(?:\d+:?)? undefined name '(\w+)'", re.MULTILINE)
_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)


@dataclass(frozen=True)
class Passed:
    """What ``pass_locals`` changed: ``files`` (path -> new text) and ``functions`` (``utils.py:get_input(board)``)."""

    files: dict[str, str]
    functions: tuple[str, ...]


def pass_locals(sources: Mapping[str, str], static_output: str) -> Passed | None:
    """The program with each function that uses an undefined name its callers hold given that
    name as a parameter (None: no such function)."""
    trees = parse_sources(sources)
    edits: dict[str, list[tuple[int, int, str]]] = {}
    done: list[str] = []
    seen: set[tuple[str, str, str]] = set()
    for m in _UNDEFINED.finditer(static_output):
        path, line, name = m.group(1), int(m.group(2)), m.group(3)
        tree = trees.get(path)
        if tree is None or hasattr(builtins, name) or name in bindings(tree).all():
            continue
        fn = next((n for n in tree.body if isinstance(n, _FUNCTIONS)
                   and n.lineno <= line <= (n.end_lineno or n.lineno)), None)
        if fn is None or (path, fn.name, name) in seen or not _plain(fn) or name in _params(fn):
            continue
        seen.add((path, fn.name, name))
        calls = _calls(trees, path, fn.name)
        if calls is None or not all(name in _locals(caller) for _, caller, _ in calls):
            continue
        if not calls and not _sibling_takes(trees, name):
            continue
        at = _param_at(sources[path], fn)
        if at is None:
            continue
        edits.setdefault(path, []).append((*at, name if not _params(fn) else f", {name}"))
        for where, _, call in calls:
            last = (call.end_lineno or call.lineno, (call.end_col_offset or 1) - 1)  # before its ")"
            text = name if not (call.args or call.keywords) else f", {name}"
            edits.setdefault(where, []).append((*last, text if not call.keywords else f", {name}={name}"))
        done.append(f"{path}:{fn.name}({name})")
    if not done:
        return None
    files: dict[str, str] = {}
    for path, changes in edits.items():
        lines = sources[path].splitlines(keepends=True)
        for row, col, text in sorted(set(changes), reverse=True):
            line = lines[row - 1]
            at = len(line.encode("utf-8")[:col].decode("utf-8", errors="ignore"))  # ast counts bytes
            lines[row - 1] = line[:at] + text + line[at:]
        files[path] = "".join(lines)
        try:
            ast.parse(files[path])
        except SyntaxError:
            return None
    return Passed(files, tuple(done))


def _plain(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """Only positional parameters without defaults: a new last one goes after them."""
    a = fn.args
    return not (a.vararg or a.kwarg or a.kwonlyargs or a.defaults or a.posonlyargs)


def _params(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> list[str]:
    return [a.arg for a in fn.args.args]


def _locals(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> set[str]:
    """What a function binds itself: its parameters and the names it assigns (not in nested scopes)."""
    names = set(_params(fn))
    stack: list[ast.AST] = list(fn.body)
    while stack:
        node = stack.pop()
        if isinstance(node, (*_FUNCTIONS, ast.ClassDef, ast.Lambda)):
            continue
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        stack.extend(ast.iter_child_nodes(node))
    return names


def _calls(trees: Mapping[str, ast.Module], path: str, name: str
           ) -> list[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef, ast.Call]] | None:
    """Every call of ``path``'s top-level function ``name`` in the program, with the function it
    sits in; None when one is anywhere else (module level, a lambda) or passes ``*args``."""
    module = PurePosixPath(path).with_suffix("").as_posix().replace("/", ".")
    found: list[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef, ast.Call]] = []
    for where, tree in trees.items():
        direct = where == path or any(
            isinstance(n, ast.ImportFrom) and n.module == module and any(a.name == name and not a.asname
                                                                         for a in n.names)
            for n in ast.walk(tree))
        imported = any(isinstance(n, ast.Import) and any(a.name == module and not a.asname for a in n.names)
                       for n in ast.walk(tree))
        for caller, call in _calls_in(tree):
            f = call.func
            if not ((direct and isinstance(f, ast.Name) and f.id == name)
                    or (imported and isinstance(f, ast.Attribute) and f.attr == name
                        and isinstance(f.value, ast.Name) and f.value.id == module)):
                continue
            if caller is None or any(isinstance(a, ast.Starred) for a in call.args) or any(
                    k.arg is None for k in call.keywords):
                return None
            found.append((where, caller, call))
    return found


def _calls_in(tree: ast.Module) -> list[tuple[ast.FunctionDef | ast.AsyncFunctionDef | None, ast.Call]]:
    """Each call in the module with the top-level function (or a method) it sits in, None at module level."""
    out: list[tuple[ast.FunctionDef | ast.AsyncFunctionDef | None, ast.Call]] = []

    def visit(node: ast.AST, fn: ast.FunctionDef | ast.AsyncFunctionDef | None) -> None:
        for child in ast.iter_child_nodes(node):
            inner = child if isinstance(child, _FUNCTIONS) else fn
            if isinstance(child, ast.Lambda):
                inner = None
            if isinstance(child, ast.Call):
                out.append((inner, child))
            visit(child, inner)

    visit(tree, None)
    return out


def _sibling_takes(trees: Mapping[str, ast.Module], name: str) -> bool:
    """Whether another function of the program takes a parameter ``name`` (``is_valid_move(board, move)``)."""
    return any(isinstance(n, _FUNCTIONS) and name in _params(n) for t in trees.values() for n in ast.walk(t))


def _param_at(text: str, fn: ast.FunctionDef | ast.AsyncFunctionDef) -> tuple[int, int] | None:
    """(line, column) of the ``)`` that closes ``fn``'s parameters."""
    lines = text.splitlines(keepends=True)
    row, col = fn.lineno, fn.col_offset
    depth, started = 0, False
    while row <= len(lines):
        line = lines[row - 1]
        while col < len(line):
            ch = line[col]
            if ch == "#":
                break
            if ch == "(":
                depth, started = depth + 1, True
            elif ch == ")" and started:
                depth -= 1
                if depth == 0:
                    return row, col
            col += 1
        row, col = row + 1, 0
    return None
