"""A pygame window drawn on and never opened (chatdev/repair/display.py), as the 1.5B's snake wrote it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from chatdev.repair.display import init_pygame, make_display

SNAKE = '''from snake import Snake
import pygame
import time

pygame.init()

# Constants
SCREEN_WIDTH = 800
SCREEN_HEIGHT = 600
SIZE = 20

font = pygame.font.Font(None, 36)
snake = Snake(SCREEN_WIDTH // 2, SCREEN_HEIGHT // 2, SIZE)
running = True
frames = 0

while running and frames < 3:
    frames += 1
    screen.fill((0, 0, 0))
    snake.draw(screen)
    pygame.display.flip()
print("frames", frames)
'''
ERROR = "NameError: name 'screen' is not defined"


def test_the_window_is_opened_after_its_size_and_the_init() -> None:
    fixed = make_display({"main.py": SNAKE}, "main.py", ERROR)
    lines = fixed["main.py"].splitlines()
    at = lines.index("screen = pygame.display.set_mode((SCREEN_WIDTH, SCREEN_HEIGHT))")
    assert lines[at - 1] == "SCREEN_HEIGHT = 600" and lines[at + 1] == "SIZE = 20"
    ast.parse(fixed["main.py"])


@pytest.mark.parametrize(("program", "why"), [
    (SNAKE.replace("import pygame\n", ""), "no pygame"),
    (SNAKE.replace("SCREEN_HEIGHT = 600\n", "").replace("SCREEN_HEIGHT", "600"), "no size named"),
    (SNAKE.replace("    screen.fill((0, 0, 0))\n", "").replace("snake.draw(screen)", "snake.draw(screen)  # no surface"),
     "used only as an argument of the program's own method"),
    (SNAKE.replace("frames = 0\n", "frames = 0\nscreen = None\n"), "bound by the module (a real bug elsewhere)"),
    (SNAKE.replace("while running", "def loop(screen):\n    pass\n\n\nwhile running"), "a parameter of that name"),
    (SNAKE.replace("pygame.init()\n", "pygame.init()\nscreen.fill((1, 1, 1))\n"), "used above where it would go"),
])
def test_nothing_is_guessed(program: str, why: str) -> None:
    assert make_display({"main.py": program}, "main.py", ERROR) == {}, why


def test_an_alias_a_lower_case_size_and_a_draw_call() -> None:
    program = ("import pygame as pg\n\nwidth, height = 640, 480\nwin_width = 3\n\ndef draw():\n"
               "    pg.draw.rect(win, (255, 0, 0), (0, 0, 10, 10))\n\ndraw()\n")
    fixed = make_display({"game.py": program}, "game.py", "NameError: name 'win' is not defined")
    assert "width, height = 640, 480\nwin = pg.display.set_mode((width, height))\nwin_width = 3\n" in fixed["game.py"]
    assert make_display({"game.py": program}, "game.py", "TypeError: boom") == {}
    assert make_display({"game.py": program}, "other.py", "NameError: name 'win' is not defined") == {}


@pytest.mark.docker
def test_the_company_opens_the_window_and_the_program_runs(tmp_path: Path, sandbox_ready: None) -> None:
    """The real sandbox: main.py dies on `screen.fill`; the fixes send it back as it was, so only the
    repair can help, and the run that follows it decides."""
    from tests.scripted_company import build_scripted, stubborn_program

    files = {"snake.py": "class Snake:\n    def __init__(self, x, y, size):\n        self.x, self.y = x, y\n\n"
                         "    def draw(self, screen):\n        screen.fill((0, 255, 0), (self.x, self.y, 20, 20))\n",
             "main.py": SNAKE}
    summary, notices = build_scripted(tmp_path, stubborn_program(files, summary="A snake game."), "a snake game")
    text = (Path(summary.project) / "main.py").read_text()
    assert "screen = pygame.display.set_mode((SCREEN_WIDTH, SCREEN_HEIGHT))\n" in text
    assert summary.runs is True, summary
    assert any("made the window `screen` in main.py" in n for n in notices), notices


NO_INIT = """import sys
import pygame
from snake import Snake

font = pygame.font.Font(None, 30)
screen = pygame.display.set_mode((320, 240))
snake = Snake(10, 10, 20)
while True:
    for event in pygame.event.get():
        if event.type == pygame.QUIT:
            sys.exit()
    screen.fill((0, 0, 0))
    snake.draw(screen)
    screen.blit(font.render("Score: 0", True, (255, 255, 255)), (5, 5))
    pygame.display.flip()
"""


def test_pygame_is_started_after_its_import_when_nothing_starts_it() -> None:
    """The issue's snake: a fix removed ``pygame.init()``, the game died on ``font not initialized``."""
    error = "pygame.error: font not initialized"
    fixed = init_pygame({"main.py": NO_INIT}, "main.py", error)
    assert fixed["main.py"].startswith("import sys\nimport pygame\npygame.init()\nfrom snake import Snake\n")
    aliased = NO_INIT.replace("import pygame\n", "import pygame as pg\n").replace("pygame.", "pg.")
    assert "import pygame as pg\npg.init()\n" in init_pygame({"main.py": aliased}, "main.py", error)["main.py"]
    started = NO_INIT.replace("from snake import Snake\n", "from snake import Snake\npygame.init()\n")
    assert init_pygame({"main.py": started}, "main.py", error) == {}  # it starts pygame: something else is wrong
    assert init_pygame({"main.py": NO_INIT}, "main.py", "pygame.error: mixer not initialized") == {}
    assert init_pygame({"main.py": "import sys\n"}, "main.py", error) == {}


@pytest.mark.docker
def test_the_company_starts_pygame_and_the_program_runs(tmp_path: Path, sandbox_ready: None) -> None:
    """The real sandbox: main.py dies on its font; the fixes send it back as it was, so only the
    repair can help, and the run that follows it decides."""
    from tests.scripted_company import build_scripted, stubborn_program

    files = {"snake.py": "class Snake:\n    def __init__(self, x, y, size):\n        self.x, self.y = x, y\n\n"
                         "    def draw(self, screen):\n        screen.fill((0, 255, 0), (self.x, self.y, 20, 20))\n",
             "main.py": NO_INIT}
    summary, notices = build_scripted(tmp_path, stubborn_program(files, summary="A snake game."), "a snake game")
    text = (Path(summary.project) / "main.py").read_text()
    assert "import pygame\npygame.init()\n" in text
    assert summary.runs is True, summary
    assert any("added `pygame.init()` after `import pygame` in main.py" in n for n in notices), notices
