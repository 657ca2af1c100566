"""Build the public task list with a real model and report what a user would see.

    .venv/bin/python bench/build.py                      # 0.5B, all tasks, sandbox on
    .venv/bin/python bench/build.py --limit 3 --model qwen2.5-coder-1.5b
    .venv/bin/python bench/build.py --only 2,3,7 --company my-company   # a subset, a changed company
    .venv/bin/python bench/build.py --only 2,3,7 --candidates 1,4       # best-of-N against one reply
    .venv/bin/python bench/build.py --only 2,3,7 --candidates 1,coding=4  # best-of-N in coding only

The same measurement as `chatdev bench bench/tasks.txt` (runs, tests_pass, complete,
does_task from bench/checks/, time, tokens, calls, time per phase), with --limit.

Targets (issue 18): qwen2.5-coder-1.5b runs >= 0.8, does_task >= 0.5, tests_pass >= 0.5,
complete >= 0.9; qwen2.5-coder-0.5b runs >= 0.6 and a median build <= 5 minutes.

With several --candidates values the builds run side by side: each task with each value in
turn, on the model loaded as a build with that value loads it (best-of-N on CPU: repacked Q4_K
layers; one reply: not), each layout loaded once, and the table compares them (issue 14's target: runs at least
15 points above N=1 at no more than 1.5x its median wall time). A value PHASE=N (several joined
with +, as in coding=4+test_writing=2) gives only those phases N candidates, as `candidates: N`
in their YAML would; every other phase asks for one reply.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=Path, default=HERE / "tasks.txt")
    parser.add_argument("--model", default="qwen2.5-coder-0.5b")
    parser.add_argument("--limit", type=int, default=0, help="only the first N tasks")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--no-run", action="store_true", help="skip the sandbox")
    parser.add_argument("--checks", type=Path, default=HERE / "checks", help="hand-written checks, <slug>.yaml")
    parser.add_argument("--json", action="store_true", help="print results.json instead of the table")
    parser.add_argument("--company", type=Path, default=None, help="a company folder over the shipped one")
    parser.add_argument("--only", default="", help="comma-separated 1-based task numbers (after --limit)")
    parser.add_argument("--candidates", default="",
                        help="best-of-N; several values (1,4 or 1,coding=4) compare side by side")
    args = parser.parse_args()

    from chatdev.tools import bench as benchmark
    from chatdev.views import summary

    tasks = args.tasks
    if args.limit or args.only:
        lines = benchmark.read_tasks(tasks)
        if args.only:
            lines = [lines[int(i) - 1] for i in args.only.split(",")]
        lines = lines[: args.limit or None]
        tmp = Path(tempfile.mkdtemp()) / "tasks.txt"
        tmp.write_text("\n".join(lines) + "\n")
        tasks = tmp
    out = args.out or Path(tempfile.mkdtemp(prefix="chatdev-bench-"))
    values = [v.strip() for v in args.candidates.split(",") if v.strip()]
    if len(values) > 1:
        return compare(tasks, out, values, args)
    company, count = variant(values[0], args.company, out) if values else (args.company, None)
    results = benchmark.run(tasks, out=out, model=args.model, no_run=args.no_run, checks=args.checks,
                            company_dir=company, candidates=count)
    summary.show_bench(results, as_json=args.json)
    print(f"results: {out / 'results.json'}")
    return 0


def variant(value: str, company: Path | None, out: Path) -> tuple[Path | None, int | None]:
    """(company folder, --candidates) for one --candidates value: ``4`` is every files phase;
    ``coding=4+test_writing=2`` is a company folder over ``company`` whose named phases say
    ``candidates: N`` (the others ask for one reply)."""
    import shutil

    from chatdev.company.config import defaults_dir

    if "=" not in value:
        return company, int(value)
    folder = out / f"company-{value.replace('=', '').replace('+', '-')}"
    if folder.exists():
        shutil.rmtree(folder)
    if company is not None:
        shutil.copytree(company, folder)
    (folder / "phases").mkdir(parents=True, exist_ok=True)
    for part in value.split("+"):
        name, _, count = part.partition("=")
        own = folder / "phases" / f"{name}.yaml"
        shipped = own if own.is_file() else defaults_dir() / "phases" / f"{name}.yaml"
        if not shipped.is_file():
            raise SystemExit(f"--candidates {value}: no phase {name!r} (phases/{name}.yaml)")
        lines = [line for line in shipped.read_text().splitlines() if not line.startswith("candidates:")]
        own.write_text("\n".join(lines) + f"\ncandidates: {int(count)}\n")
    return folder, None


def compare(tasks: Path, out: Path, values: list[str], args: argparse.Namespace) -> int:
    """Each task with each --candidates value in turn; then the comparison. A value is built on a
    model loaded as a build with it would load it (``parallel``: the most candidates a phase asks,
    so repacked layers on CPU for best-of-N), one load per distinct layout, kept for every task."""
    import json
    import statistics

    from chatdev import events
    from chatdev.company.config import load_company
    from chatdev.run import engine
    from chatdev.tools import bench as benchmark

    out.mkdir(parents=True, exist_ok=True)
    variants = {v: variant(v, args.company, out) for v in values}
    loads: dict[int, dict] = {}  # parallel -> role -> model
    by_parallel: dict[str, int] = {}
    for value, (company_dir, count) in variants.items():
        company = load_company(company_dir)
        parallel = engine.most_candidates(company, company.chain, count)
        by_parallel[value] = parallel
        if parallel not in loads:
            refs = engine.role_model_refs(company, model=args.model, endpoint=None, sink=events.null_sink)
            loads[parallel] = engine.load_models(refs, n_ctx=company.spec.n_ctx, gpu_layers=None, seed=0,
                                                 mmproj=None, sink=events.null_sink, parallel=parallel)
    lines = benchmark.read_tasks(tasks)
    by_value: dict[str, list] = {v: [] for v in values}
    try:
        for index, task in enumerate(lines, 1):
            one = out / f"task{index:02d}.txt"
            one.write_text(task + "\n")
            for value in values:
                company_dir, count = variants[value]
                got = benchmark.run(one, out=out / f"n{_label(value)}", no_run=args.no_run, checks=args.checks,
                                    models=loads[by_parallel[value]], company_dir=company_dir, candidates=count,
                                    first=index)
                by_value[value] += got.results
                r = got.results[0]
                print(f"task {index} N={value}: runs={r.runs} tests_pass={r.tests_pass} {r.wall_s:.0f} s "
                      f"{r.tokens} tokens", flush=True)
    finally:
        for models in loads.values():
            engine.close_models(models)
    table = {}
    for value, results in by_value.items():
        bench = benchmark.BenchResults(model=args.model, results=results, candidates=variants[value][1] or 1)
        (out / f"results-n{_label(value)}.json").write_text(json.dumps(bench.to_dict(), indent=2) + "\n")
        table[value] = {"runs": bench.shares()["runs"], "counts": bench.counts(),
                        "tests_pass": bench.shares()["tests_pass"],
                        "median_wall_s": statistics.median(r.wall_s for r in results),
                        "median_tokens": statistics.median(r.tokens for r in results)}
    base = table[values[0]]
    for value in values[1:]:
        row = table[value]
        row["runs_points_above"] = round(100 * ((row["runs"] or 0) - (base["runs"] or 0)), 1)
        row["wall_ratio"] = round(row["median_wall_s"] / base["median_wall_s"], 2) if base["median_wall_s"] else None
    if args.json:
        print(json.dumps({"model": args.model, "tasks": len(lines), "by_candidates": table}, indent=2))
    else:
        for value, row in table.items():
            extra = (f"  runs {row['runs_points_above']:+.1f} points, wall x{row['wall_ratio']}"
                     if "wall_ratio" in row else "")
            print(f"N={value}: runs {row['counts']['runs'][0]}/{row['counts']['runs'][1]}, tests_pass "
                  f"{row['counts']['tests_pass'][0]}/{row['counts']['tests_pass'][1]}, median "
                  f"{row['median_wall_s']:.0f} s, {row['median_tokens']:.0f} tokens{extra}")
    print(f"results: {out}")
    return 0


def _label(value: str) -> str:
    """A --candidates value as a file name: 4, coding4-test_writing2."""
    return value.replace("=", "").replace("+", "-")


if __name__ == "__main__":
    sys.exit(main())
