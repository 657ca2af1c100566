"""Coding replies that cannot work as written: a planned file that writes again a class a file
before it wrote (the 1.5B breakout's paddle.py was ball.py's Ball), and a file cut at the
reply's token limit (the 1.5B converter's main.py, cut at line 156)."""

from __future__ import annotations

import ast
import json
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest

from chatdev import events
from chatdev.models.base import Message, SchemaViolation, current_call
from chatdev.replies import plans
from chatdev.replies.splice import CUT_NOTE, cut_program
from chatdev.run import engine
from tests.scripted_company import checked_build, company_models, good_reply, scripted

BALL = '''import pygame


class Ball:
    def __init__(self, x, y, radius):
        self.x, self.y, self.radius = x, y, radius

    def move(self):
        self.x += 5
'''
PADDLE = '''import pygame


class Paddle:
    def __init__(self, x):
        self.x = x

    def draw(self, screen):
        pygame.draw.rect(screen, (255, 255, 255), (self.x, 580, 100, 10))
'''


def test_a_file_that_writes_again_a_class_written_before_it_is_refused() -> None:
    with pytest.raises(SchemaViolation, match=r"paddle.py writes again class Ball \(ball.py\), already written: "
                                              r"import it \(`from ball import Ball`\) and write only what "
                                              r"paddle.py is for"):
        plans.check_repeats({"paddle.py": BALL}, {"ball.py": BALL}, "reply")
    with pytest.raises(SchemaViolation, match=r"class Snake \(game/snake.py\)"):
        plans.check_repeats({"main.py": "class Snake:\n    pass\n"}, {"game/snake.py": "class Snake(object):\n    x = 1\n"},
                            "reply")
    # its own classes, an import of the others, a test file, or the file itself written again: fine
    plans.check_repeats({"paddle.py": PADDLE}, {"ball.py": BALL}, "reply")
    plans.check_repeats({"main.py": "from ball import Ball\n\nball = Ball(1, 2, 3)\n"}, {"ball.py": BALL}, "reply")
    plans.check_repeats({"tests/test_ball.py": BALL}, {"ball.py": BALL}, "reply")
    plans.check_repeats({"ball.py": BALL}, {"ball.py": BALL}, "reply")
    plans.check_repeats({"paddle.py": "    class Ball:\n        pass\n"}, {"ball.py": BALL}, "reply")  # nested


def test_a_fix_that_copies_another_files_class_is_refused_and_one_that_keeps_its_own_is_not() -> None:
    """The 1.5B snake's test_fix wrote snake.py's game into main.py; the test imports snake.py."""
    snake = "import pygame\n\n\nclass Snake:\n    def move(self):\n        pass\n\n\ndef main():\n    pass\n"
    known = {"main.py": "import snake\nsnake.main()\n", "snake.py": snake}
    with pytest.raises(SchemaViolation, match=r"main.py writes again class Snake \(snake.py\)"):
        plans.check_repeats({"main.py": snake + "\nmain()\n"}, known, "reply")
    # a file that held the class before keeps it: the copy is old, the fix is not the one that made it
    plans.check_repeats({"main.py": snake + "\nmain()\n"}, {**known, "main.py": snake}, "reply")
    # the class moved: the file it came from is written in the same reply
    plans.check_repeats({"main.py": snake, "snake.py": "from main import Snake\n"}, known, "reply")


def _converter(n: int) -> str:
    parts = ["import sys\n\n"]
    for i in range(n):
        parts.append(f"def convert_{i}(value):\n    \"\"\"Unit pair {i}.\"\"\"\n    return value * {i + 2}\n\n\n")
    parts.append("def main():\n    value = float(sys.argv[1])\n    print(convert_0(value))\n\n\n"
                 "if __name__ == \"__main__\":\n    main()\n")
    return "".join(parts)


def test_a_program_cut_at_the_limit_keeps_its_whole_statements_and_says_so() -> None:
    whole = _converter(3)
    cut = whole[: whole.index("    print(convert_0")] + "    print(f\"{value} km = {convert_0(val"
    kept = cut_program(cut)
    assert kept is not None and kept.endswith("\n\n" + CUT_NOTE)
    tree = ast.parse(kept)
    assert [getattr(n, "name", "") for n in tree.body][-1] == "convert_2"  # half of main never stays
    assert "def main" not in kept
    assert cut_program("def f(:\n") is None  # nothing whole
    # a cut right after a whole function: the function counts only when something top-level followed
    assert "convert_1" in cut_program(whole[: whole.index("def convert_2")] + "def convert_2(va")
    assert "convert_2" not in cut_program(whole[: whole.index("    return value * 4")] + "    return value *")


def _three_files(copies: int, log: list[str], last: str = ""):
    """Design ball.py, paddle.py, main.py; paddle.py is a copy of ball.py's Ball ``copies`` times
    (then ``last`` when given)."""
    asked = {"paddle.py": 0}

    def company(messages: Sequence[Message]) -> str:
        info = current_call()
        if info is not None and info.phase == "design":
            return json.dumps({"summary": "A breakout game.", "entry": "main.py", "run": "python main.py",
                               "files": [{"path": "main.py", "purpose": "the game loop"},
                                         {"path": "ball.py", "purpose": "the Ball class"},
                                         {"path": "paddle.py", "purpose": "the Paddle class"}]})
        if info is not None and info.phase == "coding":
            log.append(str(info.item))
            if info.item == "ball.py":
                return f"ball.py\n```python\n{BALL}```"
            if info.item == "paddle.py":
                asked["paddle.py"] += 1
                body = BALL if asked["paddle.py"] <= copies else (last or PADDLE)
                return f"paddle.py\n```python\n{body}```"
            return ("main.py\n```python\nfrom ball import Ball\nfrom paddle import Paddle\n\n"
                    "ball, paddle = Ball(1, 2, 3), Paddle(4)\n```")
        if info is not None and info.phase == "test_writing":
            return "no tests"
        return good_reply(messages)

    return company


def test_coding_asks_again_for_a_file_that_copies_a_class_and_keeps_the_answer(tmp_path: Path) -> None:
    log: list[str] = []
    recorder = events.Recorder()
    summary = engine.build(engine.BuildOptions(task="a breakout game", out=tmp_path, no_run=True), sink=recorder,
                           models=company_models(scripted(_three_files(1, log))))
    project = Path(summary.project)
    assert log == ["ball.py", "paddle.py", "paddle.py", "main.py"]  # the entry last, paddle.py asked twice
    assert "class Paddle" in (project / "paddle.py").read_text()
    retries = [e for e in recorder.events if isinstance(e, events.Retry) and e.phase == "coding"]
    assert len(retries) == 1 and "paddle.py writes again class Ball (ball.py)" in retries[0].reason


def test_a_fix_that_copies_another_files_class_is_asked_again(tmp_path: Path) -> None:
    """The check runs in the fix phases too: the review's fix first writes ball.py's Ball into main.py."""
    log: list[str] = []
    coding = _three_files(0, log)
    fixes: list[str] = []

    def company(messages: Sequence[Message]) -> str:
        info = current_call()
        if info is not None and info.phase == "code_review":
            done = bool(fixes)
            return json.dumps({"approved": done, "issues": [] if done else ["main.py: the ball never moves"]})
        if info is not None and info.phase == "code_fix":
            fixes.append("copy" if not fixes else "own")
            body = BALL + "\nball = Ball(1, 2, 3)\n" if len(fixes) == 1 else \
                "from ball import Ball\nfrom paddle import Paddle\n\nball, paddle = Ball(1, 2, 4), Paddle(4)\n"
            return f"main.py\n```python\n{body}```"
        return coding(messages)

    recorder = events.Recorder()
    summary = engine.build(engine.BuildOptions(task="a breakout game", out=tmp_path, no_run=True), sink=recorder,
                           models=company_models(scripted(company)))
    retries = [e for e in recorder.events if isinstance(e, events.Retry) and e.phase == "code_fix"]
    assert fixes == ["copy", "own"]
    assert len(retries) == 1 and "main.py writes again class Ball (ball.py)" in retries[0].reason
    assert "Ball(1, 2, 4)" in (Path(summary.project) / "main.py").read_text()


def test_a_file_that_keeps_copying_is_written_on_the_last_try(tmp_path: Path) -> None:
    """The refusal never stops a build: the last try is kept, and the checks show what it lacks."""
    log: list[str] = []
    summary = engine.build(engine.BuildOptions(task="a breakout game", out=tmp_path, no_run=True),
                           sink=events.Recorder(), models=company_models(scripted(_three_files(9, log))))
    assert log.count("paddle.py") == 3  # retries: 2
    assert "class Ball" in (Path(summary.project) / "paddle.py").read_text()


def test_a_copy_is_kept_when_the_last_try_is_no_code_at_all(tmp_path: Path) -> None:
    """The 1.5B snake (2026-12-07): main.py was snake.py's game twice, then the example's
    placeholder; the build failed in coding. Code that repeats a class runs; no file does not."""
    log: list[str] = []
    recorder = events.Recorder()
    summary = engine.build(engine.BuildOptions(task="a breakout game", out=tmp_path, no_run=True), sink=recorder,
                           models=company_models(scripted(_three_files(2, log, last="(every line of paddle.py)\n"))))
    assert log.count("paddle.py") == 3 and log[-1] == "main.py"
    assert summary.status != "failed"
    assert "class Ball" in (Path(summary.project) / "paddle.py").read_text()
    kept = [e for e in recorder.events if isinstance(e, events.Notice) and "writes a class again is kept" in e.text]
    assert len(kept) == 1 and kept[0].text.startswith("coding for paddle.py:")


SNAKE_GAME = """import pygame


class Snake:
    def __init__(self):
        self.body = [(1, 1)]


def main():
    snake = Snake()
    print(len(snake.body))


if __name__ == "__main__":
    main()
"""


def test_an_entry_after_a_file_holding_the_program_starts_it_without_a_model_call(tmp_path: Path) -> None:
    """The 1.5B snake (2026-12-07, three times): snake.py held the whole game, main.py was the same
    game twice, then the placeholder; kept as a copy, the fixes went to snake.py's Snake and main.py's
    died. Once snake.py holds the game and its main(), main.py is not asked for: it starts snake.py's."""
    log: list[str] = []
    recorder = events.Recorder()

    def company(messages: Sequence[Message]) -> str:
        info = current_call()
        if info is not None and info.phase == "design":
            return json.dumps({"summary": "A snake game.", "entry": "main.py", "run": "python main.py",
                               "files": [{"path": "snake.py", "purpose": "the snake"},
                                         {"path": "food.py", "purpose": "the food"},
                                         {"path": "main.py", "purpose": "the entry point"}]})
        if info is not None and info.phase == "coding":
            log.append(str(info.item))
            if info.item == "snake.py":  # the whole game, its food too
                return f"snake.py\n```python\nclass Food:\n    pass\n\n\n{SNAKE_GAME}```"
            if info.item == "food.py":
                return "food.py\n```python\nclass Food:\n    x = WIDTH\n```"
            return f"main.py\n```python\n{SNAKE_GAME}```" if log.count("main.py") < 3 else "(main.py's code)\n"
        if info is not None and info.phase == "test_writing":
            return "no tests"
        return good_reply(messages)

    summary = engine.build(engine.BuildOptions(task="a snake game", out=tmp_path, no_run=True), sink=recorder,
                           models=company_models(scripted(company)))
    project = Path(summary.project)
    assert log == ["snake.py", *["food.py"] * 3]  # food.py: its Food is snake.py's again; main.py never asked
    assert (project / "main.py").read_text() == 'from snake import main\n\n\nif __name__ == "__main__":\n    main()\n'
    assert not (project / "food.py").exists()  # its Food is snake.py's too, and nobody imports it
    tracked = subprocess.run(["git", "ls-files"], cwd=project, capture_output=True, text=True, check=True).stdout
    assert "food.py" not in tracked.split() and "snake.py" in tracked.split()
    notes = [e.text for e in recorder.events if isinstance(e, events.Notice) and "(no model call)" in e.text]
    assert len(notes) == 1 and notes[0].startswith("coding for main.py: snake.py already holds the program")
    assert "food.py, whose classes snake.py holds too, left out" in notes[0]


def test_the_file_holding_the_program_is_the_one_file_with_a_main_that_import_does_not_start() -> None:
    assert plans.program_holder("main.py", {"snake.py": SNAKE_GAME, "food.py": "class Food:\n    pass\n"}) == (
        "snake.py", 'from snake import main\n\n\nif __name__ == "__main__":\n    main()\n')
    unguarded = SNAKE_GAME.replace('if __name__ == "__main__":\n    main()\n', "main()\n")
    assert plans.program_holder("main.py", {"snake.py": unguarded}) is None  # importing it starts it
    assert plans.program_holder("main.py", {"snake.py": SNAKE_GAME, "game.py": SNAKE_GAME}) is None  # which?
    assert plans.program_holder("main.py", {"snake.py": SNAKE_GAME.replace("def main", "def run")}) is None
    assert plans.program_holder("main.py", {"main.py": SNAKE_GAME, "tests/test_x.py": SNAKE_GAME}) is None


def test_an_entry_over_a_copy_only_when_the_copy_can_be_started_by_import() -> None:
    known = {"snake.py": SNAKE_GAME}
    assert plans.entry_for_copy("main.py", SNAKE_GAME, known) == (
        "snake.py", 'from snake import main\n\n\nif __name__ == "__main__":\n    main()\n')
    unguarded = SNAKE_GAME.replace('if __name__ == "__main__":\n    main()\n', "main()\n")
    assert plans.entry_for_copy("main.py", SNAKE_GAME, {"snake.py": unguarded}) is None  # importing it starts it
    no_main = SNAKE_GAME.replace("def main", "def run")
    assert plans.entry_for_copy("main.py", SNAKE_GAME, {"snake.py": no_main}) is None
    assert plans.entry_for_copy("main.py", no_main, known) is None  # the reply is not the program again
    more = SNAKE_GAME + "\n\nclass Food:\n    pass\n"
    assert plans.entry_for_copy("main.py", more, known) is None  # it holds a class of its own
    assert plans.entry_for_copy("main.py", SNAKE_GAME, {"tests/test_snake.py": SNAKE_GAME}) is None


def test_a_coding_reply_cut_at_its_limit_is_written_as_its_whole_statements(tmp_path: Path) -> None:
    program = _converter(160)  # well past coding's 2400 tokens

    def company(messages: Sequence[Message]) -> str:
        info = current_call()
        if info is not None and info.phase == "coding":
            return f"main.py\n```python\n{program}```"
        if info is not None and info.phase == "test_writing":
            return "no tests"
        return good_reply(messages)

    summary = engine.build(engine.BuildOptions(task="a unit converter", out=tmp_path, no_run=True),
                           sink=events.Recorder(), models=company_models(scripted(company)))
    written = (Path(summary.project) / "main.py").read_text()
    assert written.endswith(CUT_NOTE) and "def main" not in written
    tree = ast.parse(written)  # a file a fix can be put into, a function at a time
    assert len([n for n in tree.body if isinstance(n, ast.FunctionDef)]) > 20


def test_a_file_holding_only_the_class_another_planned_file_is_for_is_refused() -> None:
    """Seen on the 1.5B breakout (2026-12-04): paddle.py was written first, as ``class Ball``."""
    plan = ["paddle.py", "ball.py", "main.py"]
    with pytest.raises(SchemaViolation, match=r"paddle.py writes class Ball, which ball.py is planned for, and "
                                              r"nothing of its own: write paddle.py's own code"):
        plans.check_repeats({"paddle.py": BALL}, {}, "reply", planned=plan)
    plans.check_repeats({"paddle.py": PADDLE}, {}, "reply", planned=plan)  # its own class
    plans.check_repeats({"paddle.py": PADDLE + BALL}, {}, "reply", planned=plan)  # its own, and one more
    plans.check_repeats({"main.py": "def main():\n    pass\n"}, {}, "reply", planned=plan)  # no class at all
    plans.check_repeats({"paddle.py": BALL}, {}, "reply")  # no plan given: nothing to say
    plans.check_repeats({"game_state.py": "class GameState:\n    pass\n"}, {}, "reply",
                        planned=["game_state.py", "state.py"])


def test_of_two_unnamed_blocks_the_one_the_file_is_named_for_is_that_file() -> None:
    from chatdev.replies.parsing import parse_files

    reply = f"```python\n{PADDLE}```\n\n```python\n{BALL}    def longer(self):\n        return 1\n```"
    assert "class Paddle" in parse_files(reply, expected=["paddle.py"]).files["paddle.py"]
    assert "class Ball" in parse_files(reply, expected=["ball.py"]).files["ball.py"]
    # none named for it: the longest, as before
    assert "class Ball" in parse_files(reply, expected=["main.py"]).files["main.py"]


def test_the_files_a_whole_program_holds_again_and_nobody_imports_are_its_dead_copies() -> None:
    known = {"snake.py": SNAKE_GAME + "\n\nclass Food:\n    pass\n", "food.py": "class Food:\n    pass\n",
             "score.py": "class Score:\n    pass\n", "util.py": "def helper():\n    pass\n",
             "main.py": "from snake import main\n", "tests/test_food.py": "class Food:\n    pass\n"}
    assert plans.dead_copies("snake.py", known, keep=["main.py"]) == ["food.py"]
    imported = {**known, "snake.py": "from food import Food\n" + known["snake.py"]}
    assert plans.dead_copies("snake.py", imported, keep=["main.py"]) == []  # snake.py imports it: it is used


def test_a_program_fix_keeps_to_the_program_and_leaves_the_tests_to_the_tester(tmp_path: Path,
                                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """The 1.5B's test_fix rewrote tests/test_main.py in the snake and the hangman (2026-12-07)."""
    from chatdev.sandbox.results import RunResult, build_report
    from tests.scripted_company import GAME, TESTS

    fixes: list[str] = []

    def company(messages: Sequence[Message]) -> str:
        info = current_call()
        if info is not None and info.phase == "test_fix":
            fixes.append("tests only" if not fixes else "both")
            tests = f"tests/test_main.py\n```python\n{TESTS}# agreed with the program\n```"
            return tests if len(fixes) == 1 else f"main.py\n```python\n{GAME}# fixed\n```\n\n{tests}"
        return good_reply(messages)

    def verify(root: Path, *, entry, timeout, tests, allow_install, args=(), expect=(), runs=None):
        files = {p.relative_to(root).as_posix(): p.read_text() for p in root.rglob("*.py") if ".chatdev" not in p.parts}
        fixed = "# fixed" in files["main.py"]
        cases = [{"id": "tests/test_main.py::test_step_moves_head", "file": "tests/test_main.py",
                  "name": "test_step_moves_head", "outcome": "passed" if fixed else "failed",
                  "message": "", "text": "" if fixed else "tests/test_main.py:5: in t\nE   assert 1 == 2"}]
        payload = {"probe": {"entry": "main.py", "gui": None, "tests": ["tests/test_main.py"] if tests else []},
                   "static": {"ok": True, "errors": [], "warnings": [], "missing": []}, "cases": cases if tests else None}
        return build_report(payload, run=RunResult(0, "", "", False, 0.1),
                            tests=RunResult(0 if fixed else 1, "", "", False, 0.5) if tests else None, program=files)

    summary, recorder = checked_build(tmp_path, monkeypatch, company, verify)
    project = Path(summary.project)
    retries = [e.reason for e in recorder.events if isinstance(e, events.Retry) and e.phase == "test_fix"]
    assert fixes == ["tests only", "both"]
    assert retries and retries[0].startswith("the reply changes only tests/test_main.py: the tests are the tester's")
    assert "# fixed" in (project / "main.py").read_text()
    assert "agreed with the program" not in (project / "tests" / "test_main.py").read_text()


def test_a_file_whose_main_guard_starts_the_program_is_the_holder_too() -> None:
    """The 1.5B snake of the 2026-12-07 bench: `if __name__ == "__main__": game = Game(); game.run()`, no main()."""
    game = ("import pygame\n\npygame.init()\nWIDTH = 800\n\n\nclass Game:\n    def run(self):\n        pass\n\n\n"
            "if __name__ == \"__main__\":\n    game = Game()\n    for _ in range(1):\n        game.run()\n")
    holder, text = plans.program_holder("main.py", {"snake.py": game, "gui.py": "class GUI:\n    pass\n"})
    assert holder == "snake.py"
    assert text == ('from snake import Game\n\n\nif __name__ == "__main__":\n    game = Game()\n'
                    "    for _ in range(1):\n        game.run()\n")
    compile(text, "main.py", "exec")
    # importing it would start it; it has no main guard
    assert plans.program_holder("main.py", {"snake.py": game.replace("WIDTH = 800\n", "WIDTH = 800\nGame()\n")}) is None
    assert plans.program_holder("main.py", {"snake.py": game.replace('if __name__ == "__main__"', "if WIDTH")}) is None
    uses_other = game.replace("game = Game()", "game = Game(screen)")  # a name the file does not define
    assert plans.program_holder("main.py", {"snake.py": uses_other}) is None
    assert plans.program_holder("main.py", {"snake.py": game, "pong.py": game}) is None  # which one?
