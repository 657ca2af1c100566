"""Missing imports repaired without a model: pure text in, text out."""

from __future__ import annotations

from pathlib import Path

import pytest

from chatdev.repair.imports import add_missing_imports

SOURCES = {
    "main.py": '"""The game."""\nfrom __future__ import annotations\n\nsnake = Snake()\nprint(random.randint(1, 6))\n'
               "screen = pygame.display.set_mode((10, 10))\narr = np.zeros(3)\nprint(mystery)\n",
    "snake.py": "class Snake:\n    pass\n",
}
REPORT = """Static check failed, so the program was not run:
main.py:4:9: undefined name 'Snake'
main.py:5:7: undefined name 'random'
main.py:6:10: undefined name 'pygame'
main.py:7:7: undefined name 'np'
main.py:8:7: undefined name 'mystery'
other.py:1:1: undefined name 'os'
"""


def test_modules_and_neighbours_get_imported_after_the_docstring() -> None:
    fixed = add_missing_imports(SOURCES, REPORT)
    assert list(fixed) == ["main.py"]
    lines = fixed["main.py"].splitlines()
    assert lines[:6] == ['"""The game."""', "from __future__ import annotations", "from snake import Snake",
                         "import random", "import pygame", "import numpy as np"]
    assert "mystery" not in "\n".join(lines[:6])  # unknown names are left for the programmer


def test_an_import_that_would_close_a_circle_copies_the_constant_instead() -> None:
    """make demo (2026-12-07): Snake got a `draw` using pygame and GREEN; `from main import GREEN` in
    snake.py, which main.py imports, killed the game on a circular import, and the fix was rolled back."""
    sources = {
        "main.py": "import pygame\nfrom snake import Snake\n\nGREEN = (0, 255, 0)\nFONT = pygame.font.Font(None, 20)\n"
                   "\n\ndef main():\n    Snake(1).draw(None)\n",
        "snake.py": '"""The snake."""\nimport random\n\n\nclass Snake:\n    def draw(self, screen):\n'
                    "        pygame.draw.rect(screen, GREEN, (0, 0, 1, 1))\n        print(FONT, helper())\n",
        "util.py": "def helper():\n    return 1\n",
    }
    report = ("snake.py:7:9: undefined name 'pygame'\nsnake.py:7:34: undefined name 'GREEN'\n"
              "snake.py:8:15: undefined name 'FONT'\nsnake.py:8:21: undefined name 'helper'\n")
    fixed = add_missing_imports(sources, report)
    assert list(fixed) == ["snake.py"]
    assert fixed["snake.py"].splitlines()[:5] == ['"""The snake."""', "import pygame", "from util import helper",
                                                  "import random", "GREEN = (0, 255, 0)"]
    assert "from main import" not in fixed["snake.py"]  # FONT is not a literal: left for the fixer
    # no circle (main.py does not import snake): the import, as before
    alone = {**sources, "main.py": sources["main.py"].replace("from snake import Snake\n", "")}
    assert "from main import GREEN" in add_missing_imports(alone, report)["snake.py"]
    # the next fix gave Food a draw too: GREEN is now main.py's and snake.py's, the same value either way
    both = {**sources, "snake.py": fixed["snake.py"], "food.py": "import pygame\n\n\ndef draw(screen):\n"
                                                               "    pygame.draw.rect(screen, GREEN, (0, 0, 1, 1))\n"}
    again = add_missing_imports(both, "food.py:5:30: undefined name 'GREEN'\n")
    assert again == {"food.py": both["food.py"].replace("import pygame\n", "import pygame\nGREEN = (0, 255, 0)\n")}
    differ = {**both, "snake.py": both["snake.py"].replace("GREEN = (0, 255, 0)", "GREEN = (0, 200, 0)")}
    assert add_missing_imports(differ, "food.py:5:30: undefined name 'GREEN'\n") == {}


def test_nothing_to_do() -> None:
    assert add_missing_imports(SOURCES, "main.py:3:1: syntax error: invalid syntax") == {}
    broken = {"main.py": "def (:\n"}
    assert add_missing_imports(broken, "main.py:1:1: undefined name 'random'") == {}


@pytest.mark.docker
def test_static_check_adds_the_import_and_commits_it(tmp_path: Path, sandbox_ready: None) -> None:
    """Scripted company, real sandbox, real git: the forgotten `import random` costs no model call."""
    import subprocess

    from chatdev import events
    from chatdev.run import engine
    from tests.scripted_company import GAME, company_models, good_reply, scripted

    forgetful = GAME.replace("import random\n", "")

    def reply(messages):
        if "Write the complete file main.py" in messages[-1].content:
            return f"main.py\n```python\n{forgetful}```"
        return good_reply(messages)

    recorder = events.Recorder()
    summary = engine.build(engine.BuildOptions(task="a snake game", out=tmp_path), sink=recorder,
                           models=company_models(scripted(reply)))
    project = Path(summary.project)
    assert (project / "main.py").read_text().startswith("import random\n")
    log = subprocess.run(["git", "-C", str(project), "log", "--format=%an|%s"], capture_output=True, text=True,
                         check=True).stdout
    assert "Programmer|[static_check] Repair main.py without a model (imports, stand-in sounds and images, globals, the argument count)" in log
    assert summary.tests["ran"] and summary.tests["passed"] and summary.status == "passed"


BREAKOUT = {  # the 1.5B's breakout (2026-12-02): the local `paddle` hides the module it is made from
    "main.py": "import pygame\nimport paddle\n\n\ndef main():\n    pygame.init()\n"
               "    paddle = paddle.Paddle(400, 50)  # the paddle\n    paddle.move(-5)\n    print(paddle.x)\n\n\n"
               "if __name__ == '__main__':\n    main()\n",
    "paddle.py": "class Paddle:\n    def __init__(self, x, y):\n        self.x, self.y = x, y\n\n"
                 "    def move(self, dx):\n        self.x += dx\n",
}
SHADOW = "main.py:7:14: local variable 'paddle' defined in enclosing scope on line 2 referenced before assignment"


def test_a_local_that_hides_its_module_is_made_from_the_class_instead() -> None:
    fixed = add_missing_imports(BREAKOUT, SHADOW)
    assert list(fixed) == ["main.py"]
    assert fixed["main.py"].splitlines()[:3] == ["from paddle import Paddle", "import pygame", "import paddle"]
    assert "    paddle = Paddle(400, 50)  # the paddle\n    paddle.move(-5)\n" in fixed["main.py"]
    # a name the module does not define is left for the programmer
    assert add_missing_imports({**BREAKOUT, "paddle.py": "class Bat:\n    pass\n"}, SHADOW) == {}


@pytest.mark.docker
def test_the_real_static_check_names_the_hidden_module_and_the_repair_makes_it_run(tmp_path: Path,
                                                                                   sandbox_ready: None) -> None:
    from chatdev.sandbox import container

    for path, text in BREAKOUT.items():
        (tmp_path / path).write_text(text)
    before = container.verify_program(tmp_path, timeout=5, tests=False, gui=False)
    assert before.runs is False and "UnboundLocalError" in before.run_reason
    fixed = add_missing_imports(BREAKOUT, before.static_output)
    assert list(fixed) == ["main.py"], before.static_output
    (tmp_path / "main.py").write_text(fixed["main.py"])
    after = container.verify_program(tmp_path, timeout=5, tests=False, gui=False)
    assert after.runs is True and after.static_ok and after.run is not None and after.run.stdout == "395\n", after.summary
