"""A variable a function assigns and reads before that, where the module has it: declared ``global``.

The 1.5B's snake game kept its state in module variables and changed them inside
``game_loop()``: ``snake_direction = ...`` on a key press, ``food = ...`` when eaten. The
function's ``global`` line named four of its variables and not these two, so its first read
of ``snake_direction`` raised ``UnboundLocalError`` at start. Four fix cycles (400 s) were
spent on it, two of them sending back the same code, before the manager's directive said
"Add a global declaration for 'food'". The crash names the variable and the function, and
the module (or an enclosing function) binds it: the only reading under which the code is
not broken is that the function meant that variable. ``declare_outer`` adds it to the
function's ``global`` (``nonlocal``) declaration and nothing else; the caller keeps the
change only when the same crash does not come back (``run/phases._verify_repairing``).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping
from dataclasses import dataclass

_UNBOUND = re.compile(r"UnboundLocalError: (?:cannot access local variable '(\w+)'"
                      r"|local variable '(\w+)' referenced before assignment)")
_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)
_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda,
           ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


def unbound_name(error: str) -> str | None:
    """The variable an ``UnboundLocalError`` line names (None: not that error)."""
    m = _UNBOUND.search(error)
    return (m.group(1) or m.group(2)) if m else None


def declare_outer(sources: Mapping[str, str], path: str, line: int, function: str, error: str) -> dict[str, str]:
    """``{path: new text}`` declaring the variable ``error`` names ``global`` (or ``nonlocal``) in
    ``function``, the function around ``path``:``line``; {} when the error is another one, or
    neither the module nor an enclosing function binds that variable."""
    name = unbound_name(error)
    text = sources.get(path)
    if name is None or text is None:
        return {}
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return {}
    chain = _functions_around(tree, line)
    if not chain or chain[-1].name != function:
        return {}
    fn = chain[-1]
    if fn.body[0].lineno == fn.lineno:  # ``def f(): ...`` on one line: no line to put it on
        return {}
    params = {a.arg for a in (*fn.args.posonlyargs, *fn.args.args, *fn.args.kwonlyargs,
                              *(x for x in (fn.args.vararg, fn.args.kwarg) if x))}
    if name in params or name not in _bound(fn.body):
        return {}
    keyword = next(("nonlocal" for outer in reversed(chain[:-1]) if name in _bound(outer.body)), None)
    if keyword is None and name in _bound(tree.body):
        keyword = "global"
    if keyword is None:
        return {}
    new = _declared(text, fn, keyword, name)
    try:
        compile(new, path, "exec")
    except (SyntaxError, ValueError):
        return {}
    return {path: new}


# pyflakes' line for a function that reads a variable before assigning it where the module has it
READ_BEFORE = re.compile(r"^(?P<file>[^:\n]+\.py):(?P<line>\d+):\d+: local variable '(?P<name>\w+)' defined in "
                         r"enclosing scope on line (?P<outer>\d+) referenced before assignment$", re.MULTILINE)


@dataclass(frozen=True)
class Declared:
    """What ``declare_read_before`` changed: ``{path: new text}`` and ``function: name`` for each declaration."""

    files: dict[str, str]
    names: list[str]


def declare_read_before(sources: Mapping[str, str], static_output: str) -> Declared | None:
    """The files with ``declare_outer`` applied for each pyflakes "local variable 'x'
    defined in enclosing scope ... referenced before assignment" whose outer binding is an
    assignment at the module's top level: the same crash, found before it happens.

    ``make demo`` (2026-12-07): the snake's ``main()`` changed ``direction``, ``food`` and
    ``score`` on a key press and when the food was eaten, and pyflakes said so through the whole
    review loop and test loop; no run pressed a key, so the game was never seen to die of it. A
    variable the module binds by an import is left to the import repair (``paddle = paddle.Paddle()``)."""
    changed: dict[str, str] = {}
    names: list[str] = []
    for m in READ_BEFORE.finditer(static_output):
        path, line, name = m.group("file"), int(m.group("line")), m.group("name")
        text = changed.get(path, sources.get(path))
        if text is None:
            continue
        try:
            tree = ast.parse(text)
        except (SyntaxError, ValueError):
            continue
        if not any(isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)) and name in _bound([node])
                   for node in tree.body):
            continue
        chain = _functions_around(tree, line)
        if len(chain) != 1:  # nested functions: the crash repair decides, on the real crash
            continue
        error = f"UnboundLocalError: cannot access local variable '{name}'"
        fixed = declare_outer({path: text}, path, line, chain[0].name, error)
        if fixed:
            changed[path] = fixed[path]
            names.append(f"{chain[0].name}: {name}")
    return Declared(changed, names) if changed else None


def _functions_around(tree: ast.Module, line: int) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
    """The functions whose body holds ``line``, outermost first."""
    found = [node for node in ast.walk(tree) if isinstance(node, _FUNCTIONS)
             and node.body and node.body[0].lineno <= line <= (node.end_lineno or node.lineno)]
    return sorted(found, key=lambda node: node.lineno)


def _bound(body: list[ast.stmt]) -> set[str]:
    """Names these statements bind in their own scope (not inside nested functions or classes)."""
    names: set[str] = set()
    todo: list[ast.AST] = list(body)
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
            continue
        if isinstance(node, _SCOPES):
            continue
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names if a.name != "*")
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
        todo.extend(ast.iter_child_nodes(node))
    return names


def _declared(text: str, fn: ast.FunctionDef | ast.AsyncFunctionDef, keyword: str, name: str) -> str:
    """``text`` with ``name`` added to ``fn``'s leading declaration, or a new one as its first line."""
    lines = text.splitlines(keepends=True)
    body = list(fn.body)
    docstring = (isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
                 and isinstance(body[0].value.value, str))
    rest = body[1:] if docstring else body
    kind = ast.Global if keyword == "global" else ast.Nonlocal
    head = rest[0] if rest else None
    if (isinstance(head, kind) and head.lineno == head.end_lineno and head.end_col_offset is not None
            and head.lineno > fn.lineno):
        row = lines[head.lineno - 1]
        lines[head.lineno - 1] = row[:head.end_col_offset] + f", {name}" + row[head.end_col_offset:]
        return "".join(lines)
    first = body[0]
    indent = lines[first.lineno - 1][:first.col_offset]
    if indent.strip():  # a statement after a ``;``: the function's column and four spaces
        indent = " " * (fn.col_offset + 4)
    at = (body[0].end_lineno or body[0].lineno) if docstring else first.lineno - 1
    lines.insert(at, f"{indent}{keyword} {name}\n")
    return "".join(lines)
