"""A plan that cannot work is refused where it is made.

Checks on what a model proposes to write, all pure:

- ``check_plan``: a file plan (the design, a change plan: ``files: [{path, purpose}]``)
  must not name a file after a module the program imports (``tkinter.py``,
  ``pygame.py``, ``platform.py`` shadow the real ones and the program dies with an
  ``ImportError``), must not put test files among the sources, and must not plan "a
  library" as a project file. A bad plan is a ``SchemaViolation``: asked again with
  the reason, like any other invalid reply.
- ``map_fix_paths``: a fix reply that writes a file nobody planned
  (``path/to/main.py``, the placeholder copied) is mapped to the project file it
  rewrites, or refused.
- ``check_self_imports``: a program file that imports itself (a test file written
  under the program's name) is refused.
- ``check_repeats``: a planned file that writes again a class a file written before it
  defines (the 1.5B's paddle.py, a copy of ball.py's ``Ball``) is refused.

A sound plan is put in writing order (``entry_last``): the files are written one by one,
each seeing the ones before it, so the entry point goes last and imports what the others
define.
"""

from __future__ import annotations

import ast
import builtins
import re
import sys
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import PurePosixPath
from typing import Any

from chatdev.checks.assets import named_files
from chatdev.checks.bindings import bindings, parse_sources
from chatdev.checks.completeness import is_main_guard
from chatdev.models.base import SchemaViolation
from chatdev.replies import splice
from chatdev.sandbox import catalogue
from chatdev.sandbox.results import is_test_path

LIBRARY = re.compile(r"\b(librar(y|ies)|third[- ]party|package from pypi)\b", re.IGNORECASE)
PLACEHOLDER = re.compile(r"^(path/to|your/path|src/path|example)/", re.IGNORECASE)


def shadows(path: str) -> str | None:
    """The module a project file named ``path`` would hide from the program, if any."""
    p = PurePosixPath(path)
    if p.suffix != ".py":
        return None
    stem = p.stem if p.name != "__init__.py" else (p.parent.name or "")
    if stem in ("main", "__main__", "app", ""):
        return None
    if stem in sys.stdlib_module_names or stem in catalogue.image_modules() or stem in catalogue.PIP_NAMES:
        return stem
    return None


def plan_problems(files: list[Any]) -> list[str]:
    problems: list[str] = []
    for item in files:
        if not isinstance(item, dict):
            continue
        path = str(item.get("path", "")).strip()
        purpose = str(item.get("purpose", ""))
        module = shadows(path)
        if module:
            problems.append(f"{path} has the name of the module {module!r}, which the program would then import "
                            f"instead of the real one: name it after what it does (for example "
                            f"{module}_ui.py or game.py), or leave it out if it is that library")
        elif is_test_path(path):
            problems.append(f"{path} is a test file: list only the program's source files (tests come later)")
        elif LIBRARY.search(purpose):
            problems.append(f"{path} is planned as a library ({purpose.strip()[:60]!r}): libraries are imported, "
                            "never written; list only the program's own files")
    return problems


def check_plan(output: Any, text: str) -> Any:
    """``output`` unchanged when it is no file plan or a sound one; else ``SchemaViolation``."""
    files = output.get("files") if isinstance(output, dict) else None
    if not isinstance(files, list) or not any(isinstance(f, dict) and "path" in f for f in files):
        return output
    problems = plan_problems(files)
    if problems:
        raise SchemaViolation("the file plan cannot work: " + "; ".join(problems[:3]), text)
    return entry_last(merge_duplicates(output))


def entry_last(output: dict[str, Any]) -> dict[str, Any]:
    """The plan with its entry point written last, after the modules it imports.

    Written first, the 1.5B's ``main.py`` held the whole snake game; asked next for
    ``snake.py`` ("Snake class") and ``food.py`` with main.py shown, it copied the whole game
    into each (three Snakes), and fixes then went to a copy that never ran. Written last,
    the entry sees the modules whole and has only to import them."""
    entry, files = output.get("entry"), output["files"]
    at = [i for i, f in enumerate(files) if isinstance(f, dict) and f.get("path") == entry]
    if len(at) != 1 or at[0] == len(files) - 1:
        return output
    return {**output, "files": [f for i, f in enumerate(files) if i != at[0]] + [files[at[0]]]}


def merge_duplicates(output: dict[str, Any]) -> dict[str, Any]:
    """One entry per path: a plan naming ``main.py`` three times (one purpose each) becomes one
    ``main.py`` with the three purposes, so the file is written once with all of them instead of
    being overwritten twice (seen on the 0.5B: only the last purpose survived)."""
    merged: dict[str, dict[str, Any]] = {}
    for entry in output["files"]:
        if not isinstance(entry, dict) or "path" not in entry:
            continue
        path = str(entry["path"])
        if path not in merged:
            merged[path] = dict(entry)
            continue
        first, purpose = merged[path], str(entry.get("purpose", "")).strip()
        if purpose and purpose not in str(first.get("purpose", "")):
            first["purpose"] = f"{first.get('purpose', '')}; {purpose}".strip("; ")
    if len(merged) == len(output["files"]):
        return output
    return {**output, "files": list(merged.values())}


def map_fix_paths(files: dict[str, str], known: Mapping[str, str], text: str) -> dict[str, str]:
    """A fix reply's files, each on the project file it rewrites; unplanned new files refused."""
    if not known:
        return files
    by_name: dict[str, list[str]] = {}
    for path in known:
        by_name.setdefault(PurePosixPath(path).name, []).append(path)
    imported = _imported_modules(known)
    out: dict[str, str] = {}
    refused: list[str] = []
    # the file names the code spells: what a new data file may be (read only when a reply sends one)
    data = named_files(parse_sources(known)) if any(p not in known and not p.endswith(".py") for p in files) else set()
    for path, body in files.items():
        if path in known:
            out[path] = body
            continue
        same = by_name.get(PurePosixPath(path).name, [])
        if len(same) == 1:
            out[same[0]] = body  # path/to/main.py, src/main.py -> main.py
        elif is_test_path(path) or (PurePosixPath(path).stem in imported and not shadows(path)
                                    and not PLACEHOLDER.match(path)):
            out[path] = body  # a new test, or a module the program imports but nobody wrote yet
        elif not path.endswith(".py") and path in data:
            out[path] = body  # a data file the code names and nobody wrote (words.txt)
        else:
            refused.append(path)
    if refused and not out:
        names = ", ".join(sorted(p for p in known if p.endswith(".py"))[:6])
        raise SchemaViolation(f"{', '.join(refused)} is not a file of this project: change the existing files "
                              f"({names}) and write each one under its own path", text)
    # a file written as a few of its functions keeps the rest (replies/splice.py)
    for path, body in list(out.items()):
        if path in known and path.endswith(".py") and splice.partial(body, known[path]):
            out[path] = splice.splice(body, known[path]) or body
    # a fix never deletes tests: a test file rewritten with fewer tests than it has is dropped
    # (seen: the 1.5B's test_fix rewrote tests/test_main.py as a copy of main.py, no test left)
    fewer = [p for p in out if p in known and is_test_path(p) and _tests_in(out[p]) < _tests_in(known[p])]
    if fewer and len(fewer) == len(out):
        path = fewer[0]
        raise SchemaViolation(f"{path} would keep {_tests_in(out[path])} of its {_tests_in(known[path])} tests: "
                              "a fix changes the program, and never deletes tests", text)
    return {p: body for p, body in out.items() if p not in fewer}


def check_self_imports(files: Mapping[str, str], text: str) -> None:
    """A program file that imports itself is refused (a ``SchemaViolation``, asked again).

    Seen on the 0.5B primes tool (2026-12-03): its test_fix wrote the test file under the name
    main.py, ``from main import is_prime`` first; the program then died of a circular import
    and the next fix went to the tests.
    """
    for path, body in files.items():
        if not path.endswith(".py") or is_test_path(path):
            continue
        module = _module(path)
        if module.endswith(".__init__") or module == "__main__":
            continue
        m = re.search(rf"^\s*(?:from\s+{re.escape(module)}\s+import\b.*|import\s+{re.escape(module)}\s*)$",
                      body, re.MULTILINE)
        if m:
            tests = " and holds tests: they belong in tests/test_main.py" if _tests_in(body) else ""
            raise SchemaViolation(f"{path} imports itself (`{m[0].strip()}`){tests}; send the program's own "
                                  f"{path}", text)


def check_repeats(files: Mapping[str, str], known: Mapping[str, str], text: str,
                  planned: Sequence[str] = ()) -> None:
    """A program file that defines again a class another project file defines is refused.

    For the coding phase, which writes the planned files one by one, each shown those before
    it. Seen on the 1.5B (2026-12-03): the breakout's paddle.py was ball.py's ``class Ball``
    again, with no Paddle, and main.py died at ``paddle.draw``; earlier snakes had a Snake in
    snake.py, food.py and main.py, and the fixes went to a copy that never ran. Asked again
    with the reason; the caller keeps the last try whatever it holds.

    ``planned``: the plan's files. A file whose classes are all named for another planned file
    and none for itself (paddle.py holding only ``class Ball`` while ball.py is planned) is
    refused too, before the file it belongs to is written.

    A fix (any files phase after the coding) is held to the same rule for the classes a file
    *gains*: seen on the 1.5B snake (2026-12-07), test_fix answered a failing ``Snake.move`` test
    by writing snake.py's whole game into main.py (``import snake; snake.main()`` before), and
    the test, which imports snake.py, failed the same way for the rest of the loop. A class a
    file already held is not a repeat of its own.
    """
    written: dict[str, str] = {}
    for path, source in known.items():
        if path.endswith(".py") and not is_test_path(path) and path not in files:
            for name in _classes(source):
                written.setdefault(name, path)
    for path, body in files.items():
        if not path.endswith(".py") or is_test_path(path):
            continue
        held = set(_classes(known[path])) if path in known else set()
        repeats = [(name, written[name]) for name in _classes(body) if name in written and name not in held]
        if repeats:
            names = ", ".join(f"class {name} ({where})" for name, where in repeats[:3])
            imports = "; ".join(f"from {_module(where)} "
                                f"import {name}" for name, where in repeats[:3])
            raise SchemaViolation(f"{path} writes again {names}, already written: import it (`{imports}`) "
                                  f"and write only what {path} is for", text)
        misplaced = _misplaced(path, _classes(body), planned)
        if misplaced:
            names = ", ".join(f"class {name}" for name, _ in misplaced[:3])
            owners = ", ".join(sorted({owner for _, owner in misplaced}))
            raise SchemaViolation(f"{path} writes {names}, which {owners} is planned for, and nothing of its "
                                  f"own: write {path}'s own code", text)


_MAIN = re.compile(r"^def main\s*\(", re.MULTILINE)


def entry_for_copy(path: str, body: str, known: Mapping[str, str]) -> tuple[str, str] | None:
    """(the file that holds the program, an entry file that starts it), for an entry ``path`` whose
    ``body`` is the program another file already holds (None: it is not, or that file cannot be
    started so).

    Seen on the 1.5B snake (2026-12-07, twice): snake.py held the whole game (its classes and a
    ``main()``), and main.py was written as the same game again. Kept as it was, the project had two
    copies of ``class Snake``: the fixes changed snake.py's, the Why line named main.py's, and the
    game died on the same ``snake.draw()`` in every check. The entry now imports the one copy:
    ``from snake import main``. Only when every class of ``body`` and its ``main`` are that file's
    too, and that file calls nothing at its top level outside a main guard (importing it must not
    start the game).
    """
    classes = _classes(body)
    if not classes or not _MAIN.search(body):
        return None
    for other in _startable(path, known):
        if set(classes) <= set(_classes(known[other])):
            return other, _starter(other)
    return None


def _startable(entry: str, known: Mapping[str, str]) -> list[str]:
    """The program files besides ``entry`` with a top-level ``main()`` that importing them does not
    start (no bare ``main()`` call at their top level)."""
    out = []
    for other, source in sorted(known.items()):
        if other == entry or not other.endswith(".py") or is_test_path(other) or not _MAIN.search(source):
            continue
        tree = parse_sources({other: source}).get(other)
        if tree is None or any(isinstance(node, ast.Expr) and isinstance(node.value, ast.Call)
                               and isinstance(node.value.func, ast.Name) and node.value.func.id == "main"
                               for node in tree.body):
            continue
        out.append(other)
    return out


def _starter(holder: str) -> str:
    """An entry file that starts ``holder``'s ``main()``."""
    return f'from {_module(holder)} import main\n\n\nif __name__ == "__main__":\n    main()\n'


def program_holder(entry: str, known: Mapping[str, str]) -> tuple[str, str] | None:
    """(the file that already holds the program, an entry file that starts it), before the entry
    is asked for; None when no file, or more than one, has a top-level ``main()`` that importing
    it does not start.

    The coding phase writes the entry last. Seen on the 1.5B snake (2026-12-07, three benches):
    snake.py, the first file, held the whole game and its ``main()``; main.py was then written as
    the same game again, refused twice for its copied classes (``check_repeats``), and on the
    third try became ``from snake import main`` anyway (``entry_for_copy``): 73 s of model calls
    for two lines. Such an entry is now those two lines from the start.
    """
    holders = _startable(entry, known)
    if holders:
        return (holders[0], _starter(holders[0])) if len(holders) == 1 else None
    guarded = [(path, text) for path in sorted(known) if path != entry
               and (text := _guard_starter(path, known[path])) is not None]
    return guarded[0] if len(guarded) == 1 else None


def _guard_starter(path: str, source: str) -> str | None:
    """An entry file that does what ``path``'s main guard does (``game = Game()``, ``game.run()``),
    importing the names it uses from ``path``; None when ``path`` is a test, has no such guard,
    would start at import (a top-level call of its own code), or its guard uses a name it does not
    define at its top level. The 1.5B snake of 2026-12-07's bench: snake.py held the game and
    ``if __name__ == "__main__": game = Game(); game.run()``, no ``main()``, and main.py was
    refused twice as a copy of it (93 s)."""
    if not path.endswith(".py") or is_test_path(path):
        return None
    tree = parse_sources({path: source}).get(path)
    if tree is None:
        return None
    guard = next((n for n in tree.body if isinstance(n, ast.If) and is_main_guard(n.test)), None)
    if guard is None:
        return None
    top = bindings(tree)
    own = {*top.definitions, *top.assigned}
    if any(isinstance(node, ast.Expr) and isinstance(node.value, ast.Call) and any(
            isinstance(n, ast.Name) and n.id in own for n in ast.walk(node.value.func)) for node in tree.body):
        return None  # a top-level call of its own code: importing it would start it
    stored = {n.id for n in ast.walk(guard) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    used = {n.id for n in ast.walk(guard) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)} - stored
    if not used & own or used - own - set(dir(builtins)):
        return None
    block = "\n".join(source.splitlines()[guard.body[0].lineno - 1: guard.end_lineno])
    lines = textwrap.indent(textwrap.dedent(block), "    ").rstrip() + "\n"
    return f'from {_module(path)} import {", ".join(sorted(used & own))}\n\n\nif __name__ == "__main__":\n{lines}'



def dead_copies(holder: str, known: Mapping[str, str], keep: Sequence[str] = ()) -> list[str]:
    """The program files besides ``holder`` (and ``keep``) whose classes ``holder`` defines again and
    that no project file imports: left over when one file holds the whole program (the 1.5B snake's
    food.py, its ``class Food`` also in snake.py, imported by nobody, its pyflakes errors holding the
    review loop)."""
    mine = set(_classes(known.get(holder, "")))
    imported = _imported_modules(known)
    out = []
    for path, source in sorted(known.items()):
        if path in (holder, *keep) or not path.endswith(".py") or is_test_path(path):
            continue
        classes = _classes(source)
        module = _module(path)
        if classes and set(classes) <= mine and module.split(".")[0] not in imported:
            out.append(path)
    return out


def _misplaced(path: str, classes: Sequence[str], planned: Sequence[str]) -> list[tuple[str, str]]:
    """(class, the planned file named for it) when every class of ``path`` belongs to another file."""
    def key(name: str) -> str:
        return name.replace("_", "").lower()

    if not classes:
        return []
    own = key(PurePosixPath(path).stem)
    others = {key(PurePosixPath(p).stem): p for p in planned if p != path and p.endswith(".py")}
    if any(key(name) == own for name in classes):
        return []
    found = [(name, others[key(name)]) for name in classes if key(name) in others]
    return found if len(found) == len(classes) else []


def _module(path: str) -> str:
    """The module a project file is imported as (``game/snake.py`` -> ``game.snake``)."""
    return PurePosixPath(path).with_suffix("").as_posix().replace("/", ".")


def _classes(source: str) -> list[str]:
    return re.findall(r"^class\s+(\w+)\s*[(:]", source, re.MULTILINE)


def _tests_in(source: str) -> int:
    return len(re.findall(r"^\s*(?:async\s+)?def\s+test\w*\s*\(", source, re.MULTILINE))


def _imported_modules(known: Mapping[str, str]) -> set[str]:
    found: set[str] = set()
    for path, source in known.items():
        if not path.endswith(".py"):
            continue
        for m in re.finditer(r"^\s*(?:from\s+([\w.]+)\s+import|import\s+([\w.]+))", source, re.MULTILINE):
            found.add((m[1] or m[2]).split(".")[0])
    return found
