"""The terminal: plain lines, the summary, the JSON mode, and the live view read off a real pseudo-terminal."""

from __future__ import annotations

import json
import os
import sys
import textwrap
import time
from pathlib import Path

import pytest

from chatdev import events as ev
from chatdev.run.engine import Summary
from chatdev.views import live
from chatdev.views import summary as screens

ORG = [(0, "CEO"), (1, "CTO"), (2, "Programmer"), (2, "Tester"), (1, "Documenter")]
CHAIN = ["demand_analysis", "coding", "review_loop", "test_loop", "documentation"]


def started() -> ev.BuildStarted:
    return ev.BuildStarted(task="a dice roller", project="/tmp/out/dice", company="ChatDev",
                           models={r: "qwen2.5-coder-0.5b" for _, r in ORG}, chain=CHAIN, org=ORG)


def summary(status: str = "passed", code: int = 0) -> Summary:
    return Summary(project="/tmp/out/dice", task="a dice roller", status=status, exit_code=code,
                   phases=[{"name": "demand_analysis", "status": "done", "duration": 3.2, "cycle": 0},
                           {"name": "code_review", "status": "done", "duration": 2.0, "cycle": 2}],
                   files=["main.py", "tests/test_main.py"], lines=42,
                   tokens={"prompt": 12000, "completion": 3400, "cached": 800, "drafted": 2900}, llm_calls=9, wall_s=95.0,
                   tests={"ran": True, "passed": status == "passed", "summary": "3 passed",
                          "runs": status == "passed", "run_reason": "`python3 main.py` exited 0 in 0.3 s",
                          "tests_pass": status == "passed",
                          "counts": {"passed": 3, "failed": 0, "defects": 0, "quarantined": 1}}, commits=5,
                   model="qwen2.5-coder-0.5b", run_hint="chatdev run /tmp/out/dice",
                   report="/tmp/out/dice/.chatdev/report.html")


# ----------------------------------------------------------------------------- plain


def test_plain_lines_for_every_event_kind(capsys: pytest.CaptureFixture[str]) -> None:
    with live.view("plain") as sink:
        sink(started())
        sink(ev.PhaseStarted(phase="coding", phase_kind="chat", roles=["CTO", "Programmer"], item="main.py"))
        sink(ev.Message(phase="coding", sender="CTO", receiver="Programmer", text="Write main.py"))
        sink(ev.Token(phase="coding", sender="Programmer", text="TOKEN-NOT-SHOWN"))
        sink(ev.Message(phase="coding", sender="Programmer", receiver="CTO", text="[bold]x[/bold]\n" + "y" * 500,
                        prompt_tokens=120, completion_tokens=300, decode_s=10.0))
        sink(ev.Retry(phase="coding", role="Programmer", reason="no code block", attempt=2))
        sink(ev.SandboxRan(phase="test_run", command="python -m pytest -q", exit_code=1, timed_out=False,
                           duration=1.5, stdout="", stderr="Traceback\nNameError: name 'x' is not defined"))
        sink(ev.Escalation(phase="review_loop", to_role="CEO", from_role="CTO", decision="retry",
                           directive="simplify"))
        sink(ev.PhaseEnded(phase="code_review", status="done", duration=2.0, cycle=2, files=["main.py"],
                           commit="0123456789abcdef"))
        sink(ev.Notice(level="warning", text="mockup.png ignored"))
        sink(ev.BuildEnded(status="passed"))
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].startswith("build 'a dice roller' -> /tmp/out/dice")
    assert "> coding (chat) CTO <-> Programmer [main.py]" in lines
    assert "  CTO -> Programmer: Write main.py" in lines
    assert "TOKEN-NOT-SHOWN" not in out
    reply = next(line for line in lines if line.startswith("  Programmer -> CTO"))
    assert "[bold]x[/bold] yyy" in reply and "…" in reply and reply.endswith("(120+300 tok, 10.0s)")
    assert "  retry Programmer (attempt 2): no code block" in lines
    assert "  $ python -m pytest -q -> exit 1 in 1.5s: NameError: name 'x' is not defined" in lines
    assert "  escalated CTO -> CEO: retry: simplify" in lines
    assert "ok code_review cycle 2 (2.0s, 1 file, commit 0123456)" in lines
    assert "warning: mockup.png ignored" in lines
    assert lines[-1] == "build passed"
    assert "\x1b[" not in out  # no colour codes into a pipe


def test_plain_progress_is_throttled(capsys: pytest.CaptureFixture[str]) -> None:
    now = time.time()
    with live.view("plain") as sink:
        for i in range(1001):
            sink(ev.Progress(task="qwen2.5-coder-0.5b", done=i * 1024 * 1024, total=1000 * 1024 * 1024, at=now))
        sink(ev.Progress(task="image", done=3, total=None, unit="steps", at=now))
    lines = capsys.readouterr().out.splitlines()
    assert 10 <= len(lines) <= 13
    assert lines[-2] == "  qwen2.5-coder-0.5b: 1000.0 MiB / 1000.0 MiB (100%)"
    assert lines[-1] == "  image: 3 steps"


def test_quiet_and_json_views_print_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    for mode in ("quiet", "json"):
        with live.view(mode) as sink:
            sink(started())
            sink(ev.Notice(level="warning", text="hidden"))
    assert capsys.readouterr().out == ""


def test_unknown_mode_is_refused() -> None:
    from chatdev.errors import ChatDevError

    with pytest.raises(ChatDevError, match="unknown display mode"), live.view("fancy"):
        pass


# ----------------------------------------------------------------------------- the summary and the renderers


def test_json_summary_is_one_document(capsys: pytest.CaptureFixture[str]) -> None:
    assert screens.show_summary(summary("failed", 1), mode="json") == 1
    out = capsys.readouterr().out
    assert json.loads(out) == summary("failed", 1).to_dict()


def test_human_summary(capsys: pytest.CaptureFixture[str]) -> None:
    assert screens.show_summary(summary(), mode="plain") == 0
    out = capsys.readouterr().out
    for text in ("chatdev · passed", "/tmp/out/dice", "runs", "yes: `python3 main.py` exited 0",
                 "3 of 3 pass · 1 quarantined", "2 files, 42 lines: main.py",
                 "12.0k in · 3.4k out · 800 cached · 2.9k drafted · 9 model calls", "1m35s · 5 commits",
                 "chatdev run /tmp/out/dice", "report.html", "✓ code_review×2"):
        assert text in out, text


def test_state_follows_a_build() -> None:
    state = live.BuildState()
    state.apply(started())
    assert state.project == "dice" and state.chain == CHAIN
    state.apply(ev.PhaseStarted(phase="demand_analysis", phase_kind="chat", roles=["CEO", "CTO"]))
    state.apply(ev.PhaseEnded(phase="demand_analysis", status="done", duration=1.0))
    state.apply(ev.PhaseStarted(phase="coding", phase_kind="chat", roles=["CTO", "Programmer"]))
    state.apply(ev.Message(phase="coding", sender="CTO", receiver="Programmer", text="Write main.py"))
    assert state.stream == "Write main.py" and state.speaker == "CTO"
    assert state.waiting is not None and state.waiting[0] == "Programmer"  # reading the prompt
    t0 = time.time()
    for i in range(20):
        state.apply(ev.Token(phase="coding", sender="Programmer", text=f"line {i}\n", at=t0 + i * 0.1))
    assert state.speaker == "Programmer" and state.listener == "CTO" and state.waiting is None
    assert state.stream.splitlines()[-1] == "line 19"
    assert state.rate == pytest.approx(20 / 1.9, rel=0.01)
    state.apply(ev.Message(phase="coding", sender="Programmer", receiver="CTO", text="...", prompt_tokens=100,
                           completion_tokens=50, decode_s=2.0))
    assert (state.prompt_tokens, state.completion_tokens, state.llm_calls, state.rate) == (100, 50, 1, 25.0)
    state.apply(ev.PhaseEnded(phase="coding", status="done", duration=5.0))
    for cycle in (1, 2):
        for name in ("code_review", "code_fix"):
            state.apply(ev.PhaseStarted(phase=name, phase_kind="chat", roles=["CTO", "Programmer"], cycle=cycle))
    assert state.top["review_loop"].status == "running" and state.top["review_loop"].cycle == 2
    assert state.top["review_loop"].children == ["code_review", "code_fix"]
    assert state.top["coding"].status == "done" and state.top["test_loop"].status == "pending"
    state.apply(ev.PhaseStarted(phase="test_run", phase_kind="action", roles=["Tester"], cycle=1))
    assert state.top["review_loop"].status == "done" and state.top["test_loop"].status == "running"
    assert state.top["test_loop"].children == ["test_run"]
    state.apply(ev.PhaseStarted(phase="documentation", phase_kind="chat", roles=["CEO", "Documenter"]))
    assert state.top["test_loop"].status == "done"
    state.apply(ev.BuildEnded(status="passed"))
    assert all(entry.status == "done" for entry in state.top.values())


def test_generic_renderers(capsys: pytest.CaptureFixture[str]) -> None:
    from chatdev.models import registry

    entries = registry.list_models()
    screens.show_models(entries, as_json=True)
    assert json.loads(capsys.readouterr().out) == [e.to_dict() for e in entries]
    screens.show_models(entries, as_json=False)
    out = capsys.readouterr().out
    assert entries and all(e.name in out for e in entries)


# ----------------------------------------------------------------------------- live, on a real pseudo-terminal

FEED = textwrap.dedent('''
    import sys, time
    from chatdev import events as ev
    from chatdev.views import live as ui, summary as screens
    from chatdev.run.engine import Summary

    ORG = [(0, "CEO"), (1, "CTO"), (2, "Programmer"), (2, "Tester"), (1, "Documenter")]
    with ui.view("live") as sink:
        sink(ev.BuildStarted(task="a dice roller", project="/tmp/out/dice", company="ChatDev",
                             models={r: "qwen2.5-coder-0.5b" for _, r in ORG},
                             chain=["demand_analysis", "coding", "review_loop", "documentation"], org=ORG))
        sink(ev.Progress(task="qwen2.5-coder-0.5b", done=0, total=100, unit="MB"))
        sink(ev.Progress(task="qwen2.5-coder-0.5b", done=100, total=100, unit="MB"))
        sink(ev.PhaseStarted(phase="demand_analysis", phase_kind="chat", roles=["CEO", "CTO"]))
        sink(ev.Message(phase="demand_analysis", sender="CTO", receiver="CEO", text="A dice roller in Python.",
                        prompt_tokens=200, completion_tokens=30, decode_s=1.0))
        sink(ev.PhaseEnded(phase="demand_analysis", status="done", duration=1.5))
        sink(ev.PhaseStarted(phase="coding", phase_kind="chat", roles=["CTO", "Programmer"], item="main.py"))
        sink(ev.Message(phase="coding", sender="CTO", receiver="Programmer", text="Write main.py"))
        for i in range(40):
            sink(ev.Token(phase="coding", sender="Programmer", text=f"roll_{i} = {i}\\n"))
            time.sleep(0.01)
        sink(ev.SandboxRan(phase="coding", command="pyflakes", exit_code=0, timed_out=False, duration=0.3,
                           stdout="", stderr=""))
        sys.stdin.readline()  # the test reads the screen here
        sink(ev.Message(phase="coding", sender="Programmer", receiver="CTO", text="...", prompt_tokens=300,
                        completion_tokens=40, decode_s=2.0))
        sink(ev.PhaseEnded(phase="coding", status="done", duration=3.0, files=["main.py"], commit="abcdef1234"))
        sink(ev.BuildEnded(status="passed"))
    screens.show_summary(Summary(project="/tmp/out/dice", task="a dice roller", status="passed", exit_code=0,
                            phases=[], files=["main.py"], lines=40, tokens={"prompt": 500, "completion": 70,
                            "cached": 0}, llm_calls=2, wall_s=4.0, tests={"ran": False}, commits=2,
                            model="qwen2.5-coder-0.5b", run_hint="chatdev run /tmp/out/dice"), mode="live")
''')


class Terminal:
    """A program on a real pseudo-terminal, its screen kept by a VT100 emulator."""

    def __init__(self, argv: list[str], *, cwd: Path, rows: int = 34, cols: int = 110) -> None:
        pexpect = pytest.importorskip("pexpect")
        pyte = pytest.importorskip("pyte", reason="pip install pyte")
        self.pexpect = pexpect
        self.screen = pyte.Screen(cols, rows)
        self.stream = pyte.ByteStream(self.screen)
        env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": str(cols), "LINES": str(rows),
               "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
        env.pop("NO_COLOR", None)
        self.child = pexpect.spawn(argv[0], argv[1:], cwd=str(cwd), env=env, dimensions=(rows, cols))
        self.child.setecho(False)

    def text(self) -> str:
        return "\n".join(line.rstrip() for line in self.screen.display)

    def pump(self, timeout: float = 0.1) -> bool:
        try:
            self.stream.feed(self.child.read_nonblocking(65536, timeout=timeout))
        except self.pexpect.TIMEOUT:
            pass
        except self.pexpect.EOF:
            return False
        return True

    def wait_for(self, *texts: str, timeout: float = 20.0) -> str:
        deadline = time.time() + timeout
        while time.time() < deadline:
            alive = self.pump()
            screen = self.text()
            if all(t in screen for t in texts):
                return screen
            if not alive:
                break
        raise AssertionError(f"never saw {texts} on the screen:\n{self.text()}")

    def finish(self, timeout: float = 20.0) -> str:
        deadline = time.time() + timeout
        while self.pump() and time.time() < deadline:
            pass
        self.child.close()
        return self.text()


def test_live_view_on_a_pseudo_terminal(tmp_path: Path) -> None:
    script = tmp_path / "feed.py"
    script.write_text(FEED, encoding="utf-8")
    term = Terminal([sys.executable, str(script)], cwd=tmp_path)
    screen = term.wait_for("roll_39 = 39", "chatdev · dice")
    lines = screen.splitlines()
    org = next(line for line in lines if "org " in line)
    assert "CEO → CTO · Documenter → Programmer · Tester" in org
    chain = next(line for line in lines if "chain " in line)
    assert "✓ demand_analysis ▶ coding ○ review_loop ○ documentation" in chain
    now = next(line for line in lines if "now " in line)
    assert "coding · main.py  Programmer → CTO" in now
    assert "roll_32 = 32" in screen and "roll_31 = 31" not in screen  # the last lines of the reply
    assert "tok/s" in screen and "200 in · 30 out" in screen
    assert "pyflakes  exit 0" in screen
    assert "✓ demand_analysis  1.5s" in screen  # the finished phase scrolled above the panel
    term.child.sendline("")
    final = term.finish()
    assert "✓ coding · main.py  3.0s · 1 file · abcdef1" in final
    assert "chatdev · passed" in final and "chatdev run /tmp/out/dice" in final
    assert "roll_39" not in final  # the live panel is gone, the summary stays
    assert term.child.exitstatus == 0


# ----------------------------------------------------------------------------- the other commands' views


@pytest.mark.llm
def test_model_info_of_the_real_gguf(capsys: pytest.CaptureFixture[str]) -> None:
    from chatdev.models import registry

    info = registry.info("qwen2.5-coder-0.5b")
    screens.show_model_info(info, as_json=False)
    out = capsys.readouterr().out
    assert "qwen2 language model" in out and "24 layers" in out and "Q4_K_M" in out
    assert "KV cache 12.0 KiB per token" in out and "chat template  yes" in out
    screens.show_model_info(info, as_json=True)
    assert json.loads(capsys.readouterr().out)["n_layers"] == 24


def test_doctor_view(capsys: pytest.CaptureFixture[str]) -> None:
    from chatdev.tools import doctor

    report = doctor.diagnose()
    screens.show_doctor(report, as_json=False)
    out = capsys.readouterr().out
    assert "llama.cpp" in out and "sandbox" in out and "qwen2.5-coder-0.5b" in out
    for warning in report.warnings:
        assert warning[:40] in out.replace("\n", " ")
    screens.show_doctor(report, as_json=True)
    assert json.loads(capsys.readouterr().out) == json.loads(json.dumps(report.to_dict(), default=str))


def test_sandbox_check_view_and_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    from chatdev.sandbox.container import SandboxStatus

    good = SandboxStatus(ok=True, engine_reachable=True, engine_version="24.0", api_version="1.43",
                         image="chatdev-runner:0.1.0", image_present=True, image_current=True,
                         hardened_run_ok=True, run_seconds=0.8)
    bad = SandboxStatus(ok=False, engine_reachable=False, engine_version=None, api_version=None,
                        image="chatdev-runner:0.1.0", image_present=False, image_current=False,
                        hardened_run_ok=False, problem="cannot reach the Docker engine", hint="start dockerd")
    assert screens.show_sandbox_check(good, as_json=False) == 0
    out = capsys.readouterr().out
    assert "✓ Docker 24.0 · ✓ image chatdev-runner:0.1.0 current · ✓ hardened run 0.8s" in out
    assert screens.show_sandbox_check(bad, as_json=False) == 3
    out = capsys.readouterr().out
    assert "✗ Docker unreachable" in out and "cannot reach the Docker engine" in out and "→ start dockerd" in out
    assert screens.show_sandbox_check(bad, as_json=True) == 3
    assert json.loads(capsys.readouterr().out)["problem"] == "cannot reach the Docker engine"


def test_run_view(capsys: pytest.CaptureFixture[str]) -> None:
    from chatdev.sandbox.results import ProgramReport, RunResult

    crash = RunResult(exit_code=1, stdout="rolling\n", stderr="Traceback (most recent call last):\n" + "  x\n" * 30
                      + "ZeroDivisionError: division by zero", timed_out=False, duration=0.4)
    failed = ProgramReport(static_ok=True, static_output="", entry="main.py", run=crash, tests=None,
                           tests_found=False, runs=False, tests_pass=None, summary="main.py crashed: ZeroDivisionError",
                           screenshot=None, run_reason="`python3 main.py` crashed: ZeroDivisionError")
    assert screens.show_run(failed, as_json=False) == 1
    out = capsys.readouterr().out
    assert "chatdev run · does not run" in out and "exit 1 in 0.4s" in out and "none found" in out
    assert "ZeroDivisionError: division by zero" in out and "lines above" in out
    game = RunResult(exit_code=None, stdout="", stderr="", timed_out=True, duration=20.0)
    ok = ProgramReport(static_ok=True, static_output="", entry="main.py", run=game, tests=None, tests_found=False,
                       runs=True, tests_pass=None, summary="main.py ran for 20s (a game waits for input)",
                       screenshot=b"\x89PNG",
                       gui=True, screenshot_path=".chatdev/screens/run.png")
    assert screens.show_run(ok, as_json=True) == 0
    assert json.loads(capsys.readouterr().out)["screenshot_path"] == ".chatdev/screens/run.png"


def test_bench_view(capsys: pytest.CaptureFixture[str]) -> None:
    from chatdev.tools.bench import BenchResults, TaskResult

    results = BenchResults(model="qwen2.5-coder-0.5b", results=[
        TaskResult(task="a dice roller", project="bench-out/dice", status="passed", runs=True, tests_pass=True,
                   complete=True, does_task=True, wall_s=80.0, tokens=11000, calls=12, prompt_tokens=9000,
                   completion_tokens=2000, cached_tokens=4000, files=2, lines=40),
        TaskResult(task="a snake game", project="bench-out/snake", status="error", runs=False, wall_s=5.0,
                   error="model not found")])
    screens.show_bench(results, as_json=False)
    out = capsys.readouterr().out
    assert "a dice roller" in out and "1m20s" in out and "11.0k" in out and "model not found" in out
    assert "median:" in out
    screens.show_bench(results, as_json=True)
    assert len(json.loads(capsys.readouterr().out)["tasks"]) == 2


PULL = textwrap.dedent('''
    import time
    from chatdev import events as ev
    from chatdev.views import live as ui, summary as screens

    with ui.view("plain") as sink:
        for i in range(0, 101, 10):
            sink(ev.Progress(task="qwen2.5-coder-0.5b", done=i * 4_914_000, total=491_400_000))
            time.sleep(0.02)
        sink(ev.Notice(level="info", text="sha256 checked"))
    print("PULLED")
''')


def test_progress_bars_on_a_terminal(tmp_path: Path) -> None:
    script = tmp_path / "pull.py"
    script.write_text(PULL, encoding="utf-8")
    term = Terminal([sys.executable, str(script)], cwd=tmp_path, rows=10)
    screen = term.finish()
    assert "note: sha256 checked" in screen and "PULLED" in screen
    bar = next(line for line in screen.splitlines() if line.startswith("qwen2.5-coder-0.5b"))
    assert "━" in bar and "468.6 MiB / 468.6 MiB" in bar


def test_last_lines_wrap_to_the_panel() -> None:
    assert live.last_lines("a\n" + "b" * 25 + "\n\tc\n", width=10, count=4) == ["bbbbbbbbbb", "bbbbbbbbbb", "bbbbb", "    c"]
    assert live.last_lines("", width=10, count=3) == []
    assert live.last_lines("x\n\ny", width=10, count=5) == ["x", "", "y"]


def test_model_and_program_text_cannot_drive_the_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    evil = "ok\x1b[2J\x1b]52;c;aGk=\x07\x1b]0;pwned\x1b\\done\x9b"
    with live.view("plain") as sink:
        sink(ev.Message(phase="coding", sender="Programmer", receiver="CTO", text=evil))
        sink(ev.SandboxRan(phase="test_run", command="python main.py", exit_code=1, timed_out=False,
                           duration=0.1, stdout="", stderr=evil))
        sink(ev.Notice(level="info", text=evil))
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out and "\x9b" not in out
    assert out.count("okdone") == 3
    state = live.BuildState()
    state.apply(ev.Token(phase="coding", sender="Programmer", text=evil))
    assert live.last_lines(state.stream, width=40, count=3) == ["okdone"]
