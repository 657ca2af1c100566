"""Repairs of a program's scopes without a model: a missing ``global`` (chatdev/repair/scopes.py)
and the calls that start the program when its tests import it (chatdev/repair/guard.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from chatdev.repair.guard import guard_entry
from chatdev.repair.scopes import declare_outer, declare_read_before, unbound_name

NEW = "UnboundLocalError: cannot access local variable '{}' where it is not associated with a value"
OLD = "UnboundLocalError: local variable '{}' referenced before assignment"

# the 1.5B's snake, cut down: module state, a loop that assigns two of its variables
SNAKE = '''import random

snake_direction = (0, -10)
food = (5, 5)
score = 0


def game_loop():
    global score

    for key in ("up", "left"):
        if key == "up" and snake_direction != (0, 10):
            snake_direction = (0, -10)
        head = (snake_direction[0], snake_direction[1])
        if head == food:
            food = (random.randint(0, 9), random.randint(0, 9))
            score += 1
    return score


game_loop()
'''


def test_the_variable_the_crash_names_joins_the_functions_global_line() -> None:
    fixed = declare_outer({"main.py": SNAKE}, "main.py", 12, "game_loop", NEW.format("snake_direction"))
    assert fixed == {"main.py": SNAKE.replace("global score", "global score, snake_direction")}
    again = declare_outer(fixed, "main.py", 15, "game_loop", OLD.format("food"))  # the Python 3.10 words
    assert "    global score, snake_direction, food\n" in again["main.py"]
    namespace: dict = {}
    exec(compile(again["main.py"], "main.py", "exec"), namespace)  # it runs now
    assert namespace["snake_direction"] == (0, -10)


def test_a_function_without_a_global_line_gets_one_after_its_docstring() -> None:
    source = 'count = 0\n\n\ndef bump():\n    """One more."""\n    count += 1\n    return count\n'
    fixed = declare_outer({"m.py": source}, "m.py", 6, "bump", NEW.format("count"))
    assert fixed["m.py"] == source.replace('"""One more."""\n', '"""One more."""\n    global count\n')
    nested = "def outer():\n    n = 0\n\n    def inc():\n        n += 1\n        return n\n    return inc()\n"
    fixed = declare_outer({"m.py": nested}, "m.py", 5, "inc", NEW.format("n"))
    assert "        nonlocal n\n        n += 1" in fixed["m.py"]
    method = "total = 0\n\n\nclass A:\n    def add(self, x):\n        total += x\n"
    assert "        global total\n        total += x" in declare_outer({"m.py": method}, "m.py", 6, "add",
                                                                     NEW.format("total"))["m.py"]


def test_a_variable_nobody_outside_binds_is_a_real_bug_and_left_alone() -> None:
    local = "def f(flag):\n    if flag:\n        x = 1\n    return x\n"
    assert declare_outer({"m.py": local}, "m.py", 4, "f", NEW.format("x")) == {}
    assert declare_outer({"m.py": SNAKE}, "main.py", 12, "game_loop", NEW.format("snake_direction")) == {}
    assert declare_outer({"main.py": SNAKE}, "main.py", 12, "other", NEW.format("snake_direction")) == {}
    assert declare_outer({"main.py": SNAKE}, "main.py", 12, "game_loop", "NameError: name 'x' is not defined") == {}
    one_line = "n = 0\ndef f(): n += 1\n"
    assert declare_outer({"m.py": one_line}, "m.py", 2, "f", NEW.format("n")) == {}
    assert unbound_name(OLD.format("food")) == "food" and unbound_name("KeyError: 'food'") is None


def test_what_pyflakes_says_a_function_reads_before_assigning_is_declared_before_it_crashes() -> None:
    """make demo (2026-12-07): pyflakes named `direction`, `food` and `score` through every cycle, and
    no run pressed the key that would have crashed on them."""
    report = ("main.py:12:28: local variable 'snake_direction' defined in enclosing scope on line 3 referenced "
              "before assignment\nmain.py:15:20: local variable 'food' defined in enclosing scope on line 4 "
              "referenced before assignment\nmain.py:16:13: local variable 'food' is assigned to but never used\n")
    declared = declare_read_before({"main.py": SNAKE}, report)
    assert declared is not None and declared.names == ["game_loop: snake_direction", "game_loop: food"]
    assert "    global score, snake_direction, food\n" in declared.files["main.py"]
    # bound by an import (the import repair's case), or inside nested functions: left alone
    imported = "import paddle\n\n\ndef f():\n    paddle = paddle.Paddle()\n"
    assert declare_read_before({"m.py": imported}, "m.py:5:14: local variable 'paddle' defined in enclosing "
                                                   "scope on line 1 referenced before assignment") is None
    assert declare_read_before({"main.py": SNAKE}, "") is None


def test_the_closing_calls_go_under_a_main_guard_when_a_test_imports_the_entry() -> None:
    tests = {"tests/test_main.py": "from main import game_loop\n\n\ndef test_it():\n    assert game_loop() == 0\n"}
    fixed = guard_entry({"main.py": SNAKE}, "main.py", tests)
    assert fixed == {"main.py": SNAKE.replace("\ngame_loop()\n", '\nif __name__ == "__main__":\n    game_loop()\n')}
    window = "import tkinter as tk\nroot = tk.Tk()\n\n# go\nroot.title('x')\nroot.mainloop()\n"
    fixed = guard_entry({"app.py": window}, "app.py", {"tests/test_app.py": "import app\n"})
    assert fixed["app.py"].endswith('# go\nif __name__ == "__main__":\n    root.title(\'x\')\n    root.mainloop()\n')


def test_an_entry_nobody_imports_or_one_already_guarded_is_left_alone() -> None:
    assert guard_entry({"main.py": SNAKE}, "main.py", {"tests/test_x.py": "import other\n"}) == {}
    guarded = SNAKE.replace("\ngame_loop()\n", '\nif __name__ == "__main__":\n    game_loop()\n')
    assert guard_entry({"main.py": guarded}, "main.py", {"tests/t.py": "from main import game_loop\n"}) == {}
    no_call = "def f():\n    return 1\n"
    assert guard_entry({"main.py": no_call}, "main.py", {"tests/t.py": "from main import f\n"}) == {}
    text = 'print("""two\nlines""")\n'
    assert guard_entry({"main.py": text}, "main.py", {"tests/t.py": "import main\n"}) == {}


PROGRAM = '''total = 0
history = []


def add(n):
    history.append(n)
    total = total + n
    return total


def main():
    for n in (1, 2, 3):
        print("total", add(n))


main()
'''

PROGRAM_TESTS = '''from main import add


def test_add_starts_from_zero():
    assert add(2) == 2
'''


@pytest.mark.docker
def test_the_company_repairs_both_without_a_model_and_the_program_runs(tmp_path: Path, sandbox_ready: None) -> None:
    """The real sandbox: the static check declares ``total`` global, the test run guards the entry."""
    import subprocess

    from chatdev import events
    from chatdev.models.base import current_call
    from chatdev.run import engine
    from tests.scripted_company import company_models, good_reply, one_file_program, scripted

    base = one_file_program(PROGRAM, summary="A running total.", run="python main.py")

    def company(messages):  # fixes send the program back as it was: only the repairs can help
        info = current_call()
        phase = info.phase if info is not None else ""
        if phase == "test_writing":
            return f"tests/test_main.py\n```python\n{PROGRAM_TESTS}```"
        if phase in ("code_fix", "test_fix"):
            return f"main.py\n```python\n{PROGRAM}```"
        return base(messages) if phase in ("design", "coding") else good_reply(messages)

    sink = events.Recorder()
    summary = engine.build(engine.BuildOptions(task="a running total tool", out=tmp_path), sink=sink,
                           models=company_models(scripted(company)))
    project = Path(summary.project)
    text = (project / "main.py").read_text()
    assert "    global total\n" in text and text.endswith('if __name__ == "__main__":\n    main()\n')
    assert summary.runs is True and summary.tests_pass is True, summary
    notices = [e.text for e in sink.events if isinstance(e, events.Notice)]
    # pyflakes names `total` before the run: declared then (the crash repair's line is the other one)
    assert any("declared `global` the module variables these functions assign after reading them: add: total" in n
               or "declared `total` global in add() (main.py)" in n for n in notices), notices
    assert any("main.py started the program when the tests imported it" in n for n in notices), notices
    log = subprocess.run(["git", "-C", str(project), "log", "--format=%an|%s"], capture_output=True, text=True,
                         check=True).stdout
    assert "Programmer|[static_check] Repair main.py without a model" in log
    assert "Tester|[test_run] Repair after the run (imports, expected values, quarantined tests): main.py" in log


KEYED = '''direction = "right"


def on_key(key):
    if key == "left" and direction != "right":
        direction = "left"
    return direction


def main():
    print("ready, going", direction)


if __name__ == "__main__":
    main()
'''


@pytest.mark.docker
def test_a_variable_read_before_assignment_is_declared_before_any_run_reaches_it(tmp_path: Path,
                                                                                sandbox_ready: None) -> None:
    """The real sandbox: the program runs (no key is ever pressed), pyflakes names `direction`, and
    the check declares it global, as in the demo's snake, whose first arrow key would have crashed."""
    from tests.scripted_company import build_scripted, stubborn_program

    summary, notices = build_scripted(tmp_path, stubborn_program({"main.py": KEYED}, summary="Keys."), "a key tool")
    text = (Path(summary.project) / "main.py").read_text()
    assert '    global direction\n    if key == "left"' in text
    assert any("declared `global` the module variables these functions assign after reading them: on_key: direction"
               in n for n in notices), notices
    assert summary.runs is True, summary


def test_a_top_level_game_loop_goes_under_a_guard_even_beside_one_already_there() -> None:
    """The 1.5B breakout: `while running:`, then `with open(...)`, then a guard around its last calls."""
    game = ("import pygame\nrunning = True\nwhile running:\n    running = step()\n\nwith open('hi.txt', 'w') as f:\n"
            "    f.write('1')\n\nif __name__ == \"__main__\":\n    pygame.quit()\n")
    fixed = guard_entry({"main.py": game}, "main.py", {"tests/test_main.py": "from main import running\n"})
    assert fixed == {"main.py": "import pygame\nrunning = True\nif __name__ == \"__main__\":\n    while running:\n"
                                "        running = step()\n\n    with open('hi.txt', 'w') as f:\n        f.write('1')\n\n"
                                "if __name__ == \"__main__\":\n    pygame.quit()\n"}
    compile(fixed["main.py"], "main.py", "exec")
    # a definition after the loop would be hidden from the tests: left alone
    later = game.replace("with open", "def later():\n    pass\n\n\nwith open")
    assert guard_entry({"main.py": later}, "main.py", {"tests/test_main.py": "import main\n"}) == {}
    # a loop already under the guard: nothing to do
    inside = "def step():\n    return False\n\n\nif __name__ == \"__main__\":\n    while step():\n        pass\n"
    assert guard_entry({"main.py": inside}, "main.py", {"tests/test_main.py": "import main\n"}) == {}
