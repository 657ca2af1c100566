"""The names a module binds at its top level, sorted by how it binds them (pure).

One reader for a question four rooms ask: does ``ball.py`` have a ``move`` (a crash's
explanation), which module defines the ``SCREEN_WIDTH`` a test lacks (import repair), is a
name of the module in the way of making an object (the object repair), which variables does
the program keep (triage). Each caller picks the kinds it means; the rules of what counts as a
binding live here once:

- a definition: a top-level ``def``, ``async def`` or ``class``;
- an assignment: a name stored by a top-level ``=``, annotated ``x: T = ...`` (a bare
  ``x: T`` binds nothing), or ``+=``, tuples and starred targets included (``x, *rest = ...``); never the
  object of an attribute or subscript target (``obj.x = 1`` binds nothing);
- an import: ``import a.b`` binds ``a``, ``import a as b`` and ``from m import a as b`` bind
  ``b``; ``from m import *`` binds nothing known.

Only the module's own top level counts: a name bound inside ``if`` or ``try`` at top level is
not read (the callers never relied on it, and a guess there would widen every check).
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from dataclasses import dataclass

DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


@dataclass(frozen=True)
class Bindings:
    """A module's top-level names, by kind (each in the order the module binds it first)."""

    definitions: tuple[str, ...] = ()
    assigned: tuple[str, ...] = ()
    imported: tuple[str, ...] = ()

    def all(self) -> set[str]:
        return {*self.definitions, *self.assigned, *self.imported}

    def public(self) -> list[str]:
        """Definitions then assignments, without ``_private`` assignments: what another module
        may import from it (``from main import SCREEN_WIDTH``)."""
        return [*self.definitions, *(n for n in self.assigned if not n.startswith("_") and n not in self.definitions)]


def parse_sources(sources: Mapping[str, str]) -> dict[str, ast.Module]:
    """The Python files of ``sources``, each parsed once (path -> tree, in their order; files that
    do not parse left out): what every reader of a program's code starts from."""
    trees: dict[str, ast.Module] = {}
    for path, text in sources.items():
        if not path.endswith(".py"):
            continue
        try:
            trees[path] = ast.parse(text)
        except (SyntaxError, ValueError):
            continue
    return trees


def binds_anywhere(tree: ast.Module, name: str) -> bool:
    """Whether anything in the module binds ``name``, at any depth: an assignment or ``del``, a
    parameter, a ``def`` or ``class``, an import (``import a.b`` binds ``a``), a ``for`` or ``with``
    target. Where :func:`bindings` asks what another module may use, this asks whether a name the
    program uses is bound anywhere at all (a crash's ``NameError``, a window drawn on and never made)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id == name and isinstance(node.ctx, (ast.Store, ast.Del)):
            return True
        if isinstance(node, ast.arg) and node.arg == name:
            return True
        if isinstance(node, DEFINITIONS) and node.name == name:
            return True
        if isinstance(node, ast.alias) and (node.asname or node.name.split(".")[0]) == name:
            return True
    return False


def bindings(tree: ast.Module) -> Bindings:
    """What ``tree`` binds at its top level (see the module's docstring for the rules)."""
    definitions: dict[str, None] = {}
    assigned: dict[str, None] = {}
    imported: dict[str, None] = {}
    for node in tree.body:
        if isinstance(node, DEFINITIONS):
            definitions[node.name] = None
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            for leaf in assigns(node):
                assigned[leaf] = None
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                if alias.name != "*":
                    imported[(alias.asname or alias.name).split(".")[0]] = None
    return Bindings(tuple(definitions), tuple(assigned), tuple(imported))


def assigns(node: ast.stmt) -> list[str]:
    """The names one statement assigns by the rules above (none for a bare ``x: T``, or for a
    statement that is no assignment)."""
    if isinstance(node, ast.Assign):
        return [name for target in node.targets for name in stored(target)]
    if isinstance(node, ast.AugAssign) or (isinstance(node, ast.AnnAssign) and node.value is not None):
        return stored(node.target)
    return []


def stored(target: ast.expr) -> list[str]:
    """The plain names an assignment target stores (``a``, ``a, (b, *c)``; not ``obj.x`` or ``x[0]``)."""
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, (ast.Tuple, ast.List)):
        return [name for element in target.elts for name in stored(element)]
    if isinstance(target, ast.Starred):
        return stored(target.value)
    return []
