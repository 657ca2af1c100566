"""A failing ``assert CALL == VALUE`` settled by an independent computation (checks/expectations.py)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from chatdev import events
from chatdev.checks import expectations
from chatdev.checks.triage import TestCase
from chatdev.models.base import current_call
from chatdev.run import engine
from tests.scripted_company import company_models, good_reply, scripted

PRIMES = '''import sys


def is_prime(n):
    if n < 2:
        return False
    return all(n % d for d in range(2, int(n ** 0.5) + 1))


def next_prime(n):
    return n if is_prime(n) else next_prime(n + 1)


def main():
    limit = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    print(" ".join(str(n) for n in range(2, limit + 1) if is_prime(n)))


if __name__ == "__main__":
    main()
'''
# the 1.5B's primes test (2026-12-07): 247 = 13 * 19 is not prime; and a right expectation the
# program misses (the next prime after 13 is 17, the program answers 13)
TESTS = '''from main import is_prime, next_prime


def test_is_prime():
    n = 247
    assert is_prime(n) == True


def test_small_primes():
    assert is_prime(2) == True
    assert is_prime(91) == True


def test_next_prime_after_a_prime():
    assert next_prime(13) == 17
'''
IS_PRIME = "def expected():\n    n = 247\n    return all(n % d for d in range(2, 16))\n"
PRIME_91 = "def expected():\n    n = 91\n    return n > 1 and all(n % d for d in range(2, n))\n"
NEXT_AFTER = ("def expected():\n    n = 13 + 1\n    while any(n % d == 0 for d in range(2, n)):\n        n += 1\n"
              "    return n\n")


def failing(name: str, line: int, text: str, shown: str) -> TestCase:
    return TestCase(id=f"tests/test_main.py::{name}", file="tests/test_main.py", name=name, outcome="failed",
                    message=f"AssertionError: assert {shown}",
                    text=f"tests/test_main.py:{line}: in {name}\n    {text}\nE   AssertionError: assert {shown}")


def test_the_failing_assert_is_read_with_the_programs_value_and_the_tests_setup() -> None:
    found = expectations.find(failing("test_is_prime", 6, "assert is_prime(n) == True", "False == True"), TESTS)
    assert found is not None
    assert (found.call, found.expected, found.got) == ("is_prime(n)", True, False)
    assert found.setup == "from main import is_prime, next_prime\nn = 247"  # what the computation must know
    fixed = expectations.corrected(TESTS, found)
    assert "    assert is_prime(n) == False\n" in fixed
    assert fixed.replace("is_prime(n) == False", "is_prime(n) == True") == TESTS  # nothing else moved


@pytest.mark.parametrize("text, shown, why", [
    ("assert is_prime(n)", "False", "no == to settle"),
    ("assert is_prime(n) == is_prime(7)", "False == True", "no literal side"),
    ("assert is_prime(n) == True", "False == ...", "a value pytest cut short"),
    ("assert is_prime(n) == True", "True == True", "a value that agrees"),
])
def test_only_a_plain_call_against_a_literal_is_settled(text: str, shown: str, why: str) -> None:
    source = TESTS.replace("assert is_prime(n) == True", text)
    assert expectations.find(failing("test_is_prime", 6, text, shown), source) is None, why


def test_the_state_of_an_object_the_test_built_is_left_to_the_disputes() -> None:
    """The 1.5B snake's tests (2026-12-07): every computation of such state was a guessed literal."""
    moved = ("from main import Snake\n\n\ndef test_move():\n    snake = Snake()\n    snake.body = [(100, 100)]\n"
             "    snake.move()\n    assert snake.body == [(100, 90)]\n")
    case = failing("test_move", 8, "assert snake.body == [(100, 90)]", "[(100, 100)] == [(100, 90)]")
    assert expectations.find(case, moved) is None
    made = "from main import Calculator\n\n\ndef test_add():\n    assert Calculator().add(2, 3) == 6\n"
    assert expectations.find(failing("test_add", 5, "assert Calculator().add(2, 3) == 6", "5 == 6"), made) is None
    built = "import main\n\n\ndef test_add():\n    calc = main.Calculator()\n    assert main.add(2, 3) == 6\n"
    assert expectations.find(failing("test_add", 6, "assert main.add(2, 3) == 6", "5 == 6"), built) is None
    plain = "import main\n\n\ndef test_add():\n    a, b = 2, 3\n    assert main.add(a, b) == 6\n"
    assert expectations.find(failing("test_add", 6, "assert main.add(a, b) == 6", "5 == 6"), plain) is None
    named = "import main\n\n\ndef test_add():\n    a = 2\n    assert main.add(a, 3) == 6\n"
    found = expectations.find(failing("test_add", 6, "assert main.add(a, 3) == 6", "5 == 6"), named)
    assert found is not None and found.setup == "import main\na = 2"


def test_an_assert_in_a_loop_or_a_parametrized_test_is_left_to_the_disputes() -> None:
    looped = "from main import is_prime\n\n\ndef test_p():\n    for n in (247, 9):\n        assert is_prime(n) == True\n"
    assert expectations.find(failing("test_p", 6, "assert is_prime(n) == True", "False == True"), looped) is None
    case = failing("test_is_prime", 6, "assert is_prime(n) == True", "False == True")
    param = TestCase(**{**case.to_dict(), "name": "test_is_prime[247]"})
    assert expectations.find(param, TESTS) is None


def test_the_asserts_before_the_failing_one_are_not_shown_the_computation() -> None:
    found = expectations.find(failing("test_small_primes", 11, "assert is_prime(91) == True", "False == True"), TESTS)
    assert found is not None and found.key == "tests/test_main.py::test_small_primes@11"
    assert found.setup == "from main import is_prime, next_prime"  # `is_prime(2) == True` would be copied


def test_a_guessed_value_is_not_a_computation() -> None:
    assert expectations.computes("def expected():\n    n = 91\n    return all(n % d for d in range(2, n))\n")
    assert expectations.computes("def expected():\n    return 2 + 3 * 4 + 5\n")
    assert not expectations.computes("def expected():\n    return 14\n")  # the 1.5B copied a value it saw
    assert not expectations.computes('def expected():\n    """The value."""\n    return "khoor"\n')
    assert not expectations.computes("def expected(n):\n    return n + 1\n")
    assert not expectations.computes("def other():\n    return 1 + 1\n")


def test_a_computation_that_uses_none_of_the_calls_values_computes_something_else() -> None:
    """The 0.5B (2026-12-08) answered all eighteen questions of bench/expected_values.py with the prompt's
    own example, count_vowels("banana"), and its 3 sided with a wrong test."""
    example = ('def expected():\n    def count_vowels(text):\n        return sum(1 for c in text if c in "aeiou")\n'
               '    return count_vowels("banana")\n')
    assert expectations.computes(example)  # without the inputs, it computes
    assert not expectations.computes(example, "from main import is_prime\nis_prime(247)")
    own = "def expected():\n    n = 247\n    return all(n % d for d in range(2, n))\n"
    assert expectations.computes(own, "from main import is_prime\nis_prime(247)")
    assert expectations.computes(own, "from main import is_prime\nn = 247\nis_prime(n)")  # the setup's value
    assert expectations.computes("def expected():\n    return len(open(__file__).read()) * 0 + 5\n", "f()")


def test_the_verdict_sides_with_whichever_value_the_computation_gives() -> None:
    found = expectations.find(failing("test_next_prime_after_a_prime", 15, "assert next_prime(13) == 17", "13 == 17"),
                              TESTS)
    assert found is not None and found.got == 13
    assert expectations.verdict(found, expectations.computed("17\n")) == "test"
    assert expectations.verdict(found, expectations.computed("a line\n13\n")) == "program"  # the last line
    assert expectations.verdict(found, expectations.computed("15")) is None
    assert expectations.verdict(found, expectations.computed("Traceback ...")) is None
    assert expectations.verdict(found, expectations.NOTHING) is None
    assert expectations.agrees(0.1 + 0.2, 0.3) and not expectations.agrees(True, 1) and not expectations.agrees(1, "1")


def _primes_company(asked: list[str]):
    def company(messages):
        info = current_call()
        phase = info.phase if info is not None else ""
        if info is not None and info.turn == "expected":
            text = messages[-1].content
            asked.append(text)
            body = IS_PRIME if "is_prime(n)" in text else PRIME_91 if "is_prime(91)" in text else NEXT_AFTER
            return f"```python\n{body}```"
        if phase == "design":
            return json.dumps({"summary": "primes up to a number", "entry": "main.py", "run": "python main.py 30",
                               "files": [{"path": "main.py", "purpose": "the primes tool"}]})
        if phase == "coding":
            return f"main.py\n```python\n{PRIMES}```"
        if phase == "test_writing":
            return f"tests/test_main.py\n```python\n{TESTS}```"
        if phase in ("code_fix", "test_fix"):
            return f"main.py\n```python\n{PRIMES}```"  # the programmer sends the program back unchanged
        return good_reply(messages)

    return company


def test_a_wrong_expected_value_is_corrected_and_a_confirmed_one_goes_to_the_programmer(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sandbox_ready: None) -> None:
    """The real sandbox runs the program, its tests and the tester's computations."""
    asked: list[str] = []
    recorder = events.Recorder()
    summary = engine.build(engine.BuildOptions(task="a tool that prints every prime number up to the number given "
                                                    "as its argument", out=tmp_path),
                           sink=recorder, models=company_models(scripted(_primes_company(asked))))
    project = Path(summary.project)
    tests = (project / "tests" / "test_main.py").read_text()
    assert "assert is_prime(n) == False" in tests  # 247 = 13 * 19: the computation sides with the program
    assert "assert is_prime(91) == False" in tests  # 7 * 13: the assert after a passing one, read in turn
    assert "assert next_prime(13) == 17" in tests  # the computation sides with the test: kept
    assert len(asked) == 3 and all("with the standard library only" in a for a in asked)  # each settled once
    assert any("not True: the test's expected value was corrected" in n.text for n in recorder.of(events.Notice))
    fixes = [e.text for e in recorder.of(events.Message) if e.phase == "test_fix" and e.receiver == "Programmer"]
    assert fixes and ("An independent computation agrees with the test tests/test_main.py::"
                      "test_next_prime_after_a_prime: `next_prime(13)` should be 17, not 13") in fixes[0]
    assert summary.runs is True and summary.tests_pass is False  # the program is still wrong about 13
    log = subprocess.run(["git", "-C", str(project), "log", "--format=%an|%s"], capture_output=True, text=True,
                         check=True).stdout.splitlines()
    assert ("Tester|[test_run] Repair after the run (imports, expected values, quarantined tests): "
            "tests/test_main.py (cycle 1)") in log
    state = json.loads((project / ".chatdev" / "state.json").read_text())
    first = next(p for p in state["phases"] if p["name"] == "test_run")
    assert first["calls"] == 3  # the questions count as the check's own model calls


def test_a_value_in_the_wrong_letter_case_is_pointed_out_to_the_programmer() -> None:
    """The 1.5B Caesar cipher (2026-12-08) returned 'KHOOR' for 'khoor': its condition for upper case was
    reversed. The programmer rewrote the shifting instead; the report now says what is right."""
    from chatdev.sandbox.results import RunResult, build_report

    encode = failing("test_encode", 5, 'assert caesar_cipher("hello", 3, "encode") == "khoor"',
                     "'KHOOR' == 'khoor'")
    hint = expectations.letter_case(encode)
    assert hint.startswith("Why: 'KHOOR' and 'khoor' differ only in letter case")
    assert expectations.letter_case(failing("test_x", 5, "assert f() == 'hello'", "'hellp' == 'hello'")) == ""
    assert expectations.letter_case(failing("test_x", 5, "assert f() == 'a'", "'a' == 'a'")) == ""
    assert expectations.letter_case(failing("test_x", 5, "assert f() == 1", "1 == 2")) == ""
    assert expectations.letter_case(failing("test_x", 5, "assert f() == 'AB'", "'ab...' == 'AB'")) == ""
    payload = {"probe": {"entry": "main.py", "gui": None, "tests": ["tests/test_main.py"]},
               "cases": [{**encode.to_dict(), "defect": None}]}
    source = ('from main import caesar_cipher\n\n\ndef test_encode():\n'
              '    assert caesar_cipher("hello", 3, "encode") == "khoor"\n')
    report = build_report(payload, run=RunResult(0, "", "", False, 0.1), tests=RunResult(1, "", "", False, 0.5),
                          sources={"tests/test_main.py": source},
                          program={"main.py": "def caesar_cipher(t, s, o):\n    return t\n"})
    assert report.tests_pass is False and hint in report.summary


def test_a_text_the_program_already_has_is_pointed_out_to_the_programmer() -> None:
    """The 1.5B calculator (2026-12-08) returned 'Invalid expression' for bad characters; its test expected it
    for "2 + 3 *", which reached `return f"Error: {e}"`. Two fixes rewrote the evaluation and were rolled back."""
    program = {"main.py": 'import re\n\n\ndef evaluate_expression(expression):\n'
                          '    if not re.match(r"^[0-9+*/() -]*$", expression):\n'
                          '        return "Invalid expression"\n    try:\n        return eval(expression)\n'
                          '    except Exception as e:\n        return f"Error: {e}"\n'}
    cut = failing("test_invalid", 8, 'assert evaluate_expression("2 + 3 *") == "Invalid expression"',
                  "'Error: inval...ing>, line 1)' == 'Invalid expression'")
    assert expectations.known_text(cut, program) == (
        "Why: the program already has 'Invalid expression' (main.py line 6), but this call gets another value: "
        "make this case reach that text rather than writing a new one.")
    assert expectations.letter_case(cut) == ""  # a side pytest cut short is no value
    whole = failing("test_invalid", 8, 'assert evaluate_expression("2 +") == "Invalid expression"',
                    "'Error: bad' == 'Invalid expression'")
    assert "but this call gets another value, not 'Error: bad':" in expectations.known_text(whole, program)
    assert expectations.known_text(whole, {"main.py": "def f():\n    return 'Error: bad'\n"}) == ""  # what it got
    assert expectations.known_text(failing("test_x", 5, "assert f() == 'ab'", "'abc' == 'ab'"), program) == ""
