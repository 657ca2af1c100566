"""The program's own call that gives what the task's command line should print (chatdev/checks/answers.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from chatdev.checks import answers

# the 1.5B's Roman numeral converter (2026-12-08): every argument goes to roman_to_decimal
ROMAN = '''import sys


def roman_to_decimal(roman):
    values = {'I': 1, 'V': 5, 'X': 10, 'L': 50, 'C': 100, 'D': 500, 'M': 1000}
    decimal = 0
    prev_value = 0
    for char in roman:
        if char not in values:
            raise ValueError(f"Invalid Roman numeral: {char}")
        value = values[char]
        decimal += value - 2 * prev_value if value > prev_value else value
        prev_value = value
    return decimal


def decimal_to_roman(decimal):
    table = {1000: 'M', 900: 'CM', 500: 'D', 400: 'CD', 100: 'C', 90: 'XC', 50: 'L', 40: 'XL',
             10: 'X', 9: 'IX', 5: 'V', 4: 'IV', 1: 'I'}
    roman = ''
    for value, numeral in table.items():
        while decimal >= value:
            roman += numeral
            decimal -= value
    return roman


def echo(text):
    return text


def forever(x):
    while True:
        pass


def main():
    if len(sys.argv) != 2:
        print("Usage: python main.py <roman numeral>")
        return
    try:
        print(f"{sys.argv[1]} = {roman_to_decimal(sys.argv[1])}")
    except ValueError as e:
        print(e)


if __name__ == "__main__":
    main()
'''
TASK = "a Roman numeral converter: `python main.py 1994` prints MCMXCIV and `python main.py MCMXCIV` prints 1994"


def run_probe(tmp_path: Path, program: dict[str, str], argv: list[str], expected: str) -> list[dict]:
    for rel, text in program.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    (tmp_path / answers.SCRIPT).write_text(answers.probe(program, argv, expected))
    done = subprocess.run([sys.executable, answers.SCRIPT], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    return answers.found(done.stdout)


def test_the_call_that_gives_the_answer_is_found_and_named(tmp_path: Path) -> None:
    found = run_probe(tmp_path, {"main.py": ROMAN}, ["1994"], "MCMXCIV")
    # echo("1994") gives "1994", not the answer; forever(...) is stopped after a second; main is never called
    assert [f["call"] for f in found] == ["decimal_to_roman(1994)"]
    line = answers.hint(found, "python main.py 1994", "MCMXCIV")
    assert line == ("Why: the program already has the answer: `decimal_to_roman(1994)` returns 'MCMXCIV' (with 1994 "
                    "as a number, not text), but `python main.py 1994` never gets it: make the entry point call it "
                    "for such an argument, for example with `if sys.argv[1].isdigit(): "
                    "print(decimal_to_roman(int(sys.argv[1])))` before it reads the argument otherwise.")


def test_words_in_every_order_and_a_function_in_another_module(tmp_path: Path) -> None:
    program = {"main.py": "from cipher import shift\n\nif __name__ == '__main__':\n    print('usage')\n",
               "cipher.py": ("def shift(text, n):\n    return ''.join(chr((ord(c) - 97 + n) % 26 + 97) for c in text)\n"),
               "tests/test_main.py": "import main\n"}
    assert answers.modules(program) == ["cipher", "main"]
    found = run_probe(tmp_path, program, ["encode", "3", "hello"], "khoor")
    assert found and found[0]["call"] == "shift('hello', 3)" and found[0]["module"] == "cipher"
    line = answers.hint(found, "python main.py encode 3 hello", "khoor")
    assert "(cipher.py)" in line and "`if sys.argv[2].isdigit(): print(shift(sys.argv[3], int(sys.argv[2])))`" in line


def test_a_function_that_prints_the_answer_is_called_without_print(tmp_path: Path) -> None:
    program = {"main.py": "def show(n):\n    print('I' * int(n))\n\n\ndef main():\n    pass\n"}
    found = run_probe(tmp_path, program, ["3"], "III")
    assert [f["call"] for f in found] == ["show('3')", "show(3)"]  # text first: the word as it came
    assert "with `show(sys.argv[1])` before" in answers.hint(found, "python main.py 3", "III")
    assert answers.hint([{"call": "f(1)", "returns": "'x'"}], "python main.py 1", "x").endswith(
        "call it for such an argument.")  # no places: no line to suggest


def test_a_call_whose_words_hold_the_answer_proves_nothing(tmp_path: Path) -> None:
    assert run_probe(tmp_path, {"main.py": "def echo(text):\n    return text.upper()\n"}, ["mcmxciv"], "MCMXCIV") == []


@pytest.mark.parametrize("stdout", ["", "Traceback ...", "not json\n", json.dumps({"call": "x"}), "[1, 2]"])
def test_anything_but_the_probe_s_list_is_no_answer(stdout: str) -> None:
    assert answers.found(stdout) == []
    assert answers.hint([], "python main.py 1994", "MCMXCIV") == ""


@pytest.mark.docker
def test_the_fixer_is_told_which_call_gives_the_answer(tmp_path: Path, sandbox_ready: None) -> None:
    """The real sandbox: the converter runs, `python main.py 1994` prints "Invalid Roman numeral: 1",
    and the fix prompt names `decimal_to_roman(1994)`."""
    from tests.scripted_company import build_scripted, stubborn_program

    summary, _ = build_scripted(tmp_path, stubborn_program({"main.py": ROMAN}, summary="A converter."), TASK)
    assert summary.runs is True and summary.tests_pass is False
    transcript = Path(summary.project) / ".chatdev" / "transcript.jsonl"
    fixes = [json.loads(line)["text"] for line in transcript.read_text().splitlines()
             if '"test_fix"' in line and '"message"' in line]
    assert any("`decimal_to_roman(1994)` returns 'MCMXCIV' (with 1994 as a number, not text), but "
               "`python main.py 1994` never gets it" in text for text in fixes), fixes[:1]


# the 1.5B's class-based converter (2026-12-08): `python main.py 1994` crashed in from_roman
CLASSY = {"roman.py": '''class RomanConverter:
    def __init__(self):
        self.roman_numerals = {'I': 1, 'V': 5, 'X': 10, 'L': 50, 'C': 100, 'D': 500, 'M': 1000}

    def from_roman(self, roman):
        total = 0
        for i in range(len(roman)):
            if i + 1 < len(roman) and self.roman_numerals[roman[i]] < self.roman_numerals[roman[i + 1]]:
                total -= self.roman_numerals[roman[i]]
            else:
                total += self.roman_numerals[roman[i]]
        return total

    def to_roman(self, number):
        table = [(1000, 'M'), (900, 'CM'), (500, 'D'), (400, 'CD'), (100, 'C'), (90, 'XC'), (50, 'L'),
                 (40, 'XL'), (10, 'X'), (9, 'IX'), (5, 'V'), (4, 'IV'), (1, 'I')]
        out = ''
        for value, numeral in table:
            while number >= value:
                out += numeral
                number -= value
        return out


class Window:
    def __init__(self, root):
        self.root = root
''', "main.py": '''import sys
from roman import RomanConverter

converter = RomanConverter()
if __name__ == "__main__":
    print(converter.from_roman(sys.argv[1]))
'''}


def test_a_method_of_a_class_made_without_arguments_is_found(tmp_path: Path) -> None:
    found = run_probe(tmp_path, CLASSY, ["1994"], "MCMXCIV")
    assert [f["call"] for f in found] == ["RomanConverter().to_roman(1994)"]  # Window(root) is not made
    line = answers.hint(found, "python main.py 1994", "MCMXCIV")
    assert "(roman.py)" in line
    assert "`if sys.argv[1].isdigit(): print(RomanConverter().to_roman(int(sys.argv[1])))`" in line


@pytest.mark.docker
def test_a_task_command_line_that_crashes_is_told_the_call_that_answers_it(tmp_path: Path,
                                                                            sandbox_ready: None) -> None:
    """The real sandbox: `python main.py 1994` dies with KeyError '1' in from_roman; the review's fix
    prompt names `RomanConverter().to_roman(1994)` under the crash."""
    from tests.scripted_company import build_scripted, stubborn_program

    task = "a Roman numeral converter: `python main.py 1994` prints MCMXCIV"
    summary, _ = build_scripted(tmp_path, stubborn_program(CLASSY, summary="A converter."), task)
    assert summary.runs is False
    transcript = Path(summary.project) / ".chatdev" / "transcript.jsonl"
    fixes = [json.loads(line)["text"] for line in transcript.read_text().splitlines()
             if '"code_fix"' in line and '"message"' in line]
    assert any("KeyError" in text and "`RomanConverter().to_roman(1994)` (roman.py) returns 'MCMXCIV'" in text
               for text in fixes), fixes[:1]
