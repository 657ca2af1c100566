"""An entry point that starts nothing is a static error (chatdev/checks/entrypoint.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from chatdev.checks.entrypoint import idle

CAESAR = '''"""The 1.5B's Caesar tool: one function, nothing calls it."""
import sys

SHIFT = 3


def caesar_cipher(text, shift):
    return "".join(chr((ord(c) - 97 + shift) % 26 + 97) if c.islower() else c for c in text)
'''


def test_an_entry_that_only_defines_things_starts_nothing() -> None:
    expected = ("main.py:1:1: main.py only defines functions and classes, so `python main.py` starts nothing: "
                "call its main function under `if __name__ == \"__main__\":` (read the arguments, print the result)")
    assert idle("main.py", CAESAR) == [expected]
    assert idle("main.py", CAESAR + '\n\nif __name__ == "__main__":\n    pass\n')  # a guard that does nothing


@pytest.mark.parametrize("tail", [
    '\n\nif __name__ == "__main__":\n    print(caesar_cipher(sys.argv[3], int(sys.argv[2])))\n',
    "\n\nprint(caesar_cipher('abc', SHIFT))\n",
    "\n\napp = caesar_cipher('abc', 1)\n",        # an assignment that calls something acts
    "\n\nfor word in sys.argv[1:]:\n    print(word)\n",
])
def test_an_entry_that_does_something_is_fine(tail: str) -> None:
    assert idle("main.py", CAESAR + tail) == []


def test_what_does_not_parse_or_is_empty_is_left_to_pyflakes() -> None:
    assert idle("main.py", "def broken(:\n") == []
    assert idle("main.py", "") == []


@pytest.mark.docker
def test_the_static_check_reports_an_idle_entry(tmp_path: Path, sandbox_ready: None) -> None:
    from chatdev.sandbox import container

    (tmp_path / "main.py").write_text(CAESAR)
    report = container.verify_program(tmp_path, timeout=5, tests=False, gui=False, args=[["encode", "3", "hello"]])
    assert report.runs is True and not report.static_ok  # it "runs": exit 0, nothing printed
    assert "main.py only defines functions and classes" in report.static_output
    assert "main.py only defines functions and classes" in report.summary
