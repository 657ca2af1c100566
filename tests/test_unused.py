"""Functions the program defines and never uses (chatdev/checks/unused.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chatdev.checks import unused

# the 1.5B's unit converter (2026-12-08): convert_weight is right, and main() never calls it
CONVERTER = '''import sys


def convert_length(value, from_unit, to_unit):
    return value * 1000 if (from_unit, to_unit) == ("km", "m") else value / 1000


def convert_weight(value, from_unit, to_unit):
    return value * 1000 if (from_unit, to_unit) == ("kg", "g") else value / 1000


def fact(n):
    return 1 if n < 2 else n * fact(n - 1)


def main():
    value, from_unit, to_unit = float(sys.argv[1]), sys.argv[2], sys.argv[3]
    print(convert_length(value, from_unit, to_unit))


if __name__ == "__main__":
    main()
'''


def test_a_function_nothing_calls_is_listed_with_where_it_is() -> None:
    # fact calls only itself: that is no use either
    assert unused.never_used({"main.py": CONVERTER}) == [("convert_weight", "main.py", 8), ("fact", "main.py", 12)]
    assert unused.note({"main.py": CONVERTER}) == (
        "Never used: `convert_weight` (main.py line 8), `fact` (main.py line 12) are defined, but nothing in the "
        "program calls them. If the task needs what they do, the program must call them where it handles that case "
        "(from main()).")


def test_a_callback_an_import_a_decorated_or_private_function_counts_as_used() -> None:
    program = {
        "main.py": "import tkinter as tk\nfrom util import helper\nimport tools\n\n\n"
                   "def on_click():\n    print(helper())\n\n\n"
                   "def _private():\n    pass\n\n\n@staticmethod\ndef decorated():\n    pass\n\n\n"
                   "tk.Button(command=on_click)\ntools.shout('x')\n",
        "util.py": "def helper():\n    return 1\n",
        "tools.py": "__all__ = ['listed']\n\n\ndef shout(text):\n    return text.upper()\n\n\n"
                    "def listed():\n    return 2\n",
    }
    assert unused.never_used(program) == []
    assert unused.note(program) == ""
    assert unused.never_used({"main.py": "def broken(:\n"}) == []  # pyflakes speaks first


@pytest.mark.docker
def test_the_review_reads_the_note_under_the_static_check(tmp_path: Path, sandbox_ready: None) -> None:
    """The real sandbox and a scripted company: the converter runs, and the review's prompt reads
    the note under "Static check: clean"."""
    from tests.scripted_company import build_scripted, stubborn_program

    task = "a unit converter for length and weight, used as `python main.py 10 km m`"
    summary, _ = build_scripted(tmp_path, stubborn_program({"main.py": CONVERTER}, summary="A converter."), task)
    assert summary.runs is True
    transcript = Path(summary.project) / ".chatdev" / "transcript.jsonl"
    reviews = [json.loads(line)["text"] for line in transcript.read_text().splitlines()
               if '"code_review"' in line and '"message"' in line]
    assert any("Static check: clean" in text and unused.note({"main.py": CONVERTER}) in text for text in reviews), \
        reviews[:1]


def test_a_parameter_the_function_never_reads_is_pointed_out_under_the_failure() -> None:
    """The 1.5B Caesar (2026-12-08, after the case repair): caesar_cipher(text, shift, operation) never
    read `operation`; main() decoded by passing -shift, so the test's decode call encoded."""
    from chatdev.checks.triage import TestCase
    from chatdev.sandbox.results import RunResult, build_report

    program = {"main.py": "def caesar_cipher(text, shift, operation):\n"
                          "    return ''.join(chr((ord(c) - 97 + shift) % 26 + 97) for c in text)\n"}
    case = TestCase(id="tests/test_main.py::test_decode", file="tests/test_main.py", name="test_decode",
                    outcome="failed", message="AssertionError: assert 'nkrru' == 'hello'",
                    text="tests/test_main.py:8: in test_decode\n    assert caesar_cipher(\"khoor\", 3, \"decode\") "
                         "== \"hello\"\nE   AssertionError: assert 'nkrru' == 'hello'")
    line = ("Why: caesar_cipher() never reads its parameter `operation` (main.py line 1), so the 'decode' this "
            "test gives it changes nothing: make caesar_cipher use `operation`.")
    assert unused.unread_parameter(case, program) == line
    reads = {"main.py": program["main.py"].replace("    return", "    shift = -shift if operation == 'decode' "
                                                                 "else shift\n    return")}
    assert unused.unread_parameter(case, reads) == ""
    assert unused.unread_parameter(case, {}) == ""
    payload = {"probe": {"entry": "main.py", "gui": None, "tests": ["tests/test_main.py"]},
               "cases": [{**case.to_dict(), "defect": None}]}
    report = build_report(payload, run=RunResult(0, "", "", False, 0.1), tests=RunResult(1, "", "", False, 0.5),
                          sources={"tests/test_main.py": "from main import caesar_cipher\n"}, program=program)
    assert line in report.summary
