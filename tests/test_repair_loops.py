"""A command-line tool's dispatch on sys.argv in an endless loop is run once (``chatdev/repair/loops.py``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from chatdev.repair.loops import run_once

TODO = """from todo import TodoList
import sys


def main():
    todo = TodoList('todo.json')
    while True:
        command = sys.argv[1].strip().lower()
        # the command
        if command == 'add':
            todo.add(sys.argv[2])
        elif command == 'list':
            todo.list()
        else:
            print("Invalid command.")

if __name__ == "__main__":
    main()
"""


def test_the_1_5bs_todo_dispatch_runs_once(tmp_path: Path) -> None:
    """The 1.5B's todo list (2026-12-07): ``add 'buy milk'`` added the item until it was killed."""
    fixed = run_once({"main.py": TODO, "todo.py": "class TodoList: ...\n"})
    assert list(fixed) == ["main.py"]
    assert fixed["main.py"] == TODO.replace("    while True:\n", "").replace("\n        ", "\n    ")
    (tmp_path / "main.py").write_text(fixed["main.py"])
    (tmp_path / "todo.py").write_text("class TodoList:\n    def __init__(self, path): pass\n"
                                      "    def add(self, text): print('added', text)\n")
    done = subprocess.run([sys.executable, "main.py", "add", "buy milk"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=20)
    assert done.returncode == 0 and done.stdout == "added buy milk\n"


def test_loops_that_wait_or_end_are_left_alone() -> None:
    menu = "import sys\nwhile True:\n    choice = input('> ')\n    print(sys.argv, choice)\n"
    ends = "import sys\nwhile True:\n    if sys.argv[1] == 'q':\n        break\n    print(1)\n"
    game = ("import sys, pygame\nwhile True:\n    for event in pygame.event.get():\n        pass\n"
            "    print(sys.argv)\n")
    plain = "while True:\n    print('tick')\n"  # no command line in it: not this repair's
    text = 'import sys\nwhile True:\n    print(sys.argv, """a\nb""")\n'  # dedenting would change the string
    assert run_once({"a.py": menu, "b.py": ends, "c.py": game, "d.py": plain, "e.py": text,
                     "f.py": "def broken(:\n"}) == {}
