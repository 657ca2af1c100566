"""Which of the program's own functions already gives what the task's command line should print.

Seen on the 1.5B Roman numeral converter (2026-12-08): main.py defined a right
``decimal_to_roman`` beside ``roman_to_decimal``, but ``main()`` passed every argument to
``roman_to_decimal``, so ``python main.py 1994`` printed "Invalid Roman numeral: 1". The fix
prompt said the output lacked 'MCMXCIV'; three fixes rewrote ``roman_to_decimal``, and the
manager's directive said to "include the 'MCMXCIV' string in the output". The answer was one
call away, and nothing said so.

``probe(program, argv, expected)`` (pure) writes a script that imports the program's modules
without starting them (``__name__`` is the module's name, not ``"__main__"``), calls each public
top-level function (and each public method of a class made with no arguments) of 1 to 3
required parameters with the command line's words in every order,
each as text and as a number where it reads as one (one second a call, standard input empty,
``sys.argv`` the task's), and prints as JSON the calls whose return value or printed text holds
the expected text. A call whose words already hold that text proves nothing and is skipped.
``run/phases._answers`` runs it in the sandbox with the program's files beside it, only for a
command line of the task whose output lacks what the task says, in a program that runs, and
``hint`` tells the fixer which call gives it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import PurePosixPath

SCRIPT = "chatdev_answers.py"
MAX_CALLS = 300  # calls tried in one probe
MAX_FOUND = 3

_PROBE = '''import contextlib, importlib, inspect, io, itertools, json, signal, sys

ARGV = {argv!r}
EXPECTED = {expected!r}
MODULES = {modules!r}
sys.argv = ["main.py", *ARGV]
sys.stdin = io.StringIO("")


def _stop(*_):
    raise TimeoutError


signal.signal(signal.SIGALRM, _stop)


def forms(word):
    out = [word]
    for kind in (int, float):
        try:
            out.append(kind(word))
            break
        except ValueError:
            pass
    return out


def callables(module):
    """Public top-level functions, and the public methods of a class made with no arguments."""
    for name, obj in list(vars(module).items()):
        if name.startswith("_") or name == "main" or getattr(obj, "__module__", None) != module.__name__:
            continue
        if inspect.isfunction(obj):
            yield name, obj
        elif inspect.isclass(obj):
            try:
                signal.alarm(1)
                with contextlib.redirect_stdout(io.StringIO()):
                    made = obj()
            except BaseException:
                continue
            finally:
                signal.alarm(0)
            for attr, method in inspect.getmembers(made, inspect.ismethod):
                if not attr.startswith("_") and attr != "main":
                    yield name + "()." + attr, method


found, tried = [], 0
for name in MODULES:
    try:
        signal.alarm(2)
        with contextlib.redirect_stdout(io.StringIO()):
            module = importlib.import_module(name)
    except BaseException:
        continue
    finally:
        signal.alarm(0)
    for fname, fn in callables(module):
        try:
            params = [p for p in inspect.signature(fn).parameters.values()
                      if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        except (TypeError, ValueError):
            continue
        if not 1 <= len(params) <= 3:
            continue
        for places in itertools.permutations(range(len(ARGV)), len(params)):
            words = [ARGV[i] for i in places]
            if any(EXPECTED.lower() in w.lower() for w in words):
                continue
            for values in itertools.product(*(forms(w) for w in words)):
                tried += 1
                if tried > {max_calls} or len(found) >= {max_found}:
                    break
                printed = io.StringIO()
                try:
                    signal.alarm(1)
                    with contextlib.redirect_stdout(printed):
                        value = fn(*values)
                except BaseException:
                    continue
                finally:
                    signal.alarm(0)
                if EXPECTED.lower() in (str(value) + "\\n" + printed.getvalue()).lower():
                    found.append({{"module": name, "name": fname,
                                  "call": fname + "(" + ", ".join(map(repr, values)) + ")",
                                  "returns": repr(value)[:80] if value is not None else "",
                                  "numbers": [w for w, v in zip(words, values) if not isinstance(v, str)],
                                  "args": [[i + 1, type(v).__name__] for i, v in zip(places, values)]}})
print(json.dumps(found))
'''


def modules(program: Mapping[str, str]) -> list[str]:
    """The importable modules of the program's own Python files (``main``, ``game.board``)."""
    out = []
    for path in sorted(program):
        pure = PurePosixPath(path)
        if pure.suffix == ".py" and not pure.name.startswith("test_") and pure.parts[0] != "tests":
            out.append(pure.with_suffix("").as_posix().replace("/", "."))
    return out


def probe(program: Mapping[str, str], argv: Sequence[str], expected: str) -> str:
    """The probe script (see the module's text) for one command line and the text it should print."""
    return _PROBE.format(argv=list(argv), expected=expected, modules=modules(program), max_calls=MAX_CALLS,
                         max_found=MAX_FOUND)


def found(stdout: str) -> list[dict[str, object]]:
    """The probe's answers, from its last line; empty for anything else."""
    lines = stdout.strip().splitlines()
    try:
        data = json.loads(lines[-1]) if lines else []
    except ValueError:
        return []
    return [d for d in data if isinstance(d, dict) and isinstance(d.get("call"), str)] if isinstance(data, list) else []


def hint(answers: Sequence[Mapping[str, object]], command: str, expected: str) -> str:
    """One line for the fix prompt: the first call that gives ``expected``; empty when none does."""
    if not answers:
        return ""
    first = answers[0]
    gives = f"returns {first['returns']}" if first.get("returns") else f"prints {expected!r}"
    numbers = first.get("numbers") or []
    typed = (f" (with {', '.join(str(n) for n in numbers)} as a number, not text)"  # type: ignore[union-attr]
             if numbers else "")
    where = f" ({str(first['module']).replace('.', '/')}.py)" if first.get("module") not in ("main", None) else ""
    line = f"Why: the program already has the answer: `{first['call']}`{where} {gives}{typed}, but `{command}` " \
           f"never gets it: make the entry point call it for such an argument"
    code = _line(first)
    return f"{line}, for example with `{code}` before it reads the argument otherwise." if code else f"{line}."


def _line(answer: Mapping[str, object]) -> str:
    """The line an entry point needs to give the answer: the call on ``sys.argv``'s words, each
    number converted, under a test that the words read as numbers (``""``: the probe said not)."""
    args = answer.get("args")
    name = str(answer.get("name") or "")
    if not isinstance(args, list) or not re.fullmatch(r"\w+(\(\)\.\w+)?", name):
        return ""
    values, tests = [], []
    for item in args:
        if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], int)):
            return ""
        word = f"sys.argv[{item[0]}]"
        if item[1] == "int":
            values.append(f"int({word})")
            tests.append(f"{word}.isdigit()")
        else:
            values.append(f"float({word})" if item[1] == "float" else word)
    call = f"{name}({', '.join(values)})"
    shown = f"print({call})" if answer.get("returns") else call
    return f"if {' and '.join(dict.fromkeys(tests))}: {shown}" if tests else shown
