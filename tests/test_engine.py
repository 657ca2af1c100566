"""The company at work on the scripted model: chain, loops, escalation, failures, resume.

The scripted model makes these fast and exact; git is real. The same chain runs
on the real small GGUF in tests/test_build_e2e.py.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from chatdev import events
from chatdev.errors import UsageError
from chatdev.run import engine
from tests.scripted_company import GAME, company_models, good_reply, scripted


def git(project: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(project), *args], capture_output=True, text=True, check=True).stdout


def build(tmp_path: Path, fn=good_reply, **opts):
    model = scripted(fn)
    recorder = events.Recorder()
    options = engine.BuildOptions(task=opts.pop("task", "a snake game"), out=tmp_path, no_run=True, **opts)
    summary = engine.build(options, sink=recorder, models=company_models(model))
    return summary, recorder, model


def test_full_chain_writes_a_reviewable_project(tmp_path: Path) -> None:
    summary, recorder, model = build(tmp_path)
    project = Path(summary.project)
    assert project == tmp_path / "snake_game"
    assert summary.status == "untested" and summary.exit_code == 0  # --no-run: honest, not "passed"
    for rel in ("docs/requirements.md", "docs/design.md", "main.py", "tests/test_main.py", "README.md",
                "requirements.txt"):
        assert (project / rel).is_file(), rel
    assert "The snake moves" in (project / "docs/requirements.md").read_text()
    assert "`main.py`" in (project / "docs/design.md").read_text()
    assert (project / "requirements.txt").read_text() == "# standard library only\n"
    # one commit per phase that changed files, authored by the role that did the work
    authors = git(project, "log", "--reverse", "--format=%an|%s").splitlines()
    assert authors[0].startswith("chatdev|[init]")
    assert authors[1].startswith("CTO|[demand_analysis]")
    assert any(a.startswith("Programmer|[coding]") for a in authors)
    assert any(a.startswith("Tester|[test_writing]") for a in authors)
    assert any(a.startswith("Documenter|[documentation]") for a in authors)
    assert "v1" in git(project, "tag").split()
    body = git(project, "log", "-1", "--format=%B", "--grep=\\[coding\\]")
    assert "Phase: coding" in body and "Role: Programmer" in body and "Tokens: prompt=" in body
    # the record: state and transcript
    state = json.loads((project / ".chatdev/state.json").read_text())
    assert state["status"] == "untested" and "1:documentation" in state["completed"]
    kinds = [json.loads(line)["kind"] for line in (project / ".chatdev/transcript.jsonl").read_text().splitlines()]
    assert kinds[0] in ("build_started", "notice") and "phase_ended" in kinds and "token" not in kinds
    # the test phases said they ran nothing
    skipped = [e for e in recorder.of(events.PhaseEnded) if e.status == "skipped"]
    assert skipped and "not run" in skipped[0].reason
    assert summary.tests["ran"] is False
    assert summary.llm_calls == len(model.calls)


def test_review_loop_repeats_until_approved(tmp_path: Path) -> None:
    counter: dict = {}
    summary, recorder, _ = build(tmp_path, lambda m: good_reply(m, approve_after=1, counter=counter))
    reviews = [e for e in recorder.of(events.PhaseStarted) if e.phase == "code_review"]
    fixes = [e for e in recorder.of(events.PhaseStarted) if e.phase == "code_fix"]
    assert [e.cycle for e in reviews] == [1, 2] and [e.cycle for e in fixes] == [1]
    assert "walls are handled" in (Path(summary.project) / "main.py").read_text()
    assert not recorder.of(events.Escalation)


def test_after_a_retry_the_unchanged_code_is_not_reviewed_again_and_the_fix_gets_the_directive(tmp_path: Path) -> None:
    """make demo (2026-12-07): after the CEO's "retry" the 1.5B's reviewer read the same main.py again
    (33 s) and the fix then changed nothing (96 s). A cycle that changes nothing costs one call now."""
    from chatdev.models.base import current_call

    asked: list[str] = []

    def company(messages):
        info = current_call()
        if info is not None and info.turn == "escalate":
            return json.dumps({"decision": "retry", "directive": "draw the snake in main.py"})
        if info is not None and info.phase == "code_review":
            return json.dumps({"approved": False, "issues": ["handle the wall"]})
        if info is not None and info.phase == "code_fix":
            asked.append(messages[-1].content)
            return f"main.py\n```python\n{GAME}```"  # the same file: changes nothing
        return good_reply(messages)

    summary, recorder, model = build(tmp_path, company)
    reviews = [e for e in recorder.of(events.PhaseEnded) if e.phase == "code_review"]
    assert [(e.cycle, e.status) for e in reviews] == [(1, "done"), (2, "skipped")]
    assert "nothing changed since its last verdict" in reviews[1].reason
    assert len(asked) == 2 and "Directive from management: draw the snake in main.py" in asked[1]
    assert "handle the wall" in asked[1]  # the findings stand
    assert sum(1 for c in model.calls if c.info is not None and c.info.phase == "code_review") == 1


def test_loop_that_never_succeeds_escalates_to_the_manager(tmp_path: Path) -> None:
    counter: dict = {}
    summary, recorder, _ = build(tmp_path, lambda m: good_reply(m, approve_after=99, counter=counter))
    escalations = recorder.of(events.Escalation)
    assert len(escalations) == 1
    # not the reviewer (the CTO) who kept refusing: the manager above it
    assert escalations[0].to_role == "CEO" and escalations[0].decision == "accept"
    assert escalations[0].from_role == "CTO"  # the role whose verdict failed asks, not the loop's first speaker
    assert counter["review"] == 2  # the same findings came back: the loop stopped early, the manager accepted
    transcript = (Path(summary.project) / ".chatdev/transcript.jsonl").read_text()
    assert '"kind": "escalation"' in transcript
    asked = next(e.text for e in recorder.of(events.Message) if e.receiver == "CEO" and "Decide:" in e.text)
    assert 'ended after 2 cycles without "approved" (the same failure came back)' in asked
    assert "what to change in the code (a function, a line), not a command to run" in asked


def test_nonsense_model_fails_the_phase_and_keeps_history(tmp_path: Path) -> None:
    def nonsense(messages):
        text = good_reply(messages)
        return "I like turtles." if "Write the complete file" in messages[-1].content or \
            "could not be used" in messages[-1].content else text

    summary, recorder, model = build(tmp_path, nonsense)
    assert summary.status == "failed" and summary.exit_code == 1
    assert "no usable reply" in summary.reason and "main.py" in summary.reason
    retries = recorder.of(events.Retry)
    assert len(retries) == 2  # bounded: 1 try + 2 retries
    failed = [e for e in recorder.of(events.PhaseEnded) if e.status == "failed"]
    assert failed[0].prompt_tokens > 0 and failed[0].completion_tokens > 0  # what the failed tries cost
    assert "no fenced code block" in retries[0].reason
    log = git(Path(summary.project), "log", "--format=%s")
    assert "[design]" in log and "[demand_analysis]" in log  # what was done is kept


def test_bad_input_leaves_nothing_behind(tmp_path: Path) -> None:
    model = scripted()
    for task in ("", "   ", "x" * 100_000):
        with pytest.raises(UsageError):
            engine.build(engine.BuildOptions(task=task, out=tmp_path, no_run=True), models=company_models(model))
    not_image = tmp_path / "mockup.png"
    not_image.write_text("hello")
    with pytest.raises(UsageError, match="not an image"):
        engine.build(engine.BuildOptions(task="a game", out=tmp_path, no_run=True, images=[not_image]),
                     models=company_models(model))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mockup.png"]
    assert model.calls == []
    (tmp_path / "snake_game").mkdir()
    (tmp_path / "snake_game" / "mine.txt").write_text("keep")
    with pytest.raises(UsageError, match="not empty"):
        engine.build(engine.BuildOptions(task="a snake game", out=tmp_path, no_run=True),
                     models=company_models(model))
    assert [p.name for p in (tmp_path / "snake_game").iterdir()] == ["mine.txt"]


def test_image_with_a_text_only_model_is_ignored_once(tmp_path: Path) -> None:
    png = tmp_path / "mock.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 32)
    summary, recorder, model = build(tmp_path / "out", images=[png])
    notices = [n for n in recorder.of(events.Notice) if "--image ignored" in n.text]
    assert len(notices) == 1


def test_improve_commits_on_top(tmp_path: Path) -> None:
    summary, _, _ = build(tmp_path)
    project = Path(summary.project)
    before = git(project, "rev-list", "--count", "HEAD")
    model = scripted()
    improved = engine.improve(project, "add a pause key", models=company_models(model), no_run=True)
    assert improved.status == "untested"
    assert "PAUSE_KEY" in (project / "main.py").read_text()
    assert "pause key" in (project / "README.md").read_text()
    assert int(git(project, "rev-list", "--count", "HEAD")) > int(before)
    assert {"v1", "v2"} <= set(git(project, "tag").split())


def test_improve_refuses_to_overwrite_user_changes(tmp_path: Path) -> None:
    from chatdev.errors import WorkspaceError

    summary, _, _ = build(tmp_path)
    project = Path(summary.project)
    (project / "main.py").write_text("# my own edit\n")
    with pytest.raises(WorkspaceError, match="did not make"):
        engine.improve(project, "add a pause key", models=company_models(scripted()), no_run=True)
    assert (project / "main.py").read_text() == "# my own edit\n"


def test_debate_design_lets_the_judge_decide(tmp_path: Path, company_dir: Path) -> None:
    text = (company_dir / "company.yaml").read_text().replace("  - design\n", "  - design_debate\n", 1)
    (company_dir / "company.yaml").write_text(text)

    def reply(messages):
        last = messages[-1].content
        if "Propose a design" in last:
            return "main.py: the whole game"
        if "Pick the best proposal" in last:
            assert "Programmer:" in last and "Tester:" in last  # the judge saw both proposals
            return '{"summary": "One file.", "entry": "main.py", "run": "python main.py", "files": [{"path": "main.py", "purpose": "all"}]}'
        return good_reply(messages)

    summary, recorder, _ = build(tmp_path, reply, company_dir=company_dir)
    project = Path(summary.project)
    started = [e for e in recorder.of(events.PhaseStarted) if e.phase == "design_debate"]
    assert started and started[0].roles == ["Programmer", "Tester", "CTO"]
    assert "One file." in (project / "docs/design.md").read_text()
    assert (project / "main.py").is_file()


def test_bench_refuses_parallel_jobs_without_an_endpoint(cli, tmp_path: Path) -> None:
    tasks = tmp_path / "tasks.txt"
    tasks.write_text("a snake game\n")
    result = cli("bench", str(tasks), "--jobs", "2", "--out", str(tmp_path / "out"))
    assert result.returncode == 2 and "--endpoint" in result.stderr
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing\n")
    assert cli("bench", str(empty)).returncode == 2


@pytest.mark.llm
def test_per_role_models_are_loaded_once_and_shared(company_dir: Path, small_model_path: Path) -> None:
    from chatdev.company.config import load_company

    role = company_dir / "roles" / "programmer.yaml"
    role.write_text(role.read_text().replace("reports_to: CTO", f"reports_to: CTO\nmodel: {small_model_path}"))
    company = load_company(company_dir)
    recorder = events.Recorder()
    refs = engine.role_model_refs(company, model="qwen2.5-coder-0.5b", endpoint=None, sink=recorder)
    assert refs["Programmer"] == str(small_model_path) and refs["CEO"] == "qwen2.5-coder-0.5b"
    models = engine.load_models(refs, n_ctx=1024, gpu_layers=0, seed=0, mmproj=None, sink=recorder)
    try:
        assert models["CEO"] is models["CTO"] is models["Tester"]  # one load for every default role
        assert models["Programmer"] is not models["CEO"]  # the role's own model
        assert len({id(m) for m in models.values()}) == 2
    finally:
        engine.close_models(models)


def test_review_approval_does_not_outvote_a_failed_static_check(tmp_path: Path) -> None:
    from chatdev.company.config import load_company
    from chatdev.project.workspace import Workspace
    from chatdev.run.chain import Chain
    from chatdev.run.context import Context, RunOptions, RunState

    company = load_company()
    workspace = Workspace.create(tmp_path / "p", company_name=company.name)
    workspace.write({"main.py": "print(undefined_name)\n"})
    state = RunState(task="a snake game", project="p", company=company.name, models={})
    state.outputs["design"] = {"entry": "main.py", "files": [{"path": "main.py", "purpose": "x"}], "summary": "s"}
    model = scripted()  # approves every review
    from chatdev.sandbox.results import ProgramReport

    report = ProgramReport(static_ok=False, static_output="main.py:1:7: undefined name", entry="main.py", run=None,
                           tests=None, tests_found=False, runs=None, tests_pass=None,
                           summary="main.py:1:7: undefined name 'undefined_name'", screenshot=None)
    recorder = events.Recorder()
    ctx = Context(company=company, models=company_models(model), workspace=workspace, state=state, sink=recorder,
                  options=RunOptions(seed=1), verifier=lambda *a, **k: report)
    Chain(ctx, ["review_loop"]).run()
    reviews = [e for e in recorder.of(events.PhaseEnded) if e.phase == "code_review"]
    # the same overruled review twice: the loop stops early (no cycle without progress)
    assert len(reviews) == 2 and all(e.verdict == {"approved": False} for e in reviews)
    assert "overruled: clean failed" in reviews[0].reason
    assert recorder.of(events.Escalation)  # never approved: the manager decided


def test_review_approval_does_not_outvote_a_program_that_crashes(tmp_path: Path) -> None:
    """The 1.5B breakout died at `ball.move()` and its review approved it (bench of 2026-12-03):
    no code_fix ran, and the test loop's three fixes came too late. A clean lint is not enough."""
    from chatdev.company.config import load_company
    from chatdev.project.workspace import Workspace
    from chatdev.run.chain import Chain
    from chatdev.run.context import Context, RunOptions, RunState
    from chatdev.sandbox.results import ProgramReport

    company = load_company()
    workspace = Workspace.create(tmp_path / "p", company_name=company.name)
    workspace.write({"main.py": "import ball\nball.move()\n", "ball.py": "class Ball:\n    def move(self):\n"
                                                                          "        pass\n"})
    state = RunState(task="a breakout game", project="p", company=company.name, models={})
    state.outputs["design"] = {"entry": "main.py", "files": [{"path": "main.py", "purpose": "x"}], "summary": "s"}
    report = ProgramReport(static_ok=True, static_output="", entry="main.py", run=None, tests=None, tests_found=False,
                           runs=False, tests_pass=None, summary="`python3 main.py` crashed (exit code 1): "
                           "AttributeError: module 'ball' has no attribute 'move'", screenshot=None)
    recorder = events.Recorder()
    ctx = Context(company=company, models=company_models(scripted()), workspace=workspace, state=state,
                  sink=recorder, options=RunOptions(seed=1), verifier=lambda *a, **k: report)
    Chain(ctx, ["review_loop"]).run()
    reviews = [e for e in recorder.of(events.PhaseEnded) if e.phase == "code_review"]
    assert reviews and all(e.verdict == {"approved": False} for e in reviews)
    assert "approved overruled: runs failed" in reviews[0].reason
    assert [e for e in recorder.of(events.PhaseEnded) if e.phase == "code_fix"]  # the programmer was asked


def test_optional_phase_failure_is_recorded_and_the_chain_goes_on(tmp_path: Path) -> None:
    def no_tests(messages):
        last = messages[-1].content
        if "pytest tests" in last or ("could not be used" in last and "tests/" in str(messages)):
            return "Tests are not needed for this program."
        return good_reply(messages)

    summary, recorder, _ = build(tmp_path, no_tests)
    ended = {e.phase: e for e in recorder.of(events.PhaseEnded)}
    assert ended["test_writing"].status == "failed" and "no usable reply" in ended["test_writing"].reason
    assert ended["documentation"].status == "done"
    assert summary.status == "untested" and not summary.reason
    assert (Path(summary.project) / "README.md").is_file()


def test_an_unnamed_block_is_the_phase_s_expected_file(tmp_path: Path) -> None:
    from tests.scripted_company import TESTS

    def unnamed_tests(messages):
        if "pytest tests" in messages[-1].content:
            return f"Here are the tests:\n```python\n{TESTS}```"
        return good_reply(messages)

    summary, _, _ = build(tmp_path, unnamed_tests)
    assert (Path(summary.project) / "tests/test_main.py").read_text() == TESTS


def test_a_retry_asks_again_under_the_request_without_the_bad_reply(tmp_path: Path) -> None:
    seen: list[list] = []

    def sloppy_once(messages):
        last = messages[-1].content
        if "Write the complete file" in last and not seen:
            seen.append(list(messages))
            return "I like turtles."
        if "could not be used" in last and len(seen) == 1:
            seen.append(list(messages))
        return good_reply(messages)

    summary, recorder, _ = build(tmp_path, sloppy_once)
    assert summary.status == "untested" and len(recorder.of(events.Retry)) == 1
    first, again = seen
    assert len(again) == len(first)  # the unusable reply is not in the conversation
    assert "I like turtles." not in str(again)
    assert again[-1].content.startswith(first[-1].content) and "could not be used" in again[-1].content
    shown = [e.text for e in recorder.of(events.Message) if "could not be used" in e.text]
    assert shown and "Write the complete file" not in shown[0]  # the transcript shows the correction only


def test_a_fix_without_a_path_line_lands_in_the_file_it_rewrites(tmp_path: Path) -> None:
    from tests.scripted_company import GAME

    def no_path(messages):
        if "Fix the problems" in messages[-1].content:
            return f"Here is the corrected code:\n\n```python\n{GAME}# walls are handled by the caller\n```"
        return good_reply(messages, approve_after=1, counter=counter)

    counter: dict = {}
    summary, recorder, _ = build(tmp_path, no_path)
    assert not recorder.of(events.Retry)
    assert "walls are handled" in (Path(summary.project) / "main.py").read_text()


def test_a_fix_prompt_leads_with_the_files_the_failure_names(tmp_path: Path) -> None:
    from chatdev.run.phases import named_files

    paths = ["game.py", "main.py", "tests/test_main.py", "README.md"]
    report = ("Static check failed, so the program was not run:\ntests/test_main.py:47:53: syntax error\n"
              'Traceback:\n  File "/work/game.py", line 3, in <module>\n')
    assert named_files(report, paths) == ["tests/test_main.py", "game.py"]
    assert named_files("see mygame.py and game.pyc", paths) == []

    prompts: list[str] = []

    def review_names_a_file(messages):
        last = messages[-1].content
        if "Fix the problems" in last:
            prompts.append(last)
        if "Please review my code" in last and not prompts:
            return json.dumps({"approved": False, "issues": ["main.py: the snake passes through walls"]})
        return good_reply(messages, approve_after=1, counter=counter)

    counter: dict = {}
    build(tmp_path, review_names_a_file)
    assert "The findings point at main.py: look there first." in prompts[0]
    assert prompts[0].index("main.py\n```python") < prompts[0].index("Fix the problems")


def test_a_fix_cut_at_its_token_limit_never_writes_half_a_file(tmp_path: Path) -> None:
    from tests.scripted_company import GAME

    fixes: list[str] = []

    def rambling_fix(messages):
        if "Fix the problems" in messages[-1].content:
            fixes.append(messages[-1].content)
            if len(fixes) == 1:  # a whole main.py, then a test file that runs past max_tokens (1400)
                return (f"main.py\n```python\n{GAME}# walls are handled by the caller\n```\n\n"
                        "tests/test_main.py\n```python\n" + "assert True\n" * 2000)
        return good_reply(messages, approve_after=1, counter=counter)

    counter: dict = {}
    summary, recorder, _ = build(tmp_path, rambling_fix)
    project = Path(summary.project)
    assert "walls are handled" in (project / "main.py").read_text()  # the whole file is kept
    fix = next(e for e in recorder.of(events.PhaseEnded) if e.phase == "code_fix")
    assert fix.files == ["main.py"]  # the half test file was never written
    assert not recorder.of(events.Retry)


def test_a_test_file_cut_at_its_token_limit_is_written_with_the_tests_it_finished(tmp_path: Path) -> None:
    from chatdev.models.base import current_call

    def long_tester(messages):
        info = current_call()
        if info is not None and info.phase == "test_writing":  # 60 asserts run past max_tokens (700)
            return ("tests/test_main.py\n```python\nfrom main import step\n\n\ndef test_moves():\n"
                    + "    assert step([(1, 1), (0, 1)], (1, 0))[0] == (2, 1)\n" * 60)
        return good_reply(messages)

    summary, recorder, _ = build(tmp_path, long_tester)
    written = (Path(summary.project) / "tests/test_main.py").read_text()
    compile(written, "tests/test_main.py", "exec")
    assert written.startswith("from main import step") and written.count("assert step(") > 20
    ended = next(e for e in recorder.of(events.PhaseEnded) if e.phase == "test_writing")
    assert ended.files == ["tests/test_main.py"]
