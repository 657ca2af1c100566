"""The names a module binds at its top level: one reader for crashes, import repair, the object
repair and triage (pure)."""

from __future__ import annotations

import ast

from chatdev.checks.bindings import bindings
from chatdev.checks.crashes import explain
from chatdev.checks.triage import triage
from chatdev.repair.imports import add_missing_imports

MODULE = '''import os.path
import pygame as pg
from random import randint as roll, choice
from math import *
SCREEN_WIDTH = 640
score = 0
score += 1
x, (y, *rest) = 1, (2, 3, 4)
speed: int = 3
declared: int
_hidden = 1
player.x = 5
grid[0] = 1
class Snake:
    size = 3
def main():
    local = 1
if True:
    inside = 1
'''


def test_each_kind_of_binding_once_in_order() -> None:
    found = bindings(ast.parse(MODULE))
    assert found.definitions == ("Snake", "main")
    assert found.assigned == ("SCREEN_WIDTH", "score", "x", "y", "rest", "speed", "_hidden")
    assert found.imported == ("os", "pg", "roll", "choice")
    # not bindings: a bare annotation, an attribute or subscript target, names in functions,
    # classes or compound statements, a star import
    assert not {"declared", "player", "grid", "size", "local", "inside", "math", "pygame"} & found.all()


def test_public_names_are_what_another_module_may_import() -> None:
    assert bindings(ast.parse(MODULE)).public() == ["Snake", "main", "SCREEN_WIDTH", "score", "x", "y", "rest",
                                                    "speed"]


def test_a_constant_assigned_twice_is_still_imported_from_its_one_module() -> None:
    """Import repair listed a module once per assignment of the name, so `score = 0 ... score = 1`
    made main.py look like two owners of `score` and the test's import was never added."""
    sources = {"main.py": "score = 0\nscore = 1\nlevel: int = 2\n",
               "tests/test_main.py": "def test_score():\n    assert score == 1 and level == 2\n"}
    report = ("tests/test_main.py:2:12: undefined name 'score'\n"
              "tests/test_main.py:2:28: undefined name 'level'\n")
    fixed = add_missing_imports(sources, report)
    assert fixed["tests/test_main.py"].splitlines()[:2] == ["from main import score", "from main import level"]


def test_a_module_that_binds_a_name_by_tuple_is_not_said_to_lack_it() -> None:
    """`width, height = 640, 480` binds `width`: the crash explanation read only plain `name = ...`
    lines and told the programmer "config.py defines nothing"."""
    sources = {"config.py": "width, height = 640, 480\n", "main.py": "import config\nprint(config.depth)\n"}
    why = explain("main.py", 2, "print(config.depth)", "AttributeError: module 'config' has no attribute 'depth'",
                  sources)
    assert why == ["Why: config.py defines `height`, `width`, but no `depth`: use what it defines, or add `depth` "
                   "to config.py."]


def test_triage_reads_the_program_variables_from_the_same_rules() -> None:
    """A test that sets `paddle_x` (a variable the program keeps, here bound by a tuple) and checks
    its own arithmetic on it is the test's defect; `player.x = 5` in the program binds no `player`."""
    program = {"main.py": "paddle_x, paddle_y = 10, 20\nplayer.x = 5\n"}
    source = ("def test_move():\n    paddle_x = 10\n    paddle_x -= 5\n    assert paddle_x == 5\n\n"
              "def test_player():\n    player = 3\n    assert player == 3\n")
    cases = [{"id": f"tests/test_main.py::{name}", "file": "tests/test_main.py", "name": name, "outcome": "passed"}
             for name in ("test_move", "test_player")]
    move, player = triage(cases, {"tests/test_main.py": source}, program)
    assert move.defect and "own" in move.defect
    assert player.defect is None
