"""A crash's cause named in the program's own terms (chatdev/checks/crashes.py).

The programs are the 1.5B's own, cut down: the todo list whose ``load_todo_list()`` returns
the JSON list that ``main.py`` then calls ``.add`` on (three fix cycles sent the same code
back), a call that gives a class the wrong arguments, an import of a name a module lacks.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from chatdev.checks.crashes import explain

TODO = {
    "main.py": '''import sys
from todo import TodoList
from utils import load_todo_list, save_todo_list


def main():
    if sys.argv[1] == "add":
        todo_list = load_todo_list()
        todo_list.add(sys.argv[2])
        save_todo_list(todo_list)
        print("added")


if __name__ == "__main__":
    main()
''',
    "todo.py": '''class TodoList:
    def __init__(self):
        self.tasks = []

    def add(self, text):
        self.tasks.append(text)
''',
    "utils.py": '''import json


def load_todo_list():
    try:
        with open("todo.json") as f:
            return json.load(f)
    except FileNotFoundError:
        return []


def save_todo_list(todo_list):
    with open("todo.json", "w") as f:
        json.dump(todo_list, f)
''',
}
ADD = "AttributeError: 'list' object has no attribute 'add'"


def test_an_attribute_a_value_lacks_names_where_the_value_comes_from_and_who_has_it() -> None:
    lines = explain("main.py", 9, "todo_list.add(sys.argv[2])", ADD, TODO)
    assert lines == [("Why: `todo_list` is a list here (it comes from `load_todo_list()` in utils.py line 4), "
                      "and a list has no `add` (a list uses `append`). `TodoList` (todo.py) has `add`: make "
                      "`todo_list` a `TodoList`, or use the list's own methods.")]


def test_none_says_the_function_it_came_from_returns_nothing() -> None:
    sources = {**TODO, "utils.py": "def load_todo_list():\n    pass\n\n\ndef save_todo_list(x):\n    pass\n"}
    lines = explain("main.py", 9, "todo_list.add(sys.argv[2])",
                    "AttributeError: 'NoneType' object has no attribute 'add'", sources)
    assert lines == [("Why: `todo_list` is None here (it comes from `load_todo_list()` in utils.py line 1, "
                      "which returns None on this path: a missing `return`?), and None has no `add`.")]


def test_a_wrong_call_shows_the_definition_it_calls() -> None:
    assert explain("main.py", 3, "t = TodoList(5)", "TypeError: TodoList() takes no arguments", TODO) == [
        ("Why: `TodoList.__init__` is defined at todo.py line 2 as `def __init__(self)`: make the call match it, "
         "or change the definition.")]
    missing = "TypeError: TodoList.add() missing 1 required positional argument: 'text'"
    assert explain("main.py", 9, "t.add()", missing, TODO)[0].startswith(
        "Why: `TodoList.add` is defined at todo.py line 5 as `def add(self, text)`")
    assert explain("main.py", 9, "f()", "TypeError: save_todo_list() missing 1 required positional argument: "
                   "'todo_list'", TODO)[0].startswith("Why: `save_todo_list` is defined at utils.py line 12")


BREAKOUT = {
    "ball.py": "import pygame\n\n\nclass Ball:\n    def __init__(self, x, y, radius):\n        self.x = x\n\n"
               "    def move(self):\n        self.x += 5\n",
    "main.py": "import ball\nimport paddle\n\nwhile True:\n    ball.move()\n    paddle.draw(None)\n",
}


def test_a_module_used_as_the_object_its_class_makes_is_told_to_make_the_object() -> None:
    """The 1.5B breakout's main.py did ``import ball`` and ``ball.move()``; told "add `move` to
    ball.py", three fixes sent ball.py back as it was (bench of 2026-12-03)."""
    error = "AttributeError: module 'ball' has no attribute 'move'"
    assert explain("main.py", 5, "ball.move()", error, BREAKOUT) == [
        "Why: `ball` here is the module ball.py, not an object: `move` belongs to its class `Ball` (ball.py "
        "line 4). Make the object once, before it is used: `from ball import Ball`, then `ball = Ball(x, y, "
        "radius)` with those values, and call `ball.move()` on it."]
    # paddle.py is a copy of ball.py's class: it has no class of its own
    copied = {**BREAKOUT, "paddle.py": BREAKOUT["ball.py"].replace("def move", "def draw")}
    assert explain("main.py", 6, "paddle.draw(None)", "AttributeError: module 'paddle' has no attribute 'draw'",
                   copied) == [
        "Why: `paddle` here is the module paddle.py, not an object: `draw` belongs to its class `Ball` (paddle.py "
        "line 4). That class is a copy of ball.py's `Ball`: paddle.py has no class of its own. Write paddle.py's "
        "own class, then make one object of it before it is used."]
    # a name no class of the module has: what the module defines, as before
    assert explain("main.py", 5, "ball.jump()", "AttributeError: module 'ball' has no attribute 'jump'",
                   BREAKOUT)[0].startswith("Why: ball.py defines `Ball`, `pygame`, but no `jump`")


def test_a_name_a_project_module_lacks_lists_what_it_defines() -> None:
    error = "ImportError: cannot import name 'Todo' from 'todo' (/work/app/todo.py)"
    assert explain("main.py", 2, "from todo import Todo", error, TODO) == [
        "Why: todo.py defines `TodoList`, but no `Todo`: use what it defines, or add `Todo` to todo.py."]
    # a module that is not the project's (pygame's own) is not explained
    assert explain("main.py", 2, "", "ImportError: cannot import name 'x' from 'pygame'", TODO) == []


def test_a_name_used_and_never_bound_says_where_it_is_or_that_it_is_nowhere() -> None:
    """The 1.5B snake (make demo, 2026-12-07): ``pygame.font.Font(None, HIGH_SCORE_SIZE)`` beside
    ``SCORE_SIZE = 30``; its fixer put the constant in snake.py, which main.py never read."""
    main = ("import pygame\nFONT_SIZE = 20\nSCORE_SIZE = 30\nSPEED = 5\n"
            "font = pygame.font.Font(None, HIGH_SCORE_SIZE)\n\n\ndef play():\n    board = []\n    return board\n")
    sources = {"main.py": main, "snake.py": "WIDTH = 800\n\n\nclass Snake:\n    pass\n"}
    error = "NameError: name 'HIGH_SCORE_SIZE' is not defined"
    assert explain("main.py", 5, "font = pygame.font.Font(None, HIGH_SCORE_SIZE)", error, sources) == [
        "Why: the constant `HIGH_SCORE_SIZE` is defined nowhere in the program: add `HIGH_SCORE_SIZE = ...` to "
        "main.py's constants, above line 5 where it is used (beside `FONT_SIZE = 20`, `SCORE_SIZE = 30`)."]
    assert explain("main.py", 5, "x = WIDTH", "NameError: name 'WIDTH' is not defined", sources) == [
        "Why: `WIDTH` is defined in snake.py, which main.py does not import from: add `from snake import WIDTH` "
        "at the top of main.py."]
    assert explain("main.py", 9, "x = speed", "NameError: name 'speed' is not defined", sources) == [
        "Why: `speed` is defined nowhere in the program (no assignment, def, class or import binds it): define it "
        "before main.py line 9, or use the name the program has for it."]
    # a local of another function (tic-tac-toe's board): repair/params.py's case, nothing said here
    assert explain("main.py", 9, "print(board)", "NameError: name 'board' is not defined", sources) == []


def test_nothing_is_said_when_the_code_tells_no_more_than_the_traceback() -> None:
    assert explain("main.py", 9, "print(x.foo)", "AttributeError: 'str' object has no attribute 'foo'", TODO) == []
    assert explain("main.py", 9, "x", "ZeroDivisionError: division by zero", TODO) == []
    # sources that do not parse still get what a built-in type has instead
    assert explain("main.py", 9, "x", ADD, {"main.py": "def broken(:\n"}) == [
        "Why: the value is a list here, and a list has no `add` (a list uses `append`)."]


@pytest.mark.docker
def test_the_report_the_fixer_reads_names_the_cause_under_the_traceback(tmp_path: Path, sandbox_ready: None) -> None:
    from chatdev.sandbox import container

    for path, text in TODO.items():
        (tmp_path / path).write_text(text)
    report = container.verify_program(tmp_path, timeout=5, tests=False, gui=False, args=[["add", "milk"]])
    assert report.runs is False and ADD in report.summary
    after = report.summary.split(ADD, 1)[1]
    assert "Why: `todo_list` is a list here (it comes from `load_todo_list()` in utils.py line 4)" in after


def test_a_value_that_is_the_class_its_name_says_is_told_to_get_the_method_not_another_type() -> None:
    """The 1.5B snake, told "make `self.snake` a `Food`", swapped Snake and Food for three cycles."""
    game = ("class Snake:\n    def __init__(self):\n        self.body = [(1, 1)]\n\n    def move(self):\n        pass\n\n\n"
            "class Food:\n    def draw(self, screen):\n        pass\n\n\n"
            "class Game:\n    def __init__(self):\n        self.snake = Snake()\n\n    def run(self):\n"
            "        self.snake.draw()\n")
    lines = explain("main.py", 19, "self.snake.draw()", "AttributeError: 'Snake' object has no attribute 'draw'",
                    {"main.py": game})
    assert lines == [("Why: `self.snake` is a Snake here, as it should be, and class Snake (main.py line 1) defines "
                      "no `draw` (its methods: move). Add a `draw` method to class Snake, written like `Food.draw`, "
                      "or call one of Snake's own methods instead; keep `self.snake` a Snake.")]
    swapped = game.replace("self.snake = Snake()", "self.food = Snake()").replace("self.snake.draw", "self.food.draw")
    other = explain("main.py", 19, "self.food.draw()", "AttributeError: 'Snake' object has no attribute 'draw'",
                    {"main.py": swapped})
    assert "make `self.food` a `Food`" in other[0]  # a value of another class than its name says


def test_an_attribute_read_from_self_before_its_class_sets_it_names_the_line_that_sets_it() -> None:
    """The 1.5B snake (2026-12-07) built its food from ``self.food.size`` on the line that makes
    ``self.food``; told "`Game` has `food`: make `self` a `Game`", five fixes sent the file back."""
    game = ("import random\n\n\nclass Food:\n    def __init__(self, x, y, size):\n        self.size = size\n\n\n"
            "class Game:\n    def __init__(self, width):\n        self.width = width\n"
            "        self.food = Food(random.randint(0, self.width - self.food.size), 0, 10)\n"
            "        self.start()\n\n    def start(self):\n        self.score.reset()\n\n"
            "    def reset(self):\n        self.score = 0\n")
    error = "AttributeError: 'Game' object has no attribute 'food'"
    code = "self.food"  # what the traceback's carets mark
    assert explain("main.py", 12, code, error, {"main.py": game}) == [
        "Why: main.py line 12 (in `Game.__init__`) sets `self.food` and reads `self.food` in its own right-hand "
        "side, before it exists, so this line can never run as it is: rewrite it. Put a value that exists there "
        "in place of each `self.food.size`: a constant such as `FOOD_SIZE = 10` at the top of main.py, or an "
        "argument."]
    plain = game.replace("self.width - self.food.size", "len(self.food)")
    assert explain("main.py", 12, "self.food = Food(random.randint(0, len(self.food)), 0, 10)", error,
                   {"main.py": plain})[0].endswith(
        "rewrite it. Build the value from the arguments, attributes set above it or constants, not from `self.food`.")
    later = explain("main.py", 16, "self.score.reset()", "AttributeError: 'Game' object has no attribute 'score'",
                    {"main.py": game})
    assert later == [
        "Why: `self.score` is read here (in `Game.start`) before any line has set it: class Game sets it first at "
        "main.py line 19 (in `Game.reset`), which has not run yet. Set `self.score` before this line runs, or "
        "use a value that exists here."]
    # a class that never sets the attribute: the rules before this one speak
    other = explain("main.py", 16, "self.lives.reset()", "AttributeError: 'Game' object has no attribute 'lives'",
                    {"main.py": game})
    assert not other or "before any line has set it" not in other[0]


def test_the_class_that_lacks_the_method_is_the_crashing_files_own_copy() -> None:
    """The 1.5B snake had a Snake in main.py, snake.py and food.py; the crash ran main.py's."""
    main = ("class Snake:\n    def move(self):\n        pass\n\n\nclass Game:\n    def __init__(self):\n"
            "        self.snake = Snake()\n\n    def run(self):\n        self.snake.draw()\n")
    lines = explain("main.py", 11, "self.snake.draw()", "AttributeError: 'Snake' object has no attribute 'draw'",
                    {"food.py": "class Snake:\n    def move(self):\n        pass\n", "main.py": main})
    assert "class Snake (main.py line 1) defines no `draw`" in lines[0]


ROMAN = {
    "main.py": '''import sys
from roman import roman_to_int


def main():
    numeral = sys.argv[1]
    print(roman_to_int(numeral))


if __name__ == "__main__":
    main()
''',
    "roman.py": '''VALUES = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100, "D": 500, "M": 1000}


def roman_to_int(s):
    total = 0
    for char in s:
        total += VALUES[char]
    return total
''',
}
ON_ARGUMENT = ("Why: '1' is part of the argument `1994` this run was given: main.py line 6 reads it "
               "(`numeral = sys.argv[1]`). Make the program handle that argument where it reads it, rather than "
               "changing the function it crashed in.")


def test_a_crash_on_the_runs_own_argument_names_the_line_that_reads_it() -> None:
    """The 1.5B Roman converter (2026-12-04, 2026-12-07) read only numerals; `python main.py 1994`
    died on `VALUES['1']`, and told to change roman.py, its fixes put '1': 1 in the table."""
    from chatdev.checks.crashes import ARGUMENT_READ, from_argument

    lines = from_argument("KeyError: '1'", ["1994"], ROMAN, "main.py")
    assert lines == [ON_ARGUMENT]
    assert ARGUMENT_READ.search("FAILED.\n" + lines[0]).groups() == ("main.py", "6", "numeral = sys.argv[1]")
    whole = from_argument("ValueError: invalid literal for int() with base 10: 'encode'", ["encode", "3"], ROMAN,
                          "main.py")
    assert whole[0].startswith("Why: 'encode' is the argument `encode` this run was given: main.py line 6")
    assert from_argument("KeyError: 'Z'", ["1994"], ROMAN, "main.py") == []  # not from an argument
    assert from_argument("KeyError: '1'", [], ROMAN, "main.py") == []  # a run with none
    assert from_argument("TypeError: '1' is wrong", ["1994"], ROMAN, "main.py") == []  # not an input error
    assert from_argument("KeyError: '1'", ["1994"], {"main.py": "print(1)\n"}, "main.py") == []  # nothing reads one


@pytest.mark.docker
def test_the_report_names_the_line_that_reads_the_argument_it_crashed_on(tmp_path: Path, sandbox_ready: None) -> None:
    from chatdev.sandbox import container

    for path, text in ROMAN.items():
        (tmp_path / path).write_text(text)
    report = container.verify_program(tmp_path, timeout=5, tests=False, gui=False, args=[["1994"]])
    assert report.runs is False and "KeyError: '1'" in report.summary
    assert ON_ARGUMENT in report.summary.split("KeyError: '1'", 1)[1]


HANGMAN = {
    "main.py": '''import random

from words import load_words


def main():
    word = random.choice(load_words())
    print("_" * len(word))


if __name__ == "__main__":
    main()
''',
    "words.py": '''import os


def load_words():
    with open(os.path.join(os.path.dirname(__file__), "words.txt")) as f:
        return f.read().split()
''',
}
NO_WORDS = ("Why: the project has no words.txt: nobody wrote it. If the program only reads it, send words.txt in "
            "your reply as a file of its own (its path on one line, then its content in a block), or keep its data "
            "in the code; if the program writes it, let a missing words.txt mean an empty start.")


def test_a_file_the_code_names_and_nobody_wrote_is_named_with_what_to_do() -> None:
    """The 0.5B's and the 1.5B's hangman read a words.txt nobody wrote; four fixes made its path absolute."""
    code = "with open(os.path.join(os.path.dirname(__file__), \"words.txt\")) as f:"
    error = "FileNotFoundError: [Errno 2] No such file or directory: '/work/app/words.txt'"
    assert explain("words.py", 5, code, error, HANGMAN) == [NO_WORDS]
    assert explain("words.py", 5, code, error.replace("/work/app/", ""), HANGMAN) == [NO_WORDS]
    # a file the code does not name (a path it was given, say) gets nothing
    assert explain("words.py", 5, code, error.replace("words.txt", "other.txt"), HANGMAN) == []


EMPTY_HANGMAN = {
    "main.py": '''import random
import utils


def main():
    word_list = utils.load_word_list("words.txt")
    word = random.choice(word_list)
    print("_" * len(word))


main()
''',
    "utils.py": '''import os


def load_word_list(file_path):
    if not os.path.exists(file_path):
        return []
    with open(file_path) as file:
        return file.read().splitlines()
''',
}


def test_a_choice_from_the_empty_list_a_missing_file_left_names_the_file() -> None:
    """The 1.5B's hangman (2026-12-07): its fix made the missing words.txt an empty list, and the
    game died in random.choice([]) four cycles running while each fix changed the loader again."""
    error = "IndexError: Cannot choose from an empty sequence"
    why = explain("main.py", 7, "random.choice(word_list)", error, EMPTY_HANGMAN, known={"main.py", "utils.py"})
    assert why == ["Why: the sequence is empty, and the program reads it from words.txt, which the project does not "
                   "have: nobody wrote it. If the program only reads it, send words.txt in your reply as a file of its "
                   "own (its path on one line, then its content in a block), or keep its data in the code; if the "
                   "program writes it, let a missing words.txt mean an empty start."]
    assert explain("main.py", 7, "max(scores)", "ValueError: max() arg is an empty sequence", EMPTY_HANGMAN,
                   known={"main.py", "utils.py"})[0].startswith("Why: the sequence is empty")
    # the file is there (empty, say), or the caller does not know the project's files: nothing to say
    assert explain("main.py", 7, "random.choice(word_list)", error, EMPTY_HANGMAN,
                   known={"main.py", "utils.py", "words.txt"}) == []
    assert explain("main.py", 7, "random.choice(word_list)", error, EMPTY_HANGMAN) == []


@pytest.mark.docker
def test_the_fixer_that_sends_the_missing_file_gets_a_program_that_runs(tmp_path: Path, sandbox_ready: None) -> None:
    """The real sandbox: the run dies on the missing words.txt, the report says to send it, the fix
    sends it (a data file the code names may be a new file of a fix), and the program runs."""
    import json as _json
    from collections.abc import Sequence

    from chatdev.models.base import Message, current_call
    from tests.scripted_company import build_scripted, good_reply

    asked: list[str] = []

    def company(messages: Sequence[Message]) -> str:
        info = current_call()
        phase = info.phase if info is not None else ""
        if phase == "design":
            return _json.dumps({"summary": "Hangman.", "entry": "main.py", "run": "python main.py",
                                "files": [{"path": "words.py", "purpose": "the words"},
                                          {"path": "main.py", "purpose": "the game"}]})
        if phase == "coding" and info is not None:
            return f"{info.item}\n```python\n{HANGMAN[str(info.item)]}```"
        if phase in ("code_fix", "test_fix") and info is not None and info.turn == "answer":
            asked.append(messages[-1].content)
            return "words.txt\n```\napple\nbanana\ncherry\n```\n"
        if phase == "test_writing":
            return "no tests"
        return good_reply(messages)

    summary, _ = build_scripted(tmp_path, company, "a hangman game in the terminal")
    assert asked and NO_WORDS in asked[0]
    assert (Path(summary.project) / "words.txt").read_text() == "apple\nbanana\ncherry\n"
    assert summary.runs is True, summary


FLAPPY = """class Game:
    def __init__(self):
        self.obstacles = []

    def run(self):
        for obstacle in self.obstacles:
            obstacle.update()
        if self.bird_y < obstacle.y:
            self.over = True
"""


def test_a_loop_variable_used_after_its_loop_is_named_with_its_loop() -> None:
    """The 1.5B's flappy bird (2026-12-07): ``obstacle`` checked after ``for obstacle in self.obstacles:``."""
    error = "UnboundLocalError: cannot access local variable 'obstacle' where it is not associated with a value"
    why = explain("main.py", 8, "if self.bird_y < obstacle.y:", error, {"main.py": FLAPPY})
    assert why == ["Why: `obstacle` is the variable of the loop `for obstacle in self.obstacles:` (main.py line 6), "
                   "and line 8 uses it after the loop: when `self.obstacles` is empty the loop never runs and "
                   "`obstacle` is never set. Do what line 8 does inside the loop, for each `obstacle`."]
    also_set = FLAPPY.replace("    def run(self):\n", "    def run(self):\n        obstacle = None\n")
    assert explain("main.py", 9, "if self.bird_y < obstacle.y:", error, {"main.py": also_set}) == []
