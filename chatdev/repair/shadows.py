"""A method hidden by a flag of the same name: ``self.start_screen = True`` and ``def start_screen(self)``.

Seen on the 1.5B snake (2026-12-06, all four coding candidates): class Game set
``self.start_screen = True`` in ``__init__``, read it in ``if self.start_screen:``, and also
defined ``def start_screen(self)`` to draw the title. On the object the value hides the method,
so ``self.start_screen()`` died at once with ``TypeError: 'bool' object is not callable``.
The same shape comes as ``self.game_over = False`` beside ``def game_over(self)``.

The code says what each use means: a call is the method, a truth test or an assignment is the
flag. ``rename_flag`` (pure) gives the flag its own name (``is_start_screen``) in the class that
has both, and leaves the method and its calls as they were. It acts only when that reading is
the only one:

- the crash is ``'<type>' object is not callable`` at a line that calls ``<obj>.X(...)``;
- exactly one class of the crashing file defines ``def X`` and assigns ``self.X`` a value
  that is not callable (a constant, a comparison, ``not ...``, a literal container);
- inside that class every other use of ``self.X`` is a store or a truth test (``if``,
  ``while``, ``not``, ``and``/``or``, a comparison, a conditional expression); one passed on or
  kept (``command=self.X``, ``f = self.X``) could mean either, and nothing changes;
- no other file and no code outside the class uses ``.X`` other than as a call.

The caller keeps the change only when the crash moves on (``run/phases._repair_crashes``).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping
from dataclasses import dataclass

from chatdev.checks.crashes import is_self_attr, self_stores

_NOT_CALLABLE = re.compile(r"TypeError: '(\w+)' object is not callable")
_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)
_VALUES = (ast.Constant, ast.Compare, ast.BoolOp, ast.UnaryOp, ast.List, ast.Tuple, ast.Dict, ast.Set,
           ast.JoinedStr, ast.BinOp)  # what a flag is set to; never a callable


@dataclass(frozen=True)
class Renamed:
    """What ``rename_flag`` changed: ``{path: new text}``, the class, the method and the flag's new name."""

    files: dict[str, str]
    cls: str
    method: str
    flag: str


def not_callable(error: str) -> str | None:
    """The type of a ``TypeError: '<type>' object is not callable`` line, else None."""
    m = _NOT_CALLABLE.search(error)
    return m[1] if m else None


def rename_flag(sources: Mapping[str, str], path: str, line: int, error: str) -> Renamed | None:
    """``path`` with the flag that hides a method of its class renamed, or None when the rule
    does not apply (see the module)."""
    text = sources.get(path)
    if not_callable(error) is None or text is None:
        return None
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return None
    called = {node.func.attr for node in ast.walk(tree) if isinstance(node, ast.Call)
              and isinstance(node.func, ast.Attribute) and node.lineno <= line <= (node.end_lineno or node.lineno)}
    owners = [(cls, name) for cls in ast.walk(tree) if isinstance(cls, ast.ClassDef)
              for name in sorted(called) if _hides(cls, name)]
    if len(owners) != 1:
        return None
    cls, name = owners[0]
    flags = _flag_uses(cls, name)
    if flags is None or not _only_called_elsewhere(sources, path, tree, cls, name):
        return None
    new = _free_name(f"is_{name}" if not name.startswith("is_") else f"{name}_flag", text)
    lines = text.splitlines(keepends=True)
    for node in sorted(flags, key=lambda n: (n.end_lineno or 0, n.end_col_offset or 0), reverse=True):
        row, end = (node.end_lineno or node.lineno) - 1, node.end_col_offset or 0
        raw = lines[row].encode()  # ast offsets count UTF-8 bytes
        start = end - len(name.encode())
        if raw[start:end].decode(errors="replace") != name:
            return None
        lines[row] = (raw[:start] + new.encode() + raw[end:]).decode()
    result = "".join(lines)
    try:
        ast.parse(result)
    except SyntaxError:
        return None
    return Renamed({path: result}, cls.name, name, new)


def _hides(cls: ast.ClassDef, name: str) -> bool:
    """Whether ``cls`` defines ``def name`` and also assigns ``self.name`` a value that is no callable."""
    if not any(isinstance(n, _FUNCTIONS) and n.name == name for n in cls.body):
        return False
    values = [node.value for node in self_stores(cls, name)]
    return bool(values) and all(isinstance(v, _VALUES) for v in values)


def _flag_uses(cls: ast.ClassDef, name: str) -> list[ast.Attribute] | None:
    """Every ``self.name`` in ``cls`` that is the flag (a store or a truth test), or None when one
    use is neither a call nor the flag."""
    parents = {child: parent for parent in ast.walk(cls) for child in ast.iter_child_nodes(parent)}
    flags: list[ast.Attribute] = []
    for node in ast.walk(cls):
        if not is_self_attr(node, name):
            continue
        parent = parents.get(node)
        if isinstance(parent, ast.Call) and parent.func is node:
            continue  # the method
        if isinstance(node.ctx, (ast.Store, ast.Del)) or _truth_test(node, parent):
            flags.append(node)
            continue
        return None
    return flags


def _truth_test(node: ast.expr, parent: ast.AST | None) -> bool:
    if isinstance(parent, (ast.If, ast.While, ast.IfExp, ast.Assert)) and parent.test is node:
        return True
    if isinstance(parent, ast.UnaryOp) and isinstance(parent.op, ast.Not):
        return True
    if isinstance(parent, ast.AugAssign) and parent.target is node:
        return True
    return isinstance(parent, (ast.BoolOp, ast.Compare))


def _only_called_elsewhere(sources: Mapping[str, str], path: str, tree: ast.Module, cls: ast.ClassDef,
                           name: str) -> bool:
    """Whether every ``.name`` outside ``cls`` (in this file and the others) is a call."""
    inside = {id(n) for n in ast.walk(cls)}
    trees = [tree]
    for rel, other in sources.items():
        if rel != path and rel.endswith(".py"):
            try:
                trees.append(ast.parse(other))
            except (SyntaxError, ValueError):
                continue
    for t in trees:
        calls = {id(n.func) for n in ast.walk(t) if isinstance(n, ast.Call)}
        for node in ast.walk(t):
            if isinstance(node, ast.Attribute) and node.attr == name and id(node) not in inside \
                    and id(node) not in calls:
                return False
    return True


def _free_name(name: str, text: str) -> str:
    """``name``, or ``name_2``, ``name_3``... when the file already uses it."""
    found, n = name, 1
    while re.search(rf"\b{re.escape(found)}\b", text):
        n += 1
        found = f"{name}_{n}"
    return found
