"""Tests are a second opinion, and a fallible one: which failures are the test's own fault.

The sandbox runs each test with its own time limit and reports one result per
test (``sandbox/runner/supervisor.py``). A test that fails for its own reasons is a *test
defect*, never a program failure sent to the programmer:

- it does not parse (a syntax error in the test file);
- it uses a name it never defined or imported (a ``NameError`` raised in the test itself);
- it imports something the program does not define (an ``ImportError`` at the test's import);
- it does not finish within its limit (it called into the endless main loop);
- it calls a function that reads typed input (pytest: "reading from stdin while output is
  captured": the game's ``input()`` loop, called from a unit test);
- it compares two random values (``assert spawn() == spawn()``, ``random.x(...) == ...``);
- it passes but asserts nothing (a comment and ``pass``): no oracle at all;
- it checks the test file's own copy of a program function (the tester pasted the
  program above its tests), passing or failing: it says nothing about the program;
- it calls a program function with arguments its definition does not take (a
  ``TypeError`` raised at the test's own call: the program was written first);
- it gives a program function a value of another type than the function uses (an int
  shift where the function calls ``shift.isdigit()``: the program was written first);
- it checks the value of a program function that returns nothing (pytest's
  ``where None = list_tasks()``, and ``list_tasks`` has no ``return`` with a value: it prints).
- it gives a program function None where the function uses a real object (``screen = None``,
  ``food.draw(screen)``, and ``pygame.draw.rect(screen, ...)`` fails: "must be pygame.Surface, not None");
- it treats a real object as a mock it never made (``root.askopenfilename.return_value = ...``
  on a Tk window, failing with an ``AttributeError``: the 1.5B's notepad tests);
- it gives a program function a data file named in the test that nobody wrote (``read_csv('test_data.csv')``;
  a file the program itself names is the program's failure);
- it calls a program function that ends the program on every path (``game_over()`` whose
  body calls ``sys.exit()``) without ``pytest.raises(SystemExit)``;
- it expects a program function to end the program (``pytest.raises(SystemExit)``) when nothing
  it runs ever does: only ``main()`` ends the program, and the function returns its result;
- it sets its own copies of the program's variables (``paddle_x = ...``, ``paddle_x -= 10``)
  and checks what it computed from them, calling no program function, class or module:
  passing or failing, it says nothing about the program.

A defect goes back to the tester once; after that the test is quarantined: kept in
the repository under a marker (a ``pytest.mark.skip`` whose reason starts with
``chatdev quarantine``, or a file renamed ``*.py.quarantined`` when it does not even
parse) and listed in the report. Pure functions: no Docker, no git.
"""

from __future__ import annotations

import ast
import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from chatdev.checks.bindings import bindings, parse_sources
from chatdev.checks.crashes import MODULE_ATTRIBUTE, NO_FILE
from chatdev.project.paths import SANDBOX_ROOT

QUARANTINE = "chatdev quarantine"
QUARANTINED_SUFFIX = ".quarantined"
FRAME = re.compile(r"^(?P<file>[^\s:][^:\n]*\.py):(?P<line>\d+):", re.MULTILINE)
ASSERTING_CALLS = {"raises", "approx", "fail", "warns", "assertEqual", "assertTrue", "assertFalse", "assertIn",
                   "assertRaises", "assertIsNone", "assertIsNotNone", "assertAlmostEqual", "assertNotEqual",
                   "assertGreater", "assertLess", "assertIs", "assertIsInstance"}


@dataclass(frozen=True)
class TestCase:
    """One test's result, and, when it is the test's own fault, why (``defect``)."""

    id: str
    file: str
    name: str
    outcome: str  # passed | failed | error | skipped
    message: str = ""
    text: str = ""
    defect: str | None = None
    quarantined: bool = False
    disputed: str = ""  # why the tester looks at it again (``checks/disputes.py``); it still counts

    __test__ = False  # not a pytest class

    @property
    def counts(self) -> bool:
        """Whether this test is part of the verdict (a healthy test that ran)."""
        return self.defect is None and not self.quarantined and self.outcome != "skipped"

    @property
    def failed(self) -> bool:
        return self.outcome in ("failed", "error")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TestCase:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


def triage(cases: list[dict[str, Any]], sources: dict[str, str],
           program: dict[str, str] | None = None) -> list[TestCase]:
    """Each raw case from the sandbox, with its ``defect`` decided from its failure and its source
    (``program``: the program's own files, to tell a test that checks a copy of them)."""
    trees = parse_sources(dict(sorted((program or {}).items())))
    defined = _definitions(trees)
    state = _state(trees, program or {})
    out: list[TestCase] = []
    for raw in cases:
        case = TestCase(id=str(raw.get("id", "")), file=str(raw.get("file", "")), name=str(raw.get("name", "")),
                        outcome=str(raw.get("outcome", "error")), message=str(raw.get("message", "")),
                        text=str(raw.get("text", "")))
        if case.outcome == "skipped":
            out.append(dataclasses.replace(case, quarantined=QUARANTINE in case.message))
            continue
        own = (_copied(case, sources.get(case.file, ""), defined) or _miscalled(case, defined)
               or _mistyped(case, defined) or _checks_nothing_returned(case, trees)
               or _checks_own_values(case, sources.get(case.file, ""), defined, state)
               or _checks_untouched_local(case, sources.get(case.file, ""), state)
               or _checks_library_none(case, defined) or _mocks_a_real_object(case)
               or _calls_an_exit(case, trees) or _expects_an_exit(case, sources.get(case.file, ""), defined)
               or _passes_none(case, sources.get(case.file, ""), trees))
        own = own or defect(case, sources, program) or _never_touches_program(case, sources.get(case.file, ""), state)
        out.append(dataclasses.replace(case, defect=own))
    return out


@dataclass(frozen=True)
class _Definition:
    """A top-level function or class of the program, where it stands."""

    path: str  # main.py
    module: str  # main
    node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef


def _definitions(trees: dict[str, ast.Module]) -> dict[str, _Definition]:
    """Top-level function and class names of the program's files."""
    out: dict[str, _Definition] = {}
    for rel, tree in trees.items():
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                out.setdefault(node.name, _Definition(rel, rel[:-3].replace("/", "."), node))
    return out


def _state(trees: dict[str, ast.Module], program: dict[str, str]) -> _State:
    """The names the program's files assign at their top level, and the modules they are (every
    Python file of ``program``, whether it parses or not)."""
    names = {name for tree in trees.values() for name in bindings(tree).assigned}
    return _State(frozenset(names), frozenset(_modules(program)))


def _modules(program: Mapping[str, str]) -> set[str]:
    """The top-level modules the program's Python files are (main, ball, game for game/board.py)."""
    return {rel[:-3].replace("/", ".").split(".")[0] for rel in program if rel.endswith(".py")}


@dataclass(frozen=True)
class _State:
    names: frozenset[str]  # what the program's files assign at their top level (paddle_x, score)
    modules: frozenset[str]  # main, ball


FIXTURES_KNOWN = {"monkeypatch", "capsys", "capfd", "tmp_path", "tmpdir", "caplog", "request"}


def _takes_fixtures(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """Whether the test takes a fixture other than pytest's own (one that may hand it the program)."""
    params = {a.arg for a in (*fn.args.posonlyargs, *fn.args.args, *fn.args.kwonlyargs)} - {"self"}
    return bool(params - FIXTURES_KNOWN)


def _checks_own_values(case: TestCase, source: str, defined: dict[str, _Definition], state: _State) -> str | None:
    """Why ``case`` checks only values it set itself where the program keeps its own (None: it uses
    the program). Seen on the 1.5B breakout (2026-12-04): ``paddle_x = (screen_width - paddle_width)
    // 2``, then ``paddle_x -= 10`` and an assert on ``paddle_x``: the program's loop was never run,
    its functions never called; two such tests failed on their own arithmetic and went to the
    programmer as the program's failures."""
    if not source or not case.name or not state.names:
        return None
    fn = find_test(source, case.name)
    if fn is None or not any(isinstance(n, ast.Assert) for n in ast.walk(fn)):
        return None
    if _takes_fixtures(fn):
        return None  # a fixture may hand it the program's objects
    program = set(defined) | state.modules
    if any(isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load) and n.id in program for n in ast.walk(fn)):
        return None  # it calls or names a program function, class or module
    own = sorted({n.id for n in ast.walk(fn) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
                  and n.id in state.names})
    if not own:
        return None
    checked = {n.id for a in ast.walk(fn) if isinstance(a, ast.Assert) for n in ast.walk(a) if isinstance(n, ast.Name)}
    names = ", ".join(f"`{n}`" for n in sorted(own, key=lambda n: (n not in checked, n))[:3])
    return (f"the test sets its own {names} and checks what it computed: it calls nothing of the program, so "
            "it says nothing about it (call the program's functions and check what they return or change)")


_RUNS_CODE = {"subprocess", "runpy", "importlib", "system", "exec", "popen", "__import__", "import_module"}


def _never_touches_program(case: TestCase, source: str, state: _State) -> str | None:
    """Why ``case`` fails in a test file that never imports the program nor runs it (None: it does).
    Seen on the 1.5B JSON-to-CSV tool (2026-12-07): its tests put JSON in ``sys.stdin`` and compared
    what a print stand-in of their own returned, no ``import main`` anywhere; both failed to the
    end as the program's failures."""
    if not case.failed or not source or not state.modules:
        return None
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return None
    fn = _function_in(tree, case.name) if case.name else None
    if fn is None or _takes_fixtures(fn):
        return None  # a fixture may hand it the program
    for node in ast.walk(tree):
        if isinstance(node, ast.Import) and any(a.name.split(".")[0] in state.modules for a in node.names):
            return None
        if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").split(".")[0] in state.modules):
            return None
        if isinstance(node, (ast.Name, ast.Attribute)) and (node.id if isinstance(node, ast.Name) else node.attr) \
                in _RUNS_CODE:
            return None  # it may run the program another way
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and any(
                f"{m}.py" in node.value for m in state.modules):
            return None
    return ("the test file never imports the program nor runs it, so the test says nothing about it: import "
            "what it tests from the program's modules and check what that returns")


def _checks_untouched_local(case: TestCase, source: str, state: _State) -> str | None:
    """Why ``case`` asserts on a variable of its own that no call can change (None: it does not).
    Seen on the 1.5B breakout (2026-12-07): ``ball_x, ball_y = 100, 100``, then ``move_ball()``,
    then ``assert ball_x == 105``: move_ball changes the program's ``ball_x``, never the test's,
    so the assert can only fail; it went to the programmer, then to the tester, and stayed.

    The assert that failed (every assert, for a passing test) reads only such variables: names
    the program also keeps at its top level, which the test function assigns from constants alone
    and never declares ``global``. An assert that calls anything, or reads an attribute, is the
    program's."""
    if case.outcome not in ("failed", "passed") or not source or not case.name or not state.names:
        return None
    fn = find_test(source, case.name)
    if fn is None or any(isinstance(n, (ast.Global, ast.Nonlocal)) for n in ast.walk(fn)):
        return None
    asserts = [n for n in ast.walk(fn) if isinstance(n, ast.Assert)]
    if case.failed:
        lines = [int(m["line"]) for m in FRAME.finditer(case.text) if m["file"].endswith(case.file)]
        asserts = [a for a in asserts if lines and a.lineno <= lines[-1] <= (a.end_lineno or a.lineno)]
    if not asserts:
        return None
    own = _constant_locals(fn)
    read: set[str] = set()
    for node in asserts:
        if any(isinstance(n, (ast.Call, ast.Attribute, ast.Subscript)) for n in ast.walk(node.test)):
            return None
        names = {n.id for n in ast.walk(node.test) if isinstance(n, ast.Name)}
        if not names or not names <= own or not names & state.names:
            return None
        read |= names & state.names
    shown = ", ".join(f"`{n}`" for n in sorted(read)[:3])
    return (f"the test asserts on its own {shown}, which it set itself and no call can change (a program "
            f"function changes the program's {shown}, not the test's): check what the program's functions "
            "return, or read the program's variable as module.name")


def _constant_locals(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> set[str]:
    """The names ``fn`` assigns only from constants (``x = 100``, ``x, y = 100, 100``, ``x -= 5``)."""
    def constant(node: ast.AST) -> bool:
        return all(isinstance(n, (ast.Constant, ast.Tuple, ast.List, ast.BinOp, ast.UnaryOp, ast.Load,
                                  ast.operator, ast.unaryop)) for n in ast.walk(node))

    good: set[str] = set()
    bad: set[str] = set()
    for node in ast.walk(fn):
        pairs: list[tuple[ast.AST, ast.AST | None]] = []
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if (isinstance(target, ast.Tuple) and isinstance(node.value, ast.Tuple)
                        and len(target.elts) == len(node.value.elts)):
                    pairs += list(zip(target.elts, node.value.elts))
                else:
                    pairs.append((target, node.value))
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
            pairs.append((node.target, node.value))
        elif isinstance(node, (ast.For, ast.AsyncFor, ast.With, ast.AsyncWith, ast.NamedExpr, ast.comprehension)):
            targets = ([node.target] if isinstance(node, (ast.For, ast.AsyncFor, ast.NamedExpr, ast.comprehension))
                       else [i.optional_vars for i in node.items if i.optional_vars is not None])
            pairs += [(t, None) for t in targets]
        for target, value in pairs:
            names = {n.id for n in ast.walk(target) if isinstance(n, ast.Name)}
            (good if isinstance(target, ast.Name) and value is not None and constant(value) else bad).update(names)
    args = {a.arg for a in (*fn.args.posonlyargs, *fn.args.args, *fn.args.kwonlyargs)}
    return good - bad - args


_LIBRARY_NONE = re.compile(r"where None = <bound method (\w+)\.(\w+) of <(?:[\w.]+\.)?(\w+) object")


def _checks_library_none(case: TestCase, defined: dict[str, _Definition]) -> str | None:
    """Why ``case`` asserts what a library method returns when it returns None (None: it does not).
    Seen on the 1.5B stopwatch (2026-12-07): ``assert stopwatch.time_label.config(text='00:00:00')``;
    pytest: ``where None = <bound method Misc.configure of <tkinter.ttk.Label object ...>>``. A
    setter of Tkinter's returns None whatever the program does. A method the program defines, or
    one of a class of the program's, is the program's."""
    if not case.failed:
        return None
    m = _LIBRARY_NONE.search(f"{case.message}\n{case.text}")
    if not m or m[1] in defined or m[3] in defined or frame_file(f"{case.message}\n{case.text}") != case.file:
        return None
    return (f"the test asserts what {m[2]}() returns, a library method ({m[1]}.{m[2]}) that returns None: "
            "check the value it set instead (a Tkinter widget's text: widget.cget('text'))")


_MISCALL = re.compile(r"TypeError: (?:\w+\.)?(\w+)\(\) (?:takes|missing|got an unexpected keyword)")


def _miscalled(case: TestCase, defined: dict[str, _Definition]) -> str | None:
    """Why ``case`` called a program function with arguments its ``def`` does not take (None: it did not)."""
    if not case.failed:
        return None
    text = f"{case.message}\n{case.text}"
    m = _MISCALL.search(text)
    if not m or frame_file(text) != case.file:  # raised inside the program: the program's failure
        return None
    name = m[1]
    if name == "__init__":
        cls = re.search(r"TypeError: (\w+)\.__init__\(\)", text)
        name = cls[1] if cls else name
    if name not in defined:
        return None
    found = defined[name]
    return (f"the test calls {name} with arguments its definition does not take "
            f"(`{_signature(found.node)}` in {found.path})")


_WRONG_TYPE = re.compile(r"AttributeError: '(int|float|str|list|dict|tuple|set|bytes)' object has no attribute '(\w+)'")
_BUILTINS: dict[str, type] = {"str": str, "int": int, "float": float, "list": list, "dict": dict, "tuple": tuple,
                              "set": set, "bytes": bytes}
_CALLED_IN = re.compile(r"^(?P<file>[^\s:][^:\n]*\.py):\d+: in (?P<fn>\w+)\n\s+(?P<code>[^\n]*)", re.MULTILINE)


def _mistyped(case: TestCase, defined: dict[str, _Definition]) -> str | None:
    """Why ``case`` gave a program function a value of another type than the function uses
    (``caesar_cipher("hello", 3, ...)`` where the function calls ``shift.isdigit()``: the
    1.5B's Caesar tool takes its shift as the command line's string); None when it did not."""
    if not case.failed:
        return None
    text = f"{case.message}\n{case.text}"
    m = _WRONG_TYPE.search(text)
    frames = [f for f in _CALLED_IN.finditer(text) if not _library(f["file"])]
    if not m or len(frames) != 2 or frames[0]["file"] != case.file:
        return None  # only a program function the test called itself
    fn, code = frames[1]["fn"], frames[1]["code"]
    found = defined.get(fn)
    if found is None or isinstance(found.node, ast.ClassDef):
        return None
    given, attr = m[1], m[2]
    params = [a.arg for a in (*found.node.args.posonlyargs, *found.node.args.args, *found.node.args.kwonlyargs)]
    used = re.search(r"\b(\w+)\s*\.\s*" + re.escape(attr) + r"\b", code)
    if not used or used[1] not in params:
        return None
    wanted = [name for name, kind in _BUILTINS.items() if name != given and hasattr(kind, attr)]
    if not wanted:
        return None
    an = "an" if given == "int" else "a"
    return (f"the test gives {fn} {an} {given} for `{used[1]}`, but {fn} in {found.path} uses `{used[1]}.{attr}`, "
            f"a {wanted[0]} method: pass `{used[1]}` as a {wanted[0]}, as the program does")


_GIVEN_NONE = re.compile(r"^E\s+(?:TypeError: (?:.*\bmust be (?:an? )?(?P<wanted>[\w.]+)(?: or [\w.]+)?, not None"
                         r"|.*'NoneType'.*)|AttributeError: 'NoneType' object has no attribute '(?P<attr>\w+)')",
                         re.MULTILINE)


def _passes_none(case: TestCase, source: str, trees: dict[str, ast.Module]) -> str | None:
    """Why ``case`` gave a program function None where the function uses a real object (None:
    it did not). Seen on the 1.5B snake (2026-12-08): ``screen = None``, ``food.draw(screen)``,
    and ``draw`` died in ``pygame.draw.rect(screen, ...)`` with "argument 1 must be
    pygame.Surface, not None"; four test fixes tried to make the game draw on nothing. Only
    where the test's own call passes the None (a literal, or a local the test sets only to None)
    for a parameter that the program's failing line names."""
    if not case.failed:
        return None
    text = f"{case.message}\n{case.text}"
    m = _GIVEN_NONE.search(text)
    frames = [f for f in _CALLED_IN.finditer(text) if not _library(f["file"])]
    if not m or len(frames) < 2 or frames[0]["file"] != case.file or frames[1]["file"] == case.file:
        return None
    test = find_test(source, case.name)
    function = _program_function(frames[1]["fn"], frames[1]["file"], trees)
    if test is None or function is None:
        return None
    nones = {n for n in _constant_locals(test) if _only_none(test, n)}
    call_line = int(re.search(r":(\d+):", frames[0].group(0))[1])  # type: ignore[index]
    params = [a.arg for a in (*function.args.posonlyargs, *function.args.args)]
    given: list[str] = []
    calls = [n for n in ast.walk(test) if isinstance(n, ast.Call) and n.lineno <= call_line <= (n.end_lineno or 0)]
    for call in calls:
        callee = call.func.attr if isinstance(call.func, ast.Attribute) else getattr(call.func, "id", "")
        if callee != function.name and not (function.name == "__init__" and callee[:1].isupper()):
            continue
        offset = 1 if params[:1] in (["self"], ["cls"]) else 0
        for i, arg in enumerate(call.args):
            if _is_none(arg, nones) and i + offset < len(params):
                given.append(params[i + offset])
        given += [k.arg for k in call.keywords if k.arg and _is_none(k.value, nones)]
    # the failing line names the parameter; an attribute of None is read from the parameter itself
    named = (rf"\b{{}}\s*\.\s*{m['attr']}\b" if m["attr"] else r"\b{}\b")
    used = [p for p in given if re.search(named.format(re.escape(p)), frames[1]["code"])]
    if not used:
        return None
    wanted = f"a {m['wanted']}" if m["wanted"] else (f"an object with .{m['attr']}" if m["attr"] else "a real value")
    hint = " (`pygame.Surface((800, 600))`)" if m["wanted"] == "pygame.Surface" else ""
    return (f"the test gives {function.name} None for `{used[0]}`, but {frames[1]['file']} uses it as "
            f"{wanted}: `{frames[1]['code'].strip()}`; pass {wanted}{hint}, as the program does")


def _program_function(name: str, file: str,
                      trees: dict[str, ast.Module]) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    """The function or method ``name`` of the program file ``file`` (the first when several classes have it)."""
    tree = trees.get(file.removeprefix(SANDBOX_ROOT))
    if tree is None:
        return None
    return next((n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
                 and n.name == name), None)


def _only_none(fn: ast.FunctionDef | ast.AsyncFunctionDef, name: str) -> bool:
    values = [node.value for node in ast.walk(fn) if isinstance(node, ast.Assign)
              for target in node.targets if isinstance(target, ast.Name) and target.id == name]
    return bool(values) and all(isinstance(v, ast.Constant) and v.value is None for v in values)


def _is_none(node: ast.expr, nones: set[str]) -> bool:
    return (isinstance(node, ast.Constant) and node.value is None) or (isinstance(node, ast.Name) and node.id in nones)


_NONE_FROM = re.compile(r"where None = (?:<bound method \w+\.(\w+) of .*?>|(?:\w+\.)?(\w+))\(")
_NONE_USED = re.compile(r"^E\s+(?:TypeError|AttributeError): .*'NoneType'", re.MULTILINE)
_CALLED = re.compile(r"\b(\w+)\s*\(")


def _returns_nothing(name: str, trees: dict[str, ast.Module]) -> tuple[str, ast.FunctionDef | ast.AsyncFunctionDef] | None:
    """The program's function or method ``name`` and its file, when every definition of that name
    (top level, or a method of a top-level class) returns no value on any path (None: some does,
    or the program has no such function)."""
    found: list[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]] = []
    for rel, tree in trees.items():
        for node in tree.body:
            members = node.body if isinstance(node, ast.ClassDef) else [node]
            found += [(rel, fn) for fn in members
                      if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)) and fn.name == name]
    if not found or any(isinstance(n, ast.Return) and n.value is not None
                        or isinstance(n, (ast.Yield, ast.YieldFrom)) for _, fn in found for n in ast.walk(fn)):
        return None
    return found[0]


_MOCK_ONLY = re.compile(r"\.(return_value|side_effect|assert_called\w*|assert_not_called|assert_any_call"
                        r"|call_count|call_args\w*)\b")


def _mocks_a_real_object(case: TestCase) -> str | None:
    """Why ``case`` failed by using a mock's attributes on a real object (``root.askopenfilename
    .return_value = "x"`` on a Tk window, which has no such method: the 1.5B's notepad tests);
    None when its failing line uses no mock attribute, or it failed otherwise."""
    if not case.failed or not re.search(r"^E\s+AttributeError\b", case.text, re.MULTILINE):
        return None
    for line in (raw.strip() for raw in test_lines(case)):
        m = _MOCK_ONLY.search(line)
        if m:
            target = line[:m.start()]
            return (f"the test uses `.{m[1]}` on `{target}`, a real object, not a mock: replace it first "
                    f"(monkeypatch.setattr, or unittest.mock.patch) or test what the program does without it")
    return None


def _tests_missing_file(case: TestCase, text: str, source: str, program: Mapping[str, str]) -> str | None:
    """Why ``case`` failed on a file nobody wrote that is the test's own: opened by the test itself
    (the 1.5B's JSON tool tests: ``sys.stdin = open('test_input.json')``), or named in the test and
    opened by the program (``read_csv('test_data.csv')``: the 1.5B's CSV statistics tests); None when
    the program's own files name it (then the program lacks it: hangman's ``words.txt``)."""
    opened = NO_FILE.search(text)
    if not opened:
        return None
    if frame_file(text) == case.file:
        return (f"the test opens {opened[1]!r}, which neither it nor the project writes: write the file "
                "first in the test (pytest's tmp_path), or give the program its input another way")
    name = opened[1].removeprefix(SANDBOX_ROOT)
    fn = find_test(source, case.name)
    nodes = ast.walk(fn) if fn else ()
    literals = {n.value for n in nodes if isinstance(n, ast.Constant) and isinstance(n.value, str)}
    if name not in literals or any(name in body for body in program.values()) or name in program:
        return None
    return (f"the test opens {name!r} through the program, and neither it nor the project writes that file: "
            f"write it first in the test (pytest's tmp_path), or give the program its input another way")


_EXITS = {"sys.exit", "exit", "quit", "os._exit"}


def _calls_an_exit(case: TestCase, trees: dict[str, ast.Module]) -> str | None:
    """Why ``case`` failed on the ``SystemExit`` of a program function that ends the program on
    every path (its own body calls ``sys.exit()``: the 1.5B's snake ``game_over``), called without
    ``pytest.raises(SystemExit)``; None when the exit is conditional (then it may be the program's bug)."""
    if not case.failed or not re.search(r"^E\s+SystemExit\b", case.text, re.MULTILINE):
        return None
    frames = [f for f in _CALLED_IN.finditer(case.text) if not _library(f["file"])]
    if not frames or frames[-1]["file"].removeprefix(SANDBOX_ROOT) == case.file:
        return None
    path, name = frames[-1]["file"].removeprefix(SANDBOX_ROOT), frames[-1]["fn"]
    tree = trees.get(path)
    fns = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
           and n.name == name] if tree else []
    for fn in fns:
        for stmt in fn.body:
            call = stmt.value if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call) else None
            if call is not None and ast.unparse(call.func) in _EXITS:
                return (f"the test calls {name}(), which ends the program ({ast.unparse(call)} in {path}): "
                        f"check that with `with pytest.raises(SystemExit):`, or test what happens before it")
    return None


def _exits(node: ast.AST) -> bool:
    """Whether ``node`` holds a call of ``sys.exit()`` (or ``exit``, ``quit``, ``os._exit``) or a
    ``raise SystemExit``."""
    for n in ast.walk(node):
        if isinstance(n, ast.Call) and ast.unparse(n.func) in _EXITS:
            return True
        if isinstance(n, ast.Raise) and n.exc is not None and "SystemExit" in ast.unparse(n.exc):
            return True
    return False


def _expects_an_exit(case: TestCase, source: str, defined: dict[str, _Definition]) -> str | None:
    """Why ``case`` expects a program function to end the program when nothing it runs ever
    does (None: something may). Seen on the 1.5B Caesar cipher (2026-12-08): three tests wrapped
    ``caesar_cipher("hello", 3, "invalid")`` in ``pytest.raises(SystemExit)``; the function
    returns its text, and ``main()`` checks the command line and prints the error. Each failed
    with "DID NOT RAISE", went to the programmer, and the tester kept them when disputed."""
    if not case.failed or "DID NOT RAISE <class 'SystemExit'>" not in f"{case.message}\n{case.text}":
        return None
    fn = find_test(source, case.name) if source else None
    if fn is None:
        return None
    blocks = [w for w in ast.walk(fn) if isinstance(w, (ast.With, ast.AsyncWith))
              and any("raises" in ast.unparse(i.context_expr) and "SystemExit" in ast.unparse(i.context_expr)
                      for i in w.items)]
    called = [c.func.id for w in blocks for c in ast.walk(w) if isinstance(c, ast.Call)
              and isinstance(c.func, ast.Name) and c.func.id in defined]
    if not called or _reaches(called, "main", defined):
        return None  # the entry point's own function may end it
    if any(_exits(d.node) for n, d in defined.items() if n != "main"):
        return None  # some function or class of the program ends it: it may be reached
    name = called[0]
    return (f"the test expects {name}() to end the program (`pytest.raises(SystemExit)`), but nothing {name} in "
            f"{defined[name].path} runs ever ends it (ending the program is the entry point's business): check "
            f"what {name}() returns, prints or raises for that input instead")


def _reaches(start: list[str], name: str, defined: dict[str, _Definition]) -> bool:
    """Whether the program function ``name`` is one of ``start`` or called from them, by name."""
    seen, todo = set(), list(start)
    while todo:
        current = todo.pop()
        if current in seen or current not in defined:
            continue
        seen.add(current)
        todo += [c.func.id for c in ast.walk(defined[current].node)
                 if isinstance(c, ast.Call) and isinstance(c.func, ast.Name)]
    return name in seen


def test_lines(case: TestCase) -> list[str]:
    """The source lines pytest printed for the test's own frame (between ``file:N: in test`` and ``E``)."""
    lines, inside = [], False
    for line in case.text.splitlines():
        if re.match(rf"(?:\S*/)?{re.escape(case.file)}:\d+: in ", line):
            inside, lines = True, []
        elif inside and line.startswith("E "):
            break
        elif inside and re.match(r"\S", line):  # another frame
            inside = False
        elif inside:
            lines.append(line)
    return lines


def test_line_trees(case: TestCase) -> list[ast.Module]:
    """Each line of ``test_lines(case)`` that parses on its own (a call, an assert), parsed."""
    trees = []
    for line in test_lines(case):
        try:
            trees.append(ast.parse(line.strip()))
        except SyntaxError:
            continue
    return trees


def _checks_nothing_returned(case: TestCase, trees: dict[str, ast.Module]) -> str | None:
    """Why ``case`` uses what a program function or method returns when it returns nothing: an
    ``assert f() == x`` pytest explains as ``where None = f()``, or ``x in game.print_board()``
    failing on ``'NoneType'`` in the test's own line (None: it does not)."""
    if not case.failed:
        return None
    text = f"{case.message}\n{case.text}"
    m = _NONE_FROM.search(text)
    names = [m[1] or m[2]] if m else []
    if not names and _NONE_USED.search(text) and frame_file(text) == case.file:
        names = [n for line in test_lines(case) for n in _CALLED.findall(line)]
    for name in names:
        found = _returns_nothing(name, trees)
        if found is None:
            continue
        path, fn = found
        prints = any(isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "print"
                     for n in ast.walk(fn))
        what = "it prints: check its output with pytest's capsys" if prints else "check what it changes instead"
        return f"the test checks what {fn.name}() returns, but {fn.name} in {path} returns nothing ({what})"
    return None


def _signature(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> str:
    if not isinstance(node, ast.ClassDef):
        return f"def {node.name}({ast.unparse(node.args)})"
    init = next((n for n in node.body if isinstance(n, ast.FunctionDef) and n.name == "__init__"), None)
    return f"class {node.name}: def __init__({ast.unparse(init.args)})" if init else f"class {node.name}"


def _copied(case: TestCase, source: str, defined: dict[str, _Definition]) -> str | None:
    """Why ``case`` checks the test file's own copy of a program function (None: it does not)."""
    if not defined or not source or not case.name:
        return None
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return None
    own = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
           and n.name in defined and not n.name.startswith("test")}
    fn = _function_in(tree, case.name)
    if not own or fn is None:
        return None
    used = sorted({n.id for n in ast.walk(fn) if isinstance(n, ast.Name) and n.id in own})
    if not used:
        return None
    name = used[0]
    return (f"the test checks the test file's own copy of {name!r}, not the program's: "
            f"import it with `from {defined[name].module} import {name}` and delete the copy")


# a library module's attribute that is not there, on the test's own line: the 1.5B's clock test
# (2026-12-07) did `import datetime`, then `datetime.now()`, and its two tests failed to the end
# sys.stdout.getvalue() as if it were a StringIO: the 1.5B's todo tests (2026-12-07), two of four
_READS_STDOUT = re.compile(r"AttributeError: '(?:EncodedFile|CaptureIO|TextIOWrapper|_io\.TextIOWrapper)' object "
                           r"has no attribute '(?:getvalue|seek|truncate)'")


def defect(case: TestCase, sources: dict[str, str], program: Mapping[str, str] | None = None) -> str | None:
    """Why ``case`` is the test's own fault, or None when it says something about the program
    (``program``: the program's own files, which may name a file the test lacks)."""
    text = f"{case.message}\n{case.text}"
    source = sources.get(case.file, "")
    if case.failed:
        if re.search(r"\b(SyntaxError|IndentationError|TabError)\b", text) and frame_file(text) in (case.file, None):
            return "the test file does not parse"
        if re.search(r"Timeout|Failed: Timeout", case.message + case.text[:300]) or "timed out" in case.message:
            return "the test does not finish in time (does it start the main loop or wait for input?)"
        if "reading from stdin while output is captured" in text:
            return ("the test calls a function that waits for typed input (input()): test the functions "
                    "that compute, or give the input with monkeypatch.setattr('builtins.input', ...)")
        name = re.search(r"NameError: name '(\w+)' is not defined", text)
        if name and frame_file(text) == case.file:
            return f"the test uses {name[1]!r}, which it never defines or imports"
        if _READS_STDOUT.search(text) and frame_file(text) == case.file:
            return ("the test reads what was printed from sys.stdout, which pytest replaces with its own capture: "
                    "take the capsys fixture (`def test_x(capsys):`, then `capsys.readouterr().out`)")
        attr = MODULE_ATTRIBUTE.search(text)
        if attr and frame_file(text) == case.file and attr[1].split(".")[0] not in _modules(program or {}):
            return (f"the test uses {attr[1]}.{attr[2]}, which the module {attr[1]} does not have"
                    + (f" (the class is `from {attr[1]} import {attr[1]}`)" if attr[1] == "datetime" else ""))
        missing = re.search(r"ImportError: cannot import name '(\w+)' from '(\w+)'", text)
        if missing:
            return f"the test imports {missing[1]!r} from {missing[2]}, which does not define it"
        missing_file = _tests_missing_file(case, text, source, program or {})
        if missing_file:
            return missing_file
        module = re.search(r"ModuleNotFoundError: No module named '([\w.]+)'", text)
        if module and frame_file(text) in (case.file, None):
            return f"the test imports {module[1]!r}, which does not exist"
        if source and _compares_random(source, case.name):
            return "the test compares two random values"
        return None
    if case.outcome == "passed" and source and case.name and not _asserts(source, case.name):
        return "the test asserts nothing"
    return None


def frame_file(text: str) -> str | None:
    """The file of the innermost frame pytest printed (``tests/test_main.py:12: in test_x``)."""
    frames = [m["file"] for m in FRAME.finditer(text)]
    for file in reversed(frames):
        if not _library(file):
            return file.removeprefix(SANDBOX_ROOT)
    return None


def _library(file: str) -> bool:
    """A frame in Python's or an installed package's code, not the project's."""
    return "/usr/lib/" in file or "site-packages" in file or "dist-packages" in file


def find_test(source: str, name: str) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return None
    return _function_in(tree, name)


def _function_in(tree: ast.AST, name: str) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    """The test function ``name`` (``test_x[param]`` is ``test_x``) anywhere in ``tree``."""
    base = name.split("[", 1)[0]
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == base:
            return node
    return None


def _asserts(source: str, name: str) -> bool:
    """Whether the test function checks anything (assert, pytest.raises, unittest asserts)."""
    fn = find_test(source, name)
    if fn is None:
        return True  # cannot tell: give it the benefit of the doubt
    for node in ast.walk(fn):
        if isinstance(node, ast.Assert):
            return True
        if isinstance(node, ast.Call):
            callee = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if callee in ASSERTING_CALLS or str(callee).startswith("assert"):
                return True
    return False


def _compares_random(source: str, name: str) -> bool:
    """``assert f() == f()`` (two separate draws) or a comparison with a fresh ``random`` call."""
    fn = find_test(source, name)
    if fn is None:
        return False
    for node in ast.walk(fn):
        if not (isinstance(node, ast.Assert) and isinstance(node.test, ast.Compare)):
            continue
        sides = [node.test.left, *node.test.comparators]
        calls = [s for s in sides if isinstance(s, ast.Call)]
        if len(calls) >= 2 and len({ast.dump(c) for c in calls}) == 1:
            return True
        if any("random" in ast.unparse(s) for s in sides):
            return True
    return False


# --------------------------------------------------------------------------- quarantine


def quarantine(sources: dict[str, str], cases: list[TestCase]) -> tuple[dict[str, str], list[str]]:
    """The test files rewritten so the defective ``cases`` are skipped with their reason.

    Returns (files to write, files to move aside as ``*.py.quarantined``: those that do not parse
    or fail as a whole). Tests already skipped stay as they are.
    """
    by_file: dict[str, list[TestCase]] = {}
    for case in cases:
        if case.defect and not case.quarantined and case.file in sources:
            by_file.setdefault(case.file, []).append(case)
    writes: dict[str, str] = {}
    aside: list[str] = []
    for file, found in by_file.items():
        source = sources[file]
        try:
            tree = ast.parse(source)
        except SyntaxError:
            aside.append(file)
            continue
        names = {c.name.split("[", 1)[0]: c.defect for c in found if c.name}
        if not names or any(not c.name for c in found):  # the file failed as a whole
            aside.append(file)
            continue
        new = _skip_functions(source, tree, names)
        if new != source:
            writes[file] = new
    return writes, aside


def _skip_functions(source: str, tree: ast.Module, reasons: dict[str, str | None]) -> str:
    lines = source.splitlines(keepends=True)
    targets: list[tuple[int, str, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in reasons:
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            indent = re.match(r"\s*", lines[first - 1]).group(0)  # type: ignore[union-attr]
            targets.append((first, indent, str(reasons[node.name] or "a test defect")))
    for first, indent, reason in sorted(targets, reverse=True):
        mark = f"{indent}@pytest.mark.skip(reason={f'{QUARANTINE}: {reason}'!r})\n"
        lines.insert(first - 1, mark)
    text = "".join(lines)
    if targets and not re.search(r"^import pytest\b|^from pytest\b", text, re.MULTILINE):
        text = "import pytest\n" + text
    return text


def summary_lines(cases: list[TestCase]) -> list[str]:
    """One line per defective or quarantined test, for the report and the tester."""
    out = []
    for case in cases:
        if case.quarantined:
            out.append(f"{case.id}: quarantined ({case.message.split(':', 1)[-1].strip() or 'test defect'})")
        elif case.defect:
            out.append(f"{case.id}: {case.defect}")
    return out
