"""A failing ``assert CALL == VALUE``, settled by a third opinion the model writes as code.

The 1.5B's tests often expect a wrong value (``is_prime(247) == True``, ``78+9`` showing
``15``), and the programmer cannot make such a test pass; it costs fix cycles, then a dispute
the tester usually loses to its own first guess. Asked for the value itself, the 1.5B is
right on 2 of 12 real disputes; shown both values, on 5; asked for a function that computes
it with the standard library alone (the program not shown), run in the sandbox, on 8 — and in
24 such answers (1.5B and 0.5B) it never agreed with the program where the test was right
(``bench/expected_values.py``). So that computation settles the disagreement:

- it gives the program's value (and not the test's): the expectation was wrong, and the
  test's literal becomes the program's value (two independent implementations agree on it);
- it gives the test's value (and not the program's): the program is wrong, and the
  programmer is told that an independent computation agrees with the test;
- neither, or nothing usable: nothing changes.

Only a plain ``assert f(...) == LITERAL`` (either side) directly in a test function's body,
after nothing but ``name = LITERAL`` lines, is read: what a function returns for values a
computation can be shown. An object the test built and changed (``snake.move()``, then
``snake.body``), a parametrized test, an assert in a loop, ``pytest.approx`` or a value pytest
printed cut short is left to the disputes (``checks/disputes.py``): on the 1.5B's snake, every
question about such state was answered with a guessed literal. Pure functions: no Docker, no model.
"""

from __future__ import annotations

import ast
import re
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from chatdev.checks.disputes import fails_on_own_assertion
from chatdev.checks.bindings import parse_sources
from chatdev.checks.triage import FRAME, TestCase, find_test, test_line_trees
from chatdev.project.paths import SANDBOX_ROOT

SCRIPT = "expected.py"  # the computation's file, alone in its sandbox folder
SETTLED = "test_settled"  # state.outputs key: Expectation.key -> "program" | "test" | "unsettled"
_ASSERTED = re.compile(r"^E\s+(?:AssertionError:\s*)?assert (?P<shown>.+)$")


class _Nothing:
    def __repr__(self) -> str:
        return "NOTHING"


NOTHING: Any = _Nothing()  # no value: none computed, or a side that is not a literal


@dataclass(frozen=True)
class Expectation:
    """One failing assert: what it calls, what it expected, what the program gave."""

    test: str  # the test's id
    file: str
    line: int  # the assert's first line
    call: str  # the computed side, as written
    setup: str  # the test file's imports and the test's statements before the assert
    expected: Any  # the test's literal
    got: Any  # the program's value, as pytest printed it
    span: tuple[int, int, int, int]  # the literal's (line, col, end line, end col)

    @property
    def key(self) -> str:
        """What ``outputs.test_settled`` knows it by: the test and the assert's line."""
        return f"{self.test}@{self.line}"


def test_of(key: str) -> str:
    """The test id of a settled assert's ``key``."""
    return key.rpartition("@")[0] or key


def find(case: TestCase, source: str) -> Expectation | None:
    """The failing assert of ``case`` when it is a settleable ``CALL == LITERAL`` (None: it is not)."""
    if not fails_on_own_assertion(case) or "[" in case.name:
        return None
    fn = find_test(source, case.name)
    line = _failing_line(case)
    if fn is None or line is None:
        return None
    node = next((s for s in fn.body if isinstance(s, ast.Assert) and s.lineno <= line <= (s.end_lineno or s.lineno)),
                None)
    if node is None or node.msg is not None:
        return None
    test = node.test
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq)):
        return None
    left, right = test.left, test.comparators[0]
    sides = [(side, _literal(side)) for side in (left, right)]
    literal = [(side, value) for side, value in sides if value is not NOTHING]
    if len(literal) != 1:
        return None
    lit, expected = literal[0]
    other = right if lit is left else left
    if not _plain_call(other):
        return None
    got = _program_value(case, expected, literal_left=lit is left)
    if got is NOTHING or agrees(got, expected):
        return None
    statements = [s for s in fn.body if (s.end_lineno or s.lineno) < node.lineno
                  and not isinstance(s, ast.Assert)]  # an earlier assert's value would be copied
    if not all(_literal_assignment(s) for s in statements):
        return None  # an object the test built and changed: its state is the program's to say
    before = [ast.get_source_segment(source, s) or "" for s in statements]
    imports = [ast.get_source_segment(source, s) or "" for s in ast.parse(source).body
               if isinstance(s, (ast.Import, ast.ImportFrom))]
    setup = "\n".join([*imports, *(textwrap.dedent(b) for b in before)]).strip()
    return Expectation(test=case.id, file=case.file, line=node.lineno, call=ast.unparse(other), setup=setup,
                       expected=expected, got=got,
                       span=(lit.lineno, lit.col_offset, lit.end_lineno or lit.lineno, lit.end_col_offset or 0))


def computes(source: str, inputs: str = "") -> bool:
    """Whether ``source`` defines ``expected()``, taking nothing, that computes its value: not a bare
    ``return LITERAL`` (the value asked for, only guessed: right on 2 of 12 real disputes), and,
    when ``inputs`` (the call and the test's setup, as code) hold values, using one of them: the
    0.5B answered every question with the prompt's own example, ``count_vowels("banana")``."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return False
    fn = next((n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "expected"), None)
    if fn is None or fn.args.args or fn.args.posonlyargs or fn.args.kwonlyargs:
        return False
    given = _constants(inputs)
    if given and not given & _constants(source):
        return False  # it computes something, but not from the call's values
    body = [s for s in fn.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
    if len(body) == 1 and isinstance(body[0], ast.Return) and body[0].value is not None:
        return _literal(body[0].value) is NOTHING
    return bool(body)


def _constants(code: str) -> set[tuple[str, object]]:
    """The numbers and texts written in ``code`` (by type and value), None and booleans aside."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return set()
    return {(type(n.value).__name__, n.value) for n in ast.walk(tree) if isinstance(n, ast.Constant)
            and isinstance(n.value, (int, float, str)) and not isinstance(n.value, bool)}


def script(source: str) -> str:
    """The model's ``expected()`` function, made a script that prints its value last."""
    return f"{source.rstrip()}\n\n\nprint(repr(expected()))\n"


def computed(stdout: str) -> Any:
    """The value the script printed last (``NOTHING``: none that reads as a Python literal)."""
    lines = [ln for ln in stdout.strip().splitlines() if ln.strip()]
    if not lines:
        return NOTHING
    try:
        return ast.literal_eval(lines[-1].strip())
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return NOTHING


def verdict(expectation: Expectation, value: Any) -> str | None:
    """``program`` (the computation agrees with the program, not the test), ``test`` (the other
    way round), or None (neither, both, or nothing computed)."""
    if value is NOTHING:
        return None
    with_program, with_test = agrees(value, expectation.got), agrees(value, expectation.expected)
    if with_program and not with_test:
        return "program"
    if with_test and not with_program:
        return "test"
    return None


def corrected(source: str, expectation: Expectation) -> str:
    """The test file with the assert's literal replaced by the program's value."""
    line, col, end_line, end_col = expectation.span
    lines = source.splitlines(keepends=True)
    offsets = [0]
    for text in lines:
        offsets.append(offsets[-1] + len(text.encode()))
    raw = source.encode()
    start, end = offsets[line - 1] + col, offsets[end_line - 1] + end_col
    new = (raw[:start] + repr(expectation.got).encode() + raw[end:]).decode()
    ast.parse(new)  # a repr is an expression: the file still parses
    return new


def agrees(a: Any, b: Any) -> bool:
    """The same value: numbers within a millionth (a bool only equals a bool), else ``==`` of one type."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return abs(a - b) <= 1e-6 * max(1.0, abs(a), abs(b))
    return type(a) is type(b) and a == b


def _sides(case: TestCase) -> tuple[Any, Any] | None:
    """The two values of the failing ``assert A == B`` as pytest printed it (``NOTHING`` for a side
    that is no whole literal, such as a text pytest cut short), or None for another failure."""
    shown = next((m["shown"].strip() for ln in case.text.splitlines() if (m := _ASSERTED.match(ln))), None)
    if not shown:
        return None
    try:
        node = ast.parse(shown, mode="eval").body
    except SyntaxError:
        left, sep, right = shown.partition(" == ")  # a side pytest cut short does not parse
        return (_literal_text(left), _literal_text(right)) if sep else None
    if not (isinstance(node, ast.Compare) and len(node.ops) == 1 and isinstance(node.ops[0], ast.Eq)):
        return None
    return _whole(_literal(node.left)), _whole(_literal(node.comparators[0]))


def _literal_text(text: str) -> Any:
    try:
        return _whole(ast.literal_eval(text.strip()))
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return NOTHING


def _whole(value: Any) -> Any:
    """``value``, or ``NOTHING`` for a text pytest cut short (``'Error: inval...ing>, line 1)'``)."""
    return NOTHING if isinstance(value, str) and "..." in value else value


def letter_case(case: TestCase) -> str:
    """A ``Why:`` line for a failing ``assert A == B`` whose two strings differ in letter case alone
    (``'KHOOR' == 'khoor'``: a Caesar cipher that swapped upper and lower case), else "". The letters
    are right there, and a fix that rewrites the whole computation would throw that away."""
    sides = _sides(case)
    if sides is None:
        return ""
    left, right = sides
    if not (isinstance(left, str) and isinstance(right, str)) or left == right or left.lower() != right.lower():
        return ""
    return (f"Why: {left!r} and {right!r} differ only in letter case: the letters are right, so change only "
            "where the code chooses upper or lower case.")


def known_text(case: TestCase, program: Mapping[str, str]) -> str:
    """A ``Why:`` line for a failing ``assert A == B`` where one side is a text the program's own
    code already has, word for word, and the other is not (``'Invalid expression'``, which the
    1.5B calculator returned for bad characters, expected for ``"2 + 3 *"``, where it returned
    ``'Error: invalid syntax ...'``), else "": the fix is to reach that line, not to write a new one."""
    sides = _sides(case)
    if sides is None:
        return ""
    # the expected side is a literal of the test's own line
    written = {n.value for tree in test_line_trees(case) for n in ast.walk(tree)
               if isinstance(n, ast.Constant) and isinstance(n.value, str)}
    trees = parse_sources(program)
    places: list[list[tuple[str, int]]] = [[], []]
    for index, value in enumerate(sides):
        if not isinstance(value, str) or len(value.strip()) < 4 or value not in written:
            continue
        places[index] += [(rel, n.lineno) for rel, tree in trees.items() for n in ast.walk(tree)
                          if isinstance(n, ast.Constant) and n.value == value]
    if bool(places[0]) == bool(places[1]):
        return ""  # neither side, or both: nothing to point at
    index = 0 if places[0] else 1
    rel, line = min(places[index])
    other = sides[1 - index]
    got = f", not {other!r}" if other is not NOTHING else ""
    return (f"Why: the program already has {sides[index]!r} ({rel} line {line}), but this call gets another "
            f"value{got}: make this case reach that text rather than writing a new one.")


def _literal(node: ast.expr) -> Any:
    try:
        return ast.literal_eval(node)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return NOTHING


def _plain_call(node: ast.expr) -> bool:
    """``f(...)`` or ``module.f(...)``: a function called on values, not a method of an object the test made."""
    if not isinstance(node, ast.Call):
        return False
    func = node.func
    while isinstance(func, ast.Attribute):
        func = func.value
    return isinstance(func, ast.Name)  # not `Calculator().add(2, 3)`: a method of an object made inline


def _literal_assignment(node: ast.stmt) -> bool:
    """``name = LITERAL`` (``n = 247``, ``log_lines = [...]``): what a computation can be shown."""
    return (isinstance(node, ast.Assign) and all(isinstance(t, ast.Name) for t in node.targets)
            and _literal(node.value) is not NOTHING)


def _failing_line(case: TestCase) -> int | None:
    """The line of the test's own file pytest stopped at (its innermost frame there)."""
    lines = [int(m["line"]) for m in FRAME.finditer(case.text)
             if m["file"].removeprefix(SANDBOX_ROOT) == case.file]
    return lines[-1] if lines else None


def _program_value(case: TestCase, expected: Any, *, literal_left: bool) -> Any:
    """The program's side of ``assert A == B`` as pytest printed it (``E   assert -12.2 == 50.0``)."""
    shown = next((m["shown"].strip() for ln in case.text.splitlines() if (m := _ASSERTED.match(ln))), None)
    if shown is None:
        return NOTHING
    written = repr(expected)
    if literal_left and shown.startswith(written + " == "):
        other = shown[len(written) + 4:]
    elif not literal_left and shown.endswith(" == " + written):
        other = shown[:-len(written) - 4]
    else:
        return NOTHING
    try:
        return ast.literal_eval(other)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return NOTHING
