"""The sandbox's pure parts: project inspection, output capping, the verdict and its summary.

No Docker here; tests/test_sandbox.py runs the same code inside the real runner image.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from chatdev.sandbox import image
from chatdev.sandbox.results import ProgramReport, RunResult, build_report, install_names, run_ok
from chatdev.sandbox.runner import probe
from chatdev.sandbox.runner.supervisor import Capture


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


@pytest.mark.parametrize(("files", "entry"), [
    ({"main.py": "print(1)", "game.py": "x = 1"}, "main.py"),
    ({"app.py": "print(1)", "util.py": ""}, "app.py"),
    ({"snake.py": "def f(): pass\nif __name__ == '__main__':\n    f()\n", "board.py": "B = 1"}, "snake.py"),
    ({"lib.py": "X = 1", "tools/cli_tool.py": "if __name__ == \"__main__\":\n    pass\n"}, "tools/cli_tool.py"),
    ({"only.py": "print('hi')", "tests/test_only.py": "def test_x(): pass"}, "only.py"),
    ({"pkg/__main__.py": "print(1)", "pkg/__init__.py": "", "pkg/core.py": ""}, "pkg/__main__.py"),
    ({"a.py": "X = 1", "b.py": "Y = 2"}, None),
    ({"tests/test_a.py": "def test(): pass"}, None),
])
def test_find_entry(tmp_path: Path, files: dict[str, str], entry: str | None) -> None:
    assert probe.find_entry(write(tmp_path, files)) == entry


def test_explicit_entry_must_exist(tmp_path: Path) -> None:
    write(tmp_path, {"main.py": "", "other.py": ""})
    assert probe.find_entry(tmp_path, "other.py") == "other.py"
    assert probe.find_entry(tmp_path, "nope.py") is None


def test_entry_argv() -> None:
    assert probe.entry_argv("main.py") == ["python3", "main.py"]
    assert probe.entry_argv("pkg/__main__.py") == ["python3", "-m", "pkg"]
    assert probe.entry_argv("src/app/__main__.py") == ["python3", "-m", "src.app"]


@pytest.mark.parametrize(("source", "gui"), [
    ("import pygame\n", "pygame"),
    ("import tkinter as tk\n", "tkinter"),
    ("from tkinter import ttk\n", "tkinter"),
    ("from turtle import Turtle\n", "turtle"),
    ("import matplotlib.pyplot as plt\n", "matplotlib"),
    ("import os, sys\n", None),
])
def test_detect_gui(tmp_path: Path, source: str, gui: str | None) -> None:
    write(tmp_path, {"main.py": source, "tests/test_main.py": "import unittest.mock\n"})
    assert probe.detect_gui(tmp_path) == gui


def test_detect_tui(tmp_path: Path) -> None:
    write(tmp_path, {"main.py": "import curses\n"})
    assert probe.detect_tui(tmp_path) and probe.inspect(tmp_path)["tui"]
    (tmp_path / "main.py").write_text("import os\n")
    assert not probe.detect_tui(tmp_path)


def test_gui_import_in_tests_only_is_not_a_gui_program(tmp_path: Path) -> None:
    write(tmp_path, {"main.py": "print(1)\n", "test_main.py": "import tkinter\n"})
    assert probe.detect_gui(tmp_path) is None


def test_find_tests_skips_tool_folders(tmp_path: Path) -> None:
    write(tmp_path, {"main.py": "", "tests/test_a.py": "", "b_test.py": "", ".venv/test_x.py": "",
                     "__pycache__/test_y.py": "", "node_modules/test_z.py": ""})
    assert probe.find_tests(tmp_path) == ["b_test.py", "tests/test_a.py"]


def test_imported_modules_marks_optional_imports() -> None:
    import ast

    tree = ast.parse("import os\ntry:\n    import ujson as json\nexcept ImportError:\n    import json\n"
                     "from collections import abc\nfrom . import sibling\n")
    found = probe.imported_modules(tree)
    assert ("os", 1, False) in found
    assert ("ujson", 3, True) in found
    assert ("collections", 6, False) in found
    assert all(name != "sibling" for name, _, _ in found)  # relative imports are the project's own


def test_missing_modules_ignores_local_and_stdlib(tmp_path: Path) -> None:
    write(tmp_path, {"main.py": "import os\nimport board\nimport helpers.util\nimport surely_not_a_module_x\n",
                     "board.py": "", "helpers/__init__.py": "", "helpers/util.py": ""})
    assert probe.missing_modules(tmp_path) == ["main.py:4: No module named 'surely_not_a_module_x'"]


def test_capture_keeps_head_and_tail() -> None:
    cap = Capture(1000)
    cap.add(b"HEAD" + b"x" * 5000)
    cap.add(b"y" * 5000 + b"Traceback: the end")
    text = cap.text()
    assert cap.truncated and cap.total == 10022
    assert text.startswith("HEAD") and text.endswith("Traceback: the end")
    assert "bytes omitted by the sandbox" in text and len(text) < 1100
    small = Capture(1000)
    small.add(b"hello\n")
    assert small.text() == "hello\n" and not small.truncated


def result(**kw: object) -> RunResult:
    base = {"exit_code": 0, "stdout": "", "stderr": "", "timed_out": False, "duration": 0.5}
    return RunResult(**{**base, **kw})  # type: ignore[arg-type]


def test_run_ok_reads_exit_codes_not_only_tracebacks() -> None:
    assert run_ok(result())
    assert not run_ok(result(exit_code=1))  # no traceback, but exit 1
    assert not run_ok(result(exit_code=2, stderr="usage: ..."))
    assert run_ok(result(exit_code=None, timed_out=True))  # a game still running
    assert not run_ok(result(exit_code=None, timed_out=True,
                             stderr="Exception in Tkinter callback\nTraceback (most recent call last):\n"))
    assert not run_ok(result(exit_code=137, oom_killed=True))


def payload(**kw: object) -> dict[str, object]:
    base: dict[str, object] = {"probe": {"entry": "main.py", "gui": None, "tests": []},
                               "static": {"ok": True, "errors": [], "warnings": [], "missing": []}, "gui": False}
    return {**base, **kw}


def test_report_static_failure_names_lines_and_what_is_available() -> None:
    rep = build_report(payload(static={"ok": False, "errors": ["main.py:3:5: undefined name 'randint'"],
                                       "warnings": ["main.py:1:1: 'os' imported but unused"],
                                       "missing": ["main.py:2: No module named 'flask_socketio'"]}),
                       run=None, tests=None)
    assert not rep.passed and not rep.static_ok and rep.run is None
    assert "undefined name 'randint'" in rep.summary and "flask_socketio" in rep.summary
    assert "Nothing can be installed" in rep.summary and "pygame" in rep.summary
    assert "imported but unused" in rep.static_output and "imported but unused" not in rep.summary


def test_report_without_entry_point() -> None:
    rep = build_report(payload(probe={"entry": None, "gui": None, "tests": []}), run=None, tests=None)
    assert not rep.passed and rep.entry is None and "No entry point" in rep.summary


def test_report_run_failure_shows_the_traceback_tail() -> None:
    tb = "Traceback (most recent call last):\n" + "  File \"main.py\", line 9\n" * 40 + "ZeroDivisionError: division by zero"
    rep = build_report(payload(), run=result(exit_code=1, stderr=tb), tests=None)
    assert not rep.passed
    assert "exit code 1" in rep.summary and rep.summary.rstrip().endswith("ZeroDivisionError: division by zero")
    assert len(rep.summary) <= 1500


def test_report_tests_failures_and_passes() -> None:
    failing = result(exit_code=1, stdout="F.\n___ test_add ___\nE   assert 3 == 4\nFAILED tests/test_m.py::test_add"
                                          " - assert 3 == 4\n1 failed, 1 passed in 0.05s\n")
    rep = build_report(payload(probe={"entry": "main.py", "gui": None, "tests": ["tests/test_m.py"]}),
                       run=result(), tests=failing)
    assert not rep.passed and rep.tests_found
    assert "FAILED tests/test_m.py::test_add" in rep.summary and "E   assert 3 == 4" in rep.summary
    good = build_report(payload(probe={"entry": "main.py", "gui": None, "tests": ["tests/test_m.py"]}),
                        run=result(exit_code=None, timed_out=True, duration=15.0),
                        tests=result(stdout="..\n2 passed in 0.02s\n"))
    assert good.passed and "still running after 15 s" in good.summary and "2 passed" in good.summary


def test_report_summary_is_capped() -> None:
    errors = [f"main.py:{i}:1: undefined name 'n{i}'" + "x" * 200 for i in range(40)]
    rep = build_report(payload(static={"ok": False, "errors": errors, "warnings": [], "missing": []}),
                       run=None, tests=None)
    assert len(rep.summary) <= 1500


def test_to_dict_leaves_screenshot_bytes_out() -> None:
    r = result(screenshot=b"\x89PNG" + b"0" * 100)
    assert r.to_dict()["screenshot"] is None and r.to_dict()["screenshot_bytes"] == 104
    rep = ProgramReport(static_ok=True, static_output="", entry="main.py", run=r, tests=None, tests_found=False,
                        runs=True, tests_pass=None, summary="PASSED.", screenshot=r.screenshot)
    import json

    assert json.loads(json.dumps(rep.to_dict()))["screenshot_bytes"] == 104


def test_install_names_maps_modules_and_keeps_pins(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("opencv-python-headless==4.9.0.80\n# comment\n-r other.txt\n")
    missing = ["main.py:1: No module named 'cv2'", "main.py:2: No module named 'sklearn'",
               "main.py:3: No module named 'rich'"]
    assert install_names(tmp_path, missing) == ["opencv-python-headless==4.9.0.80", "rich", "scikit-learn"]


def test_image_digest_follows_runner_files() -> None:
    d = image.digest()
    assert len(d) == 16 and d == image.digest()
    names = {p.name for p in image.RUNNER_DIR.iterdir()}
    assert set(image.RUNNER_FILES) <= names
    assert "python3-pygame" in image.packages() and "xvfb" in image.packages()


def test_image_tag_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHATDEV_RUNNER_IMAGE", "my/runner:1")
    assert image.image_tag() == "my/runner:1"
    monkeypatch.delenv("CHATDEV_RUNNER_IMAGE")
    assert image.image_tag().startswith("chatdev-runner:")


def test_debian_mirror_env_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHATDEV_DEBIAN_MIRROR", "http://mirror.example/debian")
    assert image.debian_mirror() == "http://mirror.example/debian"
    monkeypatch.delenv("CHATDEV_DEBIAN_MIRROR")
    assert image.debian_mirror().startswith("http")


def test_sandbox_import_does_not_import_docker() -> None:
    import subprocess
    import sys

    code = "import sys, chatdev.sandbox.container; print('docker' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ})
    assert out.stdout.strip() == "False"


def test_missing_docker_sdk_is_one_line() -> None:
    import subprocess
    import sys

    code = ("import sys; sys.modules['docker'] = None\n"  # as if the package were not installed
            "from chatdev.sandbox import container\n"
            "try:\n    container.client()\nexcept Exception as e:\n    print(type(e).__name__, e.exit_code, e.line())\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("SandboxError 3 the Docker SDK for Python is not installed (pip install docker")
