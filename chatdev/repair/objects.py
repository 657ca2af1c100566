"""A module used as the one object of its class: the object made, from the values named for it.

The 1.5B's breakout (2026-12-03 and 2026-12-04, both samples) wrote ball.py with
``class Ball`` and paddle.py with ``class Paddle``, then a main.py that did ``import ball``
and called ``ball.move()`` and ``paddle.draw(screen)`` on the modules, with the values
the objects need set just above the loop (``ball_x``, ``ball_y``, ``ball_radius``). It died at
once with ``AttributeError: module 'ball' has no attribute 'move'``. Told why (the crash's
"Why:" line, ``checks/crashes.py``) and how, three fixes sent main.py back as it was.

The crash names the module and the attribute; when every ``ball.X`` the file uses is a
method or field of exactly one class of ball.py and none a name of the module itself, and
each value the class's ``__init__`` requires is a variable named for it in the scope that
uses the module (``ball_x``, else ``x``), the only reading under which the code is not
broken is "one Ball made from those values". ``make_objects`` writes that: ``import ball``
becomes ``from ball import Ball``, and ``ball = Ball(ball_x, ball_y, ball_radius)`` goes before
the first statement that runs a use. The caller keeps it only when the crash moves on
(``run/phases._repair_crashes``).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath

from chatdev.checks.bindings import DEFINITIONS, bindings
from chatdev.checks.crashes import members

_MODULE_ATTR = re.compile(r"AttributeError: module '(\w+)' has no attribute '(\w+)'")
_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)
_DEFINITIONS = DEFINITIONS


@dataclass(frozen=True)
class Made:
    """What ``make_objects`` changed: ``{path: new text}``, and the object it made."""

    files: dict[str, str]
    module: str
    cls: str
    call: str  # ``Ball(ball_x, ball_y, ball_radius)``


def module_attribute(error: str) -> tuple[str, str] | None:
    """(module, attribute) of an ``AttributeError: module 'm' has no attribute 'a'`` line."""
    m = _MODULE_ATTR.search(error)
    return (m[1], m[2]) if m else None


def make_objects(sources: Mapping[str, str], path: str, error: str) -> Made | None:
    """The file ``path`` with the module the crash names made into one object of its class, or
    None when the error is another one or the code allows another reading."""
    found = module_attribute(error)
    text = sources.get(path)
    if found is None or text is None:
        return None
    module, attr = found
    rel = (PurePosixPath(path).parent / f"{module}.py").as_posix()
    other = sources.get(rel)
    if other is None or rel == path:
        return None
    try:
        tree, mod_tree = ast.parse(text), ast.parse(other)
    except (SyntaxError, ValueError):
        return None
    uses = [n for n in ast.walk(tree) if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name)
            and n.value.id == module]
    attrs = {u.attr for u in uses}
    if attr not in attrs or attrs & bindings(mod_tree).all():
        return None  # the module is used as a module somewhere too
    owners = [c for c in mod_tree.body if isinstance(c, ast.ClassDef) and attrs <= members(c)]
    if len(owners) != 1:
        return None
    cls = owners[0]
    imports = [n for n in tree.body if isinstance(n, ast.Import)
               and any(a.name == module and a.asname is None for a in n.names)]
    if len(imports) != 1 or len(imports[0].names) != 1 or imports[0].lineno != imports[0].end_lineno:
        return None
    if _rebinds(tree, module, imports[0]) or cls.name in bindings(tree).all():
        return None
    placed = _place(tree, uses, _required(cls), module, cls.name)
    if placed is None:
        return None
    line, indent, call = placed
    lines = text.splitlines(keepends=True)
    row = lines[imports[0].lineno - 1]
    start = imports[0].col_offset
    lines[imports[0].lineno - 1] = (row[:start] + f"from {module} import {cls.name}"
                                    + row[imports[0].end_col_offset or len(row.rstrip("\n")):])
    lines.insert(line - 1, f"{indent}{module} = {call}\n")
    new = "".join(lines)
    try:
        compile(new, path, "exec")
    except (SyntaxError, ValueError):
        return None
    return Made(files={path: new}, module=module, cls=cls.name, call=call)


def _required(cls: ast.ClassDef) -> list[str]:
    """The parameters ``cls(...)`` must be given (its ``__init__``'s, without defaults)."""
    init = next((n for n in cls.body if isinstance(n, _FUNCTIONS) and n.name == "__init__"), None)
    if init is None:
        return []
    positional = [*init.args.posonlyargs, *init.args.args][1:]
    kept = positional[:len(positional) - len(init.args.defaults)] if init.args.defaults else positional
    if any(d is None for d in init.args.kw_defaults):
        return ["*"]  # a keyword-only parameter without a default: not a call to guess
    return [a.arg for a in kept]


def _rebinds(tree: ast.Module, module: str, imported: ast.Import) -> bool:
    """Whether anything but that import binds the module's name (a parameter, an assignment)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id == module and not isinstance(node.ctx, ast.Load):
            return True
        if isinstance(node, ast.arg) and node.arg == module:
            return True
        if isinstance(node, (ast.Import, ast.ImportFrom)) and node is not imported and any(
                (a.asname or a.name).split(".")[0] == module for a in node.names):
            return True
        if isinstance(node, _DEFINITIONS) and node.name == module:
            return True
        if isinstance(node, (ast.Global, ast.Nonlocal)) and module in node.names:
            return True
    return False


def _place(tree: ast.Module, uses: list[ast.Attribute], required: list[str], module: str,
           cls: str) -> tuple[int, str, str] | None:
    """(line to insert before, its indentation, the call): in the one function that holds every
    use, else at the top level, before the first statement that runs a use."""
    if "*" in required:
        return None
    holders = {_function_of(tree, u) for u in uses}
    if len(holders) == 1 and (fn := next(iter(holders))) is not None:
        body: list[ast.stmt] = fn.body
    else:
        body = tree.body
    first = min(uses, key=lambda u: (u.lineno, u.col_offset))
    at = next((i for i, stmt in enumerate(body) if _holds(stmt, first)), None)
    if at is None:
        return None
    if body is tree.body and isinstance(body[at], _DEFINITIONS):
        # a use inside a function runs when it is called: before the first statement after it that runs
        at = next((i for i in range(at, len(body)) if not isinstance(
            body[i], (*_DEFINITIONS, ast.Import, ast.ImportFrom, ast.Assign, ast.AnnAssign))), None)
        if at is None:
            return None
    bound = _assigned(body[:at])
    args: list[str] = []
    for name in required:
        value = next((c for c in (f"{module}_{name}", f"{cls.lower()}_{name}", name) if c in bound), None)
        if value is None:
            return None
        args.append(value)
    stmt = body[at]
    line = min([stmt.lineno, *(d.lineno for d in getattr(stmt, "decorator_list", []))])
    return line, " " * stmt.col_offset, f"{cls}({', '.join(args)})"


def _function_of(tree: ast.Module, node: ast.AST) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    """The innermost function around ``node`` (None: the module's top level)."""
    around = [f for f in ast.walk(tree) if isinstance(f, _FUNCTIONS) and _holds(f, node)]
    return max(around, key=lambda f: f.lineno, default=None)


def _holds(stmt: ast.AST, node: ast.AST) -> bool:
    return any(n is node for n in ast.walk(stmt))


def _assigned(body: list[ast.stmt]) -> set[str]:
    """Names these statements assign directly (not in nested functions or classes)."""
    names: set[str] = set()
    for stmt in body:
        if isinstance(stmt, _DEFINITIONS):
            continue
        for node in ast.walk(stmt):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
    return names
