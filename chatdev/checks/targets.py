"""What of the program a failing test calls: where a fix for it belongs.

A fix prompt pointed the programmer at the files its report spells, and a test report spells
the test file and the entry point (`` `python3 main.py` ... ok``), not the code under test.
Seen on the 1.5B snake (2026-12-07): ``test_snake_move`` failed on what ``Snake.move`` in
snake.py left in ``snake.body``; the prompt said "The failure points at main.py,
tests/test_main.py", and the programmer copied snake.py's classes into main.py, which the test
never imports, three cycles running. So the tests the report sends to the programmer (lines
``tests/test_x.py::test_y: ...``) are read for the program's functions and methods they call,
through the test file's imports (``from snake import Snake``; ``import snake`` then
``snake.Snake``) and the objects it makes (``s = Snake()`` then ``s.move()``). A method is named
with its class, a class called for an object by its constructor when it has one. Pure: the
report and the project's sources in, ``Target`` s out.
"""

from __future__ import annotations

import ast
import dataclasses
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from chatdev.checks.bindings import parse_sources
from chatdev.sandbox.runner.probe import is_test_file

# a failing test as the report lists it for the programmer: "tests/test_main.py::test_move: ..."
FAILING = re.compile(r"^(?P<file>[\w./-]+\.py)::(?P<name>\w+)(?:\[[^\]\n]*\])?:", re.MULTILINE)
MAX_TARGETS = 4
_DATA_FILE = re.compile(r"[\w.-]+(?:/[\w.-]+)*\.(?:txt|json|csv|tsv|dat)")  # what a program reads its data from


@dataclass(frozen=True)
class Target:
    """A function or method of the program a failing test calls."""

    name: str  # Snake.move, encode
    path: str  # snake.py
    line: int
    absent: tuple[str, ...] = ()  # data files it names that the project does not have (words.txt)

    def __str__(self) -> str:
        if not self.absent:
            return f"{self.name} ({self.path} line {self.line})"
        rel = self.absent[0]
        return (f"{self.name} ({self.path} line {self.line}, which reads {rel}: the project has no {rel}, nobody "
                f"wrote it; send {rel} as a file of its own, its path on one line and its content in a block, or "
                f"keep its data in the code)")


def targets(report: str, sources: Mapping[str, str], paths: Iterable[str] = ()) -> list[Target]:
    """The program's functions the failing tests of ``report`` call, in the order they are first
    called, methods and functions before constructors, at most ``MAX_TARGETS``; each with the data
    files it names that are neither in ``paths`` (the project's files) nor among ``sources``.

    Seen on the 1.5B hangman (2026-12-07): ``load_word()`` returned "" because words.txt was never
    written (it caught the ``FileNotFoundError``), and ``assert load_word() != ""`` failed to the end.
    """
    failing = list(FAILING.finditer(report))
    if not failing:
        return []
    trees = parse_sources(sources)
    program = {p: t for p, t in trees.items() if not _is_test(p)}
    seen: list[Target] = []
    for m in failing:
        tree = trees.get(m["file"])
        if tree is None or not _is_test(m["file"]):
            continue
        for target in _called(tree, m["name"], program):
            if target not in seen:
                seen.append(target)
    calls = [t for t in seen if t.name.split(".")[-1] != "__init__"]
    known = {*paths, *sources}
    return [_with_absent(t, program, known) for t in (calls + [t for t in seen if t not in calls])[:MAX_TARGETS]]


def _with_absent(target: Target, program: Mapping[str, ast.Module], known: set[str]) -> Target:
    """``target`` with the data files its function names (a literal, or a module constant) and the
    project lacks."""
    tree = program[target.path]
    fn = next((n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
               and n.lineno == target.line), None)
    if fn is None:
        return target
    constants = {t.id: node.value.value for node in tree.body if isinstance(node, ast.Assign)
                 and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
                 for t in node.targets if isinstance(t, ast.Name)}
    named = [node.value for node in ast.walk(fn) if isinstance(node, ast.Constant) and isinstance(node.value, str)]
    named += [constants[node.id] for node in ast.walk(fn) if isinstance(node, ast.Name) and node.id in constants]
    absent = [n.removeprefix("./") for n in named if _DATA_FILE.fullmatch(n)]
    absent = [n for n in dict.fromkeys(absent) if n not in known and not any(k.endswith("/" + n) for k in known)]
    return dataclasses.replace(target, absent=tuple(absent)) if absent else target


def _is_test(path: str) -> bool:
    return is_test_file(Path(path))


def _module_file(module: str, program: Mapping[str, ast.Module]) -> str | None:
    path = module.replace(".", "/") + ".py"
    return path if path in program else None


def _top(tree: ast.Module, name: str) -> ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | None:
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name == name:
            return node
    return None


def _method(cls: ast.ClassDef, name: str) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    for node in cls.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == name:
            return node
    return None


def _imports(tree: ast.Module, program: Mapping[str, ast.Module]) -> tuple[dict[str, str], dict[str, str]]:
    """The test file's names for the program: ``{name: file}`` of the names it imports from a
    program module, and ``{alias: file}`` of the program modules it imports whole."""
    names: dict[str, str] = {}
    modules: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            path = _module_file(node.module, program)
            if path:
                for alias in node.names:
                    if alias.name != "*":
                        names[alias.asname or alias.name] = path
                    else:
                        names.update({n.name: path for n in program[path].body
                                      if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))})
        elif isinstance(node, ast.Import):
            for alias in node.names:
                path = _module_file(alias.name, program)
                if path:
                    modules[alias.asname or alias.name] = path
    return names, modules


def _called(tree: ast.Module, test: str, program: Mapping[str, ast.Module]) -> list[Target]:
    fn = next((n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
               and n.name == test), None)
    if fn is None:
        return []
    names, modules = _imports(tree, program)

    def definition(expr: ast.expr) -> tuple[str, ast.AST] | None:
        """The program definition ``expr`` names: ``Snake`` or ``snake.Snake`` -> (file, node)."""
        if isinstance(expr, ast.Name) and expr.id in names:
            path = names[expr.id]
            node = _top(program[path], expr.id)
            if node is None:  # imported under another name: ``from snake import Snake as S``
                return None
            return path, node
        if isinstance(expr, ast.Attribute) and isinstance(expr.value, ast.Name) and expr.value.id in modules:
            path = modules[expr.value.id]
            node = _top(program[path], expr.attr)
            return (path, node) if node is not None else None
        return None

    objects: dict[str, tuple[str, ast.ClassDef]] = {}  # local name -> the program class it holds
    found: list[Target] = []
    for node in _in_order(fn):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            made = definition(node.value.func)
            if made and isinstance(made[1], ast.ClassDef):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        objects[target.id] = (made[0], made[1])
        if not isinstance(node, ast.Call):
            continue
        called = definition(node.func)
        if called:
            path, dnode = called
            if isinstance(dnode, ast.ClassDef):
                init = _method(dnode, "__init__")
                if init is not None:
                    found.append(Target(f"{dnode.name}.__init__", path, init.lineno))
            elif isinstance(dnode, (ast.FunctionDef, ast.AsyncFunctionDef)):
                found.append(Target(dnode.name, path, dnode.lineno))
            continue
        func = node.func
        if isinstance(func, ast.Attribute):
            owner: tuple[str, ast.ClassDef] | None = None
            if isinstance(func.value, ast.Name) and func.value.id in objects:
                owner = objects[func.value.id]
            elif isinstance(func.value, ast.Call):
                made = definition(func.value.func)
                if made and isinstance(made[1], ast.ClassDef):
                    owner = (made[0], made[1])
            if owner:
                method = _method(owner[1], func.attr)
                if method is not None:
                    found.append(Target(f"{owner[1].name}.{method.name}", owner[0], method.lineno))
    return found


def _in_order(fn: ast.AST) -> list[ast.AST]:
    """The nodes of ``fn`` in source order (an assignment before the calls of its value)."""
    nodes = [n for n in ast.walk(fn) if hasattr(n, "lineno")]
    return sorted(nodes, key=lambda n: (n.lineno, n.col_offset, 0 if isinstance(n, ast.stmt) else 1))
