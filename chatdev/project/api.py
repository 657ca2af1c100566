"""What a project's modules offer to import: the tester's first line, written for it.

The 1.5B's tester, shown the program, pasted main.py above its tests (the converter),
called ``main(["add", "Buy milk"])`` on an argparse ``main()`` (the todo list), or used
names main.py never defined. Told exactly what it can import and with which parameters,
it has a line to copy instead: ``from main import is_prime, print_primes  # is_prime(n),
print_primes(limit)``. Pure ``ast`` reading; ``main`` itself is left out (calling it starts
the program, which a test must not do).
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from pathlib import PurePosixPath

from chatdev.sandbox.runner.probe import is_test_file

LEFT_OUT = frozenset({"main"})  # starts the program: not for a unit test
MAX_METHODS = 6


def importable(sources: Mapping[str, str]) -> str:
    """One ``from MODULE import A, B  # A(x), B(y)`` line per program module with public names."""
    lines: list[str] = []
    for path in sorted(sources):
        if not path.endswith(".py") or is_test_file(PurePosixPath(path)) or PurePosixPath(path).name.startswith("__"):
            continue
        try:
            tree = ast.parse(sources[path])
        except (SyntaxError, ValueError):
            continue
        names: list[str] = []
        shapes: list[str] = []
        for node in tree.body:
            if node_name(node) is None:
                continue
            names.append(node.name)  # type: ignore[union-attr]
            shapes.append(_shape(node))  # type: ignore[arg-type]
        if names:
            module = path[:-3].replace("/", ".")
            lines.append(f"from {module} import {', '.join(names)}  # {'; '.join(shapes)}")
    return "\n".join(lines)


def node_name(node: ast.stmt) -> str | None:
    """The public function or class a top-level statement defines (None: anything else)."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and \
            not node.name.startswith("_") and node.name not in LEFT_OUT:
        return node.name
    return None


def _shape(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> str:
    if not isinstance(node, ast.ClassDef):
        return f"{node.name}({_params(node)})"
    init = next((n for n in node.body if isinstance(n, ast.FunctionDef) and n.name == "__init__"), None)
    methods = [n for n in node.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
               and not n.name.startswith("_")][:MAX_METHODS]
    shown = f"{node.name}({_params(init) if init else ''})"
    if methods:
        shown += " with " + ", ".join(f".{m.name}({_params(m)})" for m in methods)
    return shown


def _params(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> str:
    args = fn.args
    positional = [*args.posonlyargs, *args.args]
    if positional and positional[0].arg in ("self", "cls"):
        positional = positional[1:]
    names = [a.arg for a in positional]
    if args.vararg:
        names.append(f"*{args.vararg.arg}")
    names += [a.arg for a in args.kwonlyargs]
    if args.kwarg:
        names.append(f"**{args.kwarg.arg}")
    return ", ".join(names)
