"""The tester's tests as an oracle: written again for programs already built, held against people's checks.

    .venv/bin/python bench/tester_oracle.py BENCH_OUT --model qwen2.5-coder-1.5b
    .venv/bin/python bench/tester_oracle.py BENCH_OUT --phases my-phases/ --out DIR   # a changed test_writing

BENCH_OUT is the output folder of `bench/build.py` (one project per task). For each project whose
program runs, a copy of it has its tests removed and gets them written again by the company's own
`test_writing` phase (or the YAML files in --phases laid over the project's company), through
`chatdev improve COPY TASK` with an improve chain of `test_writing` and `test_run`: the real
prompt, persona, reply parsing, sandbox and test triage. The table then holds the new tests'
verdict (`tests_pass`: the tests that count pass) against `does_task`, the hand-written check of
bench/checks/ run on the same program.

What a tester should give: tests that pass on the programs that do their task (no false alarm)
and fail on those that do not. Each program is the same for every variant; only the tests differ.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
CHAIN = ["test_writing", "test_run"]


def prepare(project: Path, dest: Path, phases: Path | None) -> str:
    """A copy of ``project`` with no tests, whose improve chain writes and runs them; its task."""
    shutil.copytree(project, dest, symlinks=True)
    state = json.loads((dest / ".chatdev" / "state.json").read_text())
    company = dest / ".chatdev" / "company"
    spec = yaml.safe_load((company / "company.yaml").read_text())
    spec["improve_chain"] = CHAIN
    (company / "company.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    for path in sorted(phases.glob("*.yaml")) if phases else ():
        shutil.copy(path, company / "phases" / path.name)
    for test in [*dest.glob("tests"), *dest.glob("test_*.py")]:
        subprocess.run(["git", "rm", "-r", "-q", "--", test.name], cwd=dest, check=True)
    subprocess.run(["git", "-c", "user.name=bench", "-c", "user.email=bench@localhost", "commit", "-q",
                    "--allow-empty", "-m", "bench: the tests removed, to be written again"], cwd=dest, check=True)
    return str(state["task"])


def main() -> int:
    from chatdev.tools import bench

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("bench_out", type=Path, help="an output folder of bench/build.py")
    parser.add_argument("--model", default="qwen2.5-coder-1.5b")
    parser.add_argument("--phases", type=Path, default=None, help="phase YAML files laid over the company's")
    parser.add_argument("--out", type=Path, default=Path("tester-oracle-out"))
    parser.add_argument("--checks", type=Path, default=HERE / "checks")
    parser.add_argument("--only", default="", help="comma-separated project numbers (their NN_ prefix)")
    args = parser.parse_args()

    only = {int(n) for n in args.only.split(",") if n.strip()}
    projects = [p for p in sorted(args.bench_out.iterdir())
                if p.is_dir() and (p / ".chatdev" / "state.json").is_file() and p.name[:2].isdigit()
                and (not only or int(p.name[:2]) in only)]
    if args.out.exists():
        print(f"error: {args.out} exists; give a new --out", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True)
    rows = []
    for project in projects:
        before = json.loads((project / ".chatdev" / "state.json").read_text())
        tests = before.get("tests") or {}
        if not (tests.get("ran") and tests.get("runs")):
            continue  # a program that does not run: its tests say nothing new
        dest = args.out / project.name
        task = prepare(project, dest, args.phases)
        done = subprocess.run([sys.executable, "-m", "chatdev", "improve", str(dest), task, "--model", args.model,
                               "--json"], capture_output=True, text=True)
        after = json.loads((dest / ".chatdev" / "state.json").read_text())
        verdict = after.get("tests") or {}
        check = bench.load_checks([task], args.checks).get(task)
        does, _, _ = bench.run_check(dest, check[1]) if check else (None, [], "")
        row = {"project": project.name, "task": task, "rc": done.returncode, "does_task": does,
               "tests_pass": verdict.get("tests_pass"), "counts": verdict.get("counts"),
               "quarantined": len(verdict.get("quarantined") or [])}
        rows.append(row)
        print(json.dumps(row), flush=True)
    (args.out / "rows.json").write_text(json.dumps(rows, indent=1))
    agree = [r for r in rows if r["tests_pass"] is not None and r["does_task"] is not None]
    good = [r for r in rows if r["does_task"]]
    print(f"{len(rows)} programs that run; tests gave a verdict on {len(agree)}; "
          f"it agrees with does_task on {sum(r['tests_pass'] == r['does_task'] for r in agree)}; "
          f"tests pass on {sum(r['tests_pass'] is True for r in good)} of the {len(good)} that do their task, "
          f"and on {sum(r['tests_pass'] is True for r in rows if r['does_task'] is False)} of the "
          f"{sum(r['does_task'] is False for r in rows)} that do not")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
