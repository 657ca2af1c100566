"""A module called as the one object of its class (chatdev/repair/objects.py), as the 1.5B's
breakout wrote it: ``import ball`` and ``ball.move()``, the values for the Ball set above the loop."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from chatdev.repair.objects import make_objects, module_attribute

BALL = '''import pygame


class Ball:
    def __init__(self, x, y, radius, color=(255, 255, 255)):
        self.x = x
        self.y = y
        self.radius = radius
        self.speed_x = 5

    def move(self):
        self.x += self.speed_x
'''
PADDLE = '''class Paddle:
    def __init__(self, x, y, width, height):
        self.x, self.y, self.width, self.height = x, y, width, height

    def draw(self, screen):
        screen.append(("paddle", self.x))
'''
SCRIPT = '''# main.py
import paddle
import ball

screen = []
paddle_width = 100
paddle_height = 10
paddle_x = 350
paddle_y = 570
ball_radius = 10
ball_x = 400
ball_y = 300

running = True
frames = 0
while running:
    ball.move()
    if ball.x > 800:
        running = False
    paddle.draw(screen)
    frames += 1
    running = frames < 3
'''
ERROR = "AttributeError: module '{}' has no attribute '{}'"


def test_the_module_becomes_one_object_made_from_the_values_named_for_it() -> None:
    sources = {"main.py": SCRIPT, "ball.py": BALL, "paddle.py": PADDLE}
    made = make_objects(sources, "main.py", ERROR.format("ball", "move"))
    assert made is not None and made.call == "Ball(ball_x, ball_y, ball_radius)"  # color has a default
    text = made.files["main.py"]
    assert "from ball import Ball\n" in text and "import ball\n" not in text
    assert "running = True\nframes = 0\nball = Ball(ball_x, ball_y, ball_radius)\nwhile running:" in text
    sources.update(made.files)
    again = make_objects(sources, "main.py", ERROR.format("paddle", "draw"))  # the next crash
    assert again is not None and again.call == "Paddle(paddle_x, paddle_y, paddle_width, paddle_height)"
    namespace: dict = {}
    code = again.files["main.py"].replace("from ball import Ball\n", "").replace("from paddle import Paddle\n", "")
    exec(compile(BALL.replace("import pygame\n", "") + PADDLE + code, "main.py", "exec"), namespace)
    assert namespace["screen"] == [("paddle", 350)] * 3 and namespace["ball"].x == 415  # it runs now


def test_inside_a_function_the_object_is_made_there() -> None:
    source = ("import ball\n\n\ndef main():\n    x = 1\n    y = 2\n    radius = 3\n    ball.move()\n"
              "    return ball.x\n\n\nif __name__ == '__main__':\n    main()\n")
    made = make_objects({"main.py": source, "ball.py": BALL}, "main.py", ERROR.format("ball", "move"))
    assert made is not None
    assert "    radius = 3\n    ball = Ball(x, y, radius)\n    ball.move()\n" in made.files["main.py"]
    ast.parse(made.files["main.py"])


def test_no_repair_where_the_code_allows_another_reading() -> None:
    base = {"main.py": SCRIPT, "ball.py": BALL, "paddle.py": PADDLE}
    assert module_attribute("AttributeError: 'Ball' object has no attribute 'move'") is None
    assert make_objects(base, "main.py", "NameError: name 'x' is not defined") is None
    # a value the class needs that the code does not name
    assert make_objects({**base, "main.py": SCRIPT.replace("ball_radius = 10\n", "")}, "main.py",
                        ERROR.format("ball", "move")) is None
    # the module is used as a module too (a constant of ball.py)
    assert make_objects({**base, "ball.py": BALL + "\nSPEED = 5\n",
                         "main.py": SCRIPT.replace("frames += 1", "frames += ball.SPEED")}, "main.py",
                        ERROR.format("ball", "move")) is None
    # two classes with these members, or none
    two = BALL + "\n\nclass Other:\n    def __init__(self):\n        self.x = 0\n\n    def move(self):\n        pass\n"
    assert make_objects({**base, "ball.py": two}, "main.py", ERROR.format("ball", "move")) is None
    assert make_objects({**base, "ball.py": "def helper():\n    pass\n"}, "main.py", ERROR.format("ball", "move")) is None
    # the name is bound elsewhere too, or the module is not the project's
    assert make_objects({**base, "main.py": SCRIPT.replace("frames = 0", "frames = 0\nball = None")}, "main.py",
                        ERROR.format("ball", "move")) is None
    assert make_objects({"main.py": SCRIPT}, "main.py", ERROR.format("ball", "move")) is None


@pytest.mark.docker
def test_the_company_makes_the_objects_and_the_program_runs(tmp_path: Path, sandbox_ready: None) -> None:
    """The real sandbox: main.py dies on ``ball.move()``, then on ``paddle.draw``; fixes send it back
    as it was, so only the repair can help; the run that follows each repair decides."""
    import subprocess

    from tests.scripted_company import build_scripted, stubborn_program

    files = {"main.py": SCRIPT + "print('frames', frames, 'ball at', ball.x)\n",
             "ball.py": BALL.replace("import pygame\n", ""), "paddle.py": PADDLE}
    summary, notices = build_scripted(tmp_path, stubborn_program(files, summary="A breakout."), "a breakout")
    project = Path(summary.project)
    text = (project / "main.py").read_text()
    assert "ball = Ball(ball_x, ball_y, ball_radius)\n" in text
    assert "paddle = Paddle(paddle_x, paddle_y, paddle_width, paddle_height)\n" in text
    assert summary.runs is True, summary
    assert any("made one Ball in main.py (`ball = Ball(ball_x, ball_y, ball_radius)`)" in n for n in notices), notices
    log = subprocess.run(["git", "-C", str(project), "log", "--format=%an|%s"], capture_output=True, text=True,
                         check=True).stdout
    assert "Programmer|[static_check] Repair main.py without a model" in log
