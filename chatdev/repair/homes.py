"""A standard-library function called on the wrong module: ``pygame.randint(0, 800)``.

Seen on the 1.5B snake (2026-12-07, a 2-core AVX-512 machine): food.py set
``self.x = pygame.randint(0, 800)``. The program died at start with ``AttributeError: module
'pygame' has no attribute 'randint'``, and three review fixes and two test fixes turned it into
``pygame.randrange`` and back again; the snake was delivered as "does not run". The same
shape comes as ``time.randint``, ``math.choice``, ``pygame.sleep``.

``rehome`` (pure) reads what the code means from the crash alone: module M has no A, M is not
one of the project's own files (those are ``repair/objects.py``'s and ``checks/crashes``'
business), and exactly one of the standard library's everyday modules (``HOMES``) offers a
public A. Then every ``M.A`` of the program becomes ``H.A``, and ``import H`` is added to the
files that change and lack it. Nothing changes when a file that would need ``import H`` binds
the name H to something else, or when A has no home or more than one (``time`` is in ``time``
and in ``datetime``). The caller keeps the change only when the crash moves on
(``run/phases._repair_crashes``).
"""

from __future__ import annotations

import ast
import functools
import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath

from chatdev.checks.crashes import MODULE_ATTRIBUTE, dotted
from chatdev.repair.imports import insert_imports

HOMES = ("random", "math", "time", "os", "sys", "string", "json", "re", "itertools", "functools",
         "collections", "statistics", "datetime", "copy", "shutil", "textwrap")


@dataclass(frozen=True)
class Rehomed:
    files: dict[str, str]  # path -> new text
    module: str  # the module the program named (``pygame``)
    name: str  # what it asked of it (``randint``)
    home: str  # where that is (``random``)


def wrong_module(error: str) -> tuple[str, str] | None:
    """(module, name) of ``AttributeError: module 'M' has no attribute 'A'``."""
    found = MODULE_ATTRIBUTE.search(error)
    return (found.group(1), found.group(2)) if found else None


@functools.cache
def _public(module: str) -> frozenset[str]:
    """What ``module`` offers: its ``__all__`` where it has one (``statistics`` imports ``sqrt``
    from ``math`` and does not offer it), else its names without a leading underscore."""
    loaded = importlib.import_module(module)
    names = getattr(loaded, "__all__", None) or [n for n in dir(loaded) if not n.startswith("_")]
    return frozenset(names)


def home_of(name: str, module: str) -> str | None:
    """The one module of ``HOMES`` other than ``module`` that offers ``name``; None for none or several."""
    homes = [h for h in HOMES if h != module and name in _public(h)]
    return homes[0] if len(homes) == 1 else None


def rehome(program: Mapping[str, str], error: str) -> Rehomed | None:
    """Every ``M.A`` of ``program`` as ``H.A`` (see the module's text); None when the rule does not hold."""
    found = wrong_module(error)
    if found is None:
        return None
    module, name = found
    own = {PurePosixPath(p).with_suffix("").as_posix().replace("/", ".") for p in program}
    if module in own or module.split(".")[0] in own:
        return None
    home = home_of(name, module)
    if home is None:
        return None
    files: dict[str, str] = {}
    for path, text in program.items():
        try:
            tree = ast.parse(text)
        except SyntaxError:
            continue
        names = _references(tree, module)
        spans = [node.value for node in ast.walk(tree) if isinstance(node, ast.Attribute) and node.attr == name
                 and dotted(node.value) in names and node.value.lineno == node.value.end_lineno]
        if not spans:
            continue
        new = _replace(text, spans, home)
        if _binds_otherwise(tree, home):
            return None  # `home` means something else in this file
        if not _imports_module(tree, home):
            new = _add_import(new, tree, home)
        files[path] = new
    return Rehomed(files=files, module=module, name=name, home=home) if files else None


def _references(tree: ast.Module, module: str) -> set[str]:
    """How a file names ``module``: ``pygame``, ``pg`` (import pygame as pg), ``pygame.time``,
    ``time`` (from pygame import time)."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == module or module.startswith(alias.name + "."):
                    local = alias.asname or alias.name.split(".")[0]
                    rest = module[len(alias.name):] if alias.asname else module[len(alias.name.split(".")[0]):]
                    names.add(local + rest)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                if f"{node.module}.{alias.name}" == module:
                    names.add(alias.asname or alias.name)
    return names


def _imports_module(tree: ast.Module, home: str) -> bool:
    return any(isinstance(node, ast.Import) and any(a.name == home and a.asname is None for a in node.names)
               for node in tree.body)


def _add_import(text: str, tree: ast.Module, home: str) -> str:
    """``import home`` before the file's first import (after a docstring and ``__future__``), else
    where ``insert_imports`` puts it."""
    first = next((node for node in tree.body if isinstance(node, ast.Import) or (
        isinstance(node, ast.ImportFrom) and node.module != "__future__")), None)
    if first is None or first.col_offset:
        return insert_imports(text, [f"import {home}"], spaced=True)
    lines = text.splitlines(keepends=True)
    return "".join([*lines[:first.lineno - 1], f"import {home}\n", *lines[first.lineno - 1:]])


def _binds_otherwise(tree: ast.Module, home: str) -> bool:
    """Whether anything in ``tree`` (a function's parameter or local too) binds ``home`` to
    something other than the module itself."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id == home and not isinstance(node.ctx, ast.Load):
            return True
        if isinstance(node, ast.arg) and node.arg == home:
            return True
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name == home:
            return True
        if isinstance(node, ast.ImportFrom) and any((a.asname or a.name) == home for a in node.names):
            return True
        if isinstance(node, ast.Import) and any(a.asname == home and a.name != home for a in node.names):
            return True  # `import os.path` binds `os` to the module itself
    return False


def _replace(text: str, nodes: list[ast.expr], home: str) -> str:
    """``text`` with each node's span (one line each; ast's offsets count UTF-8 bytes) read ``home``."""
    lines = text.splitlines(keepends=True)
    for node in sorted(nodes, key=lambda n: (n.lineno, n.col_offset), reverse=True):
        raw = lines[node.lineno - 1].encode()
        lines[node.lineno - 1] = (raw[:node.col_offset] + home.encode() + raw[node.end_col_offset:]).decode()
    return "".join(lines)
