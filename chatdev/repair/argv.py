"""An argument count check that refuses the task's own command line, fitted to it.

The 1.5B checks ``len(sys.argv)`` off by one or two again and again: the Caesar tool
wanted ``!= 3`` for ``encode 3 hello`` (three arguments, so ``len(sys.argv)`` is 4), the
unit converter ``!= 5`` for ``10 km m``; each printed its usage and stopped, and fix
cycles told exactly that ("it gives 3 arguments, so len(sys.argv) is 4") sent the same
code back. When a run given ``n`` arguments printed only its usage, and the program has
one kind of ``len(sys.argv) <op> K`` test that refuses ``n + 1``, ``K`` is changed so that
``n + 1`` passes; nothing else is touched. The caller keeps the change only when the
program then runs (``run/phases._verify_repairing``), so a program that really needs more
arguments is left as it was.

A program that asks for what its command line gives (``input("Enter a Roman numeral: ")`` for
``python main.py 1994``: the 0.5B's Roman converter and the 1.5B's primes tool, told to read
sys.argv, sent the same code back) gets its arguments where it asks (``feed_arguments``): with one
``input()`` call it reads the arguments joined by spaces, with as many calls as arguments, in one
block run top to bottom, call ``i`` reads argument ``i``; each still asks when the command line
lacks it, so the program works typed too. A program that reads ``sys.argv`` already, or asks
inside a loop (a menu, a retry until valid, a game's moves), is not touched.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from dataclasses import dataclass

from chatdev.repair.imports import insert_imports

_LOOPS = (ast.For, ast.AsyncFor, ast.While, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


def fit_arity(sources: Mapping[str, str], n_args: int) -> dict[str, str]:
    """``{path: new text}`` for the one file whose ``len(sys.argv)`` test refuses ``n_args``
    arguments ({} when there is no such test, or several that disagree)."""
    wanted = n_args + 1
    edits: dict[str, list[tuple[int, int, int, int]]] = {}
    already = False  # a test that names this count already: the refusal is not about the count
    for path, text in sources.items():
        if not path.endswith(".py"):
            continue
        try:
            tree = ast.parse(text)
        except (SyntaxError, ValueError):
            continue
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Compare) and len(node.ops) == 1 and _is_len_argv(node.left)):
                continue
            const = node.comparators[0]
            if not (isinstance(const, ast.Constant) and type(const.value) is int):
                continue
            already |= isinstance(node.ops[0], (ast.Eq, ast.NotEq)) and const.value == wanted
            new = _fitted(node.ops[0], const.value, wanted)
            if new is not None and const.end_col_offset is not None:
                edits.setdefault(path, []).append((const.lineno, const.col_offset, const.end_col_offset, new))
    if len(edits) != 1 or already:
        return {}
    path, spots = next(iter(edits.items()))
    if len({spot[3] for spot in spots}) != 1:
        return {}  # tests that would need different numbers: not one off-by-one
    lines = sources[path].splitlines(keepends=True)
    for line, start, end, new in sorted(spots, reverse=True):
        text = lines[line - 1]
        lines[line - 1] = text[:start] + str(new) + text[end:]
    return {path: "".join(lines)}


def _fitted(op: ast.cmpop, k: int, wanted: int) -> int | None:
    """The constant that lets ``len(sys.argv) == wanted`` through, or None when it already does
    (or the test is of a kind that cannot be the refusal)."""
    if isinstance(op, (ast.Eq, ast.NotEq)):
        return wanted if k != wanted else None
    if isinstance(op, ast.Lt):  # `if len(sys.argv) < K: usage`
        return wanted if wanted < k else None
    if isinstance(op, ast.LtE):
        return wanted - 1 if wanted <= k else None
    return None


def _is_len_argv(node: ast.expr) -> bool:
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "len"
            and len(node.args) == 1):
        return False
    arg = node.args[0]
    return ((isinstance(arg, ast.Attribute) and arg.attr == "argv" and isinstance(arg.value, ast.Name)
             and arg.value.id == "sys") or (isinstance(arg, ast.Name) and arg.id == "argv"))


@dataclass(frozen=True)
class Fed:
    """What ``feed_arguments`` changed: ``{path: new text}`` and how many ``input()`` calls now read arguments."""

    files: dict[str, str]
    calls: int


def feed_arguments(sources: Mapping[str, str], n_args: int) -> Fed | None:
    """The program with its ``input()`` calls reading the command line's ``n_args`` arguments
    first (see the module), or None when the program allows another reading."""
    if n_args < 1:
        return None
    calls: list[tuple[str, ast.Call, list[ast.AST]]] = []
    for path, text in sources.items():
        if not path.endswith(".py"):
            continue
        try:
            tree = ast.parse(text)
        except (SyntaxError, ValueError):
            return None
        parents = {child: parent for parent in ast.walk(tree) for child in ast.iter_child_nodes(parent)}
        for node in ast.walk(tree):
            if reads_argv(node):
                return None  # it reads its command line already: another rule's case
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "input":
                chain = _ancestors(node, parents)
                if any(isinstance(a, _LOOPS) for a in chain):
                    return None
                calls.append((path, node, chain))
    if not calls or len({path for path, _, _ in calls}) != 1:
        return None
    if len(calls) == 1:
        edits = [(calls[0][1], calls[0][2], '" ".join(sys.argv[1:]) or ')]
    elif len(calls) == n_args and _one_block(calls):
        ordered = sorted(calls, key=lambda c: (c[1].lineno, c[1].col_offset))
        edits = [(call, chain, f"sys.argv[{i}] if len(sys.argv) > {i} else ")
                 for i, (_, call, chain) in enumerate(ordered, 1)]
    else:
        return None
    path = calls[0][0]
    lines = sources[path].splitlines(keepends=True)
    for call, chain, head in sorted(edits, key=lambda e: (e[0].lineno, e[0].col_offset), reverse=True):
        if call.end_lineno is None or call.end_col_offset is None:
            return None
        start = char_offset(lines, call.lineno, call.col_offset)
        end = char_offset(lines, call.end_lineno, call.end_col_offset)
        flat = "".join(lines)
        alone = isinstance(chain[0], (ast.Call, ast.Assign, ast.AnnAssign, ast.Return, ast.keyword, ast.Expr))
        flat = flat[:start] + (f"{head}{flat[start:end]}" if alone else f"({head}{flat[start:end]})") + flat[end:]
        lines = flat.splitlines(keepends=True)
    try:
        new = _with_sys("".join(lines))  # parses it
    except (SyntaxError, ValueError):
        return None
    return Fed({path: new}, len(edits))


def _ancestors(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> list[ast.AST]:
    chain: list[ast.AST] = []
    while node in parents:
        node = parents[node]
        chain.append(node)
    return chain


def _one_block(calls: list[tuple[str, ast.Call, list[ast.AST]]]) -> bool:
    """Whether the calls sit in the statements of one body, none under an ``if``/``try``/``with``
    of its own: top to bottom is the order they run in."""
    bodies = set()
    for _, _, chain in calls:
        statement = next((i for i, a in enumerate(chain) if isinstance(a, ast.stmt)), None)
        if statement is None or statement + 1 >= len(chain):
            return False
        owner = chain[statement + 1]
        if not isinstance(owner, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef)):
            return False
        bodies.add(id(owner))
    return len(bodies) == 1


def reads_argv(node: ast.AST) -> bool:
    """``sys.argv``, ``from sys import argv`` or argparse: the program reads its command line."""
    if isinstance(node, ast.Attribute):
        return node.attr == "argv" and isinstance(node.value, ast.Name) and node.value.id == "sys"
    if isinstance(node, ast.ImportFrom):
        return node.module == "argparse" or (node.module == "sys" and any(a.name == "argv" for a in node.names))
    return isinstance(node, ast.Import) and any(a.name == "argparse" for a in node.names)


def char_offset(lines: list[str], line: int, col: int) -> int:
    """The character offset of ``line``:``col`` (``col`` in UTF-8 bytes, as ``ast`` gives it)."""
    before = sum(len(text) for text in lines[: line - 1])
    return before + len(lines[line - 1].encode()[:col].decode(errors="replace"))


def _with_sys(text: str) -> str:
    """``text`` with ``import sys`` at its top when it does not import it (after a docstring and
    ``from __future__`` imports); a ``SyntaxError`` when ``text`` does not parse."""
    tree = ast.parse(text)
    if any(isinstance(n, ast.Import) and any(a.name == "sys" and a.asname is None for a in n.names)
           for n in tree.body):
        return text
    return insert_imports(text, ["import sys"], spaced=True)
