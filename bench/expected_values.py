"""Can the model settle a disputed test? Eighteen expected values from real 1.5B disputes, asked again.

    .venv/bin/python bench/expected_values.py --model qwen2.5-coder-1.5b --mode compute
    .venv/bin/python bench/expected_values.py --model qwen2.5-coder-1.5b --mode choose
    .venv/bin/python bench/expected_values.py --model qwen2.5-coder-1.5b --mode code

Each case is a failing assert from a 1.5B build (or one like it): the call, the program's value, the
test's value, and which is right (decided by people). ``compute`` asks for the call's value with
neither shown (a third, independent opinion); ``choose`` shows both, in a random order, and asks
which is right; ``code`` asks for a function that computes the call's value with the standard
library alone (an independent implementation, neither value shown) and runs it in the sandbox. An answer counts when it equals the right value (numbers within 0.1 %). If the model
got most right, a dispute could be settled by asking it, without a whole test file rewritten.
"""

from __future__ import annotations

import argparse
import ast
import json
import random
import time
from typing import Any

CASES: list[tuple[str, str, str, Any, Any, str]] = [
    # (task, what the test does first, the call, the program's value, the test's value, which is right)
    ("a tool that prints every prime number up to the number given as its argument", "from main import is_prime",
     "is_prime(247)", False, True, "program"),
    ("a command-line calculator that evaluates the expression given as its argument",
     "from main import evaluate_expression", "evaluate_expression('5 - 2 / 3 + 1')", 5.333333333333333, 4.0,
     "program"),
    ("a log summarizer that reads log lines from standard input and prints how many lines each level "
     "(INFO, WARNING, ERROR) has",
     'log_lines = [\n    "INFO: This is an info message.",\n    "WARNING: This is a warning message.",\n'
     '    "ERROR: This is an error message.",\n    "INFO: Another info message.",\n'
     '    "WARNING: Another warning message.",\n    "ERROR: Another error message."\n]\n'
     "info_count, warning_count, error_count = count_log_levels(log_lines)", "info_count", 2, 3, "program"),
    ("a simple calculator with a Tkinter window",
     'calculator = Calculator(root)\nfor key in ["7", "8", "+", "9", "="]:\n    calculator.on_button_click(key)',
     "calculator.display.get()", "87", "15", "program"),
    ("a unit converter for length, weight and temperature", "from main import convert_temperature",
     "convert_temperature(10, 'F', 'C')", -12.222222222222221, 50.0, "program"),
    ("a unit converter for length, weight and temperature", "from main import convert_temperature",
     "convert_temperature(100, 'C', 'F')", 37.77777777777778, 212.0, "test"),
    ("a Caesar cipher tool that encodes and decodes text with a given shift", "from main import caesar_cipher",
     'caesar_cipher("hello", 3)', "hello", "khoor", "test"),
    ("a word frequency counter that reads text and prints each word with its count", "from main import count_words",
     'count_words("the cat and the dog")', {"the": 1, "cat": 1, "and": 1, "dog": 1},
     {"the": 2, "cat": 1, "and": 1, "dog": 1}, "test"),
    ("a tool that prints every prime number up to the number given as its argument", "from main import is_prime",
     "is_prime(9)", True, False, "test"),
    ("a Roman numeral converter", "from main import roman_to_int", "roman_to_int('XIV')", 16, 14, "test"),
    ("a JSON to CSV converter", "from main import to_csv", 'to_csv([{"a": 1, "b": 2}])', "a,b\n", "a,b\n1,2\n",
     "test"),
    ("a markdown table formatter", "from main import count_columns", 'count_columns("| a | b | c |")', 3, 4,
     "program"),
    # from the 1.5B builds of 2026-12-08 (bench/tasks.txt 4 and 5)
    ("a command-line calculator that evaluates the arithmetic expression given as its argument",
     "from main import evaluate_expression", "evaluate_expression('0 / 2')", 0.0, "Error: Division by zero",
     "program"),
    ("a command-line calculator that evaluates the arithmetic expression given as its argument",
     "from main import evaluate_expression", "evaluate_expression('((2 + 3) * 4) / 2')", 10.0, 14, "program"),
    ("a Caesar cipher tool: `python main.py encode 3 hello` prints khoor", "from main import caesar_cipher",
     "caesar_cipher('hello', 23, 'encode')", "ebiil", "lipps", "program"),
    ("a Caesar cipher tool: `python main.py encode 3 hello` prints khoor", "from main import caesar_cipher",
     "caesar_cipher('hello', 27, 'encode')", "ifmmp", "zoo", "program"),
    ("a Caesar cipher tool: `python main.py encode 3 hello` prints khoor", "from main import caesar_cipher",
     "caesar_cipher('hello', 3, 'encode')", "KHOOR", "khoor", "test"),
    ("a Caesar cipher tool: `python main.py encode 3 hello` prints khoor", "from main import caesar_cipher",
     "caesar_cipher('khoor', 3, 'decode')", "NKRRU", "hello", "test"),
]
SCHEMA = {"type": "object", "required": ["value"], "properties": {"value": {"type": "string", "maxLength": 200}}}


def same(a: Any, b: Any) -> bool:
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (a, b))
    if numbers:
        return abs(a - b) <= 1e-3 * max(1, abs(a), abs(b))
    if isinstance(a, str) != isinstance(b, str):
        return str(a) == str(b)
    return bool(a == b)


def _settled(got: Any, program: Any, test: Any) -> str:
    """What the product would decide from a computed value (``expectations.agrees``, one type)."""
    from chatdev.checks import expectations

    with_program, with_test = expectations.agrees(got, program), expectations.agrees(got, test)
    return "program" if with_program and not with_test else "test" if with_test and not with_program else "neither"


def value(text: str) -> Any:
    raw = json.loads(text)["value"]
    try:
        return ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        return raw  # an unquoted string is still its answer


def computed(model: Any, task: str, before: str, call: str) -> Any:
    """The call's value as the product computes it: ``messages.yaml: expected`` asked, a function that
    computes (``expectations.computes``: not a bare literal) run alone in the sandbox."""
    import tempfile
    from pathlib import Path

    from chatdev.checks import expectations
    from chatdev.company import prompts
    from chatdev.company.config import load_company
    from chatdev.models.base import Message
    from chatdev.replies.parsing import parse_files
    from chatdev.sandbox.container import Sandbox

    ask = prompts.render(load_company().messages.expected, {"task": task, "setup": before, "call": call},
                         where="messages.yaml: expected")
    reply = model.chat([Message("user", ask)], max_tokens=300, temperature=0.0)
    parsed = parse_files(reply.text, expected=[expectations.SCRIPT])
    source = parsed.files.get(expectations.SCRIPT, "") if parsed.ok else ""
    if not expectations.computes(source, f"{before}\n{call}"):
        return f"<no computation: {reply.text[-60:]!r}>"
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, expectations.SCRIPT).write_text(expectations.script(source))
        run = Sandbox().run(Path(folder), ["python", expectations.SCRIPT], timeout=10)
    got = expectations.computed(run.stdout)
    return f"<no value: {(run.stderr or run.stdout)[-60:]!r}>" if got is expectations.NOTHING else got


def main() -> int:
    from chatdev.models import load_model
    from chatdev.models.base import Message

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="qwen2.5-coder-1.5b")
    parser.add_argument("--mode", choices=["compute", "choose", "code"], default="compute")
    args = parser.parse_args()
    rng = random.Random(3)
    model = load_model(args.model, n_ctx=4096, seed=1)
    right = wrong = 0
    for task, before, call, program, test, truth in CASES:
        ask = f"Task of the program: {task}\n\nA test does this:\n```python\n{before}\n```\n"
        if args.mode == "code":
            start = time.monotonic()
            got = computed(model, task, before, call)
            said = _settled(got, program, test)
            right += said == truth
            wrong += said not in (truth, "neither")
            print(f"{'ok ' if said == truth else 'NO '} {call[:40]:40} right: {truth:7} answered: {str(got)[:30]:30} "
                  f"({said}, {time.monotonic() - start:.1f} s)")
            continue
        if args.mode == "compute":
            ask += f"If the program does its task correctly, what is the value of `{call}`? "
        else:
            first, second = [program, test][:: rng.choice([1, -1])]
            ask += f"Then it checks `{call}`. One answer is {first!r}, the other is {second!r}. Which one is right? "
        ask += 'Reply with the value as a Python literal in "value".'
        start = time.monotonic()
        reply = model.chat([Message("user", ask)], schema=SCHEMA, max_tokens=120, temperature=0.0)
        try:
            got: Any = value(reply.text)
        except (ValueError, KeyError, TypeError):
            got = f"<no value: {reply.text[:60]!r}>"
        said = "program" if same(got, program) else "test" if same(got, test) else "neither"
        right += said == truth
        print(f"{'ok ' if said == truth else 'NO '} {call[:40]:40} right: {truth:7} answered: {str(got)[:30]:30} "
              f"({said}, {time.monotonic() - start:.1f} s)")
    print(f"{args.model}, {args.mode}: {right} of {len(CASES)} right"
          + (f", {wrong} settled the wrong way" if args.mode == "code" else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
