"""A fix that sends only the functions it changed: put them in place in the file.

A small model asked for "the whole new file" often answers a failing test with the one
function it changed (the 1.5B's converter fix: ``def convert_temperature`` alone, with
no path line, so the reply was refused and the whole file asked for again: a second
call of ~55 s on 2 cores). Written as the file, such a fragment would delete everything
else in it (the 1.5B's snake lost ``pygame.init()`` in a fix). Spliced, it replaces
exactly the definitions it names and keeps the rest of the file as it was.

A reply is a *fragment* of a file when its top-level statements are only imports,
functions and classes (and at most an ``if __name__ == "__main__":`` block, where the file
has one), and at least one of its definitions is one of the file's own. New definitions
go right above the first replaced one (so module-level code below can call them); new
imports go below the file's last top-level import. The spliced file must parse.
"""

from __future__ import annotations

import ast
import itertools
import re
from collections.abc import Mapping
from dataclasses import dataclass

from chatdev.checks.completeness import empty_body, is_main_guard

_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


@dataclass(frozen=True)
class Fragment:
    """What a block holds, when it is a fragment of some file."""

    tree: ast.Module
    names: frozenset[str]  # the functions and classes it defines
    guard: bool  # it has an ``if __name__ == "__main__":`` block


_HEADER = re.compile(r"^([ \t]*)(?:async[ \t]+def|def|class)\b.*:[ \t]*(?:#.*)?$")


def unelided(block: str) -> str:
    """``block`` with a ``...`` body under each definition whose body is only comments, when only that
    makes it parse: the 1.5B's Tkinter calculator fix (2026-12-07) sent ``def __init__(self, root):``
    with ``# ... (other code remains the same)`` for its body. A definition with a placeholder body
    is one the file keeps (``_placeholder_for``)."""
    try:
        ast.parse(block)
        return block
    except SyntaxError:
        pass
    lines = block.splitlines()
    out: list[str] = []
    for i, line in enumerate(lines):
        out.append(line)
        m = _HEADER.match(line)
        if not m:
            continue
        rest = [ln for ln in lines[i + 1:] if ln.strip() and not ln.strip().startswith("#")]
        nxt = rest[0] if rest else ""
        if not nxt or len(nxt) - len(nxt.lstrip()) <= len(m.group(1)):
            out.append(m.group(1) + "    ...")
    filled = "\n".join(out) + ("\n" if block.endswith("\n") else "")
    try:
        ast.parse(filled)
    except SyntaxError:
        return block
    return filled


def fragment(block: str) -> Fragment | None:
    """The block as a fragment (only imports, definitions, a docstring, a main guard), else None."""
    block = unelided(block)
    try:
        tree = ast.parse(block)
    except SyntaxError:
        return None
    names: set[str] = set()
    guard = False
    for node in tree.body:
        if isinstance(node, _DEFS):
            names.add(node.name)
        elif isinstance(node, ast.If) and is_main_guard(node.test) and not guard:
            guard = True
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            continue
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            continue  # a docstring or a stray string
        else:
            return None
    return Fragment(tree, frozenset(names), guard) if names or guard else None


def _defs(tree: ast.Module) -> dict[str, ast.stmt]:
    return {node.name: node for node in tree.body if isinstance(node, _DEFS)}


def _guard(tree: ast.Module) -> ast.stmt | None:
    return next((n for n in tree.body if isinstance(n, ast.If) and is_main_guard(n.test)), None)


def _start(node: ast.stmt) -> int:
    """0-based first line of a statement, its decorators included."""
    decorators = getattr(node, "decorator_list", [])
    return min([d.lineno for d in decorators] + [node.lineno]) - 1


def lines_of(text: str) -> list[str]:
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    return lines


def partial(block: str, whole: str) -> bool:
    """A block written as a whole file that is a fragment of it: written as it is, it would delete
    definitions or module-level code (``pygame.init()``) that it does not mention."""
    frag = fragment(block)
    if frag is None or not replaces(frag, whole):
        return False
    tree = ast.parse(whole)
    rest = [n for n in tree.body if not isinstance(n, (*_DEFS, ast.Import, ast.ImportFrom))
            and not (isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant))
            and not (frag.guard and isinstance(n, ast.If) and is_main_guard(n.test))]
    own = _defs(tree)
    classes = [n for n in frag.tree.body if isinstance(n, ast.ClassDef) and isinstance(own.get(n.name), ast.ClassDef)
               and _omits_methods(n, own[n.name])]  # type: ignore[arg-type]
    methods = [n for n in frag.tree.body if n.__class__ is not ast.ClassDef and getattr(n, "name", None) not in own
               and _method_of_one_class(n, tree) is not None]
    stubs = [n for n in frag.tree.body if _stub(n) and getattr(n, "name", None) in own]
    return bool(set(own) - frag.names or rest or classes or methods or stubs)


def replaces(frag: Fragment, whole: str) -> bool:
    """Whether the fragment names at least one definition of ``whole`` (or one of its classes'
    methods, or its main guard)."""
    try:
        tree = ast.parse(whole)
    except SyntaxError:
        return False
    methods = any(_method_of_one_class(n, tree) is not None for n in frag.tree.body)
    return bool(frag.names & set(_defs(tree))) or methods or (frag.guard and _guard(tree) is not None)


def splice(block: str, whole: str) -> str | None:
    """``whole`` with the fragment ``block`` put in place; None when ``block`` is not a fragment of it."""
    block = unelided(block)
    frag = fragment(block)
    if frag is None:
        return None
    try:
        tree = ast.parse(whole)
    except SyntaxError:
        return None
    own = _defs(tree)
    guard = _guard(tree)
    if frag.guard and guard is None or not replaces(frag, whole):
        return None
    new_lines = lines_of(block)

    def text(node: ast.stmt) -> list[str]:
        return new_lines[_start(node):node.end_lineno]

    swaps: list[tuple[int, int, list[str]]] = []  # (start, end, lines) in whole, 0-based, end exclusive
    added: list[str] = []
    whole_lines = lines_of(whole)
    for node in frag.tree.body:
        if isinstance(node, _DEFS):
            if node.name in own:
                old = own[node.name]
                if _placeholder_for(node, old):
                    continue  # a placeholder for a definition the file has: the file's stays
                if isinstance(node, ast.ClassDef) and isinstance(old, ast.ClassDef) and _omits_methods(node, old):
                    body = _merged_class(old, node, whole_lines, new_lines)
                else:
                    body = text(node)
                if not getattr(node, "decorator_list", None) and getattr(old, "decorator_list", None):
                    body = [*whole_lines[_start(old):old.lineno - 1], *body]  # its decorators, kept
                swaps.append((_start(old), old.end_lineno or old.lineno, body))
            elif (method := _method_of_one_class(node, tree)) is not None:  # a method sent without its class
                if not _placeholder_for(node, method):
                    indent = " " * method.col_offset
                    swaps.append((_start(method), method.end_lineno or method.lineno,
                                  _reindented(text(node), node.col_offset, indent)))
            else:
                added += ["\n", *text(node), "\n"] if added else [*text(node), "\n", "\n"]
        elif isinstance(node, ast.If) and guard is not None:
            swaps.append((_start(guard), guard.end_lineno or guard.lineno, text(node)))
    lines = lines_of(whole)
    swaps.sort(key=lambda s: s[0])
    if any(a[1] > b[0] for a, b in itertools.pairwise(swaps)):
        return None
    first = swaps[0][0] if swaps else len(lines)
    for start, end, body in reversed(swaps):
        lines[start:end] = body
    if added:
        lines[first:first] = added
    present = {ast.unparse(n) for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))}
    imports = [ast.unparse(n) + "\n" for n in frag.tree.body
               if isinstance(n, (ast.Import, ast.ImportFrom)) and ast.unparse(n) not in present]
    if imports:  # below the file's last import above the first change, else below its docstring
        tops = [n.end_lineno or 0 for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
        head = tree.body[0] if tree.body else None
        doc = (head.end_lineno or 0) if isinstance(head, ast.Expr) and isinstance(head.value, ast.Constant) else 0
        at = max([t for t in tops if t <= first], default=doc if doc <= first else 0)
        lines[at:at] = imports
    result = "".join(lines)
    try:
        ast.parse(result)
    except SyntaxError:
        return None
    return result


def _methods(node: ast.ClassDef) -> dict[str, ast.FunctionDef | ast.AsyncFunctionDef]:
    return {n.name: n for n in node.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}


def _omits_methods(new: ast.ClassDef, old: ast.ClassDef) -> bool:
    """A class sent with only some of the file's methods: the ones it leaves out stay."""
    return bool(set(_methods(old)) - set(_methods(new)))


def _stub(node: ast.stmt) -> bool:
    """A definition with a placeholder body (``pass``, ``...``, a docstring alone)."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return empty_body(node.body, allow_docstring=True)
    return False


def _placeholder_for(new: ast.stmt, old: ast.stmt) -> bool:
    """``new`` is a placeholder where ``old`` has a real body: ``old`` stays."""
    return _stub(new) and not _stub(old)


def _reindented(lines: list[str], column: int, indent: str) -> list[str]:
    """``lines`` (a statement at ``column``) moved to ``indent``."""
    out = []
    for line in lines:
        if not line.strip():
            out.append(line)
        elif not line[:column].strip():
            out.append(indent + line[column:])
        else:
            out.append(line)
    return out


def _merged_class(old: ast.ClassDef, new: ast.ClassDef, whole_lines: list[str], new_lines: list[str]) -> list[str]:
    """The file's class with the methods ``new`` sends put in place (by name; new ones at its end,
    placeholders not taken); the methods it leaves out stay as they were."""
    start, end = _start(old), old.end_lineno or old.lineno
    lines = whole_lines[start:end]
    have = _methods(old)
    indent = " " * (old.body[0].col_offset if old.body else old.col_offset + 4)
    swaps: list[tuple[int, int, list[str]]] = []
    added: list[str] = []
    for name, method in _methods(new).items():
        body = _reindented(new_lines[_start(method):method.end_lineno], method.col_offset, indent)
        if name in have:
            if _placeholder_for(method, have[name]):
                continue
            swaps.append((_start(have[name]) - start, (have[name].end_lineno or have[name].lineno) - start, body))
        elif not _stub(method):
            added += ["\n", *body]
    for a, b, body in sorted(swaps, reverse=True):
        lines[a:b] = body
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    return lines + added


def _method_of_one_class(node: ast.stmt, tree: ast.Module) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    """The method a top-level ``def name(self, ...)`` rewrites: the one class of the file that has it."""
    if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return None
    if not node.args.args or node.args.args[0].arg != "self":
        return None
    found = [m for c in tree.body if isinstance(c, ast.ClassDef) for n, m in _methods(c).items() if n == node.name]
    return found[0] if len(found) == 1 else None


def place(block: str, known: Mapping[str, str]) -> tuple[str, str] | None:
    """(path, spliced file) for an unnamed fragment that names definitions of exactly one Python file."""
    frag = fragment(block)
    if frag is None:
        return None
    fits = [path for path, content in known.items() if path.endswith(".py") and replaces(frag, content)]
    if len(fits) != 1:
        return None
    spliced = splice(block, known[fits[0]])
    return (fits[0], spliced) if spliced is not None else None


def salvage(prefix: str, whole: str) -> str | None:
    """A rewrite of ``whole`` cut at the reply's token limit, made whole again: its complete
    top-level statements up to the last one ``whole`` also has, then the rest of ``whole``.

    (Seen on the 1.5B snake, 2026-12-03: every code_fix reply rewrote the 128-line main.py, met
    its 1400-token limit inside it and was asked again, three 135 s calls a cycle.) What the
    rewrite changed before the cut is kept; what it did not reach is the file as it was. A
    definition the rewrite already holds is not taken again from the old rest.
    """
    lines = lines_of(prefix)
    tree, end = _longest_parsing_prefix(lines)
    if tree is None or not tree.body:
        return None
    last = tree.body[-1]
    after = [ln for ln in lines[last.end_lineno or end:] if ln.strip()]
    # the last statement is whole only when a new top-level one began after it
    done = tree.body if after and after[0][:1] not in (" ", "\t") else tree.body[:-1]
    if not done:
        return None
    try:
        old = ast.parse(whole)
    except SyntaxError:
        return None
    names = {n.name: i for i, n in enumerate(old.body) if isinstance(n, _DEFS)}
    dumps = {ast.dump(n): i for i, n in enumerate(old.body)}
    for k in range(len(done) - 1, -1, -1):  # the last complete statement the old file also has
        node = done[k]
        j = names.get(node.name) if isinstance(node, _DEFS) else dumps.get(ast.dump(node))
        if j is not None:
            break
    else:
        return None
    kept = done[:k + 1]
    have = {n.name for n in kept if isinstance(n, _DEFS)} | {ast.dump(n) for n in kept}
    old_lines = lines_of(whole)
    tail: list[str] = []
    for node in old.body[j + 1:]:
        key = node.name if isinstance(node, _DEFS) else ast.dump(node)
        if key in have:
            continue
        start = _start(node)
        tail += ["\n\n" if isinstance(node, _DEFS) else "\n", *old_lines[start:node.end_lineno]]
    head = lines[:kept[-1].end_lineno]
    result = "".join(head) + "".join(tail)
    try:
        same = ast.dump(ast.parse(result)) == ast.dump(old)
    except SyntaxError:
        return None
    return None if same else result  # it had changed nothing before the cut: ask again


def cut_tests(text: str) -> str | None:
    """A test file cut at the reply's token limit, as its longest line prefix that parses and still
    holds a test function, its last line left out (None: no test is whole without it).

    (Seen on the 1.5B primes tool, 2026-12-03: the tester listed 60 ``assert is_prime(n)`` lines,
    met its 700-token limit at ``    assert is`` and the file was quarantined as one that does
    not parse: no test counted.) The unfinished statement is dropped; the finished ones stay.
    The last line is taken as cut even when it parses, as in ``cut_program``: on 2026-12-08 the
    same tester met its limit at ``    assert is_prime(72)`` of ``assert is_prime(72) == False``,
    a line that parses and asserts that 72 is prime; the test was disputed, and the tester, asked
    again, wrote the same 700 tokens and the same cut line.
    """
    lines = lines_of(text)
    while lines and not lines[-1].strip():
        lines.pop()
    tree, end = _longest_parsing_prefix(lines[:-1])
    if tree is None or not any(isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name.startswith("test")
                               for n in ast.walk(tree)):
        return None
    return "".join(lines[:end]).rstrip() + "\n"


CUT_NOTE = "# chatdev: the reply that wrote this file stopped here at its length limit; what followed is missing\n"


def cut_program(text: str) -> str | None:
    """A program file cut at the reply's token limit, as its complete top-level statements, closed
    by ``CUT_NOTE`` (None: no top-level statement is whole). Its last line is taken as cut even
    when it parses: ``    r`` of ``return`` is a name.

    (Seen on the 1.5B converter, 2026-12-03: coding met its limit at line 156, inside ``main``; the
    file did not parse, so neither a fix sent as a few functions nor the salvage of a cut rewrite
    could be put in place, and six fix cycles rewrote the whole file into the same limit.) A
    statement is whole only when a new top-level one began after it: half a function never stays.
    """
    lines = lines_of(text)
    tree, end = _longest_parsing_prefix(lines[:-1])
    if tree is None or not tree.body:
        return None
    last = tree.body[-1]
    after = [ln for ln in lines[last.end_lineno or end:] if ln.strip()]  # the cut line shows an end too
    done = tree.body if after and after[0][:1] not in (" ", "\t") else tree.body[:-1]
    if not any(isinstance(n, _DEFS) for n in done):
        return None
    stop = done[-1].end_lineno or end
    return "".join(lines[:stop]).rstrip() + "\n\n" + CUT_NOTE


def _longest_parsing_prefix(lines: list[str]) -> tuple[ast.Module | None, int]:
    """The parse of the longest prefix of ``lines`` that parses, and its length in lines
    ((None, 0) when none does)."""
    for end in range(len(lines), 0, -1):
        try:
            return ast.parse("".join(lines[:end])), end
        except SyntaxError:
            continue
    return None, 0
