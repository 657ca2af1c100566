"""Build the public task list with a real model and report medians.

    .venv/bin/python bench/build.py                      # 0.5B, all 10 tasks, sandbox on
    .venv/bin/python bench/build.py --limit 3 --model qwen2.5-coder-1.5b

Targets (issue 4): a snake-game build under 6 minutes on 2 cores with the 0.5B
model, and fewer than 25k total tokens per build.
"""

from __future__ import annotations

import argparse
import json
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
    args = parser.parse_args()

    from chatdev import benchmark

    tasks = args.tasks
    if args.limit:
        lines = benchmark.read_tasks(tasks)[: args.limit]
        tmp = Path(tempfile.mkdtemp()) / "tasks.txt"
        tmp.write_text("\n".join(lines) + "\n")
        tasks = tmp
    out = args.out or Path(tempfile.mkdtemp(prefix="chatdev-bench-"))
    results = benchmark.run(tasks, out=out, model=args.model, no_run=args.no_run)
    print(f"{'task':52} {'status':9} {'wall s':>7} {'prompt':>7} {'compl':>6} {'cached':>7} {'calls':>5} "
          f"{'files':>5} {'lines':>5} sandbox")
    for r in results.results:
        print(f"{r.task[:52]:52} {r.status:9} {r.wall_s:7.1f} {r.prompt_tokens:7d} {r.completion_tokens:6d} "
              f"{r.cached_tokens:7d} {r.llm_calls:5d} {r.files:5d} {r.lines:5d} "
              f"{'ran' if r.sandbox_ran else 'no'}{'/pass' if r.tests_passed else ''}")
    print("medians:", json.dumps(results.medians()))
    print(f"results: {out / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
