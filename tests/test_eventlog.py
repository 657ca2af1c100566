"""The one fold of the event log: records of real event classes, folded by eventlog.fold."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chatdev import events as ev
from chatdev.project import eventlog, timeline
from chatdev.project.eventlog import fold, stopped_early, unended_status
from chatdev.project.workspace import Workspace
from chatdev.views import report

CHAIN = ["demand_analysis", "coding", "review_loop", "test_run"]


class Clock:
    """Whole seconds from 1000, so durations are exact."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self, step: float = 1.0) -> float:
        self.t += step
        return self.t


def started(at: float, *, mode: str = "build", task: str = "a dice roller") -> ev.BuildStarted:
    return ev.BuildStarted(at=at, task=task, project="/tmp/dice", company="Acme", models={"CEO": "m", "CTO": "m"},
                           chain=CHAIN, mode=mode, org=[(0, "CEO"), (1, "CTO"), (2, "Programmer")],
                           images=["mockup.png"] if mode == "build" else [])


def msg(at: float, phase: str, sender: str, receiver: str, p: int = 0, c: int = 0, cached: int = 0,
        **extra: Any) -> ev.Message:
    return ev.Message(at=at, phase=phase, sender=sender, receiver=receiver, text="...", model="m",
                      prompt_tokens=p, completion_tokens=c, cached_tokens=cached, **extra)


def records(events: list[ev.Event]) -> Iterator[dict[str, Any]]:
    return (e.to_dict() for e in events)


def two_runs() -> list[ev.Event]:
    """A build killed in the middle of coding (no PhaseEnded, no BuildEnded), then `chatdev resume`."""
    at = Clock()
    return [
        started(at()),
        ev.PhaseStarted(at=at(), phase="demand_analysis", phase_kind="chat", roles=["CEO", "CTO"]),
        msg(at(), "demand_analysis", "CEO", "CTO"),
        msg(at(), "demand_analysis", "CTO", "CEO", 100, 30, 20),
        ev.PhaseEnded(at=at(), phase="demand_analysis", status="done", duration=3.0, verdict={"modality": "cli"},
                      prompt_tokens=110, completion_tokens=31, cached_tokens=5),
        ev.PhaseStarted(at=at(), phase="coding", phase_kind="chat", roles=["CTO", "Programmer"]),
        msg(at(), "coding", "CTO", "Programmer"),
        msg(at(), "coding", "Programmer", "CTO", 300, 200, 50),
        # kill -9 here; 30 s later:
        started(at(30), mode="resume"),
        ev.PhaseStarted(at=at(), phase="coding", phase_kind="chat", roles=["CTO", "Programmer"]),
        msg(at(), "coding", "Programmer", "CTO", 320, 210),
        ev.PhaseEnded(at=at(), phase="coding", status="done", duration=1.0, files=["main.py"], commit="abc1234"),
        ev.BuildEnded(at=at(), status="passed", summary={"reason": "", "wall_s": 12.0}),
    ]


def test_a_killed_build_and_its_resume() -> None:
    log = fold(records(two_runs()))
    assert [(r.number, r.mode, r.status) for r in log.runs] == [(1, "build", None), (2, "resume", "passed")]
    assert [(p.name, p.run, p.mode, p.status) for p in log.phases] == [
        ("demand_analysis", 1, "build", "done"), ("coding", 1, "build", "unfinished"),
        ("coding", 2, "resume", "done")]
    demand, killed, resumed = log.phases
    # PhaseEnded's counts win over its messages'
    assert (demand.prompt_tokens, demand.completion_tokens, demand.cached_tokens) == (110, 31, 5)
    assert demand.verdict == {"modality": "cli"} and demand.duration == 3.0 and demand.index == 0
    # never ended: its messages' sum, and it lasted until the resume's BuildStarted closed it
    assert (killed.prompt_tokens, killed.completion_tokens, killed.cached_tokens) == (300, 200, 50)
    assert killed.at == 1006.0 and killed.duration == 32.0 and killed.commit is None
    # ended without token counts: falls back to its messages (the resume's records only)
    assert (resumed.prompt_tokens, resumed.completion_tokens, resumed.cached_tokens) == (320, 210, 0)
    assert (resumed.files, resumed.commit, resumed.duration) == (["main.py"], "abc1234", 1.0)
    assert [r["kind"] for r in killed.records] == ["message", "message"]
    assert [r["sender"] for r in resumed.records] == ["Programmer"]
    assert killed.senders == ["CTO", "Programmer"] and killed.models == ["m"]
    # the facts of the build: the first task and images, the latest mode and status
    assert (log.task, log.images, log.mode, log.status) == ("a dice roller", ["mockup.png"], "resume", "passed")
    assert log.chain == CHAIN and log.org[0] == (0, "CEO") and log.models == {"CEO": "m", "CTO": "m"}
    assert (log.started, log.ended) == (1001.0, 1042.0) and log.summary == {"reason": "", "wall_s": 12.0}
    assert not log.resumable


def test_how_a_phase_that_never_ended_ends() -> None:
    def last(status: str | None) -> eventlog.PhaseRecord:
        events: list[ev.Event] = [started(1.0), ev.PhaseStarted(at=2.0, phase="coding", phase_kind="chat",
                                                                roles=["CTO", "Programmer"])]
        if status is not None:
            events.append(ev.BuildEnded(at=9.0, status=status))
        log = fold(records(events))
        assert log.status == (status or "unfinished")
        return log.phases[-1]

    assert (last("interrupted").status, last("interrupted").duration) == ("interrupted", 7.0)
    assert last("failed").status == "failed" and last("error").status == "failed"
    assert last("passed").status == "done" and last("tests_fail").status == "done"
    assert (last(None).status, last(None).duration) == ("unfinished", 0.0)  # the last record is its start
    assert [unended_status(s) for s in (None, "interrupted", "failed", "error", "passed", "untested")] == [
        "unfinished", "interrupted", "failed", "failed", "done", "done"]
    assert unended_status("failed", implicit=True) == "done"
    assert unended_status("interrupted", implicit=True) == "interrupted"


def test_a_loop_with_cycles_and_its_escalation_outside_every_phase() -> None:
    at = Clock()
    log = fold(records([
        started(at()),
        ev.Notice(at=at(), level="warning", text="no GPU"),  # before any phase: the log's, no phase's
        ev.PhaseStarted(at=at(), phase="code_review", phase_kind="chat", roles=["CTO", "Programmer"], cycle=1),
        msg(at(), "code_review", "CTO", "Programmer", 40, 10),
        ev.PhaseEnded(at=at(), phase="code_review", status="done", duration=1.0, cycle=1,
                      verdict={"approved": False}),
        ev.PhaseStarted(at=at(), phase="code_fix", phase_kind="chat", roles=["CTO", "Programmer"], cycle=1),
        ev.Retry(at=at(), phase="code_fix", role="Programmer", reason="no code block", attempt=1),
        ev.Notice(at=at(), level="warning", text="review_loop: rolled back the last fix (it no longer runs)"),
        ev.PhaseEnded(at=at(), phase="code_fix", status="done", duration=2.0, cycle=1),
        ev.PhaseStarted(at=at(), phase="code_review", phase_kind="chat", roles=["CTO", "Programmer"], cycle=2),
        ev.PhaseEnded(at=at(), phase="code_review", status="done", duration=1.0, cycle=2,
                      verdict={"approved": False}),
        # the loop ran out of cycles: its escalation is named after the loop, and no phase is open
        msg(at(), "review_loop", "CTO", "CEO"),
        msg(at(), "review_loop", "CEO", "CTO", 60, 8),
        ev.Escalation(at=at(), phase="review_loop", to_role="CEO", from_role="CTO", decision="retry",
                      directive="keep it simple"),
        ev.PhaseStarted(at=at(3), phase="code_review", phase_kind="chat", roles=["CTO", "Programmer"], cycle=3),
        ev.PhaseEnded(at=at(), phase="code_review", status="done", duration=1.0, cycle=3,
                      verdict={"approved": True}),
    ]))
    assert [(p.name, p.cycle, p.status, p.implicit) for p in log.phases] == [
        ("code_review", 1, "done", False), ("code_fix", 1, "done", False), ("code_review", 2, "done", False),
        ("review_loop", 0, "done", True), ("code_review", 3, "done", False)]
    assert [p.verdict for p in log.phases if p.name == "code_review"] == [
        {"approved": False}, {"approved": False}, {"approved": True}]
    escalation = log.phases[3]
    assert escalation.kind == "escalation" and escalation.roles == [] and escalation.senders == ["CTO", "CEO"]
    assert [r["kind"] for r in escalation.records] == ["message", "message", "escalation"]
    assert (escalation.prompt_tokens, escalation.completion_tokens) == (60, 8)
    assert escalation.at == 1012.0 and escalation.duration == 5.0  # until the next phase started
    assert [e["directive"] for e in log.escalations] == ["keep it simple"]
    fix = log.phases[1]
    assert [r["kind"] for r in fix.records] == ["retry", "notice"]  # a notice goes to the phase running
    assert [n["text"] for n in log.notices] == ["no GPU", fix.records[1]["text"]]
    assert all(not p.of("notice") for p in log.phases if p is not fix)
    assert log.status == "unfinished" and log.resumable  # no BuildEnded: killed, or still going


def test_phase_ended_matches_the_phase_and_cycle() -> None:
    log = fold(records([
        started(1.0),
        ev.PhaseStarted(at=2.0, phase="review_loop", phase_kind="loop", roles=[]),
        ev.PhaseStarted(at=3.0, phase="check", phase_kind="action", roles=["Tester"], cycle=1),
        ev.PhaseStarted(at=4.0, phase="check", phase_kind="action", roles=["Tester"], cycle=2),
        ev.SandboxRan(at=5.0, phase="check", command="pytest", exit_code=0, timed_out=False, duration=1.0,
                      stdout="1 passed", stderr=""),
        ev.PhaseEnded(at=6.0, phase="check", status="failed", duration=3.0, cycle=1, reason="1 failed"),
        ev.PhaseEnded(at=7.0, phase="check", status="done", duration=3.0, cycle=9),  # no such cycle: the latest
        ev.PhaseEnded(at=8.0, phase="packaging", status="skipped", duration=0.5),  # its start was never recorded
        ev.BuildEnded(at=9.0, status="interrupted", summary={"reason": "stopped by the user"}),
    ]))
    loop, first, second, orphan = log.phases
    assert (first.cycle, first.status, first.reason) == (1, "failed", "1 failed")
    assert (second.cycle, second.status) == (9, "done")  # PhaseEnded's cycle wins
    assert [r["command"] for r in second.of("sandbox")] == ["pytest"] and not first.records  # the latest open
    assert (orphan.name, orphan.status, orphan.implicit, orphan.at) == ("packaging", "skipped", True, 7.5)
    assert (loop.status, loop.duration) == ("interrupted", 7.0)
    assert log.resumable and log.runs[-1].summary["reason"] == "stopped by the user"


def test_candidates_sandbox_and_a_persons_answers_land_in_their_phase() -> None:
    ranking = [{"index": 2, "verdict": "runs; 1 test passes", "files": ["main.py"]},
               {"index": 0, "verdict": "does not run: NameError", "files": ["main.py"]}]
    log = fold(records([
        started(1.0),
        ev.PhaseStarted(at=2.0, phase="approve_design", phase_kind="human", roles=["CEO"]),
        ev.HumanTurn(at=3.0, phase="approve_design", role="CEO", turn="review", question="OK?", answer="approve"),
        ev.PhaseEnded(at=4.0, phase="approve_design", status="done", duration=2.0),
        ev.PhaseStarted(at=5.0, phase="coding", phase_kind="chat", roles=["CTO", "Programmer"]),
        *(msg(6.0 + i, "coding", "Programmer", "CTO", 100, 50, candidate=i) for i in range(2)),
        ev.SandboxRan(at=8.0, phase="coding", command="python main.py", exit_code=0, timed_out=False,
                      duration=0.4, stdout="", stderr=""),
        ev.CandidatesRanked(at=9.0, phase="coding", winner=2, ranking=ranking, item="main.py"),
        ev.PhaseEnded(at=10.0, phase="coding", status="done", duration=5.0, files=["main.py"],
                      prompt_tokens=200, completion_tokens=100),
        ev.PhaseStarted(at=11.0, phase="test_run", phase_kind="action", roles=["Tester"]),
        ev.SandboxRan(at=12.0, phase="test_run", command="pytest -q", exit_code=1, timed_out=False, duration=2.0,
                      stdout="1 failed", stderr=""),
        ev.PhaseEnded(at=13.0, phase="test_run", status="failed", duration=2.0, reason="1 test failed"),
        ev.BuildEnded(at=14.0, status="failed", summary={"reason": "test_run: 1 test failed"}),
    ]))
    review, coding, test_run = log.phases
    assert [(r["turn"], r["answer"]) for r in review.of("human_turn")] == [("review", "approve")]
    assert [r["kind"] for r in coding.records] == ["message", "message", "sandbox", "candidates"]
    (pick,) = coding.of("candidates")
    assert (pick["winner"], pick["item"], len(pick["ranking"])) == (2, "main.py", 2)
    assert [m["candidate"] for m in coding.of("message")] == [0, 1]
    assert [r["command"] for r in test_run.of("sandbox")] == ["pytest -q"] and test_run.reason == "1 test failed"
    assert (coding.prompt_tokens, coding.completion_tokens) == (200, 100)
    assert log.status == "failed" and log.resumable  # it failed with a reason: resume
    assert not fold(records([started(1.0), ev.BuildEnded(at=2.0, status="failed")])).resumable  # does not run
    assert not fold([]).resumable and fold([]).status == "unknown"


def test_stopped_early() -> None:
    assert stopped_early("interrupted", "") and stopped_early("running", "") and stopped_early("error", "")
    assert stopped_early("failed", "coding: no usable reply")
    assert not stopped_early("failed", "") and not stopped_early("passed", "")


def test_the_report_and_the_log_read_the_same_fold(tmp_path: Path) -> None:
    ws = Workspace.create(tmp_path / "dice", company_name="Acme")
    for event in two_runs()[:-1]:  # the resume is killed too, after its coding
        ws.record(event)
    ws.record(ev.Message(at=2000.0, phase="review_loop", sender="CTO", receiver="CEO", text="escalate"))
    rows = [e for e in timeline.read(ws.root) if e.source == "transcript"]
    data = report.collect(ws.transcript(), project=ws.root)
    expected = [("demand_analysis", "done"), ("coding", "unfinished"), ("coding", "done"),
                ("review_loop", "unfinished")]
    assert [(e.phase, e.status) for e in rows] == expected
    assert [(p.name, p.status) for p in data.phases] == expected
    assert [e.tokens for e in rows] == [p.tokens for p in data.phases] == [141, 500, 530, 0]
    assert [(e.run, e.mode) for e in rows] == [(1, "build"), (1, "build"), (2, "resume"), (2, "resume")]
    assert [p.run for p in data.phases] == [0, 0, 1, 1]  # the report's is an index into data.runs
    assert rows[-1].phase_kind == "escalation" and rows[-1].roles == ["CTO"]
    assert data.status == "unfinished" and data.phases[-1].implicit


@pytest.mark.parametrize("at", [None, "soon", True])
def test_records_without_a_usable_time_still_fold(at: Any) -> None:
    rec = {"kind": "phase_started", "phase": "coding", "phase_kind": "chat", "roles": ["CTO"], "at": at}
    log = fold([rec, {"kind": "message", "phase": "coding", "sender": "CTO", "receiver": "P", "at": at}])
    assert [(p.name, p.status, p.run, len(p.records)) for p in log.phases] == [("coding", "unfinished", 1, 1)]
    assert log.started is None and log.runs[0].number == 1
