"""The company knows whether its program works: runs first, tests triaged, no step backwards.

Pure parts (triage, quarantine, plan checks, scenarios, the image catalogue) run
without Docker; the chain's loop rules run on the scripted model with a verifier
that judges the files it is given (so each rule is exact); the same checks on the
real sandbox are in tests/test_sandbox.py.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from chatdev import events
from chatdev.checks import scenarios, triage
from chatdev.errors import ConfigError
from chatdev.models.base import SchemaViolation
from chatdev.repair.imports import add_missing_imports
from chatdev.replies import plans
from chatdev.run import engine
from chatdev.sandbox import catalogue
from chatdev.sandbox.results import ProgramReport, Progress, RunResult, build_report
from tests.scripted_company import GAME, TESTS, checked_build, company_models, good_reply, scripted

# ----------------------------------------------------------------------------- triage


def case(outcome: str = "failed", text: str = "", message: str = "", name: str = "test_x",
         file: str = "tests/test_main.py") -> dict[str, Any]:
    return {"id": f"{file}::{name}" if name else file, "file": file, "name": name, "outcome": outcome, "message": message,
            "text": text}


TEST_SRC = '''import random
from main import step


def test_x():
    assert step() == 1


def test_random():
    assert random.randrange(10) == random.randrange(10)


def test_same_draw():
    assert step() == step()


def test_nothing():
    # checks the game
    pass
'''


def test_triage_tells_test_defects_from_program_failures() -> None:
    sources = {"tests/test_main.py": TEST_SRC}
    got = triage.triage([
        case(text="tests/test_main.py:6: in test_x\n    assert SCREEN_WIDTH\nE   NameError: name 'SCREEN_WIDTH' is "
                  "not defined"),
        case(text="main.py:3: in step\n    return undefined\nE   NameError: name 'undefined' is not defined"),
        case(outcome="error", name="", text="E   ImportError: cannot import name 'Snake' from 'main' (/work/app/main.py)"),
        case(message="Failed: Timeout >10.0s", text="main.py:40: in run\n    while True:"),
        case(outcome="error", name="", text='E     File "/work/app/tests/test_main.py", line 3\nE   SyntaxError: '
                                             'invalid syntax'),
        case(name="test_random", text="E   assert 3 == 7"),
        case(name="test_same_draw", text="E   assert (1, 2) == (3, 4)"),
        case(outcome="passed", name="test_nothing"),
        case(outcome="passed", name="test_x"),
        case(text="tests/test_main.py:6: in test_x\nE   assert 2 == 1"),
    ], sources)
    defects = [c.defect for c in got]
    assert "never defines or imports" in defects[0]
    assert defects[1] is None  # a NameError inside the program is the program's failure
    assert "'Snake' from main, which does not define it" in defects[2]
    assert "does not finish in time" in defects[3]
    assert "does not parse" in defects[4]
    assert "two random values" in defects[5] and "two random values" in defects[6]
    assert "asserts nothing" in defects[7]
    assert defects[8] is None and defects[9] is None  # a real pass, a real failure
    assert [c.counts for c in got][8:] == [True, True]


def test_a_library_attribute_the_test_gets_wrong_is_its_own_defect() -> None:
    """The 1.5B clock test: `import datetime`, then `datetime.now()` on its own line."""
    text = ("tests/test_main.py:20: in test_clock\n    assert label == datetime.now()\n"
            "E   AttributeError: module 'datetime' has no attribute 'now'")
    program = {"clock.py": "from datetime import datetime\n", "gui.py": "import datetime\n"}
    got = triage.triage([case(text=text),
                         case(text=text.replace("'datetime'", "'clock'").replace("datetime.now", "clock.now")),
                         case(text="clock.py:3: in tick\nE   AttributeError: module 'time' has no attribute 'clock'")],
                        {"tests/test_main.py": ""}, program)
    assert got[0].defect == ("the test uses datetime.now, which the module datetime does not have (the class is "
                             "`from datetime import datetime`)")
    assert got[1].defect is None  # the program's own module: what it lacks may be the program's to add
    assert got[2].defect is None  # in the program's frame: the program's failure


def test_a_test_that_reads_sys_stdout_as_a_stringio_is_its_own_defect() -> None:
    """The 1.5B todo tests: `sys.stdout.getvalue()` under pytest's capture."""
    text = ("tests/test_main.py:30: in test_list_items\n    assert not sys.stdout.getvalue().strip()\n"
            "E   AttributeError: 'EncodedFile' object has no attribute 'getvalue'")
    got = triage.triage([case(text=text)], {"tests/test_main.py": ""}, {"main.py": "print(1)\n"})
    assert got[0].defect and "capsys.readouterr().out" in got[0].defect


COPIED = '''import pytest


def convert_length(value, frm, to):
    if frm == "km" and to == "m":
        return value * 1000
    raise ValueError(frm)


def test_convert_length():
    assert convert_length(10, "C", "F") == 50


def test_own_helper():
    assert helper() == 1


def helper():
    return 1
'''


def test_a_test_of_the_test_files_own_copy_of_the_program_is_a_defect() -> None:
    """The 1.5B's tester pasted main.py above its tests; the fixer then chased a test of the copy."""
    program = {"main.py": "def convert_length(value, frm, to):\n    return value * 1000\n\n\ndef main():\n    pass\n"}
    got = triage.triage([case(name="test_convert_length", text="tests/test_main.py:11: in test_convert_length\n"
                                                                "tests/test_main.py:7: in convert_length\nE   ValueError: C"),
                         case(outcome="passed", name="test_own_helper")],
                        {"tests/test_main.py": COPIED}, program)
    assert got[0].defect == ("the test checks the test file's own copy of 'convert_length', not the program's: "
                             "import it with `from main import convert_length` and delete the copy")
    assert got[1].defect is None  # a helper of the test's own, not a copy of the program's
    assert triage.triage([case(name="test_convert_length", text="E   ValueError: C")],
                         {"tests/test_main.py": COPIED})[0].defect is None  # without the program: not judged


def test_a_test_that_calls_the_program_with_arguments_it_does_not_take_is_a_defect() -> None:
    """The 1.5B's todo tests called ``main(["add", "Buy milk"])``; its main() reads argparse, no arguments."""
    program = {"main.py": "def main():\n    pass\n\n\nclass Todo:\n    def __init__(self, path):\n        pass\n"}
    tests = {"tests/test_main.py": "from main import main, Todo\n\n\ndef test_add():\n    main(['add'])\n"}
    got = triage.triage([
        case(name="test_add", text="tests/test_main.py:5: in test_add\n    main(['add'])\n"
                                   "E   TypeError: main() takes 0 positional arguments but 1 was given"),
        case(name="test_todo", text="tests/test_main.py:9: in test_todo\n"
                                    "E   TypeError: Todo.__init__() missing 1 required positional argument: 'path'"),
        case(name="test_inner", text="tests/test_main.py:9: in test_inner\nmain.py:7: in __init__\n"
                                     "E   TypeError: f() takes 0 positional arguments but 1 was given"),
    ], tests, program)
    assert got[0].defect == ("the test calls main with arguments its definition does not take "
                             "(`def main()` in main.py)")
    assert got[1].defect == ("the test calls Todo with arguments its definition does not take "
                             "(`class Todo: def __init__(self, path)` in main.py)")
    assert got[2].defect is None  # raised inside the program: the program's failure


def test_a_test_of_the_value_of_a_function_that_returns_nothing_is_a_defect() -> None:
    """The 1.5B's todo test: ``assert list_tasks() == [...]``, and list_tasks() prints the list."""
    program = {"main.py": "def list_tasks():\n    for t in ['a']:\n        print(t)\n\n\n"
                          "def count():\n    if False:\n        return 1\n"}
    text = ("tests/test_main.py:16: in test_list_tasks\nE   AssertionError: assert None == ['1. Buy milk']\n"
            "E    +  where None = list_tasks()")
    got = triage.triage([case(name="test_list_tasks", text=text),
                         case(name="test_count", text=text.replace("list_tasks", "count"))],
                        {"tests/test_main.py": "from main import list_tasks\n"}, program)
    assert got[0].defect == ("the test checks what list_tasks() returns, but list_tasks in main.py returns nothing "
                             "(it prints: check its output with pytest's capsys)")
    assert got[1].defect is None  # count() returns a value on some path: the program's failure


def test_a_test_that_checks_its_own_copies_of_the_programs_variables_is_a_defect() -> None:
    """The 1.5B's breakout tests (2026-12-04): ``from main import *``, then the test's own
    ``paddle_x`` moved by its own arithmetic; the program's loop never ran."""
    program = {"main.py": "screen_width = 800\npaddle_width = 100\npaddle_x = 350\nscore = 0\n\n\n"
                          "def move(x, dx):\n    return x + dx\n", "ball.py": "class Ball:\n    pass\n"}
    source = ("from main import *\nimport main\n\n\ndef test_paddle():\n"
              "    paddle_x = (screen_width - paddle_width) // 2\n    paddle_x -= 10\n"
              "    assert paddle_x == (screen_width - paddle_width) // 2 + 10\n\n\n"
              "def test_move():\n    paddle_x = 350\n    assert move(paddle_x, 10) == 360\n\n\n"
              "def test_module():\n    score = 1\n    assert main.score + score == 1\n\n\n"
              "def test_ball():\n    paddle_x = Ball()\n    assert paddle_x\n\n\n"
              "def test_width():\n    assert screen_width == 800\n\n\n"
              "def test_fixture(game):\n    score = game.score\n    assert score == 0\n")
    names = ["test_paddle", "test_move", "test_module", "test_ball", "test_width", "test_fixture"]
    got = triage.triage([case(name=n, outcome="failed" if n == "test_paddle" else "passed", text="E assert")
                         for n in names], {"tests/test_main.py": source}, program)
    assert got[0].defect == ("the test sets its own `paddle_x` and checks what it computed: it calls nothing of the "
                             "program, so it says nothing about it (call the program's functions and check what "
                             "they return or change)")
    # a program function, its module, a class, a program constant checked as it is, a fixture: the program's
    assert [c.defect for c in got[1:]] == [None] * 5


def test_an_assert_on_the_tests_own_variable_that_no_call_can_change_is_a_defect() -> None:
    """The 1.5B's breakout (2026-12-07): ``ball_x, ball_y = 100, 100``, ``move_ball()``, ``assert ball_x == 105``."""
    program = {"main.py": "ball_x = 400\nball_y = 300\nspeed = 5\n\n\ndef move_ball():\n"
                          "    global ball_x\n    ball_x += speed\n\n\ndef step(x):\n    return x + 5\n"}
    source = ("import main\nfrom main import move_ball, step\n\n\ndef test_move_ball():\n"
              "    ball_x, ball_y = 100, 100\n    speed = 5\n    move_ball()\n    assert ball_x == 105, 'moves'\n\n\n"
              "def test_step():\n    ball_x = 100\n    ball_x = step(ball_x)\n    assert ball_x == 105\n\n\n"
              "def test_module():\n    move_ball()\n    assert main.ball_x == 405\n\n\n"
              "def test_global():\n    global ball_x\n    ball_x = 100\n    move_ball()\n    assert ball_x == 105\n\n\n"
              "def test_local_only():\n    total = 3\n    move_ball()\n    assert total == 4\n\n\n"
              "def test_two():\n    ball_x = 1\n    assert step(1) == 6\n    assert ball_x == 2\n")
    text = "tests/test_main.py:{line}: in {name}\n    assert ball_x == 105\nE   AssertionError: moves\nE   assert 100 == 105"
    names = [("test_move_ball", 9), ("test_step", 15), ("test_module", 20), ("test_global", 27),
             ("test_local_only", 33), ("test_two", 39)]
    got = triage.triage([case(name=n, text=text.format(line=line, name=n)) for n, line in names],
                        {"tests/test_main.py": source}, program)
    assert got[0].defect == ("the test asserts on its own `ball_x`, which it set itself and no call can change (a "
                             "program function changes the program's `ball_x`, not the test's): check what the "
                             "program's functions return, or read the program's variable as module.name")
    # a program function's result, the program's module, a global, a name the program does not keep: the program's
    assert [c.defect for c in got[1:5]] == [None] * 4
    assert got[5].defect is not None  # the assert that failed is the one on the test's own variable
    ok = triage.triage([case(name="test_two", outcome="passed")], {"tests/test_main.py": source}, program)
    assert ok[0].defect is None  # passing: one of its asserts checks the program


def test_an_assert_on_what_a_library_setter_returns_is_a_defect() -> None:
    """The 1.5B's stopwatch (2026-12-07): ``assert stopwatch.time_label.config(text="00:00:00")``."""
    text = ("tests/test_main.py:15: in test_start_stop_reset\n    assert stopwatch.time_label.config(text=\"00:00:00\")\n"
            "E   AssertionError: assert None\n"
            "E    +  where None = <bound method Misc.configure of <tkinter.ttk.Label object .!label>>(text='00:00:00')\n"
            "E    +    where <bound method Misc.configure of <tkinter.ttk.Label object .!label>> = "
            "<tkinter.ttk.Label object .!label>.config")
    program = {"main.py": "class Stopwatch:\n    pass\n"}
    got = triage.triage([case(name="test_start_stop_reset", text=text)], {"tests/test_main.py": ""}, program)
    assert got[0].defect == ("the test asserts what configure() returns, a library method (Misc.configure) that "
                             "returns None: check the value it set instead (a Tkinter widget's text: "
                             "widget.cget('text'))")
    # the program's own class (a Label of its own), or its own method: the program's failure
    own = {"main.py": "import tkinter as tk\n\n\nclass Label(tk.Label):\n    pass\n"}
    mine = text.replace("tkinter.ttk.Label object", "main.Label object")
    assert triage.triage([case(name="test_start_stop_reset", text=mine)], {"tests/test_main.py": ""},
                         own)[0].defect is None
    method = text.replace("Misc.configure", "Stopwatch.configure")
    assert triage.triage([case(name="test_start_stop_reset", text=method)], {"tests/test_main.py": ""},
                         program)[0].defect is None


def test_a_test_that_opens_a_file_nobody_wrote_is_a_defect() -> None:
    """The 1.5B's JSON to CSV tests (2026-12-07): ``sys.stdin = open('test_input.json')``, a file nobody wrote."""
    own = ("tests/test_main.py:8: in test_main\n    sys.stdin = open('test_input.json', 'r')\n"
           "E   FileNotFoundError: [Errno 2] No such file or directory: 'test_input.json'")
    programs = ("tests/test_main.py:8: in test_main\n    main()\nmain.py:4: in main\n    open('words.txt')\n"
                "E   FileNotFoundError: [Errno 2] No such file or directory: 'words.txt'")
    got = triage.triage([case(name="test_main", text=own), case(name="test_words", text=programs)],
                        {"tests/test_main.py": ""})
    assert got[0].defect == ("the test opens 'test_input.json', which neither it nor the project writes: write the "
                             "file first in the test (pytest's tmp_path), or give the program its input another way")
    assert got[1].defect is None  # the program opened it: the program's failure (hangman's words.txt)


def test_a_test_that_mocks_a_real_object_is_a_defect() -> None:
    """The 1.5B's Tkinter notepad tests (2026-12-07): ``self.root.askopenfilename.return_value = "test.txt"``."""
    text = ('tests/test_main.py:15: in test_open_file\n    self.root.askopenfilename.return_value = "test.txt"\n'
            "/usr/lib/python3.11/tkinter/__init__.py:2410: in __getattr__\n    return getattr(self.tk, attr)\n"
            "E   AttributeError: '_tkinter.tkapp' object has no attribute 'askopenfilename'")
    programs = ("tests/test_main.py:9: in test_open\n    app.open_file()\nmain.py:12: in open_file\n"
                "    self.text.insert_text(data)\nE   AttributeError: 'Text' object has no attribute 'insert_text'")
    got = triage.triage([case(name="test_open_file", text=text), case(name="test_open", text=programs)],
                        {"tests/test_main.py": ""})
    assert got[0].defect == ("the test uses `.return_value` on `self.root.askopenfilename`, a real object, not a "
                             "mock: replace it first (monkeypatch.setattr, or unittest.mock.patch) or test what "
                             "the program does without it")
    assert got[1].defect is None  # the program's own line: the program's failure


FOOD_SRC = """import random
import pygame


class Food:
    def __init__(self, size):
        self.size = size
        self.x = random.randint(0, 799)

    def draw(self, screen):
        pygame.draw.rect(screen, (255, 0, 0), (self.x, 10, self.size, self.size))

    def place(self, grid, avoid=None):
        self.x = grid.pick(avoid)
"""
NONE_TESTS = """from food import Food


def test_food_draw():
    food = Food(20)
    screen = None
    food.draw(screen)
    assert 0 <= food.x < 800


def test_draw_on_nothing():
    Food(20).draw(None)


def test_place():
    food = Food(20)
    food.place(None)


def test_place_anywhere():
    food = Food(20)
    food.place(Grid(), avoid=None)
"""


def test_a_test_that_gives_the_program_none_for_an_object_it_uses_is_a_defect() -> None:
    """The 1.5B snake's tests (2026-12-08): ``screen = None``, ``food.draw(screen)``; four test
    fixes tried to make the game draw on nothing."""
    surface = "E   TypeError: argument 1 must be pygame.Surface, not None"
    drawn = ("tests/test_main.py:{line}: in {name}\n    {call}\nfood.py:11: in draw\n"
             "    pygame.draw.rect(screen, (255, 0, 0), (self.x, 10, self.size, self.size))\n" + surface)
    placed = ("tests/test_main.py:{line}: in {name}\n    {call}\nfood.py:14: in place\n"
              "    self.x = grid.pick(avoid)\nE   AttributeError: 'NoneType' object has no attribute 'pick'")
    got = triage.triage(
        [case(name="test_food_draw", text=drawn.format(line=7, name="test_food_draw", call="food.draw(screen)")),
         case(name="test_draw_on_nothing", text=drawn.format(line=12, name="test_draw_on_nothing",
                                                             call="Food(20).draw(None)")),
         case(name="test_place", text=placed.format(line=17, name="test_place", call="food.place(None)")),
         case(name="test_place_anywhere", text=placed.format(line=22, name="test_place_anywhere",
                                                             call="food.place(Grid(), avoid=None)"))],
        {"tests/test_main.py": NONE_TESTS}, {"food.py": FOOD_SRC})
    assert got[0].defect == (
        "the test gives draw None for `screen`, but food.py uses it as a pygame.Surface: `pygame.draw.rect(screen, "
        "(255, 0, 0), (self.x, 10, self.size, self.size))`; pass a pygame.Surface (`pygame.Surface((800, 600))`), "
        "as the program does")
    assert got[1].defect is not None and "None for `screen`" in got[1].defect
    assert got[2].defect is not None and "None for `grid`" in got[2].defect and "an object with .pick" in got[2].defect
    # the None went to `avoid`, and the line fails on `grid`: the program's failure, not the test's
    assert got[3].defect is None or "None for" not in got[3].defect


def test_a_test_that_feeds_the_program_a_data_file_nobody_wrote_is_a_defect() -> None:
    """The 1.5B's CSV statistics tests (2026-12-07): ``read_csv('test_data.csv')``, a file nobody wrote."""
    source = "from utils import read_csv\n\ndef test_read_csv():\n    assert read_csv('test_data.csv') == []\n"
    text = ("tests/test_main.py:4: in test_read_csv\n    assert read_csv('test_data.csv') == []\n"
            "utils.py:5: in read_csv\n    with open(path) as f:\n"
            "E   FileNotFoundError: [Errno 2] No such file or directory: 'test_data.csv'")
    program = {"utils.py": "def read_csv(path):\n    with open(path) as f:\n        return list(f)\n"}
    got = triage.triage([case(name="test_read_csv", text=text)], {"tests/test_main.py": source}, program)
    assert got[0].defect and got[0].defect.startswith("the test opens 'test_data.csv' through the program")
    named = {"utils.py": program["utils.py"] + "DEFAULT = 'test_data.csv'\n"}  # the program's own file: its failure
    assert triage.triage([case(name="test_read_csv", text=text)], {"tests/test_main.py": source}, named)[0].defect is None


def test_a_test_that_calls_a_function_that_always_exits_is_a_defect() -> None:
    """The 1.5B's snake tests (2026-12-07): ``snake.game_over()``, whose body ends with ``sys.exit()``."""
    text = ("tests/test_main.py:27: in test_snake_game_over\n    snake.game_over()\nsnake.py:6: in game_over\n"
            "    sys.exit()\nE   SystemExit: None")
    always = {"snake.py": "import sys\n\nclass Snake:\n    def game_over(self):\n        print('over')\n"
                          "        sys.exit()\n"}
    got = triage.triage([case(name="test_snake_game_over", text=text)], {"tests/test_main.py": ""}, always)
    assert got[0].defect == ("the test calls game_over(), which ends the program (sys.exit() in snake.py): check "
                             "that with `with pytest.raises(SystemExit):`, or test what happens before it")
    sometimes = {"snake.py": "import sys\n\nclass Snake:\n    def game_over(self):\n        if self.dead:\n"
                             "            sys.exit()\n"}
    assert triage.triage([case(name="test_snake_game_over", text=text)], {"tests/test_main.py": ""},
                         sometimes)[0].defect is None  # it exits only when its condition says so: maybe a bug


CAESAR = """import sys


def caesar_cipher(text, shift, operation):
    return ''.join(chr((ord(c) - 97 + shift) % 26 + 97) if c.islower() else c for c in text)


def main():
    if len(sys.argv) != 4 or sys.argv[1] not in ('encode', 'decode'):
        print("Invalid operation. Use 'encode' or 'decode'.")
        sys.exit(1)
    print(caesar_cipher(sys.argv[3], int(sys.argv[2]), sys.argv[1]))


if __name__ == "__main__":
    main()
"""
CAESAR_TESTS = """import pytest
from main import caesar_cipher


def test_caesar_cipher_invalid_operation():
    with pytest.raises(SystemExit) as excinfo:
        caesar_cipher("hello", 3, "invalid")
    assert "Invalid operation" in str(excinfo.value)
"""


def test_a_test_that_expects_a_function_to_exit_when_only_main_does_is_a_defect() -> None:
    """The 1.5B Caesar tests (2026-12-08): three `pytest.raises(SystemExit)` around caesar_cipher(),
    which returns its text; main() checks the command line."""
    raised = case(name="test_caesar_cipher_invalid_operation", message="Failed: DID NOT RAISE <class 'SystemExit'>",
                  text="tests/test_main.py:6: in test_caesar_cipher_invalid_operation\n    with pytest.raises("
                       "SystemExit) as excinfo:\nE   Failed: DID NOT RAISE <class 'SystemExit'>")
    got = triage.triage([raised], {"tests/test_main.py": CAESAR_TESTS}, {"main.py": CAESAR})[0]
    assert got.defect == ("the test expects caesar_cipher() to end the program (`pytest.raises(SystemExit)`), but "
                          "nothing caesar_cipher in main.py runs ever ends it (ending the program is the entry "
                          "point's business): check what caesar_cipher() returns, prints or raises for that input "
                          "instead")
    helper = CAESAR.replace("def main():", "def check(op):\n    if op == 'x':\n        sys.exit(2)\n\n\ndef main():")
    assert triage.triage([raised], {"tests/test_main.py": CAESAR_TESTS}, {"main.py": helper})[0].defect is None
    calls_main = CAESAR.replace("    return ''.join", "    if not text:\n        main()\n    return ''.join")
    assert triage.triage([raised], {"tests/test_main.py": CAESAR_TESTS}, {"main.py": calls_main})[0].defect is None
    valueerror = case(name="test_caesar_cipher_invalid_operation", message="Failed: DID NOT RAISE <class 'ValueError'>",
                      text="E   Failed: DID NOT RAISE <class 'ValueError'>")
    assert triage.triage([valueerror], {"tests/test_main.py": CAESAR_TESTS.replace("SystemExit", "ValueError")},
                         {"main.py": CAESAR})[0].defect is None  # a function may well raise: the program's to add


def test_a_scenario_that_must_end_fails_when_the_program_is_still_running() -> None:
    ends = scenarios.parse_scenarios([{"name": "add", "argv": ["add", "milk"], "ends": True, "timeout": 3}], "t")[0]
    assert ends.ends and ends.to_spec()["ends"] is True
    looping = scenarios.judge(ends, {"timed_out": True, "exit_code": None, "stdout": "Added milk\nAdded milk\n"})
    assert not looping.passed and looping.reason.startswith("did not end within 3 s; it printed 'Added milk Added milk'")
    assert scenarios.judge(ends, {"timed_out": False, "exit_code": 0, "stdout": "Added milk\n"}).passed
    alive = dataclasses.replace(ends, ends=False)  # a program may stay alive where nobody asked it to end
    assert scenarios.judge(alive, {"timed_out": True, "exit_code": None, "stdout": ""}).passed
    with pytest.raises(ConfigError, match="ends must be true or false"):
        scenarios.parse_scenarios([{"argv": ["x"], "ends": "yes"}], "t")


def test_a_fix_never_deletes_tests() -> None:
    known = {"main.py": "def f():\n    return 1\n",
             "tests/test_main.py": "from main import f\n\n\ndef test_f():\n    assert f() == 1\n"}
    with pytest.raises(SchemaViolation, match=r"tests/test_main.py would keep 0 of its 1 tests: a fix changes the "
                                              r"program, and never deletes tests"):
        plans.map_fix_paths({"tests/test_main.py": "def f():\n    return 2\n"}, known, "")
    # beside a program file, the test file is dropped and the program file kept
    both = {"main.py": "def f():\n    return 2\n", "tests/test_main.py": "def f():\n    return 2\n"}
    assert plans.map_fix_paths(both, known, "") == {"main.py": "def f():\n    return 2\n"}
    more = "from main import f\n\n\ndef test_f():\n    assert f() == 1\n\n\ndef test_g():\n    assert f()\n"
    assert plans.map_fix_paths({"tests/test_main.py": more}, known, "") == {"tests/test_main.py": more}


def test_quarantine_marks_defective_tests_and_moves_unparsable_files() -> None:
    cases = triage.triage([case(name="test_nothing", outcome="passed"), case(name="test_random", text="E assert")],
                          {"tests/test_main.py": TEST_SRC})
    writes, aside = triage.quarantine({"tests/test_main.py": TEST_SRC}, cases)
    assert aside == []
    new = writes["tests/test_main.py"]
    assert new.startswith("import pytest\n") and new.count("@pytest.mark.skip(reason='chatdev quarantine: ") == 2
    compile(new, "t.py", "exec")  # still a valid test file
    broken = triage.triage([case(outcome="error", name="", text="E   SyntaxError: invalid syntax")],
                           {"tests/test_main.py": "def test(:\n"})
    assert triage.quarantine({"tests/test_main.py": "def test(:\n"}, broken) == ({}, ["tests/test_main.py"])


def report_for(static: dict, cases: list[dict], *, run: RunResult | None = None) -> ProgramReport:
    payload = {"probe": {"entry": "main.py", "gui": None, "tests": ["tests/test_main.py"]}, "static": static,
               "cases": cases}
    return build_report(payload, run=run or RunResult(0, "ok\n", "", False, 0.2),
                        tests=RunResult(1, "", "", False, 1.0), sources={"tests/test_main.py": TEST_SRC})


def test_a_lint_error_in_a_test_file_never_blocks_the_program_or_the_programmer() -> None:
    static = {"ok": False, "errors": ["tests/test_main.py:6:12: undefined name 'SCREEN_WIDTH'"], "warnings": [],
              "missing": []}
    rep = report_for(static, [case(text="tests/test_main.py:6: in test_x\nE   NameError: name 'SCREEN_WIDTH' is "
                                        "not defined"), case(outcome="passed", name="test_same_draw")])
    assert rep.static_ok and rep.runs is True and rep.tests_pass is True and rep.passed
    assert "SCREEN_WIDTH" not in rep.summary and "defective themselves" in rep.summary
    assert rep.test_static == ("tests/test_main.py:6:12: undefined name 'SCREEN_WIDTH'",)
    assert rep.counts() == {"passed": 1, "failed": 0, "defects": 1, "quarantined": 0}


def test_runs_and_tests_pass_are_separate_facts() -> None:
    crash = RunResult(1, "", "Traceback (most recent call last):\npygame.error: font not initialized", False, 0.3)
    rep = report_for({"ok": True, "errors": [], "warnings": [], "missing": []},
                     [case(outcome="passed", name="test_same_draw")], run=crash)
    assert rep.runs is False and rep.tests_pass is True and not rep.passed
    assert "crashed (exit code 1): pygame.error: font not initialized" in rep.run_reason
    assert rep.to_dict()["runs"] is False and rep.to_dict()["tests_pass"] is True


def test_a_program_that_does_not_run_is_fixed_for_its_run_first() -> None:
    """When the run fails, the fixer sees the run and a count of failing tests, not six tracebacks from pytest."""
    clean = {"ok": True, "errors": [], "warnings": [], "missing": []}
    failing = case(text="tests/test_main.py:6: in test_x\nE   AssertionError: assert 'nkrru' == 'hello'")
    refused = RunResult(1, "Usage: python main.py <operation> <shift>\n", "", False, 0.0,
                        args=("encode", "3", "hello"))
    rep = report_for(clean, [failing], run=refused)
    assert rep.runs is False and rep.tests_pass is False
    assert rep.summary.splitlines()[1:4] == [
        "`python3 main.py encode 3 hello` printed only its usage (exit code 1): it refused the command line:",
        "Usage: python main.py <operation> <shift>",
        "Make `python3 main.py encode 3 hello` do what the task asks: it gives 3 arguments, so len(sys.argv) is 4."]
    assert "pytest: 1 failed, 0 passed (fix the program's run first)." in rep.summary
    assert "nkrru" not in rep.summary and "tests/test_main.py" not in rep.summary
    assert rep.counts()["failed"] == 1  # the report itself still knows every test
    ok = report_for(clean, [failing])  # the program runs: the failing tests are the thing to fix, in full
    assert "nkrru" in ok.summary and "run first" not in ok.summary


def test_a_command_line_answered_with_the_usage_alone_is_refused_even_with_exit_0() -> None:
    """The 1.5B's converter checked ``len(sys.argv) != 5``: given ``10 km m`` it printed its usage, exit 0."""
    from chatdev.sandbox.results import run_ok, usage_only

    clean = {"ok": True, "errors": [], "warnings": [], "missing": []}
    usage = "Usage: python main.py <value> <from_unit> <to_unit>\n"
    refused = RunResult(0, usage, "", False, 0.1, args=("10", "km", "m"))
    assert usage_only(refused) and not run_ok(refused)
    rep = report_for(clean, [], run=refused)
    assert rep.runs is False
    assert rep.run_reason == "`python3 main.py 10 km m` printed only its usage (exit code 0): it refused the command line"
    assert "it gives 3 arguments, so len(sys.argv) is 4." in rep.summary
    # a bare run that shows its usage, asking for help, an answer that mentions usage later: not refusals
    assert run_ok(RunResult(0, usage, "", False, 0.1))
    assert run_ok(RunResult(0, usage, "", False, 0.1, args=("--help",)))
    assert run_ok(RunResult(0, "10 km = 10000 m\nusage: python main.py VALUE FROM TO\n", "", False, 0.1,
                            args=("10", "km", "m")))
    assert run_ok(RunResult(None, usage, "", True, 5.0, args=("10", "km", "m")))  # still running: it waits
    assert run_ok(RunResult(0, "Usage statistics for /: 42%\n", "", False, 0.1, args=("/",)))  # a word, not a usage
    # a bare run that refuses to start with its usage: said so, not "failed with exit code 1"
    bare = report_for(clean, [], run=RunResult(1, "Usage: python main.py <table>\n", "", False, 0.0))
    assert bare.runs is False
    assert bare.run_reason == ("`python3 main.py` printed only its usage (exit code 1): "
                               "it does not run without arguments")


def test_a_bare_run_that_wants_arguments_gets_the_hint_under_its_own_part() -> None:
    """The 1.5B's Markdown formatters (2026-12-07), told to read standard input, read sys.argv."""
    from chatdev.sandbox.results import STDIN_HINT, wants_arguments, with_hint

    clean = {"ok": True, "errors": [], "warnings": [], "missing": []}
    usage = RunResult(1, "Usage: python main.py <table>\n", "", False, 0.0)
    index = RunResult(1, "", "Traceback (most recent call last):\n  File \"/work/app/main.py\", line 29, in <module>\n"
                             "    table = sys.argv[1]\n            ~~~~~~~~^^^\nIndexError: list index out of range\n",
                      False, 0.1)
    assert wants_arguments(usage) and wants_arguments(index)
    assert not wants_arguments(RunResult(1, "", "IndexError: list index out of range\n", False, 0.1))
    assert not wants_arguments(RunResult(1, "Usage: python main.py <table>\n", "", False, 0.0, args=("x",)))
    rep = with_hint(report_for(clean, [], run=usage), STDIN_HINT)
    lines = rep.summary.splitlines()
    assert lines[1:4] == ["`python3 main.py` printed only its usage (exit code 1): it does not run without arguments:",
                          "Usage: python main.py <table>", STDIN_HINT]


def test_the_report_names_the_data_file_an_empty_choice_came_from() -> None:
    """build_report hands the project's files to the crash explanation: the hangman's words.txt."""
    from tests.test_crashes import EMPTY_HANGMAN

    crash = RunResult(1, "", "Traceback (most recent call last):\n  File \"/work/app/main.py\", line 7, in main\n"
                             "    word = random.choice(word_list)\n"
                             "  File \"/usr/lib/python3.11/random.py\", line 373, in choice\n"
                             "IndexError: Cannot choose from an empty sequence\n", False, 0.1)
    payload = {"probe": {"entry": "main.py", "gui": None, "tests": []},
               "static": {"ok": True, "errors": [], "warnings": [], "missing": []}, "cases": []}
    rep = build_report(payload, run=crash, tests=None, program=EMPTY_HANGMAN, known={"main.py", "utils.py"})
    assert "Why: the sequence is empty, and the program reads it from words.txt" in rep.summary


def test_a_command_line_answered_by_waiting_for_typed_input_is_refused() -> None:
    """The 1.5B's primes tool, given ``python main.py 30``, printed "Enter a number: " and waited on input()."""
    from chatdev.sandbox.results import asks_instead, run_ok

    clean = {"ok": True, "errors": [], "warnings": [], "missing": []}
    waits = RunResult(None, "Enter a number: ", "", True, 5.0, args=("30",), waiting_input=True)
    assert asks_instead(waits) and not run_ok(waits)
    rep = report_for(clean, [], run=waits)
    assert rep.runs is False
    assert rep.run_reason == ("`python3 main.py 30` waited for typed input (it printed 'Enter a number:') "
                              "instead of using its arguments")
    assert ("Make `python3 main.py 30` do what the task asks with no typing: read the values from sys.argv "
            "(sys.argv[1:] is ['30']), not from input(), and end when done.") in rep.summary
    assert "len(sys.argv)" not in rep.summary
    # no arguments (a game reading moves), a board or menu shown first, busy rather than reading: not refusals
    assert run_ok(RunResult(None, "Guess a number: ", "", True, 5.0, waiting_input=True))
    assert run_ok(RunResult(None, " 1 | 2 | 3\n 4 | 5 | 6\nPlayer X: ", "", True, 5.0, args=("--size", "3"),
                            waiting_input=True))
    assert run_ok(RunResult(None, "", "", True, 5.0, args=("30",)))


def test_progress_says_what_got_worse() -> None:
    before = Progress(runs=True, static_errors=0, tests_passed=2, tests_failed=1)
    assert Progress(False, 0, 2, 1).worse_than(before) == "the program no longer runs"
    assert "static errors went from 0 to 2" in Progress(True, 2, 2, 1).worse_than(before)
    assert "passing tests went from 2 to 1" in Progress(True, 0, 1, 0).worse_than(before)
    assert Progress(True, 0, 3, 0).worse_than(before) == ""
    # a program that runs now, where it did not: never worse, whatever its tests did
    assert Progress(True, 3, 1, 2).worse_than(Progress(False, 0, 2, 1)) == ""
    assert "passing tests" in Progress(False, 0, 1, 2).worse_than(Progress(False, 0, 2, 1))


def test_a_repair_of_the_tests_alone_is_never_rolled_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The 1.5B Roman converter: the tester corrected a test, it then failed on the program, and the
    repair was rolled back for "passing tests went from 2 to 1", though the program had not changed."""
    def company(messages):
        from chatdev.models.base import current_call

        info = current_call()
        if info is not None and info.phase == "test_repair":
            return f"tests/test_main.py\n```python\n{TESTS}# repaired\n```"
        return good_reply(messages)

    def verify(root: Path, *, entry, timeout, tests, allow_install, args=(), expect=(), runs=None):
        files = {p.relative_to(root).as_posix(): p.read_text() for p in root.rglob("*.py") if ".chatdev" not in p.parts}
        repaired = "# repaired" in files.get("tests/test_main.py", "")
        failing = "tests/test_main.py:5: in t\nE   assert 1 == 2"
        cases = [case(name="test_step_moves_head", outcome="failed" if repaired else "passed",
                      text=failing if repaired else ""),
                 case(name="test_food_is_free", text=failing if repaired else
                      "tests/test_main.py:9: in test_food_is_free\nE   NameError: name 'grid' is not defined"),
                 case(name="test_other", text=failing)]
        payload = {"probe": {"entry": "main.py", "gui": None, "tests": ["tests/test_main.py"] if tests else []},
                   "static": {"ok": True, "errors": [], "warnings": [], "missing": []},
                   "cases": cases if tests else None}
        return build_report(payload, run=RunResult(0, "", "", False, 0.1),
                            tests=RunResult(1, "", "", False, 0.5) if tests else None, program=files)

    summary, recorder = checked_build(tmp_path, monkeypatch, company, verify)
    assert any(e.phase == "test_repair" and e.receiver == "Tester" for e in recorder.of(events.Message))
    assert not [e.text for e in recorder.of(events.Notice) if "rolled back" in e.text]
    assert "# repaired" in (Path(summary.project) / "tests" / "test_main.py").read_text()


def test_an_answer_that_turned_into_an_error_message_is_a_step_backwards() -> None:
    """The 1.5B calculator: a fix swapped eval for ast.literal_eval; `2 + 3 * 4` went from 14 to "Invalid syntax"."""
    from chatdev.sandbox.results import answer

    args = ("2 + 3 * 4",)
    said = [answer(RunResult(0, out, "", False, 0.1, args=args))
            for out in ("14\n", "\nInvalid syntax\n", "ERROR 3\nINFO 2\n")]
    assert said == ["14", "Invalid syntax", "ERROR 3"]
    assert [Progress(True, 0, 0, 0, said=line).refused for line in said] == [False, True, False]  # a log summary's ERROR
    assert Progress(True, 0, 0, 0).refused is None
    assert answer(RunResult(0, "14\n", "", False, 0.1)) == ""  # no arguments
    assert answer(RunResult(1, "Error: x\n", "", False, 0.1, args=args)) == ""  # the run failed: `runs` says so
    assert answer(RunResult(None, "14\n", "", True, 5.0, args=args)) == ""  # still running
    command = "python3 main.py '2 + 3 * 4'"
    before = Progress(True, 0, 0, 1, said="14", command=command)
    after = Progress(True, 0, 0, 1, said="Invalid syntax", command=command)
    assert after.worse_than(before) == f"`{command}` printed '14' before it and now prints 'Invalid syntax'"
    assert before.worse_than(after) == ""  # an error message that became an answer: better
    assert dataclasses.replace(after, command="python3 main.py 1").worse_than(before) == ""  # another command line
    assert Progress.from_dict(after.to_dict()) == after


def test_a_fix_that_turns_the_tasks_answer_into_an_error_is_rolled_back(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    good = "import sys\n\n\ndef calc(text):\n    return eval(text)\n\n\nprint(calc(sys.argv[1]))\n"
    broken = good.replace("eval(text)", "ast.literal_eval(text)").replace("import sys\n", "import ast\nimport sys\n")

    def company(messages):
        from chatdev.models.base import current_call

        info = current_call()
        if info is not None and info.phase == "coding":
            return f"main.py\n```python\n{good}```"
        if info is not None and info.phase == "test_writing":
            return "tests/test_main.py\n```python\nfrom main import calc\n\n\ndef test_calc():\n    assert calc('1') == 2\n```"
        if info is not None and info.phase == "test_fix":
            return f"main.py\n```python\n{broken}```"
        return good_reply(messages)

    def verify(root: Path, *, entry, timeout, tests, allow_install, args=(), expect=(), runs=None):
        files = {p.relative_to(root).as_posix(): p.read_text() for p in root.rglob("*.py") if ".chatdev" not in p.parts}
        said = "Invalid syntax\n" if "literal_eval" in files["main.py"] else "14\n"
        failing = [case(name="test_calc", text="tests/test_main.py:5: in test_calc\nE   assert 1 == 2")] if tests else []
        payload = {"probe": {"entry": "main.py", "gui": None, "tests": ["tests/test_main.py"] if tests else []},
                   "static": {"ok": True, "errors": [], "warnings": [], "missing": []},
                   "cases": failing if tests else None}
        return build_report(payload, run=RunResult(0, said, "", False, 0.1, args=("2 + 3 * 4",)),
                            tests=RunResult(1, "", "", False, 0.5) if tests else None, program=files)

    summary, recorder = checked_build(tmp_path, monkeypatch, company, verify,
                                      task='a calculator: `python main.py "2 + 3 * 4"`')
    rolled = [e.text for e in recorder.of(events.Notice) if "rolled back" in e.text]
    assert rolled and "printed '14' before it and now prints 'Invalid syntax'" in rolled[0]
    assert "literal_eval" not in (Path(summary.project) / "main.py").read_text()


# ----------------------------------------------------------------------------- plans and fixes


def test_a_plan_that_shadows_modules_is_refused_with_the_reason() -> None:
    bad = {"files": [{"path": "main.py", "purpose": "start"}, {"path": "tkinter.py", "purpose": "the window"}]}
    with pytest.raises(SchemaViolation, match="tkinter.py has the name of the module 'tkinter'"):
        plans.check_plan(bad, "")
    for path, purpose, why in (("pygame.py", "x", "module 'pygame'"), ("platform.py", "x", "module 'platform'"),
                               ("tests/test_main.py", "tests", "test file"),
                               ("numbers_lib.py", "the numpy library", "planned as a library")):
        with pytest.raises(SchemaViolation, match=why):
            plans.check_plan({"files": [{"path": path, "purpose": purpose}]}, "")
    good = {"summary": "s", "files": [{"path": "main.py", "purpose": "loop"}, {"path": "game.py", "purpose": "rules"}]}
    assert plans.check_plan(good, "") is good
    assert plans.check_plan({"approved": True, "issues": []}, "") == {"approved": True, "issues": []}


def test_a_fix_that_writes_a_file_nobody_planned_is_mapped_or_refused() -> None:
    known = {"main.py": "import board\n", "tests/test_main.py": "from main import x\n"}
    assert plans.map_fix_paths({"path/to/main.py": "x = 1\n"}, known, "") == {"main.py": "x = 1\n"}
    assert plans.map_fix_paths({"board.py": "B = 1\n"}, known, "") == {"board.py": "B = 1\n"}  # main imports it
    assert plans.map_fix_paths({"tests/test_more.py": "t\n"}, known, "") == {"tests/test_more.py": "t\n"}
    with pytest.raises(SchemaViolation, match="not a file of this project"):
        plans.map_fix_paths({"helpers/stuff.py": "x\n"}, known, "")
    # a data file the code names and nobody wrote (the hangman's words.txt) may be a fix's new file
    reads = {"main.py": "WORDS = open('words.txt').read().split()\n"}
    assert plans.map_fix_paths({"words.txt": "apple\n"}, reads, "") == {"words.txt": "apple\n"}
    with pytest.raises(SchemaViolation, match="not a file of this project"):
        plans.map_fix_paths({"notes.txt": "x\n"}, reads, "")


def test_import_repair_fills_a_tests_missing_names_from_the_program() -> None:
    sources = {"main.py": "SCREEN_WIDTH = 640\nSNAKE_SIZE: int = 10\n\ndef step():\n    pass\n",
               "tests/test_main.py": "def test_size():\n    assert SCREEN_WIDTH // SNAKE_SIZE == 64\n"}
    report = ("tests/test_main.py:2:12: undefined name 'SCREEN_WIDTH'\n"
              "tests/test_main.py:2:28: undefined name 'SNAKE_SIZE'")
    fixed = add_missing_imports(sources, report)
    assert fixed["tests/test_main.py"].startswith("from main import SCREEN_WIDTH\nfrom main import SNAKE_SIZE\n")


def test_a_class_imported_by_name_and_used_as_its_module_is_written_as_the_class(tmp_path: Path) -> None:
    """The 1.5B's digital clock (2026-12-07): `from datetime import datetime`, then
    `datetime.datetime.now()`, and the first tick died."""
    from chatdev.repair.imports import class_as_module

    clock = ("from datetime import datetime\n\n\ndef tick():\n    return datetime.datetime.now().strftime('%H:%M:%S')\n"
             "\n\nprint(len(tick()))\n")
    error = "AttributeError: type object 'datetime.datetime' has no attribute 'datetime'"
    fixed = class_as_module({"clock.py": clock}, "clock.py", error)
    assert fixed == {"clock.py": clock.replace("datetime.datetime.now()", "datetime.now()")}
    (tmp_path / "clock.py").write_text(fixed["clock.py"])
    done = subprocess.run([sys.executable, "clock.py"], cwd=tmp_path, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0 and done.stdout == "8\n", done.stderr
    # the module imported too, another attribute, another file: nothing changes
    assert class_as_module({"clock.py": "import datetime\n" + clock}, "clock.py", error) == {}
    other = "AttributeError: type object 'datetime.datetime' has no attribute 'date'"
    assert class_as_module({"clock.py": clock}, "clock.py", other) == {}
    assert class_as_module({"clock.py": clock}, "other.py", error) == {}


def test_import_repair_puts_a_pypi_name_right() -> None:
    sources = {"main.py": "import sys\nfrom pyyaml import load\nimport pillow\n\nprint(load, pillow, sys)\n"}
    report = "main.py:2: No module named 'pyyaml'\nmain.py:3: No module named 'pillow'"
    assert add_missing_imports(sources, report) == {
        "main.py": "import sys\nfrom yaml import load\nimport PIL as pillow\n\nprint(load, pillow, sys)\n"}


def test_the_image_catalogue_is_one_list() -> None:
    assert {"pygame", "numpy", "PIL", "tkinter", "yaml"} <= catalogue.image_modules()
    assert catalogue.pip_name("PIL") == "pillow" and catalogue.pip_name("cv2") == "opencv-python-headless"
    assert "pygame" in catalogue.describe() and "PIL (from pillow)" in catalogue.describe()
    assert catalogue.module_for_pip("PyYAML") == "yaml" and catalogue.module_for_pip("pygame") is None
    from chatdev.sandbox import image

    assert "xdotool" in image.packages() and "module=pygame" not in image.packages()


# ----------------------------------------------------------------------------- scenarios


def test_scenarios_load_and_judge(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("- name: converts\n  argv: ['10', km, m]\n  expect: '10000'\n- name: keys\n  keys: [Right]\n"
                    "  screen_changes: true\n  timeout: 4\n")
    conv, keys = scenarios.load_scenarios(path)
    assert conv.argv == ["10", "km", "m"] and conv.expect == ["10000"] and keys.keys == ["Right"]
    assert scenarios.judge(conv, {"exit_code": 0, "stdout": "= 10000 m\n", "stderr": ""}).passed
    assert "lacks '10000'" in scenarios.judge(conv, {"exit_code": 0, "stdout": "10 km\n", "stderr": ""}).reason
    crashed = scenarios.judge(conv, {"exit_code": 1, "stdout": "", "stderr": "Traceback (most recent call last):\n"
                                                                            "ValueError: bad"})
    assert not crashed.passed and "ValueError: bad" in crashed.reason
    assert not scenarios.judge(keys, {"timed_out": True, "exit_code": None, "changed": False}).passed
    assert scenarios.judge(keys, {"timed_out": True, "exit_code": None, "changed": True}).passed
    ended = scenarios.judge(keys, {"timed_out": False, "exit_code": 0, "duration": 0.9, "changed": None})
    assert ended.reason == "the program ended by itself after 0.9 s, before any key"
    assert scenarios.judge(keys, {"timed_out": True, "exit_code": None, "changed": None}).reason == (
        "no screen was captured")
    path.write_text("- name: piped\n  stdin: 'a b'\n  eof: true\n")
    assert scenarios.load_scenarios(path)[0].eof is True and conv.eof is False  # typed input stays open by default
    for bad in ("- argv: 3\n  bogus: 1\n", "{}\n", "- timeout: -1\n", "- timeout: .nan\n", "- eof: 1\n"):
        path.write_text(bad)
        with pytest.raises(Exception, match="s.yaml"):
            scenarios.load_scenarios(path)


# ----------------------------------------------------------------------------- the loops on the scripted model


def fake_verifier(rules, crash: str = "Traceback (most recent call last):\nboom"):
    """A verifier that judges the project's files with ``rules(files) -> (runs, failing tests)``;
    a program that does not run writes ``crash`` to stderr."""
    calls: list[dict[str, Any]] = []

    def verify(root: Path, *, entry, timeout, tests, allow_install, args=(), expect=(), runs=None):
        files = {p.relative_to(root).as_posix(): p.read_text() for p in root.rglob("*.py") if ".chatdev" not in p.parts}
        runs, failing = rules(files)
        cases = [case(outcome="failed" if n in failing else "passed", name=n,
                      text="tests/test_main.py:5: in t\nE   assert 1 == 2" if n in failing else "")
                 for n in ("test_step_moves_head", "test_food_is_free")] if tests else []
        payload = {"probe": {"entry": "main.py", "gui": None, "tests": ["tests/test_main.py"] if tests else []},
                   "static": {"ok": True, "errors": [], "warnings": [], "missing": []},
                   "cases": cases if tests else None}
        run = RunResult(0 if runs else 1, "", "" if runs else crash, False, 0.1)
        calls.append({"tests": tests, "runs": runs, "args": [list(a) for a in args], "expect": [s.expect for s in expect]})
        return build_report(payload, run=run, tests=RunResult(1 if failing else 0, "", "", False, 0.5) if tests
                            else None, sources={k: v for k, v in files.items() if k.startswith("tests/")})

    verify.calls = calls  # type: ignore[attr-defined]
    return verify


def sandboxed_build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fn, rules):
    verifier = fake_verifier(rules)
    summary, recorder = checked_build(tmp_path, monkeypatch, fn, verifier)
    return summary, recorder, verifier


def git_log(project: Path) -> list[str]:
    return subprocess.run(["git", "-C", str(project), "log", "--format=%an|%s"], capture_output=True, text=True,
                          check=True).stdout.splitlines()


def test_a_fix_that_makes_it_worse_is_rolled_back_and_the_program_still_runs(tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    def company(messages):
        text = messages[-1].content
        if "Fix the cause" in text:  # the programmer "fixes" the test by breaking the start
            return f"main.py\n```python\n{GAME.replace('import random', 'import random  # init removed')}```"
        return good_reply(messages)

    def rules(files):
        main = files.get("main.py", "")
        return "init removed" not in main, {"test_food_is_free"}

    summary, recorder, verifier = sandboxed_build(tmp_path, monkeypatch, company, rules)
    project = Path(summary.project)
    assert "init removed" not in (project / "main.py").read_text()  # what is delivered still runs
    log = git_log(project)
    assert any("Roll back the last fix: the program no longer runs" in line for line in log)
    assert any("[test_fix]" in line for line in log)  # the attempt stays in the history
    assert summary.runs is True and summary.tests_pass is False
    assert summary.status == "tests_fail" and summary.exit_code == 4
    notices = [e.text for e in recorder.of(events.Notice)]
    assert any("rolled back the last fix" in n for n in notices)
    # the next try was told what the last one broke
    fixes = [e for e in recorder.of(events.Message) if e.phase == "test_fix" and e.receiver == "Programmer"]
    assert any("was undone because the program no longer runs" in e.text for e in fixes[1:])


def test_a_fix_prompt_shows_the_program_before_the_failure_so_the_next_try_reuses_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """llama.cpp evaluates again only what follows the longest prefix a prompt shares with one it
    saw (``models.state_cache``). With the failure report before the program, every retry read
    the whole program again (on the 2-core AMD machine, 45 % of the 1.5B snake's model time was
    prompt evaluation); with the program first, a retry on a rolled-back (unchanged) program
    shares everything up to the report."""
    import os

    def company(messages):
        if "Fix the cause" in messages[-1].content:  # every fix breaks the start: each is rolled back
            return f"main.py\n```python\n{GAME.replace('import random', 'import random  # init removed')}```"
        return good_reply(messages)

    def rules(files):
        return "init removed" not in files.get("main.py", ""), {"test_food_is_free"}

    _, recorder, _ = sandboxed_build(tmp_path, monkeypatch, company, rules)
    fixes = [e.text for e in recorder.of(events.Message)
             if e.phase == "test_fix" and e.receiver == "Programmer" and "Fix the cause" in e.text]
    assert len(fixes) >= 2
    for text in fixes:
        assert text.index("main.py\n```python") < text.index("tests/test_main.py\n```python") \
            < text.index("The program failed in the sandbox")
    shared = os.path.commonprefix(fixes[:2])
    assert GAME.strip() in shared and TESTS.strip() in shared  # only the report after it is new
    reviews = [e.text for e in recorder.of(events.Message) if "Please review my code" in e.text]
    assert reviews and all(r.index("main.py\n```python") < r.index("Static check:") for r in reviews)


@pytest.mark.parametrize("name", ["code_review", "code_fix", "test_fix", "test_repair"])
def test_what_changes_from_try_to_try_comes_after_the_program(name: str) -> None:
    """The report, the findings and a manager's directive change between tries; the task and the
    program often do not (a fix rolled back, a cycle that changed nothing, then an escalation)."""
    from types import SimpleNamespace

    from chatdev.company import prompts
    from chatdev.company.config import load_company
    from chatdev.run import phases
    from chatdev.run.context import RunState

    company_ = load_company(None)
    state = RunState(task="a snake game", project="p", company="c", models={})
    state.directive = "DIRECTIVE"
    state.outputs.update({"test_report": "REPORT", "test_defects": "DEFECTS", "static": "STATIC",
                          "review": {"approved": False, "issues": ["FINDING"]}})
    workspace = SimpleNamespace(files=lambda: ["main.py"], read=lambda path: "x = 1\n")
    ctx = SimpleNamespace(company=company_, state=state, workspace=workspace, images=[])
    given = phases.template_context(ctx, cycle=1, code="main.py\n```python\nCODE\n```",  # type: ignore[arg-type]
                                     focus=["main.py"])
    text = prompts.render(company_.phases[name].prompt, given, where=name)
    program = text.index("CODE")
    assert text.index("a snake game") < program
    for changing in ("REPORT", "DEFECTS", "STATIC", "FINDING", "DIRECTIVE"):
        assert text.find(changing) in (-1, *range(program, len(text))), (changing, text)
    assert any(c in text for c in ("REPORT", "DEFECTS", "FINDING", "STATIC"))


def test_the_fix_of_an_escalated_extra_cycle_is_checked_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The 1.5B Tkinter calculator (2026-12-07): the loop checked after cycle 3's fix, the manager
    gave a fourth cycle, and its fix (``# ... (other code remains the same)``) was delivered
    unchecked as "runs". Every fix gets a check, the extra cycle's too."""
    from chatdev.models.base import current_call

    fixes, checks = {"n": 0}, {"n": 0}

    def company(messages):
        info = current_call()
        if info is not None and info.phase == "test_fix" and info.turn == "answer":
            fixes["n"] += 1
            return f"main.py\n```python\n{GAME}# fix {fixes['n']}\n```"
        if info is not None and info.turn == "escalate":  # the manager grants one more cycle
            return json.dumps({"decision": "retry", "directive": "make step move the head"})
        return good_reply(messages)

    def verify(root: Path, *, entry, timeout, tests, allow_install, args=(), expect=(), runs=None):
        main = (root / "main.py").read_text()
        n = main.count("# fix ") and int(main.rsplit("# fix ", 1)[1].split()[0])
        runs = n < 4  # the fourth fix breaks the start
        checks["n"] += 1  # a new failure every check: never the same twice, never disputed
        cases = [case(name="test_step_moves_head", text=f"tests/test_main.py:5: in t\nE   assert {checks['n']} == 99")]
        payload = {"probe": {"entry": "main.py", "gui": None, "tests": ["tests/test_main.py"] if tests else []},
                   "static": {"ok": True, "errors": [], "warnings": [], "missing": []}, "cases": cases if tests else None}
        return build_report(payload, run=RunResult(0 if runs else 1, "", "" if runs else "Traceback (most recent "
                                                   "call last):\nboom", False, 0.1),
                            tests=RunResult(1, "", "", False, 0.5) if tests else None)

    monkeypatch.setattr(engine, "_verifier", verify)
    monkeypatch.setattr(engine, "_sandbox_ready", lambda: None)
    recorder = events.Recorder()
    summary = engine.build(engine.BuildOptions(task="a snake game", out=tmp_path), sink=recorder,
                           models=company_models(scripted(company)))
    assert fixes["n"] == 4  # three cycles, and the manager's extra one
    ended = [(e.phase, e.cycle) for e in recorder.of(events.PhaseEnded) if e.phase in ("test_run", "test_fix")]
    assert ended[-1][0] == "test_run"  # the last fix was checked
    main = (Path(summary.project) / "main.py").read_text()
    assert "# fix 4" not in main and "# fix 3" in main  # it broke the start: rolled back
    assert any("Roll back the last fix: the program no longer runs" in line for line in git_log(Path(summary.project)))
    assert summary.runs is True and summary.status == "tests_fail"


def test_a_fix_that_changes_nothing_ends_the_loop_after_one_call(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    summary, recorder, verifier = sandboxed_build(tmp_path, monkeypatch, good_reply,
                                                  lambda files: (True, {"test_food_is_free"}))
    fixes = [e for e in recorder.of(events.PhaseStarted) if e.phase == "test_fix"]
    assert len(fixes) == 1  # the fix rewrote main.py as it was: no second cycle
    loop = next(p for p in summary.phases if p["name"] == "test_loop")
    assert loop["status"] == "stalled" and "changed nothing" in loop["reason"]
    test_fix_calls = [e for e in recorder.of(events.Message)
                      if e.phase == "test_fix" and e.sender == "Programmer"]
    assert len(test_fix_calls) == 1  # a cycle that changes nothing costs one model call


def test_a_working_program_ends_the_test_loop_at_once_and_says_so(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    summary, recorder, verifier = sandboxed_build(tmp_path, monkeypatch, good_reply, lambda files: (True, set()))
    assert summary.status == "passed" and summary.exit_code == 0 and summary.runs and summary.tests_pass
    assert not [e for e in recorder.of(events.PhaseStarted) if e.phase in ("test_fix", "test_repair")]
    # the review loop ran the program too (static check + a short run, no tests)
    assert verifier.calls[0] == {"tests": False, "runs": True, "args": [[]], "expect": []}
    state = json.loads((Path(summary.project) / ".chatdev/state.json").read_text())
    assert state["tests"]["runs"] is True and state["tests"]["counts"]["passed"] == 2


def test_the_tester_can_write_acceptance_scenarios(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    company = tmp_path / "company"
    company.mkdir()
    shipped = (Path(__file__).resolve().parent.parent / "company.yaml").read_text()
    (company / "company.yaml").write_text(shipped.replace("  - test_writing\n", "  - test_writing\n"
                                                                                 "  - scenario_writing\n", 1))

    def tester(messages):
        if "acceptance scenarios" in messages[-1].content:
            return json.dumps({"scenarios": [{"name": "prints the snake", "expect": ["snake at"]}]})
        return good_reply(messages)

    monkeypatch.setattr(engine, "_verifier", fake_verifier(lambda files: (True, set())))
    monkeypatch.setattr(engine, "_sandbox_ready", lambda: None)
    summary = engine.build(engine.BuildOptions(task="a snake game", out=tmp_path, company_dir=company),
                           sink=events.Recorder(), models=company_models(scripted(tester)))
    written = scenarios.load_scenarios(Path(summary.project) / scenarios.PROJECT_FILE)
    assert written == [scenarios.Scenario(name="prints the snake", expect=["snake at"])]


def test_scenario_results_count_like_tests() -> None:
    from chatdev.sandbox.results import with_scenarios

    rep = report_for({"ok": True, "errors": [], "warnings": [], "missing": []},
                     [case(outcome="passed", name="test_same_draw")])
    merged = with_scenarios(rep, [scenarios.ScenarioResult("converts", False, "the output lacks '10000'")])
    assert merged.tests_pass is False and not merged.passed and merged.summary.startswith("FAILED.")
    assert merged.counts()["scenarios_failed"] == 1 and merged.counts()["passed"] == 1
    assert "tests/scenarios.yaml::converts: the output lacks '10000'" in merged.summary


def test_an_echoed_outline_is_never_a_file_and_one_asked_file_is_all_that_is_written() -> None:
    from chatdev.replies.parsing import parse_files

    # seen on the 0.5B: the real file unnamed, then the prompt's outlines of two other files
    reply = ("```python\nclass Game:\n    pass\n```\n\nfood.py (outline; the whole file is too long to show)\n"
             "```\n  23| class Food:\n  24|     def __init__(self, x, y):\n```\n\nsnake.py\n```python\n"
             "   9| class Snake:\n  10|     def move(self):\n```")
    assert parse_files(reply, expected=["game.py"]).files == {"game.py": "class Game:\n    pass\n"}
    both = "main.py\n```python\nprint(1)\n```\nfood.py\n```python\nFOOD = 1\n```"
    assert parse_files(both, expected=["main.py"]).files == {"main.py": "print(1)\n"}
    assert set(parse_files(both).files) == {"main.py", "food.py"}  # a fix may change several files
    table = "t.py\n```python\nrows = ['a | b', 'c | d']\nprint(1 | 2)\n```"
    assert parse_files(table).files["t.py"] == "rows = ['a | b', 'c | d']\nprint(1 | 2)\n"


def test_quarantined_tests_are_what_the_record_says(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def tester(messages):
        if "pytest tests" in messages[-1].content:
            return "tests/test_main.py\n```python\ndef test_ok(:\n    pass\n```"
        return good_reply(messages)

    def verify(root: Path, *, entry, timeout, tests, allow_install, args=(), expect=(), runs=None):
        test_file = root / "tests/test_main.py"
        cases = [case(outcome="error", name="", text="E   SyntaxError: invalid syntax")] if (
            tests and test_file.exists()) else []
        payload = {"probe": {"entry": "main.py", "gui": None, "tests": ["tests/test_main.py"] if cases else []},
                   "static": {"ok": True, "errors": [], "warnings": [], "missing": []},
                   "cases": cases if tests and cases else None}
        return build_report(payload, run=RunResult(0, "", "", False, 0.1),
                            tests=RunResult(2, "", "", False, 0.5) if cases else None,
                            sources={"tests/test_main.py": test_file.read_text()} if test_file.exists() else {})

    monkeypatch.setattr(engine, "_verifier", verify)
    monkeypatch.setattr(engine, "_sandbox_ready", lambda: None)
    summary = engine.build(engine.BuildOptions(task="a snake game", out=tmp_path), sink=events.Recorder(),
                           models=company_models(scripted(tester)))
    project = Path(summary.project)
    assert (project / "tests/test_main.py.quarantined").read_text().startswith("# chatdev quarantine: ")
    assert not (project / "tests/test_main.py").exists()
    assert summary.status == "passed" and summary.tests["counts"]["quarantined"] == 1
    assert summary.tests["quarantined"] == ["tests/test_main.py"] and "quarantined" in summary.tests["summary"]
    # "passed" with no test left that counts: the delivery says so, never "tests pass"
    assert summary.tests_pass is None
    last = subprocess.run(["git", "log", "-1", "--format=%s"], cwd=project, capture_output=True, text=True).stdout
    assert last.strip() == "[deliver] Deliver (runs, no test that counts)"


def test_import_repair_in_the_chain_adds_what_the_program_forgot(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """The programmer forgets ``import random``: the check's static errors name it, the chain adds it
    (no model call), the check runs again, and the repaired file is committed."""
    forgetful = GAME.replace("import random\n", "")

    def company(messages):
        if "Write the complete file main.py" in messages[-1].content:
            return f"main.py\n```python\n{forgetful}```"
        return good_reply(messages)

    calls: list[bool] = []

    def verify(root: Path, *, entry, timeout, tests, allow_install, args=(), expect=(), runs=None):
        main = (root / "main.py").read_text()
        ok = "import random" in main
        calls.append(ok)
        static = {"ok": ok, "errors": [] if ok else ["main.py:6:12: undefined name 'random'"], "warnings": [],
                  "missing": []}
        payload = {"probe": {"entry": "main.py", "gui": None, "tests": []}, "static": static, "cases": None}
        run = RunResult(0 if ok else 1, "", "" if ok else "Traceback (most recent call last):\nNameError", False, 0.1)
        return build_report(payload, run=run, tests=None, sources={})

    summary, recorder = checked_build(tmp_path, monkeypatch, company, verify)
    project = Path(summary.project)
    assert (project / "main.py").read_text().startswith("import random")
    assert calls[:2] == [False, True]  # the first check found it, the second ran the repaired file
    assert any("added missing imports to main.py" in e.text for e in recorder.of(events.Notice))
    fixes = [e for e in recorder.of(events.PhaseStarted) if e.phase == "code_fix"]
    assert not fixes  # no model call was spent on it
    log = git_log(project)
    assert any("[static_check]" in line for line in log)


def test_a_plan_naming_one_file_three_times_writes_it_once_with_every_purpose() -> None:
    plan = {"summary": "converter", "entry": "main.py",
            "files": [{"path": "main.py", "purpose": "length"}, {"path": "main.py", "purpose": "weight"},
                      {"path": "units.py", "purpose": "tables"}, {"path": "main.py", "purpose": "temperature"}]}
    got = plans.check_plan(plan, "")
    assert got["files"] == [{"path": "units.py", "purpose": "tables"},  # the entry is written last
                            {"path": "main.py", "purpose": "length; weight; temperature"}]
    sound = {"summary": "s", "entry": "main.py", "files": [{"path": "main.py", "purpose": "all"}]}
    assert plans.check_plan(sound, "") is sound


def test_every_check_runs_the_program_with_the_tasks_examples_else_the_designs(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from chatdev.models.base import current_call

    def cto(messages):
        call = current_call()
        if call is not None and call.phase == "design":
            return json.dumps({"summary": "Primes.", "entry": "main.py", "run": "python main.py 20",
                               "files": [{"path": "main.py", "purpose": "prints the primes"}]})
        return good_reply(messages)

    verifier = fake_verifier(lambda files: (True, set()))
    monkeypatch.setattr(engine, "_verifier", verifier)
    monkeypatch.setattr(engine, "_sandbox_ready", lambda: None)
    summary = engine.build(engine.BuildOptions(task="primes up to its argument", out=tmp_path / "a"),
                           sink=events.Recorder(), models=company_models(scripted(cto)))
    assert verifier.calls and all(c["args"] == [["20"]] for c in verifier.calls)
    assert "Run: `python main.py 20`" in (Path(summary.project) / "docs" / "design.md").read_text()

    verifier.calls.clear()
    engine.build(engine.BuildOptions(task="a converter used as `python main.py 10 km m`", out=tmp_path / "b"),
                 sink=events.Recorder(), models=company_models(scripted(cto)))
    assert verifier.calls and all(c["args"] == [["10", "km", "m"]] for c in verifier.calls)
    # the task's command line prints nothing it names: what checks the tests only asks that it end
    assert all(c["expect"] in ([], [[]]) for c in verifier.calls) and [[]] in [c["expect"] for c in verifier.calls]

    verifier.calls.clear()  # what the task says a command prints goes to every check that runs the tests
    engine.build(engine.BuildOptions(task="roman numerals: `python main.py 1994` prints MCMXCIV", out=tmp_path / "c"),
                 sink=events.Recorder(), models=company_models(scripted(cto)))
    assert [c["expect"] for c in verifier.calls if c["tests"]] and \
        all(c["expect"] == [["MCMXCIV"]] for c in verifier.calls if c["tests"])


def test_a_crash_tells_the_fixer_the_file_and_line_to_change(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    crash = ('Traceback (most recent call last):\n  File "/work/app/main.py", line 40, in <module>\n    main()\n'
             '  File "/work/app/main.py", line 12, in step\n    return head / 0\n           ~~~~~^~~\n'
             'ZeroDivisionError: division by zero\n')
    verifier = fake_verifier(lambda files: ("# fixed" in files["main.py"], set()), crash=crash)
    monkeypatch.setattr(engine, "_verifier", verifier)
    monkeypatch.setattr(engine, "_sandbox_ready", lambda: None)
    recorder = events.Recorder()
    engine.build(engine.BuildOptions(task="a snake game", out=tmp_path), sink=recorder,
                 models=company_models(scripted(good_reply)))
    asks = [e.text for e in recorder.of(events.Message) if e.phase in ("code_fix", "test_fix") and e.receiver == "Programmer"]
    assert asks, "the program crashed: a fix was asked"
    assert ("The program crashes at main.py line 12, in step: `return head / 0` "
            "(ZeroDivisionError: division by zero). Change main.py there first.") in asks[0]


def test_a_failing_test_tells_the_fixer_the_program_function_it_calls(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The report names the test file and main.py's run line; the fix belongs in what the test calls."""
    _, recorder, _ = sandboxed_build(tmp_path, monkeypatch, good_reply,
                                     lambda files: (True, {"test_step_moves_head"}))
    asks = [e.text for e in recorder.of(events.Message) if e.phase == "test_fix" and e.receiver == "Programmer"]
    assert asks, "a test failed on its assertion: a fix was asked"
    assert ("The failing tests call step (main.py line 10): look there first, and change the program, "
            "not the tests.") in asks[0]
    assert "The failure points at" not in asks[0]


def test_a_crash_on_the_runs_argument_sends_the_fixer_where_the_argument_is_read(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The 1.5B Roman converter: the crash is in the table lookup, the cause where main reads sys.argv."""
    program = ('import sys\nVALUES = {"I": 1, "V": 5}\n\n\ndef to_int(s):\n    return sum(VALUES[c] for c in s)\n'
               '\n\ndef main():\n    numeral = sys.argv[1]\n    print(to_int(numeral))\n\n\nmain()\n')
    crash = ('Traceback (most recent call last):\n  File "/work/app/main.py", line 11, in main\n    print(to_int(numeral))\n'
             '  File "/work/app/main.py", line 6, in <genexpr>\n    return sum(VALUES[c] for c in s)\n'
             "KeyError: '1'\n")

    def company(messages):
        if "Write the complete file main.py" in messages[-1].content:
            return f"main.py\n```python\n{program}```"
        return good_reply(messages)

    def verify(root: Path, *, entry, timeout, tests, allow_install, args=(), expect=(), runs=None):
        files = {p.relative_to(root).as_posix(): p.read_text() for p in root.rglob("*.py") if ".chatdev" not in p.parts}
        payload = {"probe": {"entry": "main.py", "gui": None, "tests": []},
                   "static": {"ok": True, "errors": [], "warnings": [], "missing": []}, "cases": None}
        return build_report(payload, run=RunResult(1, "", crash, False, 0.1, args=("1994",)), tests=None,
                            program=files)

    monkeypatch.setattr(engine, "_verifier", verify)
    monkeypatch.setattr(engine, "_sandbox_ready", lambda: None)
    recorder = events.Recorder()
    engine.build(engine.BuildOptions(task="roman numerals: `python main.py 1994` prints MCMXCIV", out=tmp_path),
                 sink=recorder, models=company_models(scripted(company)))
    asks = [e.text for e in recorder.of(events.Message) if e.phase in ("code_fix", "test_fix") and e.receiver == "Programmer"]
    assert asks, "the program crashed: a fix was asked"
    assert "Why: '1' is part of the argument `1994` this run was given: main.py line 10 reads it" in asks[0]
    assert ("The program crashes at main.py line 6, in <genexpr>: `return sum(VALUES[c] for c in s)` (KeyError: '1'), "
            "on an argument read at main.py line 10: `numeral = sys.argv[1]`. Change main.py there first.") in asks[0]


def test_the_crash_site_is_the_innermost_project_frame() -> None:
    from chatdev.sandbox.results import CrashSite, crash_site

    text = ('Traceback (most recent call last):\n  File "/work/app/main.py", line 9, in <module>\n    run()\n'
            '  File "/work/app/game/board.py", line 3, in run\n    pygame.draw()\n'
            '  File "/usr/lib/python3/dist-packages/pygame/x.py", line 77, in draw\n    raise error("font")\n'
            'pygame.error: font not initialized\n')
    site = crash_site(text, ["main.py", "game/board.py"])
    assert site == CrashSite("game/board.py", 3, "run", "pygame.draw()", "pygame.error: font not initialized")
    assert str(site) == "game/board.py line 3, in run: `pygame.draw()` (pygame.error: font not initialized)"
    top = crash_site('  File "/work/app/main.py", line 2, in <module>\n    import nope\nModuleNotFoundError: no', ["main.py"])
    assert str(top) == "main.py line 2: `import nope` (ModuleNotFoundError: no)"
    assert crash_site("no traceback here", ["main.py"]) is None
    assert crash_site(text, ["other.py"]) is None  # only the project's own files


def test_the_carets_name_which_value_lacked_the_attribute() -> None:
    """The 0.5B's snake (2026-12-06): `self.x == other.x` with `other` a list; read from the code
    alone, the crash's Why line blamed `self`."""
    from chatdev.checks import crashes
    from chatdev.sandbox.results import crash_site

    text = ('Traceback (most recent call last):\n  File "/work/app/main.py", line 4, in <module>\n'
            '    snake.hits(snake.body)\n'
            '  File "/work/app/snake.py", line 7, in hits\n'
            '    if self.x == other.x and self.y == other.y:\n'
            '                 ^^^^^^^\n'
            "AttributeError: 'list' object has no attribute 'x'\n")
    site = crash_site(text, ["main.py", "snake.py"])
    assert site is not None and site.code == "if self.x == other.x and self.y == other.y:"
    assert site.marked == "other.x"
    snake = ("class Snake:\n    def __init__(self):\n        self.x = 0\n        self.y = 0\n        self.body = [[0, 0]]\n\n"
             "    def hits(self, other):\n        if self.x == other.x and self.y == other.y:\n            return True\n")
    why = crashes.explain(site.path, site.line, site.marked, site.error, {"snake.py": snake})
    assert why and why[0].startswith("Why: `other` is a list here, and a list has no `x`.")
    plain = text.replace("                 ^^^^^^^\n", "")
    assert crash_site(plain, ["snake.py"]).marked == ""  # no carets (Python before 3.11): the code alone


def usage_build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, task: str, run_for, line: str):
    """A build whose verifier runs the program as ``run_for(args) -> RunResult`` (no tests) and
    whose roles answer the usage question with ``line``. Returns (summary, recorder, the
    argument lists of each check, the usage questions asked)."""
    from chatdev.models.base import current_call

    calls: list[list[list[str]]] = []

    def verify(root: Path, *, entry, timeout, tests, allow_install, args=(), expect=(), runs=None):
        calls.append([list(a) for a in args])
        run = run_for(tuple(args[0]) if args else ())
        payload = {"probe": {"entry": "main.py", "gui": None, "tests": []},
                   "static": {"ok": True, "errors": [], "warnings": [], "missing": []}, "cases": None}
        return build_report(payload, run=run, tests=None)

    asked: list[str] = []

    def company(messages):
        call = current_call()
        if call is not None and call.turn == "usage":
            asked.append(messages[-1].content)
            return json.dumps({"run": line})
        return good_reply(messages)

    monkeypatch.setattr(engine, "_verifier", verify)
    monkeypatch.setattr(engine, "_sandbox_ready", lambda: None)
    recorder = events.Recorder()
    summary = engine.build(engine.BuildOptions(task=task, out=tmp_path), sink=recorder,
                           models=company_models(scripted(company)))
    return summary, recorder, calls, asked


def test_a_tool_that_refuses_a_bare_run_is_tried_with_the_line_its_tester_writes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from chatdev.checks import examples

    def run_for(given):
        return (RunResult(0, "2 3 5 7 11 13 17 19\n", "", False, 0.1, args=given) if given == ("20",) else
                RunResult(1, "Usage: python main.py <limit>\n", "", False, 0.1, args=given))

    summary, _, calls, asked = usage_build(tmp_path, monkeypatch, "primes up to its argument", run_for,
                                           "python main.py 20")
    assert summary.runs is True
    assert len(asked) == 1 and "Usage: python main.py <limit>" in asked[0]  # asked once, shown the usage
    assert calls[0] == [[]] and calls[1] == [["20"]]  # the bare run, then the line it wrote
    assert all(c == [["20"]] for c in calls[2:])  # every later check remembers it
    state = json.loads((Path(summary.project) / ".chatdev/state.json").read_text())
    assert state["outputs"][examples.TRIED] == {"run": "python main.py 20", "usage": "Usage: python main.py <limit>"}


def test_a_command_line_tool_whose_dispatch_loops_forever_is_run_once(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The 1.5B's todo list (2026-12-07): its ``sys.argv`` dispatch in ``while True:``."""
    from chatdev.models.base import current_call

    looping = ("import sys\n\n\ndef main():\n    while True:\n        if sys.argv[1] == 'add':\n"
               "            print('added', sys.argv[2])\n\n\nif __name__ == '__main__':\n    main()\n")

    def company(messages):
        call = current_call()
        if call is not None and call.phase in ("coding", "code_fix", "test_fix"):
            return f"main.py\n```python\n{looping}```"
        return good_reply(messages)

    def verify(root: Path, *, entry, timeout, tests, allow_install, args=(), expect=(), runs=None):
        endless = "while True" in (root / "main.py").read_text()
        run = (RunResult(None, "added buy milk\n" * 3, "", True, timeout, args=tuple(args[0])) if endless else
               RunResult(0, "added buy milk\n", "", False, 0.1, args=tuple(args[0])))
        payload = {"probe": {"entry": "main.py", "gui": None, "tests": []},
                   "static": {"ok": True, "errors": [], "warnings": [], "missing": []}, "cases": None}
        return build_report(payload, run=run, tests=None)

    monkeypatch.setattr(engine, "_verifier", verify)
    monkeypatch.setattr(engine, "_sandbox_ready", lambda: None)
    recorder = events.Recorder()
    summary = engine.build(engine.BuildOptions(task="a command-line todo list with the commands `add TEXT` and "
                                                    "`list`", out=tmp_path), sink=recorder,
                           models=company_models(scripted(company)))
    main = (Path(summary.project) / "main.py").read_text()
    assert "while True" not in main and "    if sys.argv[1] == 'add':\n        print('added'" in main
    assert any("dispatch ran in an endless loop; it runs once now" in n.text for n in recorder.of(events.Notice))
    assert summary.runs is True


def test_refused_is_a_usage_line_without_a_traceback() -> None:
    from chatdev.checks import examples

    assert examples.refused(RunResult(1, "Usage: python main.py <limit>\n", "", False, 0.1)) == \
        "Usage: python main.py <limit>"
    argparse = "usage: main.py [-h] n\nmain.py: error: the following arguments are required: n"
    assert examples.refused(RunResult(2, "", argparse, False, 0.1)) == argparse
    assert examples.refused(RunResult(0, "usage: ...", "", False, 0.1)) == ""  # it ran
    assert examples.refused(RunResult(None, "usage", "", True, 5.0)) == ""  # still running: it runs
    assert examples.refused(RunResult(1, "", "Traceback (most recent call last):\n usage", False, 0.1)) == ""
    assert examples.refused(RunResult(1, "no such file: data.csv", "", False, 0.1)) == ""  # not a usage line
    assert examples.refused(None) == ""
    assert examples.for_run("t", {"run": "python main.py 5"}, {"run": "python main.py 20"}) == [["20"]]
    assert examples.for_run("use `python main.py 7`", None, {"run": "python main.py 20"}) == [["7"]]


def test_the_same_failure_is_the_same_whatever_its_timings_and_addresses() -> None:
    from chatdev.run.chain import _signature

    first = ("`python3 main.py` was still running after 15 s\nE   assert 0 == (800 - 10)\n"
             "E    +  where 0 = <ball.Ball object at 0x7f6ca5c197d0>.x (0.31s)")
    again = first.replace("0x7f6ca5c197d0", "0x7f1e2fd38f50").replace("0.31s", "0.29s")
    assert _signature(first) == _signature(again)
    assert _signature(first) != _signature(first.replace("800 - 10", "600 - 10"))


# ----------------------------------------------------------------------------- disputed tests

WRONG_EXPECTATION = '''from main import convert


def test_convert():
    assert convert(10) == 50.0
'''


def own_failure(name: str = "test_convert", got: str = "-12.2", file: str = "tests/test_main.py") -> triage.TestCase:
    return triage.TestCase(id=f"{file}::{name}", file=file, name=name, outcome="failed",
                           message=f"AssertionError: assert {got} == 50.0",
                           text=f"{file}:5: in {name}\n    assert convert(10) == 50.0\nE   AssertionError: assert "
                                f"{got} == 50.0\nE    +  where {got} = convert(10)")


def test_a_test_the_programmer_was_told_of_that_fails_word_for_word_again_is_disputed_once() -> None:
    from chatdev.checks import disputes

    sources = {"tests/test_main.py": WRONG_EXPECTATION}
    first, record = disputes.mark([own_failure()], disputes.Record(), sources=sources, runs=True)
    assert not first[0].disputed and record.seen  # the first failure goes to the programmer
    same, _ = disputes.mark([own_failure()], record, sources=sources, runs=True)
    assert not same[0].disputed  # the programmer was not sent it (record.asked is empty)
    record.asked = [own_failure().id]
    again, after = disputes.mark([own_failure()], record, sources=sources, runs=True)
    assert ("still fails the same way: `assert convert(10) == 50.0` (AssertionError: assert -12.2 == 50.0"
            in again[0].disputed)
    assert after.sent == ["tests/test_main.py::test_convert"]
    after.asked = [own_failure().id]
    kept, _ = disputes.mark([own_failure()], after, sources=sources, runs=True)
    assert not kept[0].disputed  # the tester kept it: a program failure from now on
    assert disputes.upheld(kept, after, sources=sources) == ["tests/test_main.py::test_convert"]
    changed = {"tests/test_main.py": WRONG_EXPECTATION.replace("50.0", "-12.2")}
    assert disputes.upheld(kept, after, sources=changed) == []  # the tester changed it
    moved, _ = disputes.mark([own_failure(got="-11.0")], record, sources=sources, runs=True)
    assert not moved[0].disputed  # the fix moved the result: the programmer is on it
    crashed, _ = disputes.mark([own_failure()], record, sources=sources, runs=False)
    assert not crashed[0].disputed  # while the program does not run, the fix was about its run
    inside = dataclasses.replace(own_failure(), text="main.py:3: in convert\nE   AssertionError: bad unit")
    deep, _ = disputes.mark([inside], disputes.Record(seen={inside.id: disputes.fingerprint(inside, WRONG_EXPECTATION)},
                                                      asked=[inside.id]), sources=sources, runs=True)
    assert not deep[0].disputed  # raised in the program, not the test's own assertion
    assert disputes.Record.from_value({"seen": {"x": ["old", "format"]}, "sent": ["y"]}) == disputes.Record(sent=["y"])


def test_a_disputed_test_still_counts_and_leaves_the_programmer_with_nothing_to_do() -> None:
    from chatdev.sandbox.results import defects_text, program_failures, with_disputes

    report = report_for({"ok": True, "errors": [], "warnings": [], "missing": []},
                        [case(name="test_convert", text=own_failure().text, message=own_failure().message)],
                        run=RunResult(0, "", "", False, 0.1))
    assert report.runs and report.tests_pass is False and "test_convert" in program_failures(report)
    marked = [dataclasses.replace(c, disputed="it still fails the same way") for c in report.cases]
    disputed = with_disputes(report, marked)
    assert disputed.tests_pass is False and not disputed.passed  # it counts until it passes
    assert "went to the tester to check its expected values" in disputed.summary
    assert "E   AssertionError" not in disputed.summary
    assert program_failures(disputed) == ""  # test_fix has nothing to do
    assert defects_text(disputed) == "- tests/test_main.py::test_convert: it still fails the same way"


def test_a_test_that_calls_an_input_loop_is_a_defect() -> None:
    got = triage.triage([case(text="tests/test_main.py:8: in test_x\n    run_game()\nguessing_game.py:13: in run_game\n"
                                   "    guess = int(input('Guess: '))\nE   OSError: pytest: reading from stdin while "
                                   "output is captured!  Consider using `-s`.")], {"tests/test_main.py": TEST_SRC})
    assert "waits for typed input" in str(got[0].defect)


WRONG_TEST = TESTS.replace("(2, 1)", "(9, 9)")  # test_step_moves_head expects the wrong cell


def wrong_test_company(*, counted_fixes: dict | None = None, tester_keeps: bool = False, retry: bool = False):
    """The cooperative company whose tester writes ``WRONG_TEST``: ``counted_fixes`` (a counter)
    makes each test_fix change main.py (else it sends main.py as it was), ``tester_keeps`` makes
    test_repair send the wrong test again (else the right one), ``retry`` makes the manager grant
    an escalation's extra cycle."""
    from chatdev.models.base import current_call

    def company(messages):
        info = current_call()
        phase = info.phase if info is not None else ""
        if phase == "test_writing" or (phase == "test_repair" and tester_keeps):
            return f"tests/test_main.py\n```python\n{WRONG_TEST}```"
        if phase == "test_fix" and counted_fixes is not None:
            counted_fixes["n"] = counted_fixes.get("n", 0) + 1
            return f"main.py\n```python\n{GAME}# fix {counted_fixes['n']}\n```"
        if retry and info is not None and info.turn == "escalate":
            return json.dumps({"decision": "retry", "directive": "make step move the head"})
        return good_reply(messages)

    return company


def wrong_test_fails(files: dict[str, str]) -> tuple[bool, set[str]]:
    """The program runs; test_step_moves_head fails while the test file is ``WRONG_TEST``'s."""
    return True, {"test_step_moves_head"} if "(9, 9)" in files.get("tests/test_main.py", "") else set()


def test_the_tester_is_asked_about_a_test_the_fix_could_not_move(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """The converter's test expected 10 °F = 50 °C: two fix cycles could not move it. The second
    run sends it to the tester, test_fix is not asked again, and the tester's repair passes."""
    summary, recorder, _ = sandboxed_build(tmp_path, monkeypatch, wrong_test_company(counted_fixes={}),
                                           wrong_test_fails)
    ran = [(e.phase, e.cycle) for e in recorder.of(events.PhaseEnded)
           if e.phase in ("test_fix", "test_repair") and e.status != "skipped"]
    assert ran == [("test_fix", 1), ("test_repair", 2)]  # cycle 2: the tester alone
    asked = next(e.text for e in recorder.of(events.Message) if e.phase == "test_repair" and e.receiver == "Tester")
    assert "test_step_moves_head: the programmer was told of this failure and it still fails the same way" in asked
    assert summary.runs is True and summary.tests_pass is True and summary.status == "passed"
    assert any("to the tester to check" in e.text for e in recorder.of(events.Notice))


def test_fixes_that_go_back_to_a_failure_seen_before_end_the_loop(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """The 1.5B snake's fixes swapped `Snake()` and `Food()` and back: three cycles of 130 s each."""
    from chatdev.models.base import current_call

    fixes = {"n": 0}

    def company(messages):
        info = current_call()
        if info is not None and info.phase == "test_fix" and info.turn == "answer":
            fixes["n"] += 1
            swap = "# B\n" if fixes["n"] % 2 else "# A\n"
            return f"main.py\n```python\n{GAME}{swap}```"
        return good_reply(messages)

    def rules(files):
        return True, {"test_step_moves_head"} if "# B" in files.get("main.py", "") else {"test_food_is_free"}

    summary, recorder, _ = sandboxed_build(tmp_path, monkeypatch, company, rules)
    loop = next(p for p in summary.phases if p["name"] == "test_loop")
    assert loop["status"] == "stalled" and loop["reason"] == "the same failure came back"
    runs = [e.cycle for e in recorder.of(events.PhaseEnded) if e.phase == "test_run"]
    assert fixes["n"] == 2 and runs[:3] == [1, 2, 3]  # A, B, A again: no third fix before the escalation


def test_a_disputed_test_the_tester_keeps_goes_back_to_the_programmer_as_standing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    company = wrong_test_company(counted_fixes={}, tester_keeps=True, retry=True)
    summary, recorder, _ = sandboxed_build(tmp_path, monkeypatch, company, wrong_test_fails)
    ran = [(e.phase, e.cycle) for e in recorder.of(events.PhaseEnded)
           if e.phase in ("test_fix", "test_repair") and e.status != "skipped"]
    # the tester's repair changed nothing: it kept the test, and the next check sends the
    # standing test to the programmer
    assert ran[:3] == [("test_fix", 1), ("test_repair", 2), ("test_fix", 3)]
    third = [e.text for e in recorder.of(events.Message) if e.phase == "test_fix" and e.receiver == "Programmer"][1]
    assert "The tester looked again at tests/test_main.py::test_step_moves_head and kept the expected values" in third
    assert summary.tests_pass is False  # never quarantined for being disputed


def test_the_manager_s_directive_reaches_the_programmer_after_the_tester_kept_the_test(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The 1.5B Caesar tool (2026-12-08): the one fix changed nothing, the manager granted a cycle
    with a directive for the programmer, that cycle's check sent the test to the tester, who kept
    it, and the loop stalled on "the fix changed nothing": the directive never reached the
    programmer. The tester's answer to a dispute is news; the next check sends the standing test
    to the programmer, directive and all."""
    company = wrong_test_company(tester_keeps=True, retry=True)  # test_fix sends main.py as it was
    summary, recorder, _ = sandboxed_build(tmp_path, monkeypatch, company, wrong_test_fails)
    ran = [(e.phase, e.cycle) for e in recorder.of(events.PhaseEnded)
           if e.phase in ("test_fix", "test_repair") and e.status != "skipped"]
    assert ran[:3] == [("test_fix", 1), ("test_repair", 2), ("test_fix", 3)]
    last = [e.text for e in recorder.of(events.Message) if e.phase == "test_fix" and e.receiver == "Programmer"][-1]
    assert "Directive from management: make step move the head" in last
    assert "kept the expected values: the program must meet them" in last
    loop = next(p for p in summary.phases if p["name"] == "test_loop")
    assert loop["status"] == "stalled" and loop["reason"] == "the fix changed nothing"  # and then it ends


def test_a_test_that_gives_a_program_function_another_type_than_it_uses_is_a_defect() -> None:
    """The 1.5B's Caesar tool takes its shift as the command line's string; its test gave an int."""
    program = {"main.py": "import sys\n\n\ndef caesar_cipher(text, shift, mode):\n    if not shift.isdigit():\n"
                          "        raise SystemExit('shift must be a number')\n    return text\n"}
    text = ('tests/test_main.py:5: in test_encode\n    assert caesar_cipher("hello", 3, "encode") == "khoor"\n'
            "main.py:5: in caesar_cipher\n    if not shift.isdigit():\n"
            "E   AttributeError: 'int' object has no attribute 'isdigit'")
    got = triage.triage([case(name="test_encode", text=text)], {"tests/test_main.py": ""}, program)
    assert got[0].defect == ("the test gives caesar_cipher an int for `shift`, but caesar_cipher in main.py uses "
                             "`shift.isdigit`, a str method: pass `shift` as a str, as the program does")
    deeper = text.replace("main.py:5: in caesar_cipher", "main.py:9: in main\n    caesar_cipher(a, b, c)\n"
                                                        "main.py:5: in caesar_cipher")
    assert triage.triage([case(name="test_encode", text=deeper)], {}, program)[0].defect is None  # via main


def test_a_bare_run_that_waits_for_input_where_the_task_says_argument_is_tried_with_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The 1.5B's primes tool read `int(input(...))`, its design ran it bare, and waiting counts as running."""
    from chatdev.checks import examples

    def run_for(given):
        return RunResult(None, "Enter a positive integer: ", "", True, 10.0, args=given, waiting_input=True)

    summary, recorder, calls, asked = usage_build(
        tmp_path, monkeypatch, "a tool that prints every prime up to the number given as its argument", run_for,
        "python main.py 30")
    assert len(asked) == 1 and "Enter a positive integer:" in asked[0] and "waited for typed input" in asked[0]
    assert calls[0] == [[]] and calls[1] == [["30"]]
    assert summary.runs is False  # with its argument it still asks: it does not run
    fixes = [e.text for e in recorder.of(events.Message) if e.phase == "test_fix" and e.receiver == "Programmer"]
    assert fixes and "read the values from sys.argv (sys.argv[1:] is ['30'])" in fixes[0]
    bare = RunResult(None, "Enter: ", "", True, 10.0, waiting_input=True)
    assert examples.prompted("a snake game", bare) == ""  # no argument in the task: a waiting game runs


def test_while_the_tester_answers_a_dispute_the_programmer_waits(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """The 1.5B Caesar build: the tester repaired five disputed tests, the programmer's fix in the
    same cycle broke the program, and the rollback of that fix undid the tester's repair too."""
    def rules(files):  # another test fails for the program's own reasons until the second fix
        runs, failing = wrong_test_fails(files)
        return runs, failing | ({"test_food_is_free"} if "# fix 2" not in files.get("main.py", "") else set())

    summary, recorder, _ = sandboxed_build(tmp_path, monkeypatch, wrong_test_company(counted_fixes={}), rules)
    ran = [(e.phase, e.cycle) for e in recorder.of(events.PhaseEnded)
           if e.phase in ("test_fix", "test_repair") and e.status != "skipped"]
    assert ran[:3] == [("test_fix", 1), ("test_repair", 2), ("test_fix", 3)]
    assert summary.tests_pass is True and summary.status == "passed"


def test_a_test_the_programmer_changed_nothing_for_is_disputed_after_the_escalation(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The 1.5B primes tool: two fixes changed nothing for a wrong expectation (145 s, 136 s)."""
    # test_fix: main.py as it was; test_repair: the right test
    summary, recorder, _ = sandboxed_build(tmp_path, monkeypatch, wrong_test_company(retry=True), wrong_test_fails)
    ran = [(e.phase, e.cycle) for e in recorder.of(events.PhaseEnded)
           if e.phase in ("test_fix", "test_repair") and e.status != "skipped"]
    assert ran == [("test_fix", 1), ("test_repair", 2)]  # stalled, escalated, then the tester
    assert summary.tests_pass is True and summary.status == "passed"


def test_a_test_that_uses_what_a_method_returning_nothing_returns_is_a_defect() -> None:
    """The 1.5B's tic-tac-toe test (2026-12-04): ``assert " | X | O |" in game.print_board()``,
    and print_board prints the board; pytest says only ``argument of type 'NoneType'``."""
    program = {"main.py": "class TicTacToe:\n    def print_board(self):\n        print('x')\n\n"
                          "    def winner(self):\n        if self.done:\n            return 'X'\n"}
    tests = {"tests/test_main.py": "from main import TicTacToe\n"}
    iterable = ("tests/test_main.py:8: in test_print_board\n    assert ' | X | O |' in game.print_board()\n"
                "E   TypeError: argument of type 'NoneType' is not iterable")
    bound = ("tests/test_main.py:9: in test_board\nE   AssertionError: assert None == 'x'\n"
             "E    +  where None = <bound method TicTacToe.print_board of <main.TicTacToe object at 0x7f>>()")
    returns = iterable.replace("print_board", "winner")
    inside = ("tests/test_main.py:8: in test_inner\n    game.print_board()\nmain.py:3: in print_board\n"
              "    len(None)\nE   TypeError: object of type 'NoneType' has no len()")
    got = triage.triage([case(name="test_print_board", text=iterable), case(name="test_board", text=bound),
                         case(name="test_winner", text=returns), case(name="test_inner", text=inside)],
                        tests, program)
    assert got[0].defect == ("the test checks what print_board() returns, but print_board in main.py returns "
                             "nothing (it prints: check its output with pytest's capsys)")
    assert got[1].defect == got[0].defect
    assert got[2].defect is None  # winner() returns a value on some path: the program's failure
    assert got[3].defect is None  # the program's own line failed


def test_a_disputed_method_shows_its_line_and_the_method_without_its_object() -> None:
    """The 1.5B's tic-tac-toe (2026-12-04): pytest wrote ``<bound method TicTacToe.make_move of
    <main.TicTacToe object at 0x7f30de9a4790>>(3)`` twice; the tester kept `== False` for cell 3."""
    from chatdev.checks import disputes

    text = ("tests/test_main.py:21: in test_make_move\n    assert game.make_move(3) == False\n"
            "E   assert True == False\n"
            "E    +  where True = <bound method TicTacToe.make_move of <main.TicTacToe object at 0x7f30de9a4790>>(3)\n"
            "E    +    where <bound method TicTacToe.make_move of <main.TicTacToe object at 0x7f30de9a4790>> = "
            "<main.TicTacToe object at 0x7f30de9a4790>.make_move")
    failing = triage.TestCase(id="tests/test_main.py::test_make_move", file="tests/test_main.py",
                              name="test_make_move", outcome="failed", message="assert True == False", text=text)
    sources = {"tests/test_main.py": "def test_make_move():\n    assert game.make_move(3) == False\n"}
    _, record = disputes.mark([failing], disputes.Record(), sources=sources, runs=True)
    record.asked = [failing.id]
    again, _ = disputes.mark([failing], record, sources=sources, runs=True)
    assert again[0].disputed.startswith(
        "the programmer was told of this failure and it still fails the same way: "
        "`assert game.make_move(3) == False` (assert True == False; + where True = TicTacToe.make_move(3)).")


def test_a_long_report_is_cut_at_a_line_boundary() -> None:
    """The todo's fix prompt read "l:" where "Acceptance scenarios: 3 of 3 fail:" stood."""
    from chatdev.sandbox import results

    text = "FAILED.\n" + "".join(f"line {i:04d} of the pytest output, long enough to fill\n" for i in range(60))
    text += "Acceptance scenarios: 3 of 3 fail:\nthe task: `python main.py add x` ends: did not end within 6 s"
    clipped = results._clip(text)
    assert len(clipped) <= results.SUMMARY_LIMIT and "\n...\n" in clipped
    after = clipped.split("\n...\n", 1)[1]
    assert after.startswith("line ") and after.endswith("did not end within 6 s")


def test_a_failing_test_in_a_file_that_never_touches_the_program_is_its_own_defect() -> None:
    """The 1.5B JSON-to-CSV tests: JSON into sys.stdin, a print stand-in of their own, no import of main."""
    alone = ("import io\nimport sys\n\n\ndef fake_print(*args):\n    return ''.join(args)\n\n\n"
             "def test_valid():\n    sys.stdin = io.StringIO('[]')\n    assert fake_print() == 'name,age'\n")
    program = {"main.py": "import json\n\n\ndef main():\n    print(json.loads(input()))\n"}
    failing = case(name="test_valid", text="tests/test_main.py:11: in test_valid\nE   AssertionError: assert '' == 'a'")
    got = triage.triage([failing], {"tests/test_main.py": alone}, program)
    assert got[0].defect and got[0].defect.startswith("the test file never imports the program nor runs it")
    # an import of the program, a run of main.py, or a fixture that may hand it the program: not this defect
    for other in (alone.replace("import io\n", "import io\nimport main\n"),
                  alone.replace("'[]')\n", "'[]')\n    subprocess.run(['python', 'main.py'])\n"),
                  alone.replace("def test_valid():", "def test_valid(app):")):
        assert triage.triage([failing], {"tests/test_main.py": other}, program)[0].defect is None
