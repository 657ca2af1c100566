"""Missing imports, repaired without a model.

Small models forget imports all the time (``random``, ``pygame``, the class in
the file next door). The static check names them ("undefined name 'random'"),
and fixing that by hand costs a second, not a review cycle. This module only
reads and rewrites source text; it never runs it.
"""

from __future__ import annotations

import ast
import re
from pathlib import PurePosixPath

from chatdev.checks.bindings import bindings
from chatdev.repair.scopes import READ_BEFORE
from chatdev.sandbox import catalogue

UNDEFINED = re.compile(r"^(?P<file>[^:\n]+\.py):\d+:\d+: undefined name '(?P<name>\w+)'$", re.MULTILINE)
ALIASES = {"np": "import numpy as np", "tk": "import tkinter as tk", "plt": "import matplotlib.pyplot as plt"}


def _definitions(sources: dict[str, str]) -> dict[str, list[str]]:
    """Top-level class, function and constant names -> the project modules that define them."""
    found: dict[str, list[str]] = {}
    for path, text in sources.items():
        if not path.endswith(".py") or PurePosixPath(path).name.startswith("test_") or "/" in path:
            continue
        try:
            tree = ast.parse(text)
        except SyntaxError:
            continue
        for name in bindings(tree).public():
            found.setdefault(name, []).append(PurePosixPath(path).stem)
    return found


def _import_line(name: str, file: str, definitions: dict[str, list[str]]) -> str | None:
    if name in ALIASES:
        return ALIASES[name]
    if catalogue.has_module(name):
        return f"import {name}"
    owners = [m for m in definitions.get(name, []) if m != PurePosixPath(file).stem]
    if len(owners) == 1:
        return f"from {owners[0]} import {name}"
    return None


def insert_imports(text: str, lines: list[str], *, spaced: bool = False) -> str:
    """Put import lines after the module docstring, `from __future__` imports and a shebang
    (``spaced``: with a blank line after them when code follows at once)."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return text
    at = 0
    for node in tree.body:
        is_doc = isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
        if is_doc or (isinstance(node, ast.ImportFrom) and node.module == "__future__"):
            at = node.end_lineno or at
            continue
        break
    source = text.splitlines(keepends=True)
    if at == 0 and source and source[0].startswith("#!"):
        at = 1
    if at and not source[at - 1].endswith("\n"):
        source[at - 1] += "\n"
    added = [line + "\n" for line in lines]
    following = source[at] if at < len(source) else ""
    if spaced and following.strip() and not following.startswith(("import ", "from ")):
        added.append("\n")
    return "".join(source[:at] + added + source[at:])


MISSING = re.compile(r"^(?P<file>[^:\n]+\.py):\d+: No module named '(?P<name>[\w.]+)'$", re.MULTILINE)


def _rename_modules(sources: dict[str, str], static_report: str) -> dict[str, str]:
    """``import pyyaml`` / ``from pyyaml import load``: the PyPI name used as a module, put right."""
    changed: dict[str, str] = {}
    for m in MISSING.finditer(static_report):
        file, name = m.group("file"), m.group("name").split(".")[0]
        module = catalogue.module_for_pip(name)
        if module is None or file not in sources:
            continue
        text = changed.get(file, sources[file])
        text = re.sub(rf"^([ \t]*)from {re.escape(name)}(\.|[ \t])", rf"\1from {module}\2", text, flags=re.MULTILINE)
        text = re.sub(rf"^([ \t]*)import {re.escape(name)}[ \t]*$", rf"\1import {module} as {name}", text, flags=re.MULTILINE)
        if text != sources[file]:
            changed[file] = text
    return changed




def _unshadow(sources: dict[str, str], static_report: str) -> dict[str, str]:
    """``paddle = paddle.Paddle(400, 50)`` in a function, after ``import paddle``: the local hides the module.

    The right side meant the module: it becomes ``Paddle(400, 50)`` with ``from paddle import
    Paddle`` added, when the project module ``paddle`` defines ``Paddle``. The local keeps its
    name, so every later use in the function is the object, as the model wrote it.
    """
    definitions = _definitions(sources)
    changed: dict[str, str] = {}
    for m in READ_BEFORE.finditer(static_report):
        file, name = m.group("file"), m.group("name")
        text = changed.get(file, sources.get(file))
        if text is None:
            continue
        try:
            tree = ast.parse(text)
        except SyntaxError:
            continue
        cuts: list[tuple[int, int, int, str]] = []  # (line, start col, end col, attribute)
        for func in ast.walk(tree):
            if not isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(func):
                if not (isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name
                                                             for t in node.targets)):
                    continue
                for use in ast.walk(node.value):
                    if (isinstance(use, ast.Attribute) and isinstance(use.value, ast.Name) and use.value.id == name
                            and name in definitions.get(use.attr, []) and use.lineno == use.end_lineno):
                        cuts.append((use.lineno, use.col_offset, use.end_col_offset or 0, use.attr))
        if not cuts:
            continue
        lines = text.splitlines(keepends=True)
        for row, start, end, attr in sorted(set(cuts), reverse=True):
            line = lines[row - 1].encode()
            lines[row - 1] = (line[:start] + attr.encode() + line[end:]).decode()
        imports = sorted({f"from {name} import {attr}" for *_, attr in cuts})
        changed[file] = insert_imports("".join(lines), [i for i in imports if i not in text])
    return changed


def add_missing_imports(sources: dict[str, str], static_report: str) -> dict[str, str]:
    """The files whose undefined names are modules or project definitions, with the imports added
    (imports that name a package by its PyPI name, ``pyyaml`` for ``yaml``, put right, and a
    local that hides the project module it is made from, ``paddle = paddle.Paddle()``, unhidden).

    An import that would close a circle (``from main import GREEN`` in snake.py, which main.py
    imports) is not added: a constant with a literal value is copied instead (``GREEN = (0, 255,
    0)`` under snake.py's imports), anything else is left to the fixer. Seen in ``make demo``
    (2026-12-07): the fixer gave Snake a ``draw`` that used ``pygame`` and ``GREEN``; the import
    repair added ``from main import GREEN``, the game died on a circular import, the fix was rolled
    back, and the game was delivered dying on the missing ``draw``. A constant several modules bind
    to one literal value is copied too (which module to import it from would be a guess): the next
    fix gave Food a ``draw`` with the GREEN that main.py and snake.py then both had."""
    renamed = _rename_modules(sources, static_report)
    renamed.update(_unshadow({**sources, **renamed}, static_report))
    sources = {**sources, **renamed}
    definitions = _definitions(sources)
    graph = _import_graph(sources)
    wanted: dict[str, list[str]] = {}
    copied: dict[str, list[str]] = {}
    for m in UNDEFINED.finditer(static_report):
        file, name = m.group("file"), m.group("name")
        if file not in sources:
            continue
        line = _import_line(name, file, definitions)
        owner = line[5:].split(" ", 1)[0] if line and line.startswith("from ") else ""
        here = _module_name(file)
        owners = [m for m in definitions.get(name, []) if m != PurePosixPath(file).stem]
        circle = bool(owner) and here in graph and here in _reaches(graph, owner)
        if circle or (line is None and len(owners) > 1):  # an import closes a circle, or which one is a guess
            copies = {_constant_copy(sources.get(f"{o}.py", ""), name) for o in owners}
            copy = copies.pop() if len(copies) == 1 else None
            if copy and copy not in copied.setdefault(file, []):
                copied[file].append(copy)
            continue
        if owner and here in graph:
            graph[here].add(owner)
        if line and line not in wanted.setdefault(file, []):
            wanted[file].append(line)
    changed = dict(renamed)
    for file in dict.fromkeys([*wanted, *copied]):
        new = insert_imports(sources[file], wanted.get(file, []))
        new = _after_imports(new, copied.get(file, []))
        if new != sources[file]:
            changed[file] = new
    return changed


def _module_name(path: str) -> str:
    return path[:-3].replace("/", ".")


def _import_graph(sources: dict[str, str]) -> dict[str, set[str]]:
    """Each top-level program module -> the project modules it imports (anywhere in it)."""
    modules = {_module_name(p) for p in sources if p.endswith(".py") and "/" not in p}
    graph: dict[str, set[str]] = {}
    for module in modules:
        try:
            tree = ast.parse(sources[f"{module}.py"])
        except SyntaxError:
            graph[module] = set()
            continue
        names = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        names |= {n.module.split(".")[0] for n in ast.walk(tree)
                  if isinstance(n, ast.ImportFrom) and n.module and n.level == 0}
        graph[module] = names & modules
    return graph


def _reaches(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = {start}, [start]
    while todo:
        for nxt in graph.get(todo.pop(), set()) - seen:
            seen.add(nxt)
            todo.append(nxt)
    return seen


def _constant_copy(text: str, name: str) -> str | None:
    """``NAME = <literal>`` as the module binds it once at top level, or None."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return None
    found = [n for n in tree.body if isinstance(n, ast.Assign) and len(n.targets) == 1
             and isinstance(n.targets[0], ast.Name) and n.targets[0].id == name]
    if len(found) != 1:
        return None
    try:
        ast.literal_eval(found[0].value)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None
    return f"{name} = {ast.unparse(found[0].value)}"


def _after_imports(text: str, lines: list[str]) -> str:
    """``lines`` under the module's last top-level import (at the top when it has none)."""
    if not lines:
        return text
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return text
    imports = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    if not imports:
        return insert_imports(text, lines, spaced=True)
    at = max(n.end_lineno or n.lineno for n in imports)
    source = text.splitlines(keepends=True)
    if not source[at - 1].endswith("\n"):
        source[at - 1] += "\n"
    return "".join([*source[:at], *(line + "\n" for line in lines), *source[at:]])


_CLASS_AS_MODULE = re.compile(r"AttributeError: type object '(\w+)\.(\w+)' has no attribute '(\w+)'")


def class_as_module(sources: dict[str, str], path: str, error: str) -> dict[str, str]:
    """``{path: new text}`` for ``datetime.datetime.now()`` where the file did ``from datetime import
    datetime`` (the name is the class, not the module): ``datetime.now()``; {} for anything else.

    Seen on the 1.5B's digital clock (2026-12-07): ``type object 'datetime.datetime' has no attribute
    'datetime'`` at the first tick, delivered so.
    """
    m = _CLASS_AS_MODULE.search(error)
    text = sources.get(path)
    if m is None or text is None or m.group(2) != m.group(3):
        return {}
    module, cls = m.group(1), m.group(2)
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return {}
    from_import = any(isinstance(n, ast.ImportFrom) and n.module == module and n.level == 0
                      and any(a.name == cls and a.asname is None for a in n.names) for n in ast.walk(tree))
    module_import = any(isinstance(n, ast.Import) and any(a.name == module and a.asname is None for a in n.names)
                        for n in ast.walk(tree))
    if not from_import or module_import:
        return {}
    fixed = re.sub(rf"(?<![\w.]){re.escape(cls)}\.{re.escape(cls)}\b", cls, text)
    try:
        ast.parse(fixed)
    except SyntaxError:
        return {}
    return {path: fixed} if fixed != text else {}
