"""Build the public task list with a real model and report what a user would see.

    .venv/bin/python bench/build.py                      # 0.5B, all tasks, sandbox on
    .venv/bin/python bench/build.py --limit 3 --model qwen2.5-coder-1.5b
    .venv/bin/python bench/build.py --only 2,3,7 --company my-company   # a subset, a changed company

The same measurement as `chatdev bench bench/tasks.txt` (runs, tests_pass, complete,
does_task from bench/checks/, time, tokens, calls, time per phase), with --limit.

Targets (issue 18): qwen2.5-coder-1.5b runs >= 0.8, does_task >= 0.5, tests_pass >= 0.5,
complete >= 0.9; qwen2.5-coder-0.5b runs >= 0.6 and a median build <= 5 minutes.
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
    args = parser.parse_args()

    from chatdev import benchmark, screens

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
    results = benchmark.run(tasks, out=out, model=args.model, no_run=args.no_run, checks=args.checks,
                            company_dir=args.company)
    screens.show_bench(results, as_json=args.json)
    print(f"results: {out / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
