"""An entry point that starts nothing: it only defines functions and classes.

The 1.5B's Caesar tool (2026-12-02) was one function, ``caesar_cipher``, and no code that
called it: ``python main.py encode 3 hello`` exited 0 and printed nothing, so it "ran", and
three fix cycles went to its tests. This check reads the entry point (``ast``, nothing runs)
and reports, in pyflakes' ``path:line:col: message`` form, an entry whose top level holds
only imports, definitions, constants and docstrings; ``sandbox.container.verify_program``
adds it to the static errors, so the review loop has it fixed before anything is tested.
"""

from __future__ import annotations

import ast

from chatdev.checks.completeness import is_main_guard

_DEFINITIONS = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Pass)


def idle(path: str, source: str) -> list[str]:
    """``[message]`` when running ``path`` would start nothing; [] when it does something (or does not parse)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return []  # pyflakes reports that
    if not tree.body or any(_acts(node) for node in tree.body):
        return []
    message = (f"{path}:1:1: {path} only defines functions and classes, so `python {path}` starts nothing: "
               "call its main function under `if __name__ == \"__main__\":` (read the arguments, print the result)")
    return [message]


def _acts(node: ast.stmt) -> bool:
    if isinstance(node, _DEFINITIONS):
        return False
    if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
        return False  # a docstring
    if isinstance(node, (ast.Assign, ast.AnnAssign)):
        return node.value is not None and any(isinstance(n, ast.Call) for n in ast.walk(node.value))
    if isinstance(node, ast.If) and is_main_guard(node.test):
        return any(_acts(n) for n in node.body) or any(_acts(n) for n in node.orelse)
    return True

