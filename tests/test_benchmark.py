"""`chatdev bench`: placeholder rules, the hand-written checks, and how results add up."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from chatdev.checks import completeness
from chatdev.run import engine
from chatdev.tools import bench as benchmark
from chatdev.tools.bench import BenchResults, TaskResult

REPO = Path(__file__).resolve().parent.parent
TASKS = REPO / "bench" / "tasks.txt"
CHECKS = REPO / "bench" / "checks"


def flagged(code: str, path: str = "main.py") -> list[str]:
    return completeness.placeholders({path: textwrap.dedent(code)})


# ----------------------------------------------------------------------------- completeness


@pytest.mark.parametrize("code, why", [
    ("def move():\n    pass\n", "main.py:1: function move() has no body (pass)"),
    ("def move():\n    ...\n", "main.py:1: function move() has no body (...)"),
    ('def move():\n    """Move the snake."""\n', "main.py:1: function move() has no body (only a docstring)"),
    ('class Game:\n    def draw(self):\n        """Draw."""\n        pass\n',
     "main.py:2: method draw() has no body (pass)"),
    ("class Game:\n    pass\n", "main.py:1: class Game has no body (pass)"),
    ("def load():\n    raise NotImplementedError('later')\n", "main.py:2: raise NotImplementedError"),
    ("x = 1  # TODO: read the level from a file\n", "main.py:1: TODO comment"),
    ("# FIXME wrap around the edges\nx = 1\n", "main.py:1: FIXME comment"),
    ("def run():\n    # Add your code here\n    return 1\n", "main.py:2: placeholder comment: Add your code here"),
    ('if __name__ == "__main__":\n    pass\n', "main.py:1: the __main__ block does nothing (pass)"),
])
def test_placeholders_are_found(code: str, why: str) -> None:
    assert flagged(code) == [why]
    assert not completeness.complete({"main.py": code})


@pytest.mark.parametrize("code", [
    "try:\n    import json\nexcept ImportError:\n    pass\n",
    "def f(x):\n    try:\n        return int(x)\n    except ValueError:\n        pass\n    return 0\n",
    "class GameOver(Exception):\n    pass\n",
    "class Quit(Exception):\n    '''The player quit.'''\n",
    "from abc import ABC, abstractmethod\n\nclass Shape(ABC):\n    @abstractmethod\n    def area(self):\n"
    "        raise NotImplementedError\n",
    "for i in range(3):\n    if i:\n        pass\n    print(i)\n",
    'TODOS = "todo.json"  # where the todo list is saved\n',
    'print("TODO list:")\n',
    'def main():\n    """Run."""\n    print("hi")\n',
])
def test_finished_code_is_complete(code: str) -> None:
    assert flagged(code) == []
    assert completeness.complete({"main.py": code})


def test_test_files_and_other_files_are_not_looked_at() -> None:
    stub = "def test_x():\n    pass\n"
    assert completeness.placeholders({"tests/test_main.py": stub, "test_game.py": stub, "game_test.py": stub,
                                      "conftest.py": stub, "README.md": "TODO: write", "notes.txt": "FIXME"}) == []


def test_placeholders_are_listed_by_file_and_line() -> None:
    found = completeness.placeholders({"b.py": "def g():\n    pass\n", "a.py": "x = 1\n# TODO later\n"
                                       "def f():\n    ...\n"})
    assert found == ["a.py:2: TODO comment", "a.py:3: function f() has no body (...)",
                     "b.py:1: function g() has no body (pass)"]


def test_a_file_that_does_not_parse_is_still_read() -> None:
    found = flagged("def f(:\n    raise NotImplementedError  # TODO\n")
    assert "main.py:2: raise NotImplementedError" in found and "main.py:2: TODO comment" in found


# ----------------------------------------------------------------------------- the task list and its checks


def test_the_public_tasks_cover_every_kind_and_each_has_a_check() -> None:
    from chatdev.checks.scenarios import load_scenarios

    tasks = benchmark.read_tasks(TASKS)
    assert len(tasks) >= 20
    slugs = [engine.slug(t) for t in tasks]
    assert len(set(slugs)) == len(slugs), "two tasks share a check file name"
    assert {p.stem for p in CHECKS.glob("*.yaml")} == set(slugs), "one check per task, no strays"
    text = TASKS.read_text().lower()
    for kind in ("terminal tools", "terminal games", "pygame games", "tkinter windows", "data tools"):
        assert f"# {kind}" in text
    gui = 0
    for task in tasks:
        path = benchmark.check_for(task, CHECKS)
        assert path is not None, task
        assert path.read_text().startswith("#"), f"{path.name}: say what it checks in a header comment"
        scenarios = load_scenarios(path)
        assert 1 <= len(scenarios) <= 3, path.name
        gui += any(s.keys for s in scenarios)
        for s in scenarios:
            assert not s.screen_changes or s.keys, f"{path.name}: a screen change is only measured after keys"
    assert gui >= 8  # the pygame games and Tkinter windows


def test_checks_are_found_by_slug_and_a_bad_one_fails_before_any_build(tmp_path: Path) -> None:
    from chatdev.errors import ConfigError

    (tmp_path / "snake_game.yaml").write_text("- name: starts\n")
    assert benchmark.check_for("a snake game", tmp_path) == tmp_path / "snake_game.yaml"
    assert benchmark.check_for("a pong game", tmp_path) is None
    assert benchmark.check_for("a snake game", None) is None
    loaded = benchmark.load_checks(["a snake game", "a pong game"], tmp_path)
    assert list(loaded) == ["a snake game"] and loaded["a snake game"][1][0].name == "starts"
    (tmp_path / "snake_game.yaml").write_text("- name: x\n  keyz: [Up]\n")
    with pytest.raises(ConfigError, match="keyz"):
        benchmark.load_checks(["a snake game"], tmp_path)
    assert benchmark.default_checks(TASKS) == CHECKS


# ----------------------------------------------------------------------------- measuring one build


def summary(project: Path, **kw: Any) -> SimpleNamespace:
    base = dict(project=str(project), task="t", status="passed", runs=True, tests_pass=True, reason="",
                wall_s=12.5, tokens={"prompt": 900, "completion": 100, "cached": 300}, llm_calls=7,
                files=["main.py", "tests/test_main.py", "README.md"], lines=30, tests={},
                phases=[{"name": "coding", "kind": "chat", "duration": 4.0},
                        {"name": "review", "kind": "chat", "duration": 1.5},
                        {"name": "review_loop", "kind": "loop", "duration": 0.0},
                        {"name": "review", "kind": "chat", "duration": 2.0}])
    return SimpleNamespace(**(base | kw))


def project(tmp_path: Path, main: str = "print('hi')\n", entry: str | None = "main.py") -> Path:
    root = tmp_path / "p"
    (root / "tests").mkdir(parents=True)
    (root / ".chatdev").mkdir()
    (root / "main.py").write_text(main)
    (root / "tests" / "test_main.py").write_text("def test_x():\n    pass\n")
    (root / "README.md").write_text("TODO\n")
    design = {"entry": entry, "files": []} if entry else {}
    (root / ".chatdev" / "state.json").write_text(json.dumps({"outputs": {"design": design}}))
    return root


def test_phase_seconds_sum_cycles_and_skip_loop_records() -> None:
    assert benchmark.phase_seconds(summary(Path("p")).phases) == {"coding": 4.0, "review": 3.5}
    assert benchmark.phase_seconds([{"name": "x", "duration": None}, {"duration": "bad"}]) == {"x": 0.0}


def test_a_build_is_measured_and_its_check_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from chatdev.checks.scenarios import Scenario, ScenarioResult
    from chatdev.sandbox import container

    root = project(tmp_path, main="def step():\n    pass\n")
    seen: dict[str, Any] = {}

    def fake_run(project_dir: Path, scenarios: list, *, entry: str | None = None) -> list:
        seen.update(project=project_dir, entry=entry, names=[s.name for s in scenarios])
        return [ScenarioResult("10 km", True, "ok"), ScenarioResult("100 C", False, "the output lacks '212'")]

    monkeypatch.setattr(container, "run_scenarios", fake_run, raising=False)
    check = (tmp_path / "c.yaml", [Scenario("10 km"), Scenario("100 C")])
    r = benchmark.task_result("a converter", summary(root), no_run=False, check=check)
    assert seen == {"project": root, "entry": "main.py", "names": ["10 km", "100 C"]}
    assert (r.runs, r.tests_pass, r.complete, r.does_task) == (True, True, False, False)
    assert r.placeholders == ["main.py:1: function step() has no body (pass)"]
    assert r.scenarios[1] == {"name": "100 C", "passed": False, "reason": "the output lacks '212'"}
    assert (r.tokens, r.calls, r.wall_s, r.files, r.cached_tokens) == (1000, 7, 12.5, 3, 300)
    assert r.phases == {"coding": 4.0, "review": 3.5} and r.check.endswith("c.yaml")


def test_without_a_check_or_a_run_does_task_is_unknown(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from chatdev.checks.scenarios import Scenario
    from chatdev.sandbox import container

    monkeypatch.setattr(container, "run_scenarios", lambda *a, **k: pytest.fail("nothing may run"), raising=False)
    root = project(tmp_path)
    r = benchmark.task_result("t", summary(root), no_run=False, check=None)
    assert r.does_task is None and r.complete is True and r.check == ""
    r = benchmark.task_result("t", summary(root, runs=None, tests_pass=None, status="untested"), no_run=True,
                              check=(tmp_path / "c.yaml", [Scenario("s")]))
    assert (r.runs, r.tests_pass, r.does_task) == (None, None, None)


def test_a_build_that_stopped_before_its_program_ran_does_not_run(tmp_path: Path) -> None:
    r = benchmark.task_result("t", summary(project(tmp_path), runs=None, tests_pass=None, status="failed",
                                           files=["docs/design.md"]), no_run=False, check=None)
    assert r.runs is False and r.complete is False and r.placeholders == ["no Python program files"]


def test_a_sandbox_failure_leaves_does_task_unknown(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from chatdev.checks.scenarios import Scenario
    from chatdev.errors import SandboxError
    from chatdev.sandbox import container

    def broken(*args: Any, **kwargs: Any) -> list:
        raise SandboxError("Docker is not running")

    monkeypatch.setattr(container, "run_scenarios", broken, raising=False)
    root = project(tmp_path, entry=None)
    assert benchmark.design_entry(root) is None
    r = benchmark.task_result("t", summary(root), no_run=False, check=(tmp_path / "c.yaml", [Scenario("s")]))
    assert r.does_task is None and "check not run: Docker is not running" in r.error


# ----------------------------------------------------------------------------- adding up


def results() -> BenchResults:
    return BenchResults(model="m", results=[
        TaskResult("a", "p/a", "passed", runs=True, tests_pass=True, complete=True, does_task=True, wall_s=60,
                   tokens=1000, calls=10, phases={"coding": 30.0, "test": 10.0}),
        TaskResult("b", "p/b", "tests_fail", runs=True, tests_pass=False, complete=False, does_task=False,
                   wall_s=120, tokens=3000, calls=20, phases={"coding": 50.0, "test_fix": 60.0},
                   placeholders=["main.py:3: TODO comment"]),
        TaskResult("c", "p/c", "failed", runs=False, tests_pass=None, complete=True, does_task=None, wall_s=300,
                   tokens=5000, calls=30, phases={"test_fix": 200.0}),
        TaskResult("d", "p/d", "error", runs=False, complete=None, does_task=False, wall_s=1, error="boom"),
    ])


def test_shares_medians_and_phases_over_all_tasks() -> None:
    bench = results()
    assert bench.shares() == {"runs": 0.5, "tests_pass": 0.25, "complete": 2 / 3, "does_task": 1 / 3}
    assert bench.counts() == {"runs": [2, 4], "tests_pass": [1, 4], "complete": [2, 3], "does_task": [1, 3]}
    med = bench.medians()
    assert med["wall_s"] == 90.0 and med["tokens"] == 2000.0 and med["calls"] == 15.0
    assert bench.phase_seconds() == {"test_fix": 260.0, "coding": 80.0, "test": 10.0}
    data = json.loads(json.dumps(bench.to_dict()))
    assert data["total"]["tasks"] == 4 and data["total"]["runs"] == 0.5
    assert data["tasks"][1]["placeholders"] == ["main.py:3: TODO comment"]


def test_no_run_leaves_the_run_verdicts_unknown() -> None:
    bench = BenchResults(model="m", results=[TaskResult("a", "p", "untested", complete=True)])
    assert bench.shares() == {"runs": None, "tests_pass": None, "complete": 1.0, "does_task": None}
    assert BenchResults(model="m").medians() == {} and BenchResults(model="m").shares()["runs"] is None


def test_the_bench_screen(capsys: pytest.CaptureFixture[str]) -> None:
    from chatdev.views import summary as screens

    screens.show_bench(results(), as_json=False)
    out = capsys.readouterr().out
    assert "does task" in out and "a" in out
    assert "runs 50% (2/4)" in out and "does task 33% (1/3)" in out and "tests pass 25% (1/4)" in out
    assert "TODO comment" in out and "boom" in out and "test_fix" in out
    assert "median:" in out and "time went to:" in out
    screens.show_bench(results(), as_json=True)
    assert len(json.loads(capsys.readouterr().out)["tasks"]) == 4


# ----------------------------------------------------------------------------- the whole run, scripted


def test_bench_run_on_the_scripted_company(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from chatdev.checks.scenarios import ScenarioResult
    from chatdev.sandbox import container
    from tests.scripted_company import company_models, scripted

    tasks = tmp_path / "tasks.txt"
    tasks.write_text("# one task\na snake game\n")
    (tmp_path / "checks").mkdir()
    (tmp_path / "checks" / "snake_game.yaml").write_text("# it starts\n- name: starts\n")
    monkeypatch.setattr(container, "run_scenarios", lambda *a, **k: pytest.fail("--no-run runs nothing"),
                        raising=False)
    bench = benchmark.run(tasks, out=tmp_path / "out", no_run=True, models=company_models(scripted()))
    [r] = bench.results
    assert r.status == "untested" and r.runs is None and r.does_task is None
    assert r.complete is True and r.calls > 0 and r.tokens > 0 and "coding" in r.phases
    assert r.check.endswith("snake_game.yaml") and bench.checks == str(tmp_path / "checks")
    saved = json.loads((tmp_path / "out" / "results.json").read_text())
    assert saved["tasks"][0]["task"] == "a snake game" and saved["total"]["complete"] == 1.0

    calls: list[str] = []

    def fake_run(project_dir: Path, scenarios: list, *, entry: str | None = None) -> list:
        calls.append(entry or "")
        return [ScenarioResult(s.name, True, "ok") for s in scenarios]

    monkeypatch.setattr(container, "run_scenarios", fake_run, raising=False)
    monkeypatch.setattr(engine, "build", lambda opts, **kw: SimpleNamespace(
        **vars(summary(project(tmp_path / opts.name)))), raising=True)
    bench = benchmark.run(tasks, out=tmp_path / "out2", models=company_models(scripted()))
    assert calls == ["main.py"] and bench.results[0].does_task is True and bench.shares()["does_task"] == 1.0


def test_a_missing_checks_folder_is_refused(tmp_path: Path) -> None:
    from chatdev.errors import UsageError

    tasks = tmp_path / "tasks.txt"
    tasks.write_text("a snake game\n")
    with pytest.raises(UsageError, match="no such folder"):
        benchmark.run(tasks, out=tmp_path / "out", checks=tmp_path / "nope", models={})


def test_a_bench_variant_gives_only_the_named_phases_candidates(tmp_path: Path) -> None:
    """`bench/build.py --candidates 1,coding=4`: a company folder whose coding phase says
    `candidates: 4`, every other files phase one reply; a plain number is --candidates itself."""
    import importlib.util

    from chatdev.company.config import load_company

    spec = importlib.util.spec_from_file_location("bench_build", REPO / "bench" / "build.py")
    assert spec and spec.loader
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    assert build.variant("4", None, tmp_path) == (None, 4)
    folder, count = build.variant("coding=4+test_writing=2", None, tmp_path)
    assert count is None and folder is not None
    company = load_company(folder)
    assert company.phases["coding"].candidates_for(None) == 4
    assert company.phases["test_writing"].candidates_for(None) == 2
    assert company.phases["test_fix"].candidates_for(None) == 1
    with pytest.raises(SystemExit, match="no phase 'codign'"):
        build.variant("codign=4", None, tmp_path)


def test_the_bench_loads_the_model_as_a_build_with_its_candidates_would(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """A build with best-of-N loads its CPU model with repacked layers (``parallel``); the bench must
    load it the same way, or its best-of-N figures are not what a user's build costs."""
    from chatdev.errors import UsageError

    seen: list[int] = []

    def load(refs, **kw):
        seen.append(kw.get("parallel", 1))
        raise UsageError("loaded")  # what was asked is all this test needs

    monkeypatch.setattr(engine, "load_models", load)
    tasks = tmp_path / "tasks.txt"
    tasks.write_text("a snake game\n")
    for candidates in (None, 4):
        with pytest.raises(UsageError, match="loaded"):
            benchmark.run(tasks, out=tmp_path / "out", model="qwen2.5-coder-0.5b", candidates=candidates)
    assert seen == [1, 4]
