"""``chatdev bench``: build a list of tasks and measure each build."""

from __future__ import annotations

import json
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from chatdev import engine, events
from chatdev.config import load_company
from chatdev.errors import ChatDevError, UsageError


@dataclass(frozen=True)
class TaskResult:
    task: str
    project: str
    status: str
    wall_s: float
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    llm_calls: int
    files: int
    lines: int
    sandbox_ran: bool
    tests_passed: bool | None
    error: str = ""

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True)
class BenchResults:
    model: str
    results: list[TaskResult] = field(default_factory=list)

    def medians(self) -> dict[str, float]:
        ok = self.results or []
        if not ok:
            return {}
        keys = ("wall_s", "prompt_tokens", "completion_tokens", "cached_tokens", "llm_calls", "files", "lines")
        out = {k: float(statistics.median(getattr(r, k) for r in ok)) for k in keys}
        out["total_tokens"] = float(statistics.median(r.total_tokens for r in ok))
        out["ran_in_sandbox"] = sum(r.sandbox_ran for r in ok) / len(ok)
        out["tests_passed"] = sum(bool(r.tests_passed) for r in ok) / len(ok)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "tasks": [asdict(r) | {"total_tokens": r.total_tokens} for r in self.results],
                "medians": self.medians()}


def read_tasks(path: Path) -> list[str]:
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise UsageError(f"{path}: cannot read the task list: {exc.strerror}") from exc
    tasks = [ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]
    if not tasks:
        raise UsageError(f"{path}: no tasks (one task a line; # starts a comment)")
    return tasks


def run(tasks: Path, *, jobs: int = 1, out: Path = Path("bench-out"), model: str | None = None,
        endpoint: str | None = None, no_run: bool = False, sink: events.EventSink = events.null_sink) -> BenchResults:
    """Build every task; in-process models are loaded once and shared by all builds."""
    todo = read_tasks(tasks)
    if jobs > 1 and not endpoint:
        raise UsageError("--jobs above 1 needs --endpoint: one in-process model serves one request at a time")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    company = load_company()
    refs = engine.role_model_refs(company, model=model, endpoint=endpoint, sink=sink)
    models = engine.load_models(refs, n_ctx=company.spec.n_ctx, gpu_layers=None, seed=0, mmproj=None, sink=sink)
    stamp = time.strftime("%Y%m%d-%H%M%S")

    def one(index: int, task: str) -> TaskResult:
        name = f"{index:02d}_{engine.slug(task)}_{stamp}"
        start = time.monotonic()
        try:
            s = engine.build(engine.BuildOptions(task=task, name=name, out=out, seed=index, no_run=no_run),
                             sink=sink, models=models)
        except ChatDevError as exc:
            return TaskResult(task, str(out / name), "error", round(time.monotonic() - start, 2), 0, 0, 0, 0, 0, 0,
                              False, None, exc.line())
        return TaskResult(task, s.project, s.status, s.wall_s, s.tokens["prompt"], s.tokens["completion"],
                          s.tokens["cached"], s.llm_calls, len(s.files), s.lines, bool(s.tests.get("ran")),
                          s.tests.get("passed"), s.reason)

    try:
        if jobs > 1:
            with ThreadPoolExecutor(max_workers=jobs) as pool:
                results = list(pool.map(lambda pair: one(*pair), enumerate(todo, 1)))
        else:
            results = [one(i, t) for i, t in enumerate(todo, 1)]
    finally:
        engine.close_models(models)
    bench = BenchResults(model=", ".join(sorted(set(refs.values()))), results=results)
    (out / "results.json").write_text(json.dumps(bench.to_dict(), indent=2) + "\n")
    return bench
