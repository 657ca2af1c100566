"""What the program offers to import, written for the tester (chatdev/project/api.py)."""

from __future__ import annotations

from pathlib import Path

from chatdev.project.api import importable
from tests.scripted_company import first_requests


def test_each_program_module_becomes_one_import_line_with_its_shapes() -> None:
    sources = {
        "main.py": "from todo import TodoList\n\n\ndef main():\n    pass\n\n\ndef parse(argv, *, strict=False):\n"
                   "    return argv\n",
        "todo.py": "class TodoList:\n    def __init__(self, path='todo.json'):\n        self.path = path\n\n"
                   "    def add(self, text):\n        pass\n\n    def _save(self):\n        pass\n",
        "utils/io.py": "def load(path):\n    return []\n\n\ndef _hidden():\n    pass\n",
        "tests/test_main.py": "def test_x():\n    pass\n",
        "broken.py": "def f(:\n",
    }
    assert importable(sources).splitlines() == [
        "from main import parse  # parse(argv, strict)",  # main() starts the program: left out
        "from todo import TodoList  # TodoList(path) with .add(text)",
        "from utils.io import load  # load(path)",
    ]
    assert importable({"main.py": "print('hi')\n"}) == ""


def test_the_testers_request_names_what_it_can_import(tmp_path: Path) -> None:
    asked = first_requests(tmp_path)
    assert ("Begin the file with the imports, then the tests; do not copy the program:\n"
            "from main import new_food, step  # new_food(width, height, snake); step(snake, direction)\n"
            ) in asked["test_writing"]
    assert "from main import" not in asked["coding"]  # nothing is written yet when the first file is
