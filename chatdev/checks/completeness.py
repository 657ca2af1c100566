"""Is a generated program finished? Placeholder lines a user would find (pure, no I/O).

A placeholder is code that stands in for code not yet written:

- a function or method whose body is only ``pass``, ``...`` and/or a docstring
  (not an ``@abstractmethod`` or ``@overload``, which are meant to be empty);
- a class without bases whose body is only ``pass`` / ``...`` (``class
  GameOver(Exception): pass`` is a finished idiom and not flagged);
- ``if __name__ == "__main__":`` with only ``pass`` / ``...`` under it;
- ``raise NotImplementedError`` (outside abstract methods);
- a ``TODO`` / ``FIXME`` comment, or one that says "your code here" / "implement this".

``except ...: pass`` and other empty blocks inside real code are not placeholders.
Test files (``tests/``, ``test_*.py``, ``*_test.py``, ``conftest.py``) are not looked at.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from collections.abc import Mapping
from pathlib import PurePosixPath

TODO = re.compile(r"\b(TODO|FIXME)\b")
STUB_COMMENT = re.compile(
    r"\b((add|put|insert|write|your)\s+(your\s+)?(own\s+)?(code|logic|implementation)\s+here"
    r"|implement\s+(this|me|later)\b|not\s+(yet\s+)?implemented)", re.IGNORECASE)
EXEMPT_DECORATORS = {"abstractmethod", "abstractproperty", "overload"}


def is_test_file(path: str) -> bool:
    p = PurePosixPath(path.replace("\\", "/"))
    if any(part in {"tests", "test"} for part in p.parts[:-1]):
        return True
    name = p.name
    return name == "conftest.py" or name.startswith("test_") or name.endswith("_test.py")


def placeholders(sources: Mapping[str, str]) -> list[str]:
    """``file:line: why`` for every placeholder in the program's Python files, in file and line order."""
    found: list[tuple[str, int, str]] = []
    for path in sorted(sources):
        if not path.endswith(".py") or is_test_file(path):
            continue
        found.extend((path, line, why) for line, why in _file_placeholders(sources[path]))
    return [f"{path}:{line}: {why}" for path, line, why in sorted(found, key=lambda t: (t[0], t[1]))]


def complete(sources: Mapping[str, str]) -> bool:
    """True when no program file has a placeholder."""
    return not placeholders(sources)


# ----------------------------------------------------------------------------- one file


def _file_placeholders(text: str) -> list[tuple[int, str]]:
    out = _comment_placeholders(text)
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):  # the run reports the syntax error; still look for the obvious
        out.extend((n, "raise NotImplementedError") for n, line in enumerate(text.splitlines(), 1)
                   if re.search(r"\braise\s+NotImplementedError\b", line))
        return out
    exempt: set[int] = set()  # ids of raise nodes inside abstract methods
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            if _decorator_names(node) & EXEMPT_DECORATORS:
                exempt.update(id(sub) for sub in ast.walk(node))
                continue
            if empty_body(node.body, allow_docstring=True):
                kind = "method" if _is_method(tree, node) else "function"
                out.append((node.lineno, f"{kind} {node.name}() has no body ({_what(node.body)})"))
        elif isinstance(node, ast.ClassDef):
            if not node.bases and not node.keywords and empty_body(node.body, allow_docstring=False):
                out.append((node.lineno, f"class {node.name} has no body ({_what(node.body)})"))
        elif isinstance(node, ast.If) and is_main_guard(node.test) and empty_body(node.body, allow_docstring=False):
            out.append((node.lineno, f"the __main__ block does nothing ({_what(node.body)})"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Raise) and id(node) not in exempt and _is_not_implemented(node.exc):
            out.append((node.lineno, "raise NotImplementedError"))
    return out


def _comment_placeholders(text: str) -> list[tuple[int, str]]:
    out: list[tuple[int, str]] = []
    comments: list[tuple[int, str]] = []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type == tokenize.COMMENT:
                comments.append((tok.start[0], tok.string))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        comments = [(n, line[line.index("#"):]) for n, line in enumerate(text.splitlines(), 1) if "#" in line]
    for line, comment in comments:
        match = TODO.search(comment)
        if match:
            out.append((line, f"{match.group(1)} comment"))
        elif STUB_COMMENT.search(comment):
            out.append((line, f"placeholder comment: {comment.lstrip('#').strip()[:60]}"))
    return out


def empty_body(body: list[ast.stmt], *, allow_docstring: bool) -> bool:
    for i, stmt in enumerate(body):
        if isinstance(stmt, ast.Pass):
            continue
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
            if stmt.value.value is Ellipsis:
                continue
            if allow_docstring and i == 0 and isinstance(stmt.value.value, str):
                continue
        return False
    return True


def _what(body: list[ast.stmt]) -> str:
    if any(isinstance(s, ast.Pass) for s in body):
        return "pass"
    if any(isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant) and s.value.value is Ellipsis
           for s in body):
        return "..."
    return "only a docstring"


def _decorator_names(node: ast.FunctionDef | ast.AsyncFunctionDef) -> set[str]:
    names = set()
    for dec in node.decorator_list:
        target = dec.func if isinstance(dec, ast.Call) else dec
        if isinstance(target, ast.Name):
            names.add(target.id)
        elif isinstance(target, ast.Attribute):
            names.add(target.attr)
    return names


def _is_method(tree: ast.AST, func: ast.AST) -> bool:
    return any(isinstance(node, ast.ClassDef) and func in node.body for node in ast.walk(tree))


def is_main_guard(test: ast.expr) -> bool:
    """``__name__ == "__main__"`` (either way round)."""
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq)):
        return False
    sides = [test.left, *test.comparators]
    return (any(isinstance(s, ast.Name) and s.id == "__name__" for s in sides)
            and any(isinstance(s, ast.Constant) and s.value == "__main__" for s in sides))


def _is_not_implemented(exc: ast.expr | None) -> bool:
    target = exc.func if isinstance(exc, ast.Call) else exc
    return isinstance(target, ast.Name) and target.id == "NotImplementedError"


__all__ = ["complete", "is_test_file", "placeholders"]
