"""`chatdev build` end to end on the real Qwen2.5-Coder-0.5B GGUF: no scripted replies.

The command line a user types, the real llama.cpp model, real git, and (where a
Docker engine answers) the real sandbox. A 0.5B model may well write a program
that fails its tests; what must hold is that the company finishes its chain
and leaves a reviewable project whose record tells the truth.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.llm, pytest.mark.slow]

REPO = Path(__file__).resolve().parent.parent


def _docker_ready() -> bool:
    try:
        from chatdev.sandbox import container

        container.preflight()
        return True
    except Exception:  # noqa: BLE001
        return False


def git(project: Path, *args: str) -> str:
    """Git's output, or "" while the repository has no commits yet."""
    return subprocess.run(["git", "-C", str(project), *args], capture_output=True, text=True).stdout


@pytest.mark.docker
def test_build_snake_game_on_the_real_model(cli, small_model_path: Path, tmp_path: Path) -> None:
    args = ["build", "a snake game", "--model", "qwen2.5-coder-0.5b", "--out", str(tmp_path), "--seed", "1",
            "--json"]
    docker = _docker_ready()
    if not docker:
        if os.environ.get("CI"):
            pytest.fail("CI must provide a Docker engine and the runner image (scripts/ensure_docker.sh)")
        args.append("--no-run")
    result = cli(*args, timeout=1500)
    assert result.returncode in (0, 1, 4), result.stderr[-3000:]
    summary = json.loads(result.stdout)  # --json: one JSON document and nothing else on stdout
    project = Path(summary["project"])
    assert project == tmp_path / "snake_game"
    assert summary["status"] in ("passed", "tests_fail", "failed", "untested"), summary["reason"]
    assert summary["tokens"]["prompt"] > 0 and summary["tokens"]["completion"] > 0 and summary["llm_calls"] >= 6
    for rel in ("docs/requirements.md", "docs/design.md", "README.md", "requirements.txt"):
        assert (project / rel).is_file(), rel
    design = json.loads((project / ".chatdev/state.json").read_text())["outputs"]["design"]
    transcript = [json.loads(line) for line in (project / ".chatdev/transcript.jsonl").read_text().splitlines()]
    left_out = " ".join(e["text"] for e in transcript if e["kind"] == "notice" and "left out" in e["text"])
    for planned in design["files"]:  # each written, or left out as a copy of classes another file holds, said so
        assert (project / planned["path"]).is_file() or planned["path"] in left_out, planned
    assert any(p.endswith(".py") for p in summary["files"])
    authors = {line for line in git(project, "log", "--format=%an").splitlines()}
    assert {"CTO", "Programmer", "Documenter"} <= authors
    assert "v1" in git(project, "tag").split()
    assert git(project, "status", "--porcelain").strip() == ""  # everything the company did is committed
    replies = [e for e in transcript if e["kind"] == "message" and e["completion_tokens"] > 0]
    assert replies and all(e["model"] == "qwen2.5-coder-0.5b" for e in replies)
    if docker:
        assert summary["tests"]["ran"] is True
        runs = [e for e in transcript if e["kind"] == "sandbox"]
        assert runs, "the sandbox ran the program"
        # two facts, and the exit code says which one failed
        assert summary["runs"] is summary["tests"]["runs"] and summary["tests_pass"] == summary["tests"]["tests_pass"]
        assert (summary["status"] == "passed") == bool(summary["tests"]["passed"])
        expected = 0 if summary["status"] == "passed" else 4 if summary["status"] == "tests_fail" else 1
        assert result.returncode == expected and (summary["status"] == "failed") == (not summary["runs"])
    else:
        assert summary["status"] == "untested" and summary["tests"]["ran"] is False


def test_live_view_ctrl_c_and_resume_on_the_real_model(small_model_path: Path, tmp_path: Path) -> None:
    """A person watching: the live panel shows phase and speaker; Ctrl-C keeps the work; resume finishes it."""
    pexpect = pytest.importorskip("pexpect")
    env = {**os.environ, "COLUMNS": "120", "LINES": "40", "TERM": "xterm-256color", "PYTHONUNBUFFERED": "1"}
    child = pexpect.spawn(sys.executable, ["-m", "chatdev", "build", "a dice roller", "--model", "qwen2.5-coder-0.5b",
                                           "--out", str(tmp_path), "--no-run", "--seed", "2"],
                          cwd=str(REPO), env=env, encoding="utf-8", timeout=600, dimensions=(40, 120),
                          # a runner started in the background (as CI may be) ignores SIGINT, and children
                          # inherit that: give the build the terminal's usual Ctrl-C
                          preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    child.expect("demand_analysis")
    child.expect("CTO")  # the current speaker is shown
    project = tmp_path / "dice_roller"
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:  # wait for the design commit, then interrupt during coding
        if (project / ".git").is_dir() and "[design]" in git(project, "log", "--format=%s"):
            break
        try:  # keep reading the screen, or the live view blocks on a full terminal
            child.read_nonblocking(65536, timeout=1)
        except pexpect.TIMEOUT:
            pass
    child.kill(signal.SIGINT)
    tail = ""
    while True:  # read to the end (the summary panel with the resume hint comes last)
        try:
            tail += child.read_nonblocking(65536, timeout=120)
        except pexpect.EOF:
            break
    child.close()
    assert child.exitstatus == 130, tail[-2000:]
    state = json.loads((project / ".chatdev/state.json").read_text())
    assert state["status"] == "interrupted" and "1:design" in state["completed"]
    assert f"chatdev resume {project}" in tail.replace("\r", "")

    resumed = subprocess.run([sys.executable, "-m", "chatdev", "resume", str(project), "--json"], cwd=REPO,
                             env=env, capture_output=True, text=True, timeout=1500)
    assert resumed.returncode in (0, 1), resumed.stderr[-3000:]
    summary = json.loads(resumed.stdout)
    assert summary["status"] == "untested"
    final = json.loads((project / ".chatdev/state.json").read_text())
    keys = final["completed"]
    assert len(keys) == len(set(keys))  # no phase ran twice
    assert "1:documentation" in keys and (project / "README.md").is_file()
