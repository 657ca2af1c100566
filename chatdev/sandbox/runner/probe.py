"""Inspect a generated project: entry point, GUI toolkit, tests, static check.

Runs inside the runner image (the static check needs pyflakes and the image's
Python to look modules up) and, for the pure parts, on the host in tests.
Standard library only at import time.
"""

from __future__ import annotations

import ast
import importlib.util
import os
import sys
from pathlib import Path
from typing import Any

SKIP_DIRS = {".git", ".chatdev", "__pycache__", ".venv", "venv", "env", "node_modules", ".pytest_cache",
             ".mypy_cache", "build", "dist"}
ENTRY_NAMES = ("main.py", "app.py", "__main__.py", "run.py", "game.py", "cli.py", "server.py")
GUI_MODULES = {"pygame", "tkinter", "turtle", "pyglet", "arcade", "PyQt5", "PyQt6", "PySide2", "PySide6",
               "wx", "kivy", "customtkinter", "Tkinter", "matplotlib"}  # matplotlib: plt.show() opens a window
TUI_MODULES = {"curses", "_curses"}
# pyflakes messages that mean the program cannot work; the rest are style.
ERROR_MESSAGES = {"UndefinedName", "UndefinedLocal", "UndefinedExport", "DuplicateArgument",
                  "ReturnOutsideFunction", "YieldOutsideFunction", "ContinueOutsideLoop", "BreakOutsideLoop",
                  "DefaultExceptNotLast", "TwoStarredExpressions", "TooManyExpressionsInStarredAssignment",
                  "ForwardAnnotationSyntaxError", "RaiseNotImplemented", "IsLiteral"}


def python_files(root: Path) -> list[Path]:
    """Every .py file of the project, in a stable order, skipping tool and VCS folders."""
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not d.startswith("."))
        found.extend(Path(dirpath) / f for f in sorted(filenames) if f.endswith(".py"))
    return found


def is_test_file(rel: Path) -> bool:
    name = rel.name
    return (name.startswith("test_") or name.endswith("_test.py") or name == "conftest.py"
            or "tests" in rel.parts[:-1] or "test" in rel.parts[:-1])


def _parse(path: Path) -> ast.Module | None:
    try:
        return ast.parse(path.read_bytes(), filename=str(path))
    except (SyntaxError, ValueError, OSError):
        return None


def _has_main_guard(tree: ast.Module) -> bool:
    for node in tree.body:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Compare):
            names = [n for n in ast.walk(node.test) if isinstance(n, ast.Name) and n.id == "__name__"]
            consts = [n for n in ast.walk(node.test) if isinstance(n, ast.Constant) and n.value == "__main__"]
            if names and consts:
                return True
    return False


def find_entry(root: Path, entry: str | None = None) -> str | None:
    """The file that starts the program, relative to ``root`` (POSIX), or None.

    Order: the explicit ``entry``; a conventional name at the top (main.py, app.py,
    __main__.py, ...); a file with ``if __name__ == "__main__"`` (shallowest first); the
    only non-test file; a conventional name one folder down (src/main.py, pkg/__main__.py).
    """
    if entry:
        return entry if (root / entry).is_file() else None
    for name in ENTRY_NAMES:
        if (root / name).is_file():
            return name
    files = [p for p in python_files(root) if not is_test_file(p.relative_to(root))]
    guarded = [p for p in files if (tree := _parse(p)) is not None and _has_main_guard(tree)]
    if guarded:
        best = min(guarded, key=lambda p: (len(p.relative_to(root).parts), str(p)))
        return best.relative_to(root).as_posix()
    if len(files) == 1:
        return files[0].relative_to(root).as_posix()
    for name in ENTRY_NAMES:
        for p in files:
            rel = p.relative_to(root)
            if len(rel.parts) == 2 and rel.name == name:
                return rel.as_posix()
    return None


def entry_argv(entry: str, python: str = "python3") -> list[str]:
    """How to start ``entry``: ``pkg/__main__.py`` runs as ``python -m pkg``."""
    rel = Path(entry)
    if rel.name == "__main__.py" and len(rel.parts) > 1:
        return [python, "-m", ".".join(rel.parts[:-1])]
    return [python, rel.as_posix()]


def imported_modules(tree: ast.Module) -> list[tuple[str, int, bool]]:
    """(top-level module, line, optional) for every absolute import; optional = inside try/except ImportError."""
    optional_lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Try):
            catches = {ast.unparse(h.type) if h.type is not None else "" for h in node.handlers}
            if any(c == "" or "ImportError" in c or "ModuleNotFoundError" in c or "Exception" in c for c in catches):
                for sub in node.body:
                    for inner in ast.walk(sub):
                        if hasattr(inner, "lineno"):
                            optional_lines.add(inner.lineno)
    found: list[tuple[str, int, bool]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.append((alias.name.split(".")[0], node.lineno, node.lineno in optional_lines))
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.module.split(".")[0], node.lineno, node.lineno in optional_lines))
    return found


def detect_gui(root: Path) -> str | None:
    """The GUI toolkit the program imports (pygame, tkinter, ...), or None."""
    for path in python_files(root):
        if is_test_file(path.relative_to(root)):
            continue
        tree = _parse(path)
        if tree is None:
            continue
        for module, _line, _opt in imported_modules(tree):
            if module in GUI_MODULES:
                return module
    return None


def detect_tui(root: Path) -> bool:
    """Whether the program draws on a terminal with curses (it then runs on a pseudo-terminal)."""
    for path in python_files(root):
        if is_test_file(path.relative_to(root)):
            continue
        tree = _parse(path)
        if tree is not None and any(m in TUI_MODULES for m, _l, _o in imported_modules(tree)):
            return True
    return False


def find_tests(root: Path) -> list[str]:
    """Test files pytest would collect (tests/ folders, test_*.py, *_test.py)."""
    return [p.relative_to(root).as_posix() for p in python_files(root)
            if (p.name.startswith("test_") or p.name.endswith("_test.py"))]


def local_modules(root: Path) -> set[str]:
    """Names the project itself provides (its .py files and packages, at any depth)."""
    names: set[str] = set()
    for path in python_files(root):
        names.add(path.stem)
        names.update(path.relative_to(root).parts[:-1])
    return names


def missing_modules(root: Path) -> list[str]:
    """``file:line: No module named 'x'`` for each import the image cannot satisfy."""
    local = local_modules(root)
    out: list[str] = []
    seen: set[str] = set()
    for path in python_files(root):
        tree = _parse(path)
        if tree is None:
            continue
        rel = path.relative_to(root).as_posix()
        for module, line, optional in imported_modules(tree):
            if optional or module in local or module in seen or module == "__future__":
                continue
            if module in sys.builtin_module_names or _findable(module):
                continue
            seen.add(module)
            out.append(f"{rel}:{line}: No module named '{module}'")
    return out


def _findable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def static_check(root: Path) -> dict[str, Any]:
    """pyflakes over every .py file plus the import check.

    Returns ``{"ok", "errors": [...], "warnings": [...], "missing": [...]}``; ``ok`` is
    False on syntax errors, undefined names and modules the image does not have.
    """
    from pyflakes import checker  # in the runner image

    errors: list[str] = []
    warnings: list[str] = []
    for path in python_files(root):
        rel = path.relative_to(root).as_posix()
        try:
            source = path.read_text(encoding="utf-8")
            tree = ast.parse(source, filename=rel)
        except SyntaxError as exc:
            errors.append(f"{rel}:{exc.lineno or 0}:{exc.offset or 0}: syntax error: {exc.msg}")
            continue
        except (UnicodeDecodeError, ValueError) as exc:
            errors.append(f"{rel}:1:1: cannot read: {exc}")
            continue
        for msg in sorted(checker.Checker(tree, filename=rel).messages, key=lambda m: (m.lineno, m.col)):
            line = f"{rel}:{msg.lineno}:{msg.col + 1}: {msg.message % msg.message_args}"
            (errors if type(msg).__name__ in ERROR_MESSAGES else warnings).append(line)
    missing = missing_modules(root)
    return {"ok": not errors and not missing, "errors": errors, "warnings": warnings, "missing": missing}


def inspect(root: Path, entry: str | None = None) -> dict[str, Any]:
    """Entry point, GUI toolkit and tests of the project at ``root`` (no pyflakes)."""
    found = find_entry(root, entry)
    return {"entry": found, "gui": detect_gui(root), "tui": detect_tui(root), "tests": find_tests(root)}
