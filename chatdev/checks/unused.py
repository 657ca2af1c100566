"""What the program writes and never uses: a function never called, a parameter never read.

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

``unread_parameter(case, program)`` reads a failing test the other way: the 1.5B Caesar's
``caesar_cipher(text, shift, operation)`` never read ``operation`` (``main()`` decoded by
passing ``-shift``), so the test's ``caesar_cipher("khoor", 3, "decode")`` encoded. When a test
line gives a program function a value for a parameter its body never reads, the report says so.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping

from chatdev.checks.bindings import parse_sources
from chatdev.checks.triage import TestCase, test_line_trees

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


def unread_parameter(case: TestCase, program: Mapping[str, str]) -> str:
    """A ``Why:`` line when the failing test's own lines give a program function a value for a
    parameter that function never reads ("" when not)."""
    if not case.failed or not program:
        return ""
    functions: dict[str, tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]] = {}
    for rel, tree in parse_sources(dict(sorted(program.items()))).items():
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                functions.setdefault(node.name, (rel, node))
    for tree in test_line_trees(case):
        for call in (n for n in ast.walk(tree) if isinstance(n, ast.Call)):
            name = call.func.id if isinstance(call.func, ast.Name) else \
                call.func.attr if isinstance(call.func, ast.Attribute) else ""
            if name not in functions:
                continue
            rel, fn = functions[name]
            params = [a.arg for a in (*fn.args.posonlyargs, *fn.args.args)]
            read = {n.id for n in ast.walk(fn) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
            given = {params[i]: arg for i, arg in enumerate(call.args) if i < len(params)
                     and not isinstance(arg, ast.Starred)}
            given.update({k.arg: k.value for k in call.keywords if k.arg in params})
            for param, value in given.items():
                if param not in read and param not in ("self", "cls"):
                    return (f"Why: {name}() never reads its parameter `{param}` ({rel} line {fn.lineno}), so the "
                            f"{ast.unparse(value)} this test gives it changes nothing: make {name} use `{param}`.")
    return ""
