"""A pygame window drawn on but never made: ``screen.fill(BLACK)`` where nothing binds ``screen``.

Seen on the 1.5B snake (2026-12-06): main.py set ``SCREEN_WIDTH = 800`` and ``SCREEN_HEIGHT =
600``, called ``pygame.init()``, and drew on ``screen`` in its loop, but never called
``pygame.display.set_mode``; it died on ``NameError: name 'screen' is not defined``. Four fixes
went to other files or rewrote the loop, and the program was delivered dead. The line it lacks
is not a guess: the module names the window's size, and what it does with the name is what a
pygame display surface does.

The repair (pure): for ``NameError: name 'N' is not defined`` in a file that imports pygame,
binds ``N`` nowhere (not at its top level, not in any function, not as a parameter) and uses
``N`` as a surface (``N.fill(...)``, ``N.blit(...)``, ``pygame.draw.rect(N, ...)``), the line
``N = pygame.display.set_mode((W, H))`` goes right after the module's own ``W`` and ``H``
(top-level names ending in WIDTH and HEIGHT with the same start, ``SCREEN_WIDTH`` and
``SCREEN_HEIGHT``, or ``width`` and ``height``), and after ``pygame.init()`` when the module
calls it, as long as that is above the first top-level statement that uses ``N``. A module
that does not name its size gets nothing: the fixer is told of the crash as before.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping

from chatdev.checks.bindings import assigns, bindings, binds_anywhere

_UNDEFINED = re.compile(r"NameError: name '(\w+)' is not defined")
SURFACE_METHODS = frozenset({"fill", "blit", "get_width", "get_height", "get_rect", "get_size", "blits"})


def undefined_name(error: str) -> str | None:
    """The name of a ``NameError`` line, else None."""
    m = _UNDEFINED.search(error)
    return m[1] if m else None


def make_display(sources: Mapping[str, str], path: str, error: str) -> dict[str, str]:
    """``{path: text}`` with the window made, or {} when the rule does not apply (see the module)."""
    name = undefined_name(error)
    found = _pygame_module(sources, path) if name else None
    if name is None or found is None:
        return {}
    text, tree, alias = found
    if binds_anywhere(tree, name) or not _used_as_surface(tree, name, alias):
        return {}
    size = _size(tree)
    if size is None:
        return {}
    width, height = size
    after = max(_line_of(tree, width), _line_of(tree, height), _init_line(tree, alias))
    first_use = next((node.lineno for node in tree.body if node.lineno > 0 and _mentions(node, name)), None)
    if first_use is not None and first_use <= after:
        return {}
    lines = text.splitlines(keepends=True)
    end = _statement_end(tree, after)
    if end and not lines[end - 1].endswith("\n"):
        lines[end - 1] += "\n"
    lines.insert(end, f"{name} = {alias}.display.set_mode(({width}, {height}))\n")
    new = "".join(lines)
    try:
        ast.parse(new)
    except SyntaxError:
        return {}
    return {path: new}


_NOT_INITIALIZED = re.compile(r"pygame\.error: (?:font|video system) not initialized")


def init_pygame(sources: Mapping[str, str], path: str, error: str) -> dict[str, str]:
    """``{path: text}`` with ``pygame.init()`` right after ``import pygame``, for a crash on a font
    or the display made before pygame was started, in a module that never calls ``pygame.init()``
    at its top level; {} otherwise.

    The issue that made the run the first verdict: a fix removed ``pygame.init()`` from the 1.5B
    snake and the delivered game died at start with ``pygame.error: font not initialized``. Seen
    again in ``make demo`` (2026-12-07): a test_fix cycle's rewrite of main.py dropped it. The line
    is not a guess: pygame needs it before a font, whatever the program means to do."""
    found = _pygame_module(sources, path) if _NOT_INITIALIZED.search(error) else None
    if found is None or _init_line(found[1], found[2]):
        return {}
    text, tree, alias = found
    node = next(n for n in tree.body if isinstance(n, ast.Import) and any(a.name == "pygame" for a in n.names))
    lines = text.splitlines(keepends=True)
    end = node.end_lineno or node.lineno
    return {path: "".join([*lines[:end], f"{alias}.init()\n", *lines[end:]])}


def _pygame_module(sources: Mapping[str, str], path: str) -> tuple[str, ast.Module, str] | None:
    """(text, tree, the name it imports pygame as) of ``path``, when it parses and imports pygame."""
    text = sources.get(path)
    if text is None:
        return None
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return None
    alias = _pygame_alias(tree)
    return (text, tree, alias) if alias is not None else None


def _pygame_alias(tree: ast.Module) -> str | None:
    """The name the module imports pygame as (``import pygame as pg`` -> pg), at its top level."""
    for node in tree.body:
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "pygame":
                    return alias.asname or "pygame"
    return None


def _used_as_surface(tree: ast.Module, name: str, alias: str) -> bool:
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == name \
                and node.attr in SURFACE_METHODS:
            return True
        if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Name) \
                and node.args[0].id == name and _dotted(node.func).startswith(f"{alias}.draw."):
            return True
    return False


def _dotted(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


def _size(tree: ast.Module) -> tuple[str, str] | None:
    """The module's (width, height) names: top-level ``XWIDTH`` / ``XHEIGHT`` with one start X."""
    names = bindings(tree).assigned
    widths = {n[: -len("width")]: n for n in names if n.lower().endswith("width")}
    for n in names:
        if n.lower().endswith("height"):
            start = n[: -len("height")]
            width = widths.get(start)
            if width is not None and start.lower() in ("", "screen_", "window_", "win_", "display_", "screen",
                                                       "window", "win", "display"):
                return width, n
    return None


def _line_of(tree: ast.Module, name: str) -> int:
    """The line of the last top-level statement that assigns ``name``."""
    line = 0
    for node in tree.body:
        if name in assigns(node):
            line = node.lineno
    return line


def _init_line(tree: ast.Module, alias: str) -> int:
    for node in tree.body:
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call) \
                and _dotted(node.value.func) == f"{alias}.init":
            return node.lineno
    return 0


def _mentions(node: ast.AST, name: str) -> bool:
    return any(isinstance(n, ast.Name) and n.id == name for n in ast.walk(node)) \
        and not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))


def _statement_end(tree: ast.Module, line: int) -> int:
    """The last line of the top-level statement that starts at ``line`` (0: the top of the file)."""
    for node in tree.body:
        if node.lineno == line:
            return node.end_lineno or line
    return 0
