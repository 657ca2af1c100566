"""``chatdev bench``: build a list of tasks and measure what a user would see.

Per task:

- ``runs``: the program's entry point ran (exit 0, or still alive after its window, no
  traceback), the engine's own verdict. A build that stopped before its program ran
  gives ``False``; ``--no-run`` gives ``None``.
- ``tests_pass``: the program's (non-quarantined) tests passed; ``None`` when there were none.
- ``complete``: no placeholder in the program's files (``chatdev.checks.completeness``).
- ``does_task``: every scenario of the task's hand-written check (``<checks>/<slug>.yaml``,
  written by people, never by the model under test) passed against the built project;
  ``None`` when the task has no check, or nothing was run.
- wall time, tokens, model calls, and seconds per phase name summed over loop cycles.

In total, the share of tasks for each verdict (see ``BenchResults.shares`` for the
denominators), the medians, and the seconds each phase took over all tasks.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from chatdev import events
from chatdev.checks import completeness
from chatdev.company.config import load_company
from chatdev.errors import ChatDevError, UsageError
from chatdev.run import engine

VERDICTS = ("runs", "tests_pass", "complete", "does_task")
MAX_SOURCE_BYTES = 512 * 1024  # a program file larger than this is not read for placeholders


@dataclass(frozen=True)
class TaskResult:
    task: str
    project: str
    status: str
    runs: bool | None = None
    tests_pass: bool | None = None
    complete: bool | None = None
    does_task: bool | None = None
    wall_s: float = 0.0
    tokens: int = 0
    calls: int = 0
    phases: dict[str, float] = field(default_factory=dict)  # phase name -> seconds, summed over cycles
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    drafted_tokens: int = 0  # completion tokens taken from lookup drafts (models/lookup.py)
    files: int = 0
    lines: int = 0
    placeholders: list[str] = field(default_factory=list)  # ``file:line: why``
    scenarios: list[dict[str, Any]] = field(default_factory=list)  # name, passed, reason
    check: str = ""  # the check file, "" when the task has none
    error: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class BenchResults:
    model: str
    results: list[TaskResult] = field(default_factory=list)
    checks: str = ""
    candidates: int = 1  # --candidates the builds ran with (1: one reply per request)

    def shares(self) -> dict[str, float | None]:
        """The share of tasks with each verdict true; ``None`` when no task could have it.

        ``runs``: of the tasks whose program was (or should have been) run. ``tests_pass``:
        of the same tasks, a program without tests counting as not passing. ``complete``: of
        the tasks that left a project. ``does_task``: of the tasks with a check that was run.
        """
        ran = [r for r in self.results if r.runs is not None]
        pools: dict[str, list[bool | None]] = {
            "runs": [r.runs for r in ran],
            "tests_pass": [r.tests_pass for r in ran],
            "complete": [r.complete for r in self.results if r.complete is not None],
            "does_task": [r.does_task for r in self.results if r.does_task is not None],
        }
        return {k: (sum(v is True for v in vals) / len(vals) if vals else None) for k, vals in pools.items()}

    def counts(self) -> dict[str, list[int]]:
        """``[yes, of]`` per verdict, the numbers behind ``shares``."""
        ran = [r for r in self.results if r.runs is not None]
        return {
            "runs": [sum(r.runs is True for r in ran), len(ran)],
            "tests_pass": [sum(r.tests_pass is True for r in ran), len(ran)],
            "complete": [sum(r.complete is True for r in self.results),
                         sum(r.complete is not None for r in self.results)],
            "does_task": [sum(r.does_task is True for r in self.results),
                          sum(r.does_task is not None for r in self.results)],
        }

    def medians(self) -> dict[str, float]:
        if not self.results:
            return {}
        keys = ("wall_s", "tokens", "calls", "prompt_tokens", "completion_tokens", "cached_tokens", "drafted_tokens",
                "files", "lines")
        return {k: float(statistics.median(getattr(r, k) for r in self.results)) for k in keys}

    def phase_seconds(self) -> dict[str, float]:
        """Seconds per phase name over every task, the largest first."""
        total: dict[str, float] = {}
        for r in self.results:
            for name, seconds in r.phases.items():
                total[name] = total.get(name, 0.0) + seconds
        return {k: round(v, 2) for k, v in sorted(total.items(), key=lambda kv: (-kv[1], kv[0]))}

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "checks": self.checks, "candidates": self.candidates, "tasks": [r.to_dict() for r in self.results],
                "total": {"tasks": len(self.results), **self.shares(), "counts": self.counts()},
                "medians": self.medians(), "phases": self.phase_seconds()}


# ----------------------------------------------------------------------------- pure parts


def read_tasks(path: Path) -> list[str]:
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise UsageError(f"{path}: cannot read the task list: {exc.strerror}") from exc
    tasks = [ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]
    if not tasks:
        raise UsageError(f"{path}: no tasks (one task a line; # starts a comment)")
    return tasks


def default_checks(tasks: Path) -> Path:
    """``checks/`` next to the task list."""
    return Path(tasks).resolve().parent / "checks"


def check_for(task: str, checks: Path | None) -> Path | None:
    """The hand-written check of ``task`` (``<checks>/<slug>.yaml``), or None."""
    if checks is None:
        return None
    path = Path(checks) / f"{engine.slug(task)}.yaml"
    return path if path.is_file() else None


def load_checks(tasks: Sequence[str], checks: Path | None) -> dict[str, Any]:
    """task -> its scenarios, for the tasks that have a check; a bad check fails before any build."""
    from chatdev.checks.scenarios import load_scenarios

    found: dict[str, Any] = {}
    for task in tasks:
        path = check_for(task, checks)
        if path is not None:
            found[task] = (path, load_scenarios(path))
    return found


def phase_seconds(records: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    """Seconds per phase name from ``Summary.phases``, summed over cycles (loop records hold none)."""
    out: dict[str, float] = {}
    for rec in records:
        if rec.get("kind") == "loop":
            continue
        name = str(rec.get("name") or "?")
        try:
            seconds = float(rec.get("duration") or 0.0)
        except (TypeError, ValueError):
            continue
        out[name] = out.get(name, 0.0) + seconds
    return {k: round(v, 2) for k, v in out.items()}


def program_sources(project: Path, files: Sequence[str]) -> dict[str, str]:
    """The project's Python files (relative path -> text); unreadable or huge ones are left out."""
    out: dict[str, str] = {}
    root = Path(project)
    for rel in files:
        if not rel.endswith(".py") or rel.startswith(".chatdev/"):
            continue
        path = root / rel
        try:
            if path.stat().st_size > MAX_SOURCE_BYTES:
                continue
            out[rel] = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
    return out


def judge_completeness(sources: Mapping[str, str]) -> tuple[bool, list[str]]:
    """(complete, placeholders); a project without a single program file is not complete."""
    program = [p for p in sources if p.endswith(".py") and not completeness.is_test_file(p)]
    if not program:
        return False, ["no Python program files"]
    found = completeness.placeholders(sources)
    return not found, found


def design_entry(project: Path) -> str | None:
    """The entry point the design named (``.chatdev/state.json`` outputs.design.entry), if any."""
    try:
        state = json.loads((Path(project) / ".chatdev" / "state.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    design = (state.get("outputs") or {}).get("design") if isinstance(state, dict) else None
    entry = design.get("entry") if isinstance(design, dict) else None
    return entry if isinstance(entry, str) and entry.strip() else None


def run_check(project: Path, scenarios: list[Any]) -> tuple[bool | None, list[dict[str, Any]], str]:
    """(does_task, scenario results, error): every scenario must pass; a sandbox failure gives None."""
    from chatdev.sandbox import container

    try:
        results = container.run_scenarios(Path(project), scenarios, entry=design_entry(project))
    except ChatDevError as exc:
        return None, [], f"check not run: {exc.line()}"
    rows = [{"name": r.name, "passed": bool(r.passed), "reason": r.reason} for r in results]
    return (bool(rows) and all(r["passed"] for r in rows)), rows, ""


def task_result(task: str, summary: Any, *, no_run: bool, check: tuple[Path, list[Any]] | None) -> TaskResult:
    """A finished build measured: the engine's verdicts, completeness, the check."""
    s = summary
    runs = s.runs if hasattr(s, "runs") else None
    if runs is None and not no_run:
        runs = False  # the build stopped before its program ran: the user has nothing that runs
    tests_pass = s.tests_pass if hasattr(s, "tests_pass") else (s.tests or {}).get("passed")
    complete, found = judge_completeness(program_sources(Path(s.project), s.files))
    does_task, rows, error = None, [], ""
    if check is not None and not no_run:
        if Path(s.project).is_dir():
            does_task, rows, error = run_check(Path(s.project), check[1])
        else:
            does_task = False
    tokens = {k: int(v or 0) for k, v in (s.tokens or {}).items()}
    prompt, completion = tokens.get("prompt", 0), tokens.get("completion", 0)
    reason = "; ".join(x for x in (s.reason, error) if x)
    return TaskResult(
        task=task, project=s.project, status=s.status, runs=runs, tests_pass=tests_pass, complete=complete,
        does_task=does_task, wall_s=float(s.wall_s), tokens=prompt + completion, calls=int(s.llm_calls),
        phases=phase_seconds(s.phases), prompt_tokens=prompt, completion_tokens=completion,
        cached_tokens=tokens.get("cached", 0), drafted_tokens=tokens.get("drafted", 0),
        files=len(s.files), lines=int(s.lines), placeholders=found[:20], scenarios=rows,
        check=str(check[0]) if check else "", error=reason)


# ----------------------------------------------------------------------------- the run


def run(tasks: Path, *, jobs: int = 1, out: Path = Path("bench-out"), model: str | None = None,
        endpoint: str | None = None, no_run: bool = False, checks: Path | None = None,
        sink: events.EventSink = events.null_sink, models: dict[str, Any] | None = None,
        company_dir: Path | None = None, candidates: int | None = None, first: int = 1) -> BenchResults:
    """Build every task and measure it; in-process models are loaded once and shared by all builds.

    ``checks``: the folder of hand-written checks (default: ``checks/`` next to ``tasks``).
    ``models`` (role -> model) replaces loading, as in ``engine.build`` (tests).
    ``company_dir``: a company folder over the shipped one (``chatdev init``), to measure a change.
    ``candidates``: best-of-N for every phase that writes files (``--candidates``).
    ``first``: the number of the first task (its seed and project name), to measure tasks one at a time.
    """
    todo = read_tasks(tasks)
    if jobs > 1 and not endpoint and models is None:
        raise UsageError("--jobs above 1 needs --endpoint: one in-process model serves one request at a time")
    checks = default_checks(tasks) if checks is None else Path(checks)
    if not checks.is_dir() and checks != default_checks(tasks):
        raise UsageError(f"{checks}: no such folder of checks")
    scenarios = load_checks(todo, checks if checks.is_dir() else None)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if models is None:
        company = load_company(company_dir)
        refs = engine.role_model_refs(company, model=model, endpoint=endpoint, sink=sink)
        loaded = engine.load_models(refs, n_ctx=company.spec.n_ctx, gpu_layers=None, seed=0, mmproj=None, sink=sink,
                                    parallel=engine.most_candidates(company, company.chain, candidates))
        names = sorted(set(refs.values()))
    else:
        loaded, names = models, sorted({getattr(m, "name", type(m).__name__) for m in models.values()})
    stamp = time.strftime("%Y%m%d-%H%M%S")

    def one(index: int, task: str) -> TaskResult:
        name = f"{index:02d}_{engine.slug(task)}_{stamp}"
        check = scenarios.get(task)
        start = time.monotonic()
        try:
            s = engine.build(engine.BuildOptions(task=task, name=name, out=out, seed=index, no_run=no_run,
                                                 company_dir=company_dir, candidates=candidates),
                             sink=sink, models=loaded)
        except ChatDevError as exc:
            return TaskResult(task=task, project=str(out / name), status="error",
                              runs=None if no_run else False, complete=None,
                              does_task=None if (check is None or no_run) else False,
                              wall_s=round(time.monotonic() - start, 2), check=str(check[0]) if check else "",
                              error=exc.line())
        return task_result(task, s, no_run=no_run, check=check)

    def save(results: list[TaskResult]) -> BenchResults:
        bench = BenchResults(model=", ".join(names), results=results, checks=str(checks) if checks.is_dir() else "",
                             candidates=candidates or 1)
        (out / "results.json").write_text(json.dumps(bench.to_dict(), indent=2) + "\n")
        return bench

    results: list[TaskResult] = []
    try:
        if jobs > 1:
            with ThreadPoolExecutor(max_workers=jobs) as pool:
                results = list(pool.map(lambda pair: one(*pair), enumerate(todo, first)))
        else:
            for i, t in enumerate(todo, first):
                results.append(one(i, t))
                save(results)  # a bench stopped halfway keeps the tasks it finished
    finally:
        if models is None:
            engine.close_models(loaded)
    return save(results)


__all__ = ["BenchResults", "TaskResult", "check_for", "default_checks", "load_checks", "phase_seconds",
           "program_sources", "read_tasks", "run", "task_result"]
