"""Best-of-N: several replies at once, each checked in the sandbox, the best kept (issue 14).

The ranking and the trial writes are exact on their own; the phase's use of them runs
on the scripted model with a verifier that judges the files it is given, and once on
the real sandbox. Decoding several sequences together on llama.cpp is in
tests/test_models_candidates.py.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from chatdev import events
from chatdev.errors import SandboxError
from chatdev.models.base import CallInfo
from chatdev.project.workspace import Workspace
from chatdev.run import candidates, engine
from chatdev.sandbox.results import RunResult, build_report
from tests.scripted_company import GAME, company_models, good_reply, scripted
from tests.test_acceptance import case, fake_verifier

CRASH = GAME.replace('print("snake at"', 'raise SystemExit(crash_here)  # crash\n    print("snake at"')


def report(*, runs: bool, passed: int = 0, failed: int = 0, static: list[str] | None = None) -> Any:
    cases = [case(outcome="passed", name=f"test_p{i}") for i in range(passed)]
    cases += [case(outcome="failed", name=f"test_f{i}", text="tests/test_main.py:5: in t\nE   assert 1 == 2")
              for i in range(failed)]
    payload = {"probe": {"entry": "main.py", "gui": None, "tests": ["tests/test_main.py"] if cases else []},
               "static": {"ok": not static, "errors": static or [], "warnings": [], "missing": []},
               "cases": cases or None}
    run = RunResult(0 if runs else 1, "", "" if runs else "Traceback (most recent call last):\nboom", False, 0.1)
    tests = RunResult(1 if failed else 0, "", "", False, 0.2) if cases else None
    return build_report(payload, run=run, tests=tests, sources={})


# ----------------------------------------------------------------------------- the ranking


def test_the_ranking_is_one_fixed_order() -> None:
    pool = [
        candidates.Candidate(0, {}, problem="no code block"),
        candidates.Candidate(1, {"main.py": "x"}, report=report(runs=False, passed=2)),
        candidates.Candidate(2, {"main.py": "x"}, report=report(runs=True, passed=1, failed=1)),
        candidates.Candidate(3, {"main.py": "x"}, report=report(runs=True, passed=1)),
        candidates.Candidate(4, {"main.py": "x"}, problem="the sandbox timed out"),
        candidates.Candidate(5, {"main.py": "x"}, report=report(runs=True, passed=2)),
        candidates.Candidate(6, {"main.py": "x"}, report=report(runs=True, passed=2,
                                                                static=["main.py:3: undefined name 'x'"])),
        candidates.Candidate(7, {"main.py": "x"}, report=report(runs=True, passed=2)),
    ]
    order = [c.index for c in candidates.rank(pool)]
    # runs and no failing test first; then more passing tests, fewer static errors, the lower number;
    # a program that does not run comes after every one that runs; a crashed check after a finished
    # one; an unusable reply last
    assert order == [5, 7, 6, 3, 2, 1, 4, 0]
    assert len(candidates.RANKING) >= 8
    verdicts = {c.index: c.verdict() for c in pool}
    assert verdicts[5].startswith("runs; 2 tests pass, 0 fail")
    assert verdicts[1].startswith("does not run")
    assert "did not finish" in verdicts[4] and "unusable reply: no code block" == verdicts[0]


def test_a_trial_puts_the_files_back(tmp_path: Path) -> None:
    ws = Workspace.create(tmp_path / "p", company_name="t")
    ws.write({"main.py": "print(1)\n"})
    seen: dict[str, str] = {}
    with candidates.trial(ws, {"main.py": "print(2)\n", "extra.py": "X = 1\n"}):
        seen = {p: ws.read(p) for p in ws.files()}
    assert seen["main.py"] == "print(2)\n" and "extra.py" in seen
    assert "extra.py" not in ws.files() and ws.read("main.py") == "print(1)\n"


def test_a_check_that_crashes_marks_its_candidate_never_the_phase(tmp_path: Path) -> None:
    ws = Workspace.create(tmp_path / "p", company_name="t")
    ws.write({"main.py": "print(1)\n"})
    pool = [candidates.Candidate(0, {"main.py": "while True: print('x' * 10**6)\n"}),
            candidates.Candidate(1, {"main.py": "print(3)\n"})]
    calls = iter([SandboxError("the runner stopped answering"), report(runs=True)])

    def check() -> Any:
        got = next(calls)
        if isinstance(got, Exception):
            raise got
        return got

    candidates.check_all(ws, pool, check)
    assert [c.index for c in candidates.rank(pool)] == [1, 0]
    assert "runner stopped answering" in pool[0].verdict()
    assert ws.read("main.py") == "print(1)\n"


# ----------------------------------------------------------------------------- in the company


def picky_company(good: int):
    """Coding writes a crashing main.py unless the call is candidate ``good``."""

    def reply(messages, info: CallInfo) -> str:
        if info.phase == "coding":
            return f"main.py\n```python\n{GAME if info.candidate == good else CRASH}```"
        return good_reply(messages)

    return reply


def candidate_build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, n: int, *, good: int,
                    verifier: Any = None, **opts: Any):
    model = scripted(picky_company(good))
    verifier = verifier or fake_verifier(lambda files: ("crash_here" not in files.get("main.py", ""), set()))
    monkeypatch.setattr(engine, "_verifier", verifier)
    monkeypatch.setattr(engine, "_sandbox_ready", lambda: None)
    recorder = events.Recorder()
    summary = engine.build(engine.BuildOptions(task="a snake game", out=tmp_path, candidates=n, **opts),
                           sink=recorder, models=company_models(model))
    return summary, recorder, model


def test_the_candidate_that_runs_is_committed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    summary, recorder, model = candidate_build(tmp_path, monkeypatch, 3, good=2)
    project = Path(summary.project)
    assert "crash_here" not in (project / "main.py").read_text()
    assert summary.status == "passed" and summary.runs is True
    picks = [e for e in recorder.of(events.CandidatesRanked) if e.phase == "coding"]
    assert len(picks) == 1 and picks[0].winner == 2 and picks[0].item == "main.py"
    assert [r["index"] for r in picks[0].ranking][0] == 2 and picks[0].ranking[0]["verdict"].startswith("runs")
    assert all(r["verdict"].startswith("does not run") for r in picks[0].ranking[1:])
    # every candidate is in the transcript, numbered
    replies = [e for e in recorder.of(events.Message) if e.phase == "coding" and e.sender == "Programmer"]
    assert [e.candidate for e in replies] == [0, 1, 2]
    seeds = [c.seed for c in model.calls if c.info is not None and c.info.phase == "coding"]
    assert len(set(seeds)) == 3
    transcript = [json.loads(line) for line in (project / ".chatdev/transcript.jsonl").read_text().splitlines()]
    assert any(r["kind"] == "candidates" and r["winner"] == 2 for r in transcript)
    # the record a person reads: chatdev log and the report say which won and why
    from chatdev.project import timeline
    from chatdev.views import report as report_mod

    coding = next(e for e in timeline.read(project) if e.phase == "coding")
    assert coding.candidates == [{"item": "main.py", "winner": 2, "of": 3,
                                  "why": picks[0].ranking[0]["verdict"]}]
    html = report_mod.write_report(project).read_text()
    assert "Candidates for main.py" in html and "candidate 2 of 3 was kept" in html


def test_the_first_clean_candidate_is_kept_and_the_rest_are_not_asked(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Candidates are checked as they end: candidate 1 runs with nothing against it, so candidates 2
    and 3 are never written (one model after another: never asked; on llama.cpp: stopped)."""
    summary, recorder, model = candidate_build(tmp_path, monkeypatch, 4, good=1)
    assert summary.runs is True and "crash_here" not in (Path(summary.project) / "main.py").read_text()
    coding = [c for c in model.calls if c.info is not None and c.info.phase == "coding"]
    assert [c.info.candidate for c in coding] == [0, 1]
    pick = next(e for e in recorder.of(events.CandidatesRanked) if e.phase == "coding")
    assert pick.winner == 1
    assert [r["index"] for r in pick.ranking] == [1, 0, 2, 3]
    assert pick.ranking[0]["verdict"].startswith("runs") and pick.ranking[1]["verdict"].startswith("does not run")
    assert [r["verdict"] for r in pick.ranking[2:]] == ["not asked: candidate 1 was clean first"] * 2
    # the transcript holds the two replies written, not the two never asked
    replies = [e for e in recorder.of(events.Message) if e.phase == "coding" and e.sender == "Programmer"]
    assert [e.candidate for e in replies] == [0, 1]


def test_a_module_written_before_its_entry_point_is_kept_without_a_run(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Coding writes snake.py before main.py: no candidate of that step can run, so the first one
    with nothing against it is kept; main.py's step waits for a candidate that runs."""
    design = json.dumps({"summary": "A snake game.", "entry": "main.py", "run": "python main.py",
                         "files": [{"path": "snake.py", "purpose": "the snake"},
                                   {"path": "main.py", "purpose": "the loop"}]})

    def reply(messages, info: CallInfo) -> str:
        if info.phase == "design":
            return design
        if info.phase == "coding" and info.item == "snake.py":
            return "snake.py\n```python\nclass Snake:\n    size = 3\n```"
        if info.phase == "coding":
            return f"main.py\n```python\n{GAME if info.candidate == 1 else CRASH}```"
        return good_reply(messages)

    model = scripted(reply)
    verifier = fake_verifier(lambda files: ("main.py" in files and "crash_here" not in files["main.py"], set()))
    monkeypatch.setattr(engine, "_verifier", verifier)
    monkeypatch.setattr(engine, "_sandbox_ready", lambda: None)
    recorder = events.Recorder()
    summary = engine.build(engine.BuildOptions(task="a snake game", out=tmp_path, candidates=3), sink=recorder,
                           models=company_models(model))
    coding = [(c.info.item, c.info.candidate) for c in model.calls if c.info is not None and c.info.phase == "coding"]
    assert coding == [("snake.py", 0), ("main.py", 0), ("main.py", 1)]
    picks = {e.item: e for e in recorder.of(events.CandidatesRanked) if e.phase == "coding"}
    assert picks["snake.py"].winner == 0 and picks["main.py"].winner == 1
    assert summary.runs is True


def test_clean_is_the_best_a_candidate_can_be_but_for_its_passing_count() -> None:
    files = {"main.py": "x"}
    assert candidates.Candidate(0, files, report=report(runs=True, passed=1)).clean()
    assert candidates.Candidate(0, files, report=report(runs=True)).clean()  # no tests yet: its run decides
    assert not candidates.Candidate(0, files, report=report(runs=False)).clean()
    assert not candidates.Candidate(0, files, report=report(runs=True, passed=3, failed=1)).clean()
    assert not candidates.Candidate(0, files, report=report(runs=True, static=["main.py:1: undefined name 'x'"])).clean()
    assert not candidates.Candidate(0, files).clean()  # not checked (no sandbox)
    # where no candidate can run yet (a module before its entry point), the rest decides
    assert candidates.Candidate(0, files, report=report(runs=False)).clean(can_run=False)
    assert not candidates.Candidate(0, files, report=report(runs=False, static=["main.py:1: x"])).clean(can_run=False)
    assert not candidates.Candidate(0, {}, problem="no code block").clean()


def test_the_fix_phases_pick_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """One candidate fix breaks the start, one keeps it: the one that runs wins."""
    def reply(messages, info: CallInfo) -> str:
        if info.phase == "test_fix":
            body = GAME.replace("import random", "import random  # fixed") if info.candidate else CRASH
            return f"main.py\n```python\n{body}```"
        return good_reply(messages)

    model = scripted(reply)

    def rules(files):
        main = files.get("main.py", "")
        return "crash_here" not in main, set() if "# fixed" in main else {"test_food_is_free"}

    monkeypatch.setattr(engine, "_verifier", fake_verifier(rules))
    monkeypatch.setattr(engine, "_sandbox_ready", lambda: None)
    recorder = events.Recorder()
    summary = engine.build(engine.BuildOptions(task="a snake game", out=tmp_path, candidates=2), sink=recorder,
                           models=company_models(model))
    picks = [e for e in recorder.of(events.CandidatesRanked) if e.phase == "test_fix"]
    assert picks and picks[0].winner == 1
    assert "# fixed" in (Path(summary.project) / "main.py").read_text()
    assert summary.status == "passed"


def test_no_usable_candidate_asks_again_one_at_a_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    asked = {"n": 0}

    def reply(messages, info: CallInfo) -> str:
        if info.phase == "coding":
            asked["n"] += 1
            if asked["n"] <= 2:
                return "I would write a snake game here."
            return f"main.py\n```python\n{GAME}```"
        return good_reply(messages)

    summary, recorder, _ = build_with(tmp_path, reply, candidates=2)
    assert asked["n"] == 3  # two candidates, then one more single try
    retries = [e for e in recorder.of(events.Retry) if e.phase == "coding"]
    assert retries and "no candidate was usable" in retries[0].reason
    assert (Path(summary.project) / "main.py").read_text() == GAME


def build_with(tmp_path: Path, fn, **opts: Any):
    model = scripted(fn)
    recorder = events.Recorder()
    summary = engine.build(engine.BuildOptions(task="a snake game", out=tmp_path, no_run=True, **opts),
                           sink=recorder, models=company_models(model))
    return summary, recorder, model


def test_without_a_sandbox_candidates_rank_by_what_parses(tmp_path: Path) -> None:
    def reply(messages, info: CallInfo) -> str:
        if info.phase == "coding":
            return f"main.py\n```python\n{GAME if info.candidate else 'def broken(:'}\n```"
        return good_reply(messages)

    model = scripted(reply)
    recorder = events.Recorder()
    summary = engine.build(engine.BuildOptions(task="a snake game", out=tmp_path, no_run=True, candidates=2),
                           sink=recorder, models=company_models(model))
    pick = next(e for e in recorder.of(events.CandidatesRanked) if e.phase == "coding")
    assert pick.winner == 1 and "not run (no sandbox)" in pick.ranking[0]["verdict"]
    assert "do not parse" in pick.ranking[1]["verdict"]
    assert (Path(summary.project) / "main.py").read_text().startswith("import random")


def test_candidates_in_the_company_yaml_and_its_bad_values(tmp_path: Path) -> None:
    from chatdev.company.config import MAX_CANDIDATES, load_company
    from chatdev.company.scaffold import init_company
    from chatdev.errors import ConfigError

    folder = tmp_path / "company"
    init_company(folder)
    coding = folder / "phases" / "coding.yaml"
    coding.write_text(coding.read_text() + "candidates: 3\n")
    assert load_company(folder).phases["coding"].candidates == 3
    for bad, says in (("0", "candidates"), (str(MAX_CANDIDATES + 1), "candidates")):
        coding.write_text(coding.read_text().replace("candidates: 3\n", f"candidates: {bad}\n")
                          .replace(f"candidates: {MAX_CANDIDATES + 1}\n", f"candidates: {bad}\n"))
        with pytest.raises(ConfigError, match=says):
            load_company(folder)
        coding.write_text(coding.read_text().replace(f"candidates: {bad}\n", "candidates: 3\n"))
    design = folder / "phases" / "design.yaml"
    design.write_text(design.read_text() + "candidates: 2\n")
    with pytest.raises(ConfigError, match="only a phase that writes files"):
        load_company(folder)


@pytest.mark.parametrize("value", ["0", "-2", "9", "lots"])
def test_a_bad_candidates_option_is_a_usage_error(cli, tmp_path: Path, value: str) -> None:
    proc = cli("build", "a snake game", "--candidates", value, "--no-run", "--out", str(tmp_path))
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and "--candidates" in proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_the_cli_bound_is_the_config_bound() -> None:
    import inspect

    from chatdev import cli
    from chatdev.company.config import MAX_CANDIDATES

    assert f"max={MAX_CANDIDATES}," in inspect.getsource(cli).split("CandidatesOpt", 1)[1][:200]


# ----------------------------------------------------------------------------- on the real sandbox


@pytest.mark.docker
def test_the_real_sandbox_picks_the_program_that_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from chatdev.sandbox import container

    try:
        container.client()
    except SandboxError as exc:
        pytest.skip(f"no Docker engine reachable: {exc.line()}")

    summary, recorder, _ = candidate_build(tmp_path, monkeypatch, 2, good=1,
                                           verifier=engine.__dict__["_verifier"])
    pick = next(e for e in recorder.of(events.CandidatesRanked) if e.phase == "coding")
    assert pick.winner == 1, pick.ranking
    assert "NameError" in pick.ranking[1]["verdict"] or "does not run" in pick.ranking[1]["verdict"]
    project = Path(summary.project)
    assert "crash_here" not in (project / "main.py").read_text()
    out = subprocess.run(["git", "-C", str(project), "status", "--porcelain"], capture_output=True, text=True)
    assert out.stdout.strip() == ""  # the trials left nothing behind


def test_the_bench_builds_with_candidates(tmp_path: Path) -> None:
    from chatdev.tools import bench as benchmark

    tasks = tmp_path / "tasks.txt"
    tasks.write_text("a snake game\n")
    bench = benchmark.run(tasks, out=tmp_path / "out", no_run=True, models=company_models(scripted()),
                          candidates=2, first=5)
    [r] = bench.results
    assert r.complete is True and Path(r.project).name.startswith("05_")
    saved = json.loads((tmp_path / "out" / "results.json").read_text())
    assert saved["candidates"] == 2
    transcript = (Path(r.project) / ".chatdev/transcript.jsonl").read_text()
    assert '"kind": "candidates"' in transcript


def test_more_candidates_than_the_context_holds_is_refused_before_anything_is_built(tmp_path: Path) -> None:
    from chatdev.errors import UsageError

    model = scripted(good_reply)
    model.max_candidates = lambda prompt, max_tokens: 2  # type: ignore[attr-defined]
    with pytest.raises(UsageError, match=r"--candidates 3: scripted can decode at most 2 candidates") as info:
        engine.build(engine.BuildOptions(task="a snake game", out=tmp_path, no_run=True, candidates=3),
                     models=company_models(model))
    assert info.value.exit_code == 2 and "--candidates 2 or fewer" in info.value.line()
    assert list(tmp_path.iterdir()) == [] and model.calls == []


def test_a_person_in_the_seat_writes_one_reply() -> None:
    from types import SimpleNamespace

    from chatdev.company.config import load_company
    from chatdev.run.phases import candidates_for

    company = load_company(None)
    ctx: Any = SimpleNamespace(options=SimpleNamespace(candidates=4), model_for=lambda role: SimpleNamespace(human=True))
    assert candidates_for(ctx, company.phases["coding"]) == 1
    ctx.model_for = lambda role: SimpleNamespace()
    assert candidates_for(ctx, company.phases["coding"]) == 4
    assert candidates_for(ctx, company.phases["design"]) == 1  # json: nothing to run


# ----------------------------------------------------------------------------- a debate of candidates


def test_a_files_debate_shows_the_judge_each_proposals_check_and_commits_the_choice(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """coding_debate: the programmer's proposal crashes, the tester's runs; the judge sees both
    verdicts, may only pick a usable one, and what it picks is written and committed."""
    import shutil

    from chatdev.company.config import defaults_dir
    from chatdev.models.base import current_call

    company = tmp_path / "company"
    company.mkdir()
    text = (Path(defaults_dir()) / "company.yaml").read_text()
    (company / "company.yaml").write_text(text.replace("  - coding\n", "  - coding_debate\n", 1))
    shutil.copytree(Path(defaults_dir()) / "phases", company / "phases")
    asked: dict[str, str] = {}

    def company_fn(messages):
        info = current_call()
        if info is not None and info.phase == "coding_debate":
            asked[info.role] = messages[-1].content
            if info.role == "CTO":
                return json.dumps({"choice": 2, "why": "it runs"})
            body = CRASH if info.role == "Programmer" else GAME
            return f"main.py\n```python\n{body}```"
        return good_reply(messages)

    verifier = fake_verifier(lambda files: ("crash_here" not in files.get("main.py", ""), set()))
    monkeypatch.setattr(engine, "_verifier", verifier)
    monkeypatch.setattr(engine, "_sandbox_ready", lambda: None)
    recorder = events.Recorder()
    summary = engine.build(engine.BuildOptions(task="a snake game", out=tmp_path / "out", company_dir=company),
                           sink=recorder, models=company_models(scripted(company_fn)))
    project = Path(summary.project)
    assert (project / "main.py").read_text() == GAME and summary.runs is True
    # each participant was asked for the design's files (here one); the judge saw both checks
    assert asked["Programmer"].rstrip().endswith(
        "Reply with the line main.py and then the whole file in one ```python block.")
    judge = asked["CTO"]
    assert "Proposal 1, by Programmer: does not run" in judge and "Proposal 2, by Tester: runs" in judge
    assert '"choice": 2' in judge  # the example names the proposal the ranking puts first
    pick = next(e for e in recorder.of(events.CandidatesRanked) if e.phase == "coding_debate")
    assert pick.winner == 1 and pick.ranking[0]["verdict"].endswith("chosen by CTO: it runs")
    log = subprocess.run(["git", "-C", str(project), "log", "--format=%an|%s"], capture_output=True, text=True,
                         check=True).stdout
    assert "|[coding_debate] Implement main.py (chosen by debate)" in log


def test_a_files_debate_allows_one_round_and_no_schema(tmp_path: Path) -> None:
    from chatdev.company.config import defaults_dir, load_company
    from chatdev.errors import ConfigError

    (tmp_path / "phases").mkdir()
    source = (Path(defaults_dir()) / "phases" / "coding_debate.yaml").read_text()
    for extra, key in (("rounds: 2\n", "rounds"), ("schema: {type: object}\n", "schema")):
        (tmp_path / "phases" / "coding_debate.yaml").write_text(source + extra)
        text = (Path(defaults_dir()) / "company.yaml").read_text().replace("  - coding\n", "  - coding_debate\n", 1)
        (tmp_path / "company.yaml").write_text(text)
        with pytest.raises(ConfigError, match=f"coding_debate.yaml: {key}: not with proposals: files"):
            load_company(tmp_path)
