"""Functions the program defines and never uses: a feature written and never wired in.

Seen on the 1.5B's unit converter (2026-12-08): ``convert_weight`` was right, and tested,
but ``main()`` only knew length and temperature units, so ``python main.py 1 kg g`` printed
"Invalid unit for conversion." The review read "Static check: clean" and approved. The Roman
converter's ``decimal_to_roman`` was the same: right, tested, never called. pyflakes does not
report an unused function, and the tests call it, so nothing said so.

``never_used(program)`` (pure, ``ast`` only) lists the public top-level functions of the
program's own files that no line of the program names outside their own body: not called,
not passed as a callback (``command=self.on_click``), not imported by another file, not in
``__all__``. A decorated function (a framework may call it), ``main``, and names starting
with ``_`` are left out. ``note`` is the line the review reads under the static check.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping

MAX_LISTED = 4


def never_used(program: Mapping[str, str]) -> list[tuple[str, str, int]]:
    """``(name, path, line)`` of each public top-level function nothing in the program names
    (``program``: the program's own files, its tests left out: a test's call is no use)."""
    trees: dict[str, ast.Module] = {}
    for rel, text in sorted(program.items()):
        if not rel.endswith(".py"):
            continue
        try:
            trees[rel] = ast.parse(text)
        except (SyntaxError, ValueError):
            return []  # pyflakes reports that first
    defined = [(node, rel) for rel, tree in trees.items() for node in tree.body
               if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and not node.decorator_list
               and node.name != "main" and not node.name.startswith("_")]
    out = []
    for fn, rel in defined:
        own = {id(n) for n in ast.walk(fn)}
        if not any(_names(node, fn.name) for tree in trees.values() for node in ast.walk(tree) if id(node) not in own):
            out.append((fn.name, rel, fn.lineno))
    return out


def _names(node: ast.AST, name: str) -> bool:
    """Whether ``node`` refers to ``name``: a use of the name, an attribute, an import, a string
    (``__all__``, ``getattr``)."""
    if isinstance(node, ast.Name):
        return node.id == name and isinstance(node.ctx, ast.Load)
    if isinstance(node, ast.Attribute):
        return node.attr == name
    if isinstance(node, ast.alias):
        return node.name == name or node.name.endswith("." + name)
    return isinstance(node, ast.Constant) and node.value == name


def note(program: Mapping[str, str]) -> str:
    """The review's line about functions defined and never used ("" when there are none)."""
    unused = never_used(program)
    if not unused:
        return ""
    listed = ", ".join(f"`{name}` ({rel} line {line})" for name, rel, line in unused[:MAX_LISTED])
    one = len(unused) == 1
    return (f"Never used: {listed} {'is' if one else 'are'} defined, but nothing in the program calls "
            f"{'it' if one else 'them'}. If the task needs what {'it does' if one else 'they do'}, the program "
            f"must call {'it' if one else 'them'} where it handles that case (from main()).")
