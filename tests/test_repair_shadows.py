"""A flag that hides a method of its class (chatdev/repair/shadows.py), as the 1.5B's snake wrote it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from chatdev.checks.crashes import explain
from chatdev.repair.shadows import not_callable, rename_flag

GAME = '''import sys


class Game:
    def __init__(self):
        self.start_screen = True
        self.score = 0
        self.frames = 0

    def start_screen(self):
        print("SNAKE - press a key")
        self.start_screen = False

    def step(self):
        self.frames += 1
        self.score += 1

    def run(self):
        while self.frames < 3:
            if self.start_screen:
                self.start_screen()
            elif not self.start_screen and self.frames >= 0:
                self.step()
        print("score", self.score)


if __name__ == "__main__":
    Game().run()
'''
ERROR = "TypeError: 'bool' object is not callable"
LINE = GAME.splitlines().index("                self.start_screen()") + 1


def test_the_flag_gets_its_own_name_and_the_method_keeps_its_calls() -> None:
    renamed = rename_flag({"main.py": GAME}, "main.py", LINE, ERROR)
    assert renamed is not None
    assert (renamed.cls, renamed.method, renamed.flag) == ("Game", "start_screen", "is_start_screen")
    text = renamed.files["main.py"]
    ast.parse(text)
    assert "        self.is_start_screen = True\n" in text
    assert "    def start_screen(self):\n" in text
    assert "        self.is_start_screen = False\n" in text  # the store inside the method itself
    assert "            if self.is_start_screen:\n                self.start_screen()\n" in text
    assert "elif not self.is_start_screen and self.frames >= 0:" in text
    assert text.count("self.start_screen()") == 1


def test_the_renamed_program_runs(tmp_path: Path) -> None:
    import subprocess
    import sys

    broken = tmp_path / "broken.py"
    broken.write_text(GAME)
    crash = subprocess.run([sys.executable, str(broken)], capture_output=True, text=True, timeout=30)
    assert ERROR in crash.stderr
    fixed = tmp_path / "main.py"
    renamed = rename_flag({"main.py": GAME}, "main.py", LINE, ERROR)
    assert renamed is not None
    fixed.write_text(renamed.files["main.py"])
    done = subprocess.run([sys.executable, str(fixed)], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert "SNAKE - press a key" in done.stdout and "score 3" in done.stdout


def test_a_name_the_file_uses_is_not_taken() -> None:
    program = GAME.replace("self.score = 0", "self.score = 0\n        self.is_start_screen = 1")
    line = program.splitlines().index("                self.start_screen()") + 1
    renamed = rename_flag({"main.py": program}, "main.py", line, ERROR)
    assert renamed is not None and renamed.flag == "is_start_screen_2"
    assert "self.is_start_screen_2 = True" in renamed.files["main.py"]
    assert "self.is_start_screen = 1" in renamed.files["main.py"]


@pytest.mark.parametrize(("program", "sources", "error", "why"), [
    (GAME, {}, "TypeError: 'int' object is not subscriptable", "another error"),
    (GAME.replace("self.start_screen = True", "self.start_screen = self.draw_title"), {}, ERROR,
     "the value set could be a callable"),
    (GAME.replace("print(\"score\", self.score)", "print(\"score\", self.score, self.start_screen)"), {}, ERROR,
     "a use that is neither a call nor a truth test"),
    (GAME, {"view.py": "def show(game):\n    button(command=game.start_screen)\n"}, ERROR,
     "another file passes it on"),
    (GAME.replace("    def start_screen(self):", "    def title(self):"), {}, ERROR, "no method of that name"),
])
def test_nothing_is_guessed(program: str, sources: dict[str, str], error: str, why: str) -> None:
    line = program.splitlines().index("                self.start_screen()") + 1
    assert rename_flag({"main.py": program, **sources}, "main.py", line, error) is None, why


def test_the_crash_explanation_names_both() -> None:
    assert not_callable(ERROR) == "bool" and not_callable("NameError: x") is None
    lines = explain("main.py", LINE, "self.start_screen()", ERROR, {"main.py": GAME})
    assert len(lines) == 1
    assert "class Game (main.py) has both `def start_screen` (line 10)" in lines[0]
    assert "`self.start_screen = True` (line 6)" in lines[0] and "`self.is_start_screen`" in lines[0]


@pytest.mark.docker
def test_the_company_renames_the_flag_and_the_program_runs(tmp_path: Path, sandbox_ready: None) -> None:
    """The real sandbox: main.py dies on `self.start_screen()`; the fixes send it back as it was, so
    only the repair can help, and the run that follows it decides."""
    from tests.scripted_company import build_scripted, stubborn_program

    summary, notices = build_scripted(tmp_path, stubborn_program({"main.py": GAME}, summary="A game."),
                                      "a snake game")
    text = (Path(summary.project) / "main.py").read_text()
    assert "self.is_start_screen = True" in text and "def start_screen(self):" in text
    assert summary.runs is True, summary
    assert any("renamed the flag `self.start_screen` of Game to `self.is_start_screen` in main.py" in n
               for n in notices), notices
