"""checks/targets.py: what of the program a failing test calls, where its fix belongs."""

from __future__ import annotations

from chatdev.checks.targets import targets

SNAKE = '''import pygame


class Snake:
    def __init__(self):
        self.body = [[400, 300]]

    def move(self):
        self.body.insert(0, [self.body[0][0] + 10, self.body[0][1]])


def new_food():
    return [0, 0]
'''

REPORT = '''FAILED.
`python3 main.py` was still running after 15 s without a traceback: ok.
pytest: 1 failed, 2 passed:
tests/test_main.py::test_snake_move: tests/test_main.py:8: in test_snake_move
E   assert [[20, 10], [10, 10]] == [[20, 10]]
'''


def test_a_failing_test_names_the_method_it_calls_through_the_object_it_made() -> None:
    test = ("from snake import Snake\n\n\ndef test_snake_move():\n    snake = Snake()\n    snake.body = [[10, 10]]\n"
            "    snake.move()\n    assert snake.body == [[20, 10]]\n\n\ndef test_other():\n    assert new_food()\n")
    sources = {"main.py": "import snake\nsnake.main()\n", "snake.py": SNAKE, "tests/test_main.py": test}
    found = targets(REPORT, sources)
    assert [str(t) for t in found] == ["Snake.move (snake.py line 8)", "Snake.__init__ (snake.py line 5)"]


def test_module_imports_chained_calls_and_functions_are_followed() -> None:
    test = ("import snake as s\nfrom snake import new_food\n\n\ndef test_snake_move():\n    s.Snake().move()\n"
            "    assert new_food() == [1, 1]\n")
    found = targets(REPORT, {"snake.py": SNAKE, "tests/test_main.py": test})
    assert [t.name for t in found] == ["Snake.move", "new_food", "Snake.__init__"]


def test_nothing_is_named_without_a_failing_test_or_a_program_call() -> None:
    test = "import random\n\n\ndef test_snake_move():\n    assert random.random() < 2\n"
    assert targets(REPORT, {"snake.py": SNAKE, "tests/test_main.py": test}) == []
    assert targets("pytest: 3 passed", {"snake.py": SNAKE, "tests/test_main.py": test}) == []
    # a report line for a file that is not a test, or a test file that does not parse
    assert targets("snake.py::move: boom\n", {"snake.py": SNAKE}) == []
    assert targets(REPORT, {"snake.py": SNAKE, "tests/test_main.py": "def test_snake_move(:\n"}) == []


def test_a_called_function_that_reads_a_data_file_nobody_wrote_says_so() -> None:
    """The 1.5B hangman: load_word() caught the FileNotFoundError of words.txt and returned ""."""
    program = ('import random\nWORDS = "words.txt"\n\n\ndef load_word():\n    try:\n        with open(WORDS) as f:\n'
               '            return random.choice(f.readlines()).strip()\n    except FileNotFoundError:\n'
               '        return ""\n\n\ndef load_scores():\n    return open("scores.json").read()\n')
    test = ("from main import load_word, load_scores\n\n\ndef test_load_word():\n    assert load_word() != ''\n"
            "    assert load_scores()\n")
    report = "pytest: 1 failed:\ntests/test_main.py::test_load_word: tests/test_main.py:5: in test_load_word\n"
    sources = {"main.py": program, "tests/test_main.py": test}
    found = targets(report, sources, paths=["main.py", "tests/test_main.py", "scores.json"])
    assert [(t.name, t.absent) for t in found] == [("load_word", ("words.txt",)), ("load_scores", ())]
    assert str(found[0]).startswith("load_word (main.py line 5, which reads words.txt: the project has no words.txt")
    assert str(found[1]) == "load_scores (main.py line 13)"
