"""Results of sandbox runs and what "the program works" means (pure: no Docker here).

``RunResult`` is one program run; ``ProgramReport`` is the verdict of
``sandbox.verify_program``: static check, entry-point run, pytest, and a short plain
``summary`` the engine sends back to the programmer model.
"""

from __future__ import annotations

import dataclasses
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SUMMARY_LIMIT = 1500
TRACEBACK = "Traceback (most recent call last)"
SCREEN_HEADER = "[terminal screen "  # stdout of a curses program: its final screen (runner/agent.py)
IN_IMAGE = ("the standard library, pygame, tkinter, numpy, pillow (PIL), requests, pyyaml, flask, "
            "python-dateutil, tabulate, colorama, pytest")
# import name -> pip name, for --allow-install
PIP_NAMES = {"cv2": "opencv-python-headless", "PIL": "pillow", "yaml": "pyyaml", "sklearn": "scikit-learn",
             "bs4": "beautifulsoup4", "skimage": "scikit-image", "dateutil": "python-dateutil",
             "dotenv": "python-dotenv", "serial": "pyserial", "Crypto": "pycryptodome", "attr": "attrs",
             "jwt": "pyjwt", "magic": "python-magic", "docx": "python-docx", "pptx": "python-pptx"}


@dataclass(frozen=True)
class RunResult:
    """One program run in the sandbox. ``exit_code`` is None when it was stopped at ``timeout``."""

    exit_code: int | None
    stdout: str
    stderr: str
    timed_out: bool
    duration: float
    screenshot: bytes | None = None
    oom_killed: bool = False
    truncated: bool = False

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["screenshot"] = None
        data["screenshot_bytes"] = len(self.screenshot) if self.screenshot else 0
        return data


@dataclass(frozen=True)
class ProgramReport:
    """Does the program work? ``summary`` (≤ 1500 chars) says which step failed and why."""

    static_ok: bool
    static_output: str
    entry: str | None
    run: RunResult | None
    tests: RunResult | None
    tests_found: bool
    passed: bool
    summary: str
    screenshot: bytes | None
    gui: bool = False
    screenshot_path: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "static_ok": self.static_ok, "static_output": self.static_output, "entry": self.entry,
            "run": self.run.to_dict() if self.run else None, "tests": self.tests.to_dict() if self.tests else None,
            "tests_found": self.tests_found, "passed": self.passed, "summary": self.summary, "gui": self.gui,
            "screenshot_bytes": len(self.screenshot) if self.screenshot else 0,
            "screenshot_path": self.screenshot_path,
        }


def run_ok(run: RunResult) -> bool:
    """Exit 0, or still running at the end of its window without a traceback (apps, games, servers)."""
    if run.oom_killed:
        return False
    if run.timed_out:
        return TRACEBACK not in run.stderr
    return run.exit_code == 0


def tail(text: str, lines: int = 20, chars: int = 900) -> str:
    """The last ``lines`` non-empty lines of ``text``, at most ``chars`` characters."""
    kept = [line.rstrip() for line in text.strip().splitlines() if line.strip()][-lines:]
    out = "\n".join(kept)
    return out if len(out) <= chars else "..." + out[-chars:]


def pytest_failures(text: str) -> str:
    """The lines of a pytest run that say what failed: E-lines, FAILED/ERROR lines, the final count."""
    keep = [line for line in text.splitlines()
            if line.startswith(("E ", "FAILED", "ERROR")) or re.search(r"\b(passed|failed|error)s?\b.* in ", line)
            or line.startswith(("_", "    ")) and "Error" in line]
    return tail("\n".join(keep) if keep else text, lines=25, chars=1000)


def _clip(text: str) -> str:
    if len(text) <= SUMMARY_LIMIT:
        return text
    head = text[:400]
    return head + "\n...\n" + text[-(SUMMARY_LIMIT - len(head) - 5):]


def build_report(payload: dict[str, Any], *, run: RunResult | None, tests: RunResult | None,
                 allow_install: bool = False, static_only: bool = False) -> ProgramReport:
    """Turn the agent's verify payload into a ``ProgramReport`` with a plain-text summary."""
    probe = payload.get("probe") or {}
    static = payload.get("static") or {"ok": True, "errors": [], "warnings": [], "missing": []}
    entry = probe.get("entry")
    lines = [*static.get("errors", []), *static.get("missing", []), *static.get("warnings", [])]
    static_output = "\n".join(lines)
    tests_found = bool(probe.get("tests"))
    gui = bool(payload.get("gui"))
    if not payload:  # the container itself failed (hard timeout, out of memory)
        text = f"The sandbox could not finish the check: {run.stderr if run else 'no result'}"
        return ProgramReport(static_ok=False, static_output="", entry=None, run=run, tests=None, tests_found=False,
                             passed=False, summary=_clip(text), screenshot=None)
    if not static.get("ok", True):
        parts = ["Static check failed, so the program was not run:"]
        parts += static.get("errors", [])[:15]
        parts += static.get("missing", [])[:10]
        if static.get("missing") and not allow_install:
            parts.append(f"Nothing can be installed: use only what the sandbox has ({IN_IMAGE}).")
        return ProgramReport(static_ok=False, static_output=static_output, entry=entry, run=None, tests=None,
                             tests_found=tests_found, passed=False, summary=_clip("\n".join(parts)), screenshot=None)
    if static_only:
        return ProgramReport(static_ok=True, static_output=static_output, entry=entry, run=None, tests=None,
                             tests_found=tests_found, passed=True, summary="Static check clean.", screenshot=None)
    if entry is None:
        text = ("No entry point: the project has no main.py, app.py or __main__.py and no file with "
                "`if __name__ == \"__main__\":`. Add one that starts the program.")
        return ProgramReport(static_ok=True, static_output=static_output, entry=None, run=None, tests=None,
                             tests_found=tests_found, passed=False, summary=text, screenshot=None)
    command = shlex.join(_entry_argv(entry))
    parts = []
    ok = run is not None and run_ok(run)
    if run is None:
        parts.append(f"`{command}` did not run.")
    elif ok and run.timed_out:
        parts.append(f"`{command}` was still running after {run.duration:.0f} s without a traceback: ok.")
    elif ok:
        parts.append(f"`{command}` exited 0 in {run.duration:.1f} s.")
    else:
        if run.oom_killed:
            why = "was killed: out of memory"
        elif run.timed_out:
            why = f"printed a traceback and was still running after {run.duration:.0f} s"
        else:
            why = f"failed with exit code {run.exit_code} after {run.duration:.1f} s"
        parts.append(f"`{command}` {why}:\n{tail(run.stderr or run.stdout) or '(no output)'}")
    if run is not None and ok and run.stdout.startswith(SCREEN_HEADER):
        parts.append(tail(run.stdout, lines=25, chars=700))
    tests_ok = True
    if tests is not None:
        if tests.exit_code == 5:
            parts.append("pytest collected no tests.")
        elif tests.exit_code == 0:
            parts.append(f"pytest passed: {tail(tests.stdout, lines=1, chars=200)}")
        else:
            tests_ok = False
            why = "timed out" if tests.timed_out else f"exit code {tests.exit_code}"
            parts.append(f"pytest failed ({why}):\n{pytest_failures(tests.stdout + chr(10) + tests.stderr)}")
    elif tests_found:
        parts.append("The tests were not run.")
    passed = ok and tests_ok
    parts.insert(0, "PASSED." if passed else "FAILED.")
    shot = run.screenshot if run else None
    return ProgramReport(static_ok=True, static_output=static_output, entry=entry, run=run, tests=tests,
                         tests_found=tests_found, passed=passed, summary=_clip("\n".join(parts)), screenshot=shot,
                         gui=gui)


def _entry_argv(entry: str) -> list[str]:
    rel = Path(entry)
    if rel.name == "__main__.py" and len(rel.parts) > 1:
        return ["python3", "-m", ".".join(rel.parts[:-1])]
    return ["python3", rel.as_posix()]


def install_names(project_dir: Path, missing: list[str]) -> list[str]:
    """pip requirements for ``--allow-install``: the missing modules' pip names, pinned as requirements.txt pins them."""
    pinned: dict[str, str] = {}
    req = Path(project_dir) / "requirements.txt"
    if req.is_file():
        for line in req.read_text(errors="replace").splitlines():
            line = line.split("#", 1)[0].strip()
            if line and not line.startswith("-"):
                pinned[re.split(r"[<>=!~\[ ;]", line, maxsplit=1)[0].lower().replace("_", "-")] = line
    wanted: list[str] = []
    for item in missing:
        found = re.search(r"No module named '([^']+)'", item)
        if found:
            name = PIP_NAMES.get(found[1], found[1])
            wanted.append(pinned.get(name.lower().replace("_", "-"), name))
    return sorted(set(wanted))
