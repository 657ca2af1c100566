"""`chatdev log`: the timeline from a real git history and a transcript of real events."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from chatdev.errors import WorkspaceError
from chatdev.events import (
    BuildEnded,
    BuildStarted,
    Escalation,
    Message,
    PhaseEnded,
    PhaseStarted,
    Retry,
    SandboxRan,
    Token,
)
from chatdev.project import timeline
from chatdev.project.workspace import Workspace, tokens_trailer


@pytest.fixture(autouse=True)
def no_git_identity(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path_factory.mktemp("home")
    (home / "gitconfig").write_text("[user]\n\tuseConfigOnly = true\n")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(home / "gitconfig"))


class Clock:
    def __init__(self) -> None:
        self.t = time.time() - 1000.0  # the synthetic run happened before the commits below

    def __call__(self, step: float = 1.0) -> float:
        self.t += step
        return self.t


def msg(at: float, phase: str, sender: str, receiver: str, p: int, c: int, cached: int = 0) -> Message:
    return Message(at=at, phase=phase, sender=sender, receiver=receiver, text="...", model="qwen-0.5b",
                   prompt_tokens=p, completion_tokens=c, cached_tokens=cached)


def commit(ws: Workspace, role: str, phase: str, summary: str, files: dict[str, str]) -> str:
    ws.write(files)
    sha = ws.commit(role=role, phase=phase, summary=summary, model="qwen-0.5b",
                    trailers={"Tokens": tokens_trailer(50, 20, 10), "Duration": "4.5s"})
    assert sha
    return sha


@pytest.fixture()
def project(tmp_path: Path) -> tuple[Workspace, dict[str, str]]:
    """A build with a review loop, a kill during test_run, a resume, and a commit the transcript missed."""
    ws = Workspace.create(tmp_path / "snake", company_name="Acme")
    ws.checkpoint({"position": 0})
    at = Clock()
    shas: dict[str, str] = {}
    rec = ws.record
    rec(BuildStarted(at=at(), task="a snake game", project="snake", company="Acme", models={"CEO": "qwen-0.5b"},
                     chain=["demand_analysis", "coding", "review_loop", "test_run", "documentation"]))
    rec(PhaseStarted(at=at(), phase="demand_analysis", phase_kind="chat", roles=["CEO", "CTO"]))
    rec(msg(at(), "demand_analysis", "CEO", "CTO", 100, 30))
    rec(msg(at(), "demand_analysis", "CTO", "CEO", 140, 40, cached=90))
    rec(Token(at=at(), phase="demand_analysis", sender="CTO", text="tok"))
    rec(PhaseEnded(at=at(), phase="demand_analysis", status="done", duration=2.0, verdict={"modality": "cli"}))

    rec(PhaseStarted(at=at(), phase="coding", phase_kind="chat", roles=["CTO", "Programmer"]))
    rec(msg(at(), "coding", "Programmer", "CTO", 300, 200))
    shas["coding"] = commit(ws, "Programmer", "coding", "Implement 2 files",
                            {"main.py": "print('snake')\n", "game/board.py": "SIZE = 10\nW = 2\n"})
    rec(PhaseEnded(at=at(), phase="coding", status="done", duration=9.0, commit=shas["coding"],
                   files=["main.py", "game/board.py"], prompt_tokens=300, completion_tokens=200))

    rec(PhaseStarted(at=at(), phase="review_loop", phase_kind="loop", roles=[]))
    rec(PhaseStarted(at=at(), phase="code_review", phase_kind="chat", roles=["CTO", "Programmer"], cycle=1))
    rec(msg(at(), "code_review", "CTO", "Programmer", 400, 50))
    rec(Escalation(at=at(), phase="code_review", from_role="CTO", to_role="CEO", decision="retry",
                   directive="keep it simple"))
    rec(PhaseEnded(at=at(), phase="code_review", status="done", duration=3.0, cycle=1,
                   verdict={"approved": False}))
    rec(PhaseStarted(at=at(), phase="code_fix", phase_kind="chat", roles=["CTO", "Programmer"], cycle=1))
    rec(Retry(at=at(), phase="code_fix", role="Programmer", reason="no code block", attempt=1))
    rec(msg(at(), "code_fix", "Programmer", "CTO", 500, 120))
    shas["code_fix"] = commit(ws, "Programmer", "code_fix", "Fix the review", {"main.py": "print('snake!')\n"})
    rec(PhaseEnded(at=at(), phase="code_fix", status="done", duration=5.0, cycle=1, commit=shas["code_fix"][:7]))
    rec(PhaseStarted(at=at(), phase="code_review", phase_kind="chat", roles=["CTO", "Programmer"], cycle=2))
    rec(msg(at(), "code_review", "CTO", "Programmer", 420, 10))
    rec(PhaseEnded(at=at(), phase="code_review", status="done", duration=1.5, cycle=2,
                   verdict={"approved": True}))
    rec(PhaseEnded(at=at(), phase="review_loop", status="done", duration=9.5))

    rec(PhaseStarted(at=at(), phase="test_run", phase_kind="action", roles=["Tester"]))
    rec(SandboxRan(at=at(), phase="test_run", command="pytest", exit_code=None, timed_out=True, duration=20.0,
                   stdout="", stderr=""))
    # kill -9 here: no PhaseEnded. Then `chatdev resume`:
    rec(BuildStarted(at=at(30), task="a snake game", project="snake", company="Acme", models={}, chain=[],
                     mode="resume"))
    rec(PhaseStarted(at=at(), phase="test_run", phase_kind="action", roles=["Tester"]))
    rec(SandboxRan(at=at(), phase="test_run", command="pytest", exit_code=0, timed_out=False, duration=2.0,
                   stdout="1 passed", stderr=""))
    rec(PhaseEnded(at=at(), phase="test_run", status="done", duration=2.5, verdict={"tests_pass": True}))
    # a commit whose PhaseEnded never reached the transcript
    shas["documentation"] = commit(ws, "Documenter", "documentation", "Write the manual",
                                   {"README.md": "# Snake\n"})
    rec(PhaseStarted(at=time.time() + 5, phase="packaging", phase_kind="action", roles=["Programmer"]))
    return ws, shas


def test_timeline_from_git_and_transcript(project: tuple[Workspace, dict[str, str]]) -> None:
    ws, shas = project
    entries = timeline.read(ws.root)
    assert [(e.phase, e.cycle, e.status) for e in entries] == [
        ("init", 0, "committed"),
        ("demand_analysis", 0, "done"),
        ("coding", 0, "done"),
        ("review_loop", 0, "done"),
        ("code_review", 1, "done"),
        ("code_fix", 1, "done"),
        ("code_review", 2, "done"),
        ("test_run", 0, "unfinished"),  # killed: its run has no BuildEnded (eventlog.unended_status)
        ("test_run", 0, "done"),
        ("documentation", 0, "committed"),
        ("packaging", 0, "unfinished"),
    ]
    by = {(e.phase, e.cycle, e.run): e for e in entries}
    demand = by["demand_analysis", 0, 1]
    assert (demand.prompt_tokens, demand.completion_tokens, demand.cached_tokens) == (240, 70, 90)
    assert demand.messages == 2 and demand.commit is None and demand.verdict == {"modality": "cli"}
    assert demand.roles == ["CEO", "CTO"] and demand.models == ["qwen-0.5b"] and demand.duration == 2.0

    coding = by["coding", 0, 1]
    assert coding.commit == shas["coding"][:8] and coding.author == "Programmer"
    assert coding.commit_subject == "[coding] Implement 2 files"
    assert sorted(coding.files) == ["game/board.py", "main.py"] and coding.insertions == 3
    assert (coding.prompt_tokens, coding.completion_tokens) == (300, 200)

    review1, fix, review2 = by["code_review", 1, 1], by["code_fix", 1, 1], by["code_review", 2, 1]
    assert review1.verdict == {"approved": False} and review2.verdict == {"approved": True}
    assert review1.escalations == [{"from_role": "CTO", "to_role": "CEO", "decision": "retry",
                                    "directive": "keep it simple"}]
    assert fix.retries == 1 and fix.commit == shas["code_fix"][:8]  # a short sha in the event is resolved
    assert (fix.files, fix.insertions, fix.deletions) == (["main.py"], 1, 1)

    killed, resumed = [e for e in entries if e.phase == "test_run"]
    assert (killed.run, killed.mode, killed.sandbox_runs) == (1, "build", 1)
    assert (resumed.run, resumed.mode, resumed.verdict) == (2, "resume", {"tests_pass": True})
    assert killed.duration > 0

    docs = entries[-2]
    assert (docs.run, docs.mode) == (2, "resume")
    assert docs.source == "git" and docs.commit == shas["documentation"][:8] and docs.roles == ["Documenter"]
    assert (docs.prompt_tokens, docs.completion_tokens, docs.cached_tokens, docs.duration) == (50, 20, 10, 4.5)
    assert docs.files == ["README.md"] and docs.models == ["qwen-0.5b"]
    assert [e.index for e in entries] == list(range(1, len(entries) + 1))
    dumped = json.loads(json.dumps([e.to_dict() for e in entries]))
    assert dumped[2]["commit"] == shas["coding"][:8] and dumped[2]["started_at"].endswith("Z")


def test_build_ended_closes_open_phases(tmp_path: Path) -> None:
    ws = Workspace.create(tmp_path / "p", company_name="Acme")
    ws.record(PhaseStarted(phase="coding", phase_kind="chat", roles=["CTO", "Programmer"]))
    ws.record(BuildEnded(status="interrupted"))
    (entry,) = [e for e in timeline.read(ws.root) if e.source == "transcript"]
    assert entry.status == "interrupted"


def test_a_project_without_a_transcript_is_refused(tmp_path: Path) -> None:
    ws = Workspace.create(tmp_path / "p", company_name="Acme")
    with pytest.raises(WorkspaceError, match="no transcript") as err:
        timeline.read(ws.root)
    assert err.value.exit_code == 2 and "\n" not in err.value.line()
    with pytest.raises(WorkspaceError, match="no such folder"):
        timeline.read(tmp_path / "missing")
    (tmp_path / "plain" / ".chatdev").mkdir(parents=True)
    (tmp_path / "plain" / ".chatdev" / "transcript.jsonl").write_text("")
    with pytest.raises(WorkspaceError, match="not a git repository"):
        timeline.read(tmp_path / "plain")


def test_chatdev_log_command(project: tuple[Workspace, dict[str, str]], cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ws, shas = project
    as_json = cli("log", str(ws.root), "--json")
    assert as_json.returncode == 0, as_json.stderr
    rows = json.loads(as_json.stdout)
    assert [r["phase"] for r in rows][:3] == ["init", "demand_analysis", "coding"]
    assert rows[2]["commit"] == shas["coding"][:8]
    human = cli("log", str(ws.root))
    assert human.returncode == 0, human.stderr
    assert "code_review" in human.stdout and shas["code_fix"][:7] in human.stdout
    missing = cli("log", str(tmp_path / "nowhere"))
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1 and "no such folder" in missing.stderr
