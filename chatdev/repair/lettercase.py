"""A choice of upper or lower case made the wrong way round: ``x.upper() if c else x.lower()``.

Seen on the 1.5B Caesar cipher (2026-12-08, three builds of the same seed): the shift was right
and ``chr(shifted + ord('a') if is_upper else shifted + ord('A'))`` put every letter in the
other case, so ``caesar_cipher("hello", 3, "encode")`` returned ``'KHOOR'``. The report said
the two values differ only in letter case, an independent computation agreed with the test,
and the manager asked for a retry: each fix sent the same function back.

``swaps(program)`` (pure, ``ast`` only) finds each conditional expression whose two branches
are the same code but for letter case: string constants that differ in case (``'a'`` and
``'A'``) or the case methods (``upper``, ``capitalize`` and ``title`` against ``lower``,
``isupper`` against ``islower``). For each it
gives the program with that one expression's branches exchanged. The caller
(``run/phases._swap_letter_case``) tries them only when a failing test's two values differ in
letter case alone, and keeps one only when more tests pass and nothing else got worse.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping

from chatdev.repair.argv import char_offset

_CASE_METHODS = {"upper": "lower", "isupper": "islower", "capitalize": "lower", "title": "lower"}
MAX_SWAPS = 3


class _Caseless(ast.NodeTransformer):
    """Every string constant lower case, every case method its lower-case twin."""

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        return ast.Constant(node.value.lower()) if isinstance(node.value, str) else node

    def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
        self.generic_visit(node)
        return ast.Attribute(value=node.value, attr=_CASE_METHODS.get(node.attr, node.attr), ctx=node.ctx)


def _caseless(node: ast.expr) -> str:
    copy = ast.parse(ast.unparse(node), mode="eval").body
    return ast.dump(_Caseless().visit(copy))


def swaps(program: Mapping[str, str]) -> list[tuple[str, str, int]]:
    """``(path, the file with one case choice's branches exchanged, its line)``, at most ``MAX_SWAPS``."""
    out: list[tuple[str, str, int]] = []
    for rel, text in sorted(program.items()):
        try:
            tree = ast.parse(text)
        except (SyntaxError, ValueError):
            continue
        for node in ast.walk(tree):
            if not isinstance(node, ast.IfExp) or ast.dump(node.body) == ast.dump(node.orelse):
                continue
            if _caseless(node.body) != _caseless(node.orelse):
                continue
            swapped = _exchanged(text, node)
            if swapped is not None:
                out.append((rel, swapped, node.lineno))
            if len(out) >= MAX_SWAPS:
                return out
    return out


def _exchanged(text: str, node: ast.IfExp) -> str | None:
    """``text`` with ``node`` written as ``ORELSE if TEST else BODY`` (None: no exact source span)."""
    segment = ast.get_source_segment(text, node)
    body, test, orelse = (ast.get_source_segment(text, n) for n in (node.body, node.test, node.orelse))
    if not (segment and body and test and orelse) or node.end_lineno is None or node.end_col_offset is None:
        return None
    lines = text.splitlines(keepends=True)
    start = char_offset(lines, node.lineno, node.col_offset)
    end = char_offset(lines, node.end_lineno, node.end_col_offset)
    if text[start:end] != segment:
        return None
    new = f"{orelse} if {test} else {body}"
    result = text[:start] + new + text[end:]
    try:
        ast.parse(result)
    except SyntaxError:
        return None
    return result

