"""A choice of upper or lower case made the wrong way round (chatdev/repair/lettercase.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chatdev.repair import lettercase

# the 1.5B's Caesar cipher (2026-12-08): the shift is right, the case of every letter is not
CAESAR = '''import sys


def caesar_cipher(text, shift, operation):
    result = ""
    for char in text:
        if char.isalpha():
            is_upper = char.isupper()
            char = char.lower()
            shifted = (ord(char) - ord('a') + shift) % 26
            result += chr(shifted + ord('a') if is_upper else shifted + ord('A'))
        else:
            result += char
    return result


def main():
    operation, shift, text = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    print(caesar_cipher(text, shift if operation == 'encode' else -shift, operation))


if __name__ == "__main__":
    main()
'''
TESTS = '''from main import caesar_cipher


def test_encode():
    assert caesar_cipher("hello", 3, "encode") == "khoor"


def test_decode():
    assert caesar_cipher("khoor", -3, "decode") == "hello"
'''


def test_the_branches_of_a_case_choice_are_exchanged() -> None:
    [(rel, fixed, line)] = lettercase.swaps({"main.py": CAESAR})
    assert (rel, line) == ("main.py", 11)
    assert "chr(shifted + ord('A') if is_upper else shifted + ord('a'))" in fixed
    assert fixed.replace("ord('A') if", "ord('a') if").replace("else shifted + ord('a')", "else shifted + ord('A')") \
        == CAESAR  # nothing else moved
    namespace: dict = {}
    exec(compile(fixed.replace('__name__ == "__main__"', "False"), "main.py", "exec"), namespace)
    assert namespace["caesar_cipher"]("Hello", 3, "encode") == "Khoor"


def test_only_branches_that_differ_in_letter_case_alone_are_exchanged() -> None:
    program = {"a.py": "x = s.upper() if c else s.lower()\ny = 1 if c else 2\nz = 'ab' if c else 'AB'\n"
                       "w = s.upper() if c else s.upper()\nv = s.upper() if c else t.lower()\n"}
    found = lettercase.swaps(program)
    assert [(line, fixed.splitlines()[line - 1]) for _, fixed, line in found] == [
        (1, "x = s.lower() if c else s.upper()"), (3, "z = 'AB' if c else 'ab'")]
    assert lettercase.swaps({"b.py": "def broken(:\n"}) == []


@pytest.mark.docker
def test_the_swap_is_kept_when_more_tests_pass(tmp_path: Path, sandbox_ready: None) -> None:
    """The real sandbox and a scripted company whose fixes send the program back unchanged: the
    check exchanges the branches, the tests pass, and the build says why."""
    from tests.scripted_company import build_scripted, good_reply, stubborn_program

    stubborn = stubborn_program({"main.py": CAESAR}, summary="A Caesar cipher.")

    def company(messages):
        from chatdev.models.base import current_call

        info = current_call()
        if info is not None and info.phase == "test_writing":
            return f"tests/test_main.py\n```python\n{TESTS}```"
        return stubborn(messages) if info is not None else good_reply(messages)

    summary, notices = build_scripted(tmp_path, company,
                                      "a Caesar cipher tool: `python main.py encode 3 hello` prints khoor")
    assert summary.runs is True and summary.tests_pass is True
    assert any("exchanged the upper- and lower-case branches of main.py line 11" in n for n in notices), notices
    project = Path(summary.project)
    assert "ord('A') if is_upper else shifted + ord('a')" in (project / "main.py").read_text()
    state = json.loads((project / ".chatdev" / "state.json").read_text())
    assert state["tests"]["tests_pass"] is True
