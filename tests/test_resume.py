"""kill -9 in the middle of a build, then `resume`: no phase runs twice, no commit is lost."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from chatdev import events
from chatdev.errors import WorkspaceError
from chatdev.run import engine
from tests.scripted_company import company_models, scripted

DRIVER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from chatdev.run import engine
    from tests.scripted_company import company_models, good_reply, scripted

    def slow(messages):
        text = messages[-1].content
        if "pytest tests" in text:      # test_writing: the build is killed while this phase thinks
            time.sleep(600)
        return good_reply(messages)

    engine.build(engine.BuildOptions(task="a snake game", out=Path(sys.argv[1]), no_run=True),
                 models=company_models(scripted(slow)))
""")


def commits(project: Path) -> list[str]:
    out = subprocess.run(["git", "-C", str(project), "log", "--format=%s"], capture_output=True, text=True)
    return out.stdout.splitlines() if out.returncode == 0 else []


def test_kill_9_then_resume_completes_without_repeating(tmp_path: Path) -> None:
    repo = Path(__file__).resolve().parent.parent
    proc = subprocess.Popen([sys.executable, "-c", DRIVER, str(tmp_path)], cwd=repo,
                            env={**os.environ, "PYTHONPATH": str(repo)})
    project = tmp_path / "snake_game"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not any("[review_loop]" in c or "[coding]" in c for c in commits(project)):
        time.sleep(0.2)
    # let it reach the sleeping phase (after the review loop), with a half-written state on disk
    time.sleep(1.5)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    before = commits(project)
    assert any("[coding]" in c for c in before)
    state = json.loads((project / ".chatdev/state.json").read_text())
    done_before = set(state["completed"])
    assert "1:coding" in done_before and "1:documentation" not in done_before

    model = scripted()
    recorder = events.Recorder()
    summary = engine.resume(project, sink=recorder, models=company_models(model))
    assert summary.status == "untested"
    rerun = {f"1:{e.phase}" for e in recorder.of(events.PhaseStarted)}
    assert not (rerun & {"1:demand_analysis", "1:design", "1:coding"})  # nothing committed ran again
    asked = " ".join(m.content for call in model.calls for m in call.messages)
    assert "Write the requirements" not in asked and "Plan the Python program" not in asked
    after = commits(project)
    assert after[-len(before):] == before  # every earlier commit is still there, in order
    assert any("[documentation]" in c for c in after)
    assert (project / "tests/test_main.py").is_file() and (project / "README.md").is_file()
    resumed = [json.loads(line) for line in (project / ".chatdev/transcript.jsonl").read_text().splitlines()]
    assert [e["mode"] for e in resumed if e["kind"] == "build_started"] == ["build", "resume"]


def test_resume_refuses_what_it_cannot_continue(tmp_path: Path) -> None:
    with pytest.raises(WorkspaceError, match="not a chatdev project"):
        engine.resume(tmp_path, models=company_models(scripted()))
    summary = engine.build(engine.BuildOptions(task="a snake game", out=tmp_path, no_run=True),
                           models=company_models(scripted()))
    project = Path(summary.project)
    with pytest.raises(WorkspaceError, match="already finished"):
        engine.resume(project, models=company_models(scripted()))
    (project / ".chatdev/state.json").write_text("{not json")
    with pytest.raises(WorkspaceError):
        engine.resume(project, models=company_models(scripted()))
