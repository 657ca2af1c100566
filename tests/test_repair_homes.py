"""A standard-library function called on the wrong module (chatdev/repair/homes.py), as the 1.5B's snake wrote it."""

from __future__ import annotations

from pathlib import Path

import pytest

from chatdev.repair.homes import home_of, rehome

# food.py of the 1.5B snake (2026-12-07), the lines it flipped between randint and randrange
FOOD = '''# food.py
import pygame

class Food:
    def __init__(self, size):
        self.size = size
        self.x = pygame.randint(0, 800)  # Changed randint to randrange
        self.y = pygame.randint(0, 600)  # Changed randint to randrange

    def draw(self, screen):
        pygame.draw.rect(screen, (255, 0, 0), (self.x, self.y, self.size, self.size))
'''

MAIN = '''import pygame
from food import Food

pygame.init()
screen = pygame.display.set_mode((800, 600))
food = Food(20)

if __name__ == "__main__":
    clock = pygame.time.Clock()
    for _ in range(20):
        pygame.event.pump()
        screen.fill((0, 0, 0))
        food.draw(screen)
        pygame.display.flip()
        clock.tick(30)
    print("food at", food.x, food.y)
    pygame.quit()
'''
ERROR = "AttributeError: module 'pygame' has no attribute 'randint'"


def test_the_call_goes_to_the_module_that_has_it_and_is_imported_there() -> None:
    moved = rehome({"food.py": FOOD, "main.py": MAIN}, ERROR)
    assert moved is not None and (moved.module, moved.name, moved.home) == ("pygame", "randint", "random")
    assert list(moved.files) == ["food.py"]  # main.py calls nothing of the kind: left as it was
    text = moved.files["food.py"]
    assert text.startswith("# food.py\nimport random\nimport pygame\n")
    assert "self.x = random.randint(0, 800)  # Changed randint to randrange" in text
    assert "self.y = random.randint(0, 600)" in text and "pygame.draw.rect" in text
    compile(text, "food.py", "exec")


@pytest.mark.parametrize(("code", "error", "expected"), [
    ("import pygame as pg\nx = pg.sleep(1)\n", "module 'pygame' has no attribute 'sleep'",
     "import time\nimport pygame as pg\nx = time.sleep(1)\n"),
    ("import pygame\nx = pygame.time.sleep(1)\n", "module 'pygame.time' has no attribute 'sleep'",
     "import time\nimport pygame\nx = time.sleep(1)\n"),
    ("from pygame import time\nx = time.sleep(1)\n", "module 'pygame.time' has no attribute 'sleep'", None),
    ('"""Dice."""\nimport random\nimport math\nx = math.choice([1, 2])\ny = random.random()\n',
     "module 'math' has no attribute 'choice'",
     '"""Dice."""\nimport random\nimport math\nx = random.choice([1, 2])\ny = random.random()\n'),
    ("x = 1\n\n\ndef f():\n    import numpy\n    return numpy.sqrtt(2)\n", "module 'numpy' has no attribute 'sqrtt'",
     None),
])
def test_each_way_of_naming_the_module(code: str, error: str, expected: str | None) -> None:
    moved = rehome({"main.py": code}, "AttributeError: " + error)
    assert (moved.files["main.py"] if moved else None) == expected


@pytest.mark.parametrize(("program", "error", "why"), [
    ({"main.py": "import ball\nball.randint(1, 2)\n", "ball.py": "x = 1\n"},
     "module 'ball' has no attribute 'randint'", "a project file: checks/crashes and repair/objects say what"),
    ({"main.py": "import pygame\nx = pygame.time.now()\n"}, "module 'pygame.time' has no attribute 'now'",
     "no module of HOMES offers `now`"),
    ({"main.py": "import pygame\nx = pygame.time()\n"}, "module 'pygame' has no attribute 'time'",
     "`time` is in time and in datetime"),
    ({"main.py": "import pygame\n\n\ndef f(random):\n    return pygame.randint(0, random)\n"},
     "module 'pygame' has no attribute 'randint'", "a parameter named random would read the call"),
    ({"main.py": "import pygame\nfrom numpy import random\nx = pygame.randint(0, 9)\n"},
     "module 'pygame' has no attribute 'randint'", "random is numpy's here"),
    ({"main.py": "import pygame\nx = pygame.randint(0, 9)\n"}, "'Snake' object has no attribute 'randint'",
     "not a module"),
])
def test_nothing_is_guessed(program: dict[str, str], error: str, why: str) -> None:
    assert rehome(program, "AttributeError: " + error) is None, why


def test_a_module_offers_what_it_lists_not_what_it_imports() -> None:
    assert home_of("sqrt", "pygame") == "math"  # statistics imports sqrt from math and does not offer it
    assert home_of("randint", "pygame") == "random" and home_of("sleep", "pygame") == "time"
    assert home_of("randint", "random") is None  # the module itself is never the answer


@pytest.mark.docker
def test_the_company_moves_the_call_and_the_program_runs(tmp_path: Path, sandbox_ready: None) -> None:
    """The real sandbox: the snake's food dies at start on `pygame.randint`; the fixes send main.py
    back as it was, so only the repair can help, and the run that follows it decides."""
    from tests.scripted_company import build_scripted, stubborn_program

    summary, notices = build_scripted(tmp_path, stubborn_program({"main.py": MAIN, "food.py": FOOD},
                                                                 summary="A snake game."), "a snake game")
    text = (Path(summary.project) / "food.py").read_text()
    assert "random.randint(0, 800)" in text and "import random" in text
    assert summary.runs is True, summary
    assert any("called `random.randint` where food.py called `pygame.randint`" in n for n in notices), notices
