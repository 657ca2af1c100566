"""Results of sandbox runs and what "the program works" means (pure: no Docker here).

``RunResult`` is one program run; ``ProgramReport`` is the verdict of
``sandbox.verify_program``: static check, entry-point run, pytest, and a short plain
``summary`` the engine sends back to the programmer model.
"""

from __future__ import annotations

import dataclasses
import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chatdev.checks import crashes, expectations, triage, unused
from chatdev.checks.scenarios import PROJECT_FILE as SCENARIOS_FILE, TRACEBACK_FRAME
from chatdev.checks.triage import TestCase
from chatdev.sandbox import catalogue
from chatdev.sandbox.runner import probe

SUMMARY_LIMIT = 1500
TRACEBACK = "Traceback (most recent call last)"
SCREEN_HEADER = "[terminal screen "  # stdout of a curses program: its final screen (sandbox/runner/supervisor.py)


@dataclass(frozen=True)
class RunResult:
    """One program run in the sandbox. ``exit_code`` is None when it was stopped at ``timeout``."""

    exit_code: int | None
    stdout: str
    stderr: str
    timed_out: bool
    duration: float
    screenshot: bytes | None = None
    oom_killed: bool = False
    truncated: bool = False
    args: tuple[str, ...] = ()  # the example arguments the program was given (chatdev.checks.examples)
    waiting_input: bool = False  # still running at the end, blocked reading its standard input
    reused: bool = False  # not run again: the program's files were those of a run kept (sandbox/reuse.py)

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["screenshot"] = None
        data["screenshot_bytes"] = len(self.screenshot) if self.screenshot else 0
        return data


@dataclass(frozen=True)
class ProgramReport:
    """Does the program work? Two separate facts, and what the company sends on.

    ``runs``: the entry point exited 0, or was still alive at the end of its window, with no
    traceback (None: it was not run). ``tests_pass``: every test that counts (not a test
    defect, not quarantined) passed (None: no such test ran). ``summary`` (at most 1500
    characters) is what the programmer is told: the program's own failures only; test
    defects go to the tester (``defects``).
    """

    static_ok: bool  # no static errors in the program's own (non-test) files
    static_output: str
    entry: str | None
    run: RunResult | None
    tests: RunResult | None
    tests_found: bool
    runs: bool | None
    tests_pass: bool | None
    summary: str
    screenshot: bytes | None
    gui: bool = False
    screenshot_path: str | None = None
    run_reason: str = ""
    cases: tuple[TestCase, ...] = ()
    test_static: tuple[str, ...] = ()  # static errors in test files: test defects, never blocking

    @property
    def passed(self) -> bool:
        """The program works: it runs, and no test that counts fails."""
        return bool(self.runs) and self.tests_pass is not False

    @property
    def defects(self) -> list[TestCase]:
        return [c for c in self.cases if c.defect and not c.quarantined]

    @property
    def quarantined(self) -> list[TestCase]:
        return [c for c in self.cases if c.quarantined]

    @property
    def disputed(self) -> list[TestCase]:
        """Failing tests the tester checks again (``checks/disputes.py``); they still count."""
        return [c for c in self.cases if c.disputed and c.counts]

    def counts(self) -> dict[str, int]:
        """Tests that count (passed, failed), the tester's acceptance scenarios apart, defects, quarantined."""
        healthy = [c for c in self.cases if c.counts and c.file != SCENARIOS_FILE]
        scenes = [c for c in self.cases if c.file == SCENARIOS_FILE]
        out = {"passed": sum(not c.failed for c in healthy), "failed": sum(c.failed for c in healthy),
               "defects": len(self.defects), "quarantined": len(self.quarantined)}
        if scenes:
            out |= {"scenarios_passed": sum(not c.failed for c in scenes),
                    "scenarios_failed": sum(c.failed for c in scenes)}
        return out

    def progress(self) -> Progress:
        counts = self.counts()
        errors = len([ln for ln in self.static_output.splitlines() if ln.strip()]) if not self.static_ok else 0
        said = answer(self.run) if self.run is not None and self.entry else ""
        return Progress(runs=self.runs, static_errors=errors, tests_passed=counts["passed"],
                        tests_failed=counts["failed"], said=said,
                        command=command_line(self.entry, self.run.args) if said else "")

    def to_dict(self) -> dict[str, Any]:
        return {
            "static_ok": self.static_ok, "static_output": self.static_output, "entry": self.entry,
            "run": self.run.to_dict() if self.run else None, "tests": self.tests.to_dict() if self.tests else None,
            "tests_found": self.tests_found, "runs": self.runs, "run_reason": self.run_reason,
            "tests_pass": self.tests_pass, "passed": self.passed, "summary": self.summary, "gui": self.gui,
            "cases": [c.to_dict() for c in self.cases], "counts": self.counts(),
            "test_static": list(self.test_static),
            "screenshot_bytes": len(self.screenshot) if self.screenshot else 0,
            "screenshot_path": self.screenshot_path,
        }


@dataclass(frozen=True)
class Progress:
    """What a fix must not make worse: the comparison behind "no step backwards"."""

    runs: bool | None
    static_errors: int
    tests_passed: int
    tests_failed: int
    said: str = ""  # the first line the run given the task's arguments printed ("" when none: ``answer``)
    command: str = ""  # that run's command line

    @property
    def refused(self) -> bool | None:
        """Whether ``said`` is an error message instead of an answer (None: nothing was said)."""
        return bool(_REFUSAL.match(self.said)) if self.said else None

    def worse_than(self, before: Progress) -> str:
        """What got worse since ``before`` (empty when nothing did). The run is the first verdict: a
        program that runs now and did not before is never worse, whatever its tests and static
        errors did (the 1.5B todo list, 2026-12-07: the fix that made `add` work lost one passing
        test, was rolled back, and the list was delivered dying on `add`)."""
        if before.runs and self.runs is False:
            return "the program no longer runs"
        if self.runs and before.runs is False:
            return ""
        if before.refused is False and self.refused and self.command == before.command:
            return f"`{self.command}` printed {before.said!r} before it and now prints {self.said!r}"
        if self.static_errors > before.static_errors:
            return f"static errors went from {before.static_errors} to {self.static_errors}"
        if self.tests_passed < before.tests_passed:
            return f"passing tests went from {before.tests_passed} to {self.tests_passed}"
        return ""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Progress:
        return cls(runs=data.get("runs"), static_errors=int(data.get("static_errors", 0)),
                   tests_passed=int(data.get("tests_passed", 0)), tests_failed=int(data.get("tests_failed", 0)),
                   said=str(data.get("said") or ""), command=str(data.get("command") or ""))


# the first line of an answer that is an error message instead ("Invalid syntax", "Error: ...");
# case-sensitive, so a log summary's "ERROR 3" is an answer
_REFUSAL = re.compile(r"^(?:[Ee]rror|[Ii]nvalid|[Uu]sage|[Cc]annot|[Cc]ould not|[Uu]nable|[Uu]nknown)\b")


def answer(run: RunResult) -> str:
    """The first line a run given command-line arguments printed, or "" for a run given none, one
    that did not end by itself with exit 0, or one that printed nothing (``Progress.refused`` tells
    an error message from an answer).

    Behind a "no step backwards" rule: seen on the 1.5B calculator (2026-12-07), whose tests expected
    wrong values: the fix replaced ``eval`` with ``ast.literal_eval``, and the task's own
    ``python main.py "2 + 3 * 4"`` went from printing 14 to "Invalid syntax". Its tests failed before
    and after, it still ran, and the fix stayed.
    """
    if not run.args or run.timed_out or run.exit_code != 0:
        return ""
    return next((ln.strip() for ln in run.stdout.splitlines() if ln.strip()), "")[:80]


def run_ok(run: RunResult) -> bool:
    """Exit 0, or still running at the end of its window, and no traceback (apps, games, servers);
    a command line answered with the usage alone is refused, whatever the exit code."""
    if run.oom_killed or TRACEBACK in run.stderr:
        return False
    if usage_only(run) or asks_instead(run):
        return False
    return run.timed_out or run.exit_code == 0


_USAGE_FIRST = re.compile(r"\A\s*(error: )?usage\s*:", re.IGNORECASE)  # argparse and hand-written alike
_HELP = frozenset({"-h", "--help", "help"})


def usage_only(run: RunResult, *, bare: bool = False) -> bool:
    """A run given arguments that printed only its usage and ended: it refused its command line.
    With ``bare``, a run given none counts too (a tool the task feeds on standard input).

    (Seen: the 1.5B's converter checked ``len(sys.argv) != 5`` and, given the task's
    ``python main.py 10 km m``, printed "Usage: ..." and exited 0; its Markdown table formatter,
    told to read the table from standard input, demanded ``len(sys.argv) == 2`` and exited 1.)
    Asking for help is not refusing.
    """
    if (not run.args and not bare) or run.timed_out or _HELP & set(run.args):
        return False
    text = f"{run.stdout}\n{run.stderr}".strip()
    return bool(text) and len(text) <= 2000 and bool(_USAGE_FIRST.match(text))


def asks_instead(run: RunResult) -> bool:
    """A run given arguments that printed at most a prompt line and then sat waiting for typed
    input: it ignored its command line.

    (Seen: the 1.5B's primes tool, given the task's ``python main.py 30``, printed "Enter a
    number: " and waited on ``input()``; so did its Caesar tool, after checking ``sys.argv``.)
    A program that shows more first (a board, a menu) and then reads moves is not refused.
    """
    if not run.args or not run.timed_out or not run.waiting_input or _HELP & set(run.args):
        return False
    return len(run.stdout.strip().splitlines()) <= 1 and TRACEBACK not in run.stderr


STDIN_HINT = ("The task says the program reads its input from standard input, and it is run with no "
              "arguments: read the input with sys.stdin.read() (or iterate over sys.stdin), not from sys.argv.")
_ARGV_INDEX = re.compile(r"\bsys\.argv\[[^\]\n]+\][^\n]*\n(?:[ \t]*[~^][~^ \t]*\n)?IndexError: list index out of range")


def wants_arguments(run: RunResult | None) -> bool:
    """A bare run that refused to start without arguments: its usage alone, or an ``IndexError``
    on ``sys.argv[...]`` (the 1.5B's Markdown formatters, told to read standard input)."""
    if run is None or run.args or run.timed_out:
        return False
    return usage_only(run, bare=True) or bool(_ARGV_INDEX.search(run.stderr))


def with_hint(report: ProgramReport, line: str) -> ProgramReport:
    """``report`` with ``line`` under its run's part (the reason and what the run printed)."""
    run = report.run
    block = f"{report.run_reason}:\n{tail(run.stderr or run.stdout) or '(no output)'}" if run is not None else ""
    at = report.summary.find(block) if block else -1
    if at < 0:
        first, _, rest = report.summary.partition("\n")
        return dataclasses.replace(report, summary=_clip(f"{first}\n{line}\n{rest}".rstrip("\n")))
    end = at + len(block)
    return dataclasses.replace(report, summary=_clip(f"{report.summary[:end]}\n{line}{report.summary[end:]}"))


def _prompt(run: RunResult) -> str:
    text = run.stdout.strip()
    return f" (it printed {text[:80]!r})" if text else " (it printed nothing)"


def tail(text: str, lines: int = 20, chars: int = 900) -> str:
    """The last ``lines`` non-empty lines of ``text``, at most ``chars`` characters."""
    kept = [line.rstrip() for line in text.strip().splitlines() if line.strip()][-lines:]
    out = "\n".join(kept)
    return out if len(out) <= chars else "..." + out[-chars:]


def pytest_failures(text: str) -> str:
    """The lines of a pytest run that say what failed: E-lines, FAILED/ERROR lines, the final count."""
    keep = [line for line in text.splitlines()
            if line.startswith(("E ", "FAILED", "ERROR")) or re.search(r"\b(passed|failed|error)s?\b.* in ", line)
            or line.startswith(("_", "    ")) and "Error" in line]
    return tail("\n".join(keep) if keep else text, lines=25, chars=1000)


def _clip(text: str) -> str:
    if len(text) <= SUMMARY_LIMIT:
        return text
    head = text[:400]
    rest = text[-(SUMMARY_LIMIT - len(head) - 5):]
    if "\n" in rest[:-1]:  # from a line's start: a header cut to "l:" tells the fixer nothing
        rest = rest[rest.index("\n") + 1:]
    return head + "\n...\n" + rest


def _split_static(static: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(errors in the program's files, errors in test files): only the first block the program."""
    program, tests = [], []
    for line in [*static.get("errors", []), *static.get("missing", [])]:
        (tests if is_test_path(line.split(":", 1)[0]) else program).append(line)
    return program, tests


def is_test_path(path: str) -> bool:
    """The supervisor's own rule for a test file (``runner/probe.is_test_file``), on a relative path."""
    return probe.is_test_file(Path(path))


@dataclass(frozen=True)
class CrashSite:
    """Where a traceback ends inside the project: the one place a fix must look at first."""

    path: str
    line: int
    function: str
    code: str = ""
    error: str = ""
    marked: str = ""  # the part of ``code`` the traceback's carets point at (``other.x``), if any

    def __str__(self) -> str:
        where = f"{self.path} line {self.line}" + (f", in {self.function}" if self.function != "<module>" else "")
        return where + (f": `{self.code[:120]}`" if self.code else "") + (f" ({self.error[:160]})" if self.error else "")


def crash_site(text: str, paths: Sequence[str]) -> CrashSite | None:
    """The innermost frame of a traceback in ``text`` that is a project file (None: it names none)."""
    known = set(paths)
    frames = [m for m in TRACEBACK_FRAME.finditer(text) if m.group(1) in known]
    if not frames:
        return None
    last = frames[-1]
    # the exception is the first line after the frame that is not indented (code, carets are)
    error = next((ln.strip() for ln in text[last.end():].splitlines() if ln.strip() and not ln[0].isspace()), "")
    return CrashSite(path=last.group(1), line=int(last.group(2)), function=last.group(3),
                     code=(last.group(4) or "").strip(), error=error, marked=_marked(text, last))


_CARETS = re.compile(r"[ \t]*[~^][~^ \t]*")


def _marked(text: str, frame: re.Match[str]) -> str:
    """What the carets under a frame's code line mark (Python 3.11+): ``other.x`` in
    ``if self.x == other.x:``, where the code alone names two receivers."""
    if not frame.group(4):
        return ""
    line_start = text.rfind("\n", 0, frame.start(4)) + 1
    raw = text[line_start:frame.end(4)]
    after = text[frame.end():]
    if not after.startswith("\n"):
        return ""
    carets = after[1:].split("\n", 1)[0]
    if not _CARETS.fullmatch(carets):
        return ""
    start, end = len(carets) - len(carets.lstrip()), len(carets.rstrip())
    return raw[start:end].strip()


def command_line(entry: str, args: Sequence[str]) -> str:
    """How a run of ``entry`` with ``args`` is shown: ``python3 main.py encode 3 hello``."""
    return shlex.join([*_entry_argv(entry), *args])


def run_verdict(entry: str | None, run: RunResult | None) -> tuple[bool | None, str]:
    """``runs`` and why, one rule for every program (the company, ``chatdev run`` and the bench)."""
    if entry is None:
        return False, "no entry point"
    if run is None:
        return None, "not run"
    command = command_line(entry, run.args)
    if run_ok(run):
        if run.timed_out:
            return True, f"`{command}` was still running after {run.duration:.0f} s without a traceback"
        return True, f"`{command}` exited 0 in {run.duration:.1f} s"
    if run.oom_killed:
        return False, f"`{command}` was killed: out of memory"
    if TRACEBACK in run.stderr:
        last = [ln for ln in run.stderr.strip().splitlines() if ln.strip()][-1:] or ["a traceback"]
        code = "still running" if run.timed_out else f"exit code {run.exit_code}"
        return False, f"`{command}` crashed ({code}): {last[0].strip()[:200]}"
    if usage_only(run):
        return False, f"`{command}` printed only its usage (exit code {run.exit_code}): it refused the command line"
    if usage_only(run, bare=True):
        return False, (f"`{command}` printed only its usage (exit code {run.exit_code}): "
                       "it does not run without arguments")
    if asks_instead(run):
        return False, f"`{command}` waited for typed input{_prompt(run)} instead of using its arguments"
    return False, f"`{command}` failed with exit code {run.exit_code} after {run.duration:.1f} s"


def build_report(payload: dict[str, Any], *, run: RunResult | None, tests: RunResult | None,
                 allow_install: bool = False, static_only: bool = False,
                 sources: dict[str, str] | None = None, program: dict[str, str] | None = None,
                 known: set[str] | None = None) -> ProgramReport:
    """Turn the supervisor's verify payload into a ``ProgramReport`` with a plain-text summary.

    ``sources``: the test files (for triage); ``program``: the program's own files (for
    naming a crash's cause, ``checks/crashes.py``); ``known``: every file of the project."""
    probe = payload.get("probe") or {}
    static = payload.get("static") or {"ok": True, "errors": [], "warnings": [], "missing": []}
    entry = probe.get("entry")
    program_errors, test_errors = _split_static(static)
    static_output = "\n".join([*program_errors, *static.get("warnings", [])])
    static_ok = not program_errors
    tests_found = bool(probe.get("tests"))
    gui = bool(payload.get("gui"))
    if not payload:  # the container itself failed (hard timeout, out of memory)
        text = f"The sandbox could not finish the check: {run.stderr if run else 'no result'}"
        return ProgramReport(static_ok=False, static_output="", entry=None, run=run, tests=None, tests_found=False,
                             runs=False, tests_pass=None, summary=_clip(text), screenshot=None,
                             run_reason="the sandbox could not finish")
    parts: list[str] = []
    if not static_ok:
        parts.append("Static check found errors in the program:")
        parts += program_errors[:15]
        if static.get("missing") and not allow_install:
            parts.append(f"Nothing can be installed: use only what the sandbox has ({catalogue.describe()}).")
    if static_only:
        summary = "Static check clean." if static_ok else "\n".join(parts)
        return ProgramReport(static_ok=static_ok, static_output=static_output, entry=entry, run=None, tests=None,
                             tests_found=tests_found, runs=None, tests_pass=None, summary=_clip(summary),
                             screenshot=None, run_reason="not run", test_static=tuple(test_errors))
    if entry is None:
        parts.insert(0, "No entry point: the project has no main.py, app.py or __main__.py and no file with "
                        "`if __name__ == \"__main__\":`. Add one that starts the program.")
        return ProgramReport(static_ok=static_ok, static_output=static_output, entry=None, run=None, tests=None,
                             tests_found=tests_found, runs=False, tests_pass=None, summary=_clip("\n".join(parts)),
                             screenshot=None, run_reason="no entry point", test_static=tuple(test_errors))
    runs, reason = run_verdict(entry, run)
    if run is not None and not runs:
        parts.insert(0, f"{reason}:\n{tail(run.stderr or run.stdout) or '(no output)'}")
        site = crash_site(run.stderr, list(program)) if program and TRACEBACK in run.stderr else None
        if site is not None:  # the cause in the program's own terms, under the traceback
            parts[1:1] = (crashes.explain(site.path, site.line, site.marked or site.code, site.error, program or {},
                                          known=known)
                          + crashes.from_argument(site.error, run.args, program or {}, entry))
        if asks_instead(run):  # the input is on the command line: input() must go
            parts.insert(1, f"Make `{command_line(entry, run.args)}` do what the task asks with no typing: "
                            f"read the values from sys.argv (sys.argv[1:] is {list(run.args)!r}), "
                            f"not from input(), and end when done.")
        elif run.args and TRACEBACK not in run.stderr:  # refused its own command line: that is the thing to fix
            n = len(run.args)
            parts.insert(1, f"Make `{command_line(entry, run.args)}` do what the task asks: it gives "
                            f"{n} argument{'s' * (n != 1)}, so len(sys.argv) is {n + 1}.")
    else:
        parts.insert(0, f"{reason}: ok." if runs else f"{reason}.")
    if run is not None and runs and run.stdout.startswith(SCREEN_HEADER):
        parts.append(tail(run.stdout, lines=25, chars=700))
    cases = tuple(triage.triage(payload.get("cases") or [], sources or {}, program or {}))
    tests_pass: bool | None = None
    if tests is not None:
        healthy = [c for c in cases if c.counts]
        if payload.get("cases") is None:  # no per-test report: pytest's exit code alone
            if tests.exit_code == 5:
                parts.append("pytest collected no tests.")
            elif tests.exit_code == 0:
                tests_pass = True
                parts.append(f"pytest passed: {tail(tests.stdout, lines=1, chars=200)}")
            else:
                tests_pass = False
                why = "timed out" if tests.timed_out else f"exit code {tests.exit_code}"
                parts.append(f"pytest failed ({why}):\n{pytest_failures(tests.stdout + chr(10) + tests.stderr)}")
        elif healthy:
            failing = [c for c in healthy if c.failed]
            tests_pass = not failing
            if failing and run is not None and not runs:  # the run is the first verdict: one thing to fix at a time
                parts.append(f"pytest: {len(failing)} failed, {len(healthy) - len(failing)} passed "
                             f"(fix the program's run first).")
            elif failing:
                parts.append(f"pytest: {len(failing)} failed, {len(healthy) - len(failing)} passed:")
                for case in failing[:6]:
                    parts.append(f"{case.id}: {_case_text(case, program)}")
            else:
                parts.append(f"pytest: {len(healthy)} passed.")
        elif tests.exit_code == 5 or not cases:
            parts.append("pytest collected no tests.")
        defects = [c for c in cases if c.defect and not c.quarantined]
        if defects:
            parts.append(f"{len(defects)} tests are defective themselves (sent to the tester, not to you).")
    elif tests_found:
        parts.append("The tests were not run.")
    works = bool(runs) and tests_pass is not False
    parts.insert(0, "PASSED." if works else "FAILED.")
    shot = run.screenshot if run else None
    return ProgramReport(static_ok=static_ok, static_output=static_output, entry=entry, run=run, tests=tests,
                         tests_found=tests_found, runs=runs, tests_pass=tests_pass,
                         summary=_clip("\n".join(parts)), screenshot=shot, gui=gui, run_reason=reason,
                         cases=cases, test_static=tuple(test_errors))


def with_scenarios(report: ProgramReport, results: list[Any], where: str = SCENARIOS_FILE) -> ProgramReport:
    """The report with the acceptance scenarios' results as test cases (they count like tests)."""
    if not results:
        return report
    cases = tuple(TestCase(id=f"{where}::{r.name}", file=where, name=r.name,
                           outcome="passed" if r.passed else "failed", message=r.reason,
                           text=f"{r.reason}\n{r.trace}".strip())
                  for r in results)
    failing = [c for c in cases if c.failed]
    lines = [report.summary.rstrip()]
    if failing:
        lines.append(f"Acceptance scenarios: {len(failing)} of {len(cases)} fail:")
        lines += [f"{c.id}: {c.message}" for c in failing[:4]]
        trace = next((r.trace for r in results if not r.passed and r.trace), "")
        if trace:  # the first crash's traceback: the fix starts where it ends
            lines.append(trace)
    else:
        lines.append(f"Acceptance scenarios: {len(cases)} pass.")
    tests_pass = (report.tests_pass is not False) and not failing
    summary = "\n".join(lines)
    if report.runs and not tests_pass:
        summary = summary.replace("PASSED.", "FAILED.", 1)
    return dataclasses.replace(report, cases=report.cases + cases, tests_pass=tests_pass, summary=_clip(summary))


def _case_text(case: TestCase, program: dict[str, str] | None) -> str:
    """A failing test as the programmer reads it: pytest's lines, and a ``Why:`` when its values say one."""
    lines = [ln for ln in case.text.splitlines() if ln.startswith("E ") or re.match(r"^\S+\.py:\d+:", ln)]
    text = tail("\n".join(lines) or case.message or case.text, lines=8, chars=400)
    why = (expectations.letter_case(case) or expectations.known_text(case, program or {})
           or unused.unread_parameter(case, program or {}))
    return f"{text}\n{why}" if why else text


def defects_text(report: ProgramReport) -> str:
    """What the tester is told about their own tests: defects, then disputes."""
    defects = report.defects
    files = {c.file for c in defects}
    lines = [f"- {c.id}: {c.defect}" for c in defects]
    lines += [f"- {ln}" for ln in report.test_static[:10] if ln.split(":", 1)[0] in files]
    lines += [f"- {c.id}: {c.disputed}" for c in report.disputed]
    return "\n".join(dict.fromkeys(lines))


def with_disputes(report: ProgramReport, cases: Sequence[TestCase],
                  program: dict[str, str] | None = None) -> ProgramReport:
    """The report with ``cases`` (disputes marked): a disputed test still counts, but its failure
    is no longer listed for the programmer, whose fix left it as it was; one line says so
    (``program``: the program's files the report was built with, which its failures' text read)."""
    disputed = [c for c in cases if c.disputed]
    if not disputed:
        return report
    summary = report.summary
    for case in disputed:
        for text in dict.fromkeys((_case_text(case, program), _case_text(case, None))):
            summary = summary.replace(f"\n{case.id}: {text}", "")
    n = len(disputed)
    summary += (f"\n{n} failing test{'s' * (n != 1)} the last fix left as {'they were' if n != 1 else 'it was'} "
                f"went to the tester to check {'their' if n != 1 else 'its'} expected values (not to you): "
                + ", ".join(c.id for c in disputed))
    return dataclasses.replace(report, cases=tuple(cases), summary=_clip(summary))


def program_failures(report: ProgramReport) -> str:
    """What the programmer has to fix ("" when nothing: it works, or only disputed tests fail)."""
    if report.passed:
        return ""
    failing = [c for c in report.cases if c.counts and c.failed]
    if report.runs and failing and all(c.disputed for c in failing):
        return ""
    return report.summary


def _entry_argv(entry: str) -> list[str]:
    rel = Path(entry)
    if rel.name == "__main__.py" and len(rel.parts) > 1:
        return ["python3", "-m", ".".join(rel.parts[:-1])]
    return ["python3", rel.as_posix()]


def install_names(project_dir: Path, missing: list[str]) -> list[str]:
    """pip requirements for ``--allow-install``: the missing modules' pip names, pinned as requirements.txt pins them."""
    pinned: dict[str, str] = {}
    req = Path(project_dir) / "requirements.txt"
    if req.is_file():
        for line in req.read_text(errors="replace").splitlines():
            line = line.split("#", 1)[0].strip()
            if line and not line.startswith("-"):
                pinned[re.split(r"[<>=!~\[ ;]", line, maxsplit=1)[0].lower().replace("_", "-")] = line
    wanted: list[str] = []
    for item in missing:
        found = re.search(r"No module named '([^']+)'", item)
        if found:
            name = catalogue.pip_name(found[1])
            wanted.append(pinned.get(name.lower().replace("_", "-"), name))
    return sorted(set(wanted))


def tests_record(report: Any, *, ran_tests: bool, before: dict[str, Any]) -> dict[str, Any]:
    """What ``state.tests`` keeps of the latest check: ``runs`` and ``tests_pass`` as separate facts."""
    record = {"ran": True, "runs": report.runs, "run_reason": report.run_reason,
              "tests_pass": report.tests_pass if ran_tests else before.get("tests_pass"),
              "counts": report.counts() if ran_tests else before.get("counts", {}),
              "quarantined": [c.id for c in report.quarantined] if ran_tests else before.get("quarantined", []),
              "summary": report.summary[:2000]}
    record["passed"] = bool(record["runs"]) and record["tests_pass"] is not False
    return record
