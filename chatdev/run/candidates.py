"""Best-of-N: several replies to one request, each checked in the sandbox, the best one kept.

A phase with ``candidates: N`` (or ``--candidates N``) asks its model for N replies at
once (decoded together where the backend can: ``models.base.chat_many``). Each usable
reply is written into the project on trial, the program is checked as it would then be
(the same check as the loops': static errors, the program's own run, the tests that are
not quarantined), and the files are put back. The candidates are ranked by ``RANKING``,
one fixed order, and the caller keeps the first.

Candidates are checked as they end, not once all have: the first whose check is ``clean``
(it runs, no defective test, no failing test, no static error: the best it can be on every
line of ``RANKING`` but the number of passing tests and the candidate number) is kept at
once, and the candidates still being written are stopped (``stopped``): on two CPU cores
four sequences cost nearly twice one per token, and the longest candidate set the phase's
time while a shorter one that ran was already there.
"""

from __future__ import annotations

import ast
import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from chatdev.errors import ChatDevError

# The order, best first; each line breaks the ties of the lines above it.
RANKING = (
    "a usable reply (files could be read from it) before an unusable one",
    "a check that finished before one that crashed or could not run",
    "the program runs (exit 0, or alive at the end of its window, no traceback)",
    "fewer defective tests (tests that do not parse, import what the program lacks, assert nothing, ...)",
    "no test that counts fails",
    "more passing tests",
    "fewer failing tests",
    "fewer static errors in the program's own files",
    "the lower candidate number (candidate 0 is sampled as a single reply would be)",
)


@dataclass
class Candidate:
    index: int
    files: dict[str, str]  # what the reply writes (path -> text); empty when it was unusable
    text: str = ""  # the reply as the model wrote it
    problem: str = ""  # why the reply is unusable, or why its check did not finish
    report: Any = None  # sandbox_report.ProgramReport, when the check ran
    syntax_errors: int = 0  # Python files of the reply that do not parse (known without a sandbox)
    stopped: str = ""  # why it was not written to its end, or not checked: another was clean first

    @property
    def usable(self) -> bool:
        return bool(self.files)

    def key(self) -> tuple[Any, ...]:
        """Sort key implementing ``RANKING`` (smaller is better)."""
        if not self.usable:
            return (1, 0, 0, 0, 0, 0, 0, 0, self.index)
        report = self.report
        if report is None:  # not checked: no sandbox, the check crashed, or another was clean first
            return (0, 1 if self.problem or self.stopped else 0, 1, 0, 0, 0, 0, self.syntax_errors, self.index)
        counts = report.counts()
        progress = report.progress()
        return (0, 0, 0 if report.runs else 1, counts.get("defects", 0), 1 if report.tests_pass is False else 0,
                -progress.tests_passed, progress.tests_failed, progress.static_errors, self.index)

    def clean(self, *, can_run: bool = True) -> bool:
        """Checked, and the best a candidate can be on every line of ``RANKING`` but the number of
        passing tests and the candidate number: kept as soon as it ends (``check_all`` is not
        waited for). ``can_run=False``: no candidate of this step can run (coding writes a module
        before the entry point that imports it), so the run is no line of the ranking."""
        if not self.usable or self.report is None:
            return False
        report = self.report
        return (bool(report.runs) or not can_run) and not report.counts().get("defects", 0) \
            and report.tests_pass is not False and not report.progress().static_errors

    def verdict(self) -> str:
        """One line: what the check found."""
        if self.stopped:
            return self.stopped
        if not self.usable:
            return f"unusable reply: {self.problem}"
        if self.report is None:
            if self.problem:
                return f"the check did not finish: {self.problem}"
            syntax = f"{self.syntax_errors} file(s) do not parse" if self.syntax_errors else "parses"
            return f"not run (no sandbox); {syntax}"
        report = self.report
        counts = report.counts()
        parts = ["runs" if report.runs else f"does not run{': ' + report.run_reason if report.run_reason else ''}"]
        if counts.get("passed") or counts.get("failed"):
            parts.append(f"{counts.get('passed', 0)} tests pass, {counts.get('failed', 0)} fail")
        if counts.get("defects"):
            parts.append(f"{counts['defects']} defective tests")
        errors = report.progress().static_errors
        parts.append(f"{errors} static errors" if errors else "no static errors")
        return "; ".join(parts)[:300]

    def row(self) -> dict[str, Any]:
        return {"index": self.index, "verdict": self.verdict(), "files": sorted(self.files),
                "runs": None if self.report is None else bool(self.report.runs)}


def rank(candidates: Sequence[Candidate]) -> list[Candidate]:
    """The candidates best first, by ``RANKING``."""
    return sorted(candidates, key=Candidate.key)


def syntax_errors(files: Mapping[str, str]) -> int:
    count = 0
    for path, text in files.items():
        if path.endswith(".py"):
            try:
                ast.parse(text)
            except (SyntaxError, ValueError):
                count += 1
    return count


@contextlib.contextmanager
def trial(workspace: Any, files: Mapping[str, str]) -> Iterator[None]:
    """``files`` written into the workspace for the duration, then everything put back as it was."""
    present = set(workspace.files())
    before = {path: workspace.read(path) if path in present else None for path in files}
    try:
        workspace.write(dict(files))
        yield
    finally:
        restore = {p: t for p, t in before.items() if t is not None}
        if restore:
            workspace.write(restore)
        workspace.delete([p for p, t in before.items() if t is None])


def check_all(workspace: Any, candidates: Sequence[Candidate], check: Callable[[], Any] | None) -> None:
    """Check each usable candidate in turn (``check`` returns a ProgramReport; None: no sandbox).

    A check that fails (the sandbox errs, the program floods or hangs the runner) marks that
    candidate, never the phase.
    """
    for cand in candidates:
        if not cand.usable:
            continue
        cand.syntax_errors = syntax_errors(cand.files)
        if check is None:
            continue
        try:
            with trial(workspace, cand.files):
                cand.report = check()
        except ChatDevError as exc:
            cand.report = None
            cand.problem = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
