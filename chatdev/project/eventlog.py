"""The event log: the transcript folded into runs and phase runs, by one set of rules.

``fold(records)`` reads transcript records (``event.to_dict()`` of :mod:`chatdev.events`,
oldest first, as ``Workspace.transcript()`` gives them) and returns a :class:`Log`: each
build, resume or improve run, each phase run in order with the records that belong to
it, the notices and escalations, and how the latest run ended. The report
(``report.collect``) and ``chatdev log`` (``timeline.read``) are both built from it; the
rules are here and nowhere else:

- **where a record belongs**: a record that names a phase (a message, retry, candidates,
  sandbox run, escalation, a person's answer) goes to the latest open phase run of that
  name; when none is open it opens an *implicit* one of that name (a loop's escalation
  happens between its cycles, outside every phase). A notice names no phase: it goes to
  the latest open phase run, if any, and always into ``Log.notices``.
- **which run a PhaseEnded ends**: the latest open one of its phase and cycle, else the
  latest open one of its phase; with none open it is a phase run of its own (implicit).
- **a phase run that never ended** gets :func:`unended_status`: ``interrupted`` at the
  BuildEnded of an interrupted build, ``failed`` at a failed one, ``done`` where the chain
  ran to its end (and for an implicit run, which has no end of its own), ``unfinished``
  when its run has no BuildEnded at all (killed, or still going). It lasted until the
  record that closed it. An implicit run also ends, ``done``, when the next phase starts.
  A new BuildStarted closes whatever the run before left open.
- **tokens**: PhaseEnded's counts, else (none, or it never ended) the sum of its messages.
- **stopped early**: :func:`stopped_early` (its next step is ``chatdev resume``), which the
  engine asks of the state and :attr:`Log.resumable` of the latest run.

No rendering happens here (no clipping, HTML, git): callers add what they show.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

OUTSIDE = "(outside a phase)"  # the name of an implicit phase run for records that name no phase
FINISHED = ("passed", "untested", "tests_fail")  # BuildEnded statuses of a chain that ran to its end
ATTACHED = ("message", "retry", "candidates", "sandbox", "escalation", "human_turn")  # records of a phase run
TOKENS = ("prompt_tokens", "completion_tokens", "cached_tokens")


def stopped_early(status: str, reason: str) -> bool:
    """Whether a run's next step is ``chatdev resume`` (it stopped, or was killed mid-phase), not ``run``."""
    return bool(reason) or status in ("running", "interrupted", "error")


def unended_status(build_status: str | None, *, implicit: bool = False) -> str:
    """The status of a phase run that never said it ended, by how its build ended (None: it never said)."""
    if build_status is None:
        return "unfinished"
    if build_status == "interrupted":
        return "interrupted"
    return "done" if implicit or build_status in FINISHED else "failed"


@dataclass
class RunRecord:
    """One build, resume or improve: its BuildStarted and, if it came, its BuildEnded."""

    number: int  # 1 for the first build, +1 for each resume / improve
    mode: str = "build"  # build | resume | improve
    task: str = ""
    at: float | None = None
    status: str | None = None  # BuildEnded.status; None: the run never said how it ended
    summary: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:  # what the report's template reads: mode, task, at
        return {"mode": self.mode, "task": self.task, "at": self.at}


@dataclass
class PhaseRecord:
    """One run of a phase (a phase in a loop has one per cycle) and the records that belong to it."""

    index: int  # its position in ``Log.phases``
    name: str
    kind: str = ""  # PhaseStarted.phase_kind; "escalation" for a chain entry's implicit run
    roles: list[str] = field(default_factory=list)  # PhaseStarted.roles
    cycle: int = 0
    item: str | None = None
    run: int = 1  # RunRecord.number
    mode: str = "build"
    status: str = "running"  # PhaseEnded.status, else unended_status(...)
    at: float = 0.0  # when it started (an implicit run: its first record)
    duration: float = 0.0
    reason: str = ""
    verdict: dict[str, Any] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    commit: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    records: list[dict[str, Any]] = field(default_factory=list)  # in order; notices included
    implicit: bool = False  # no PhaseStarted

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [r for r in self.records if r.get("kind") == kind]

    @property
    def senders(self) -> list[str]:
        """Who spoke in it, in order of first message."""
        return _unique(str(r["sender"]) for r in self.of("message") if r.get("sender"))

    @property
    def models(self) -> list[str]:
        return _unique(str(r["model"]) for r in self.of("message") if r.get("model"))


@dataclass
class Log:
    """The transcript, folded."""

    runs: list[RunRecord] = field(default_factory=list)
    phases: list[PhaseRecord] = field(default_factory=list)
    notices: list[dict[str, Any]] = field(default_factory=list)
    escalations: list[dict[str, Any]] = field(default_factory=list)
    task: str = ""  # the first run's task (an improve's change is its run's task)
    images: list[str] = field(default_factory=list)  # the images the first run was given
    project: str = ""
    company: str = ""
    mode: str = "build"  # the latest run's
    models: dict[str, str] = field(default_factory=dict)  # role -> model, over every run
    org: list[tuple[int, str]] = field(default_factory=list)
    chain: list[str] = field(default_factory=list)
    status: str = "unknown"  # the latest run's BuildEnded.status; "unfinished" when it has none but phases ran
    summary: dict[str, Any] = field(default_factory=dict)  # the latest run's BuildEnded.summary
    started: float | None = None  # the earliest and latest ``at`` of any record
    ended: float | None = None

    @property
    def resumable(self) -> bool:
        """Whether the latest run stopped early, so what helps now is ``chatdev resume``."""
        if not self.runs:
            return False
        last = self.runs[-1]
        return last.status is None or stopped_early(last.status, str(last.summary.get("reason") or ""))


def fold(records: Iterable[Mapping[str, Any]]) -> Log:
    """Fold transcript records, oldest first, into a :class:`Log` (see the module's rules)."""
    folding = _Fold()
    for record in records:
        folding.add(dict(record))
    return folding.finish()


class _Fold:
    def __init__(self) -> None:
        self.log = Log()
        self.open: list[PhaseRecord] = []  # started, not ended; the last is the current one
        self.now = 0.0  # the latest ``at`` seen
        self.unannounced = False  # runs[0] was made up for records before any BuildStarted

    # ------------------------------------------------------------------ records
    def add(self, rec: dict[str, Any]) -> None:
        at = _time(rec.get("at"))
        if at is not None:
            log = self.log
            log.started = at if log.started is None else min(log.started, at)
            log.ended = at if log.ended is None else max(log.ended, at)
            self.now = at
        kind = str(rec.get("kind"))
        handler = getattr(self, f"_on_{kind}", None)
        if handler is not None:
            handler(rec)
        elif kind in ATTACHED:
            self._phase_for(rec.get("phase")).records.append(rec)
            if kind == "escalation":
                self.log.escalations.append(rec)

    def _on_build_started(self, rec: dict[str, Any]) -> None:
        self._close_all(None)  # the run before never said how it ended
        log = self.log
        run = RunRecord(number=len(log.runs) + 1, mode=str(rec.get("mode") or "build"),
                        task=str(rec.get("task") or ""), at=_time(rec.get("at")))
        if self.unannounced:  # what came before the first BuildStarted belongs to that first run
            run.number, log.runs[-1], self.unannounced = 1, run, False
        else:
            log.runs.append(run)
        log.status, log.summary = "unknown", {}
        if not log.task:
            log.task = str(rec.get("task") or "")
            log.images = [str(i) for i in rec.get("images") or []]
        log.project = str(rec.get("project") or log.project)
        log.company = str(rec.get("company") or log.company)
        log.mode = str(rec.get("mode") or log.mode)
        log.models.update({str(k): str(v) for k, v in (rec.get("models") or {}).items()})
        if rec.get("org"):
            log.org = [(int(depth), str(role)) for depth, role in rec["org"]]
        log.chain = [str(c) for c in rec.get("chain") or log.chain]

    def _on_phase_started(self, rec: dict[str, Any]) -> None:
        for phase in [p for p in self.open if p.implicit]:
            self._close(phase, "done")
        run = self._run()
        phase = PhaseRecord(index=len(self.log.phases), name=str(rec.get("phase") or "?"),
                            kind=str(rec.get("phase_kind") or ""), roles=[str(r) for r in rec.get("roles") or []],
                            cycle=int(rec.get("cycle") or 0), item=rec.get("item"), run=run.number, mode=run.mode,
                            at=self.now)
        self.log.phases.append(phase)
        self.open.append(phase)

    def _on_phase_ended(self, rec: dict[str, Any]) -> None:
        name, cycle = str(rec.get("phase") or "?"), int(rec.get("cycle") or 0)
        same = [p for p in self.open if p.name == name]
        phase = next((p for p in reversed(same) if p.cycle == cycle), same[-1] if same else None)
        if phase is None:  # its PhaseStarted is not in the transcript: a run of its own
            phase = self._implicit(name, opened=False)
            phase.at = self.now - float(rec.get("duration") or 0.0)
        else:
            self.open.remove(phase)
        phase.status = str(rec.get("status") or "done")
        phase.duration = float(rec.get("duration") or 0.0)
        phase.cycle = cycle or phase.cycle
        phase.reason = str(rec.get("reason") or "")
        phase.verdict = dict(rec.get("verdict") or {})
        phase.files = [str(f) for f in rec.get("files") or []]
        phase.commit = str(rec["commit"]) if rec.get("commit") else None
        if any(rec.get(key) for key in TOKENS):
            phase.prompt_tokens, phase.completion_tokens, phase.cached_tokens = (int(rec.get(k) or 0) for k in TOKENS)
        else:
            _sum_messages(phase)

    def _on_notice(self, rec: dict[str, Any]) -> None:
        self.log.notices.append(rec)
        if self.open:
            self.open[-1].records.append(rec)

    def _on_build_ended(self, rec: dict[str, Any]) -> None:
        status = str(rec.get("status") or "unknown")
        summary = dict(rec.get("summary") or {})
        self._close_all(status)
        self.log.status, self.log.summary = status, summary
        run = self._run()
        run.status, run.summary = status, summary
        self.unannounced = False  # it ended: the next BuildStarted is a run of its own

    def finish(self) -> Log:
        self._close_all(None)  # no BuildEnded: killed, or still going
        if self.log.status == "unknown" and self.log.phases:
            self.log.status = "unfinished"
        return self.log

    # ------------------------------------------------------------------ phase runs
    def _run(self) -> RunRecord:
        """The run records belong to now (a transcript that starts without BuildStarted: a first build)."""
        if not self.log.runs:
            self.log.runs.append(RunRecord(number=1))
            self.unannounced = True
        return self.log.runs[-1]

    def _phase_for(self, name: Any) -> PhaseRecord:
        """The phase run a record naming ``name`` belongs to: the latest open one of that name, else a new one."""
        if not name:
            return self.open[-1] if self.open else self._implicit(OUTSIDE)
        found = next((p for p in reversed(self.open) if p.name == str(name)), None)
        return found if found is not None else self._implicit(str(name))

    def _implicit(self, name: str, *, opened: bool = True) -> PhaseRecord:
        """A phase run with no PhaseStarted (a chain entry's: its loop's escalation)."""
        run = self._run()
        phase = PhaseRecord(index=len(self.log.phases), name=name, run=run.number, mode=run.mode, at=self.now,
                            kind="escalation" if name in self.log.chain else "", implicit=True)
        self.log.phases.append(phase)
        if opened:
            self.open.append(phase)
        return phase

    def _close(self, phase: PhaseRecord, status: str) -> None:
        """End a phase run that has no PhaseEnded, now."""
        phase.status = status
        if self.now and phase.at:
            phase.duration = max(0.0, self.now - phase.at)
        _sum_messages(phase)
        self.open.remove(phase)

    def _close_all(self, build_status: str | None) -> None:
        for phase in list(self.open):
            self._close(phase, unended_status(build_status, implicit=phase.implicit))


def _sum_messages(phase: PhaseRecord) -> None:
    messages = phase.of("message")
    phase.prompt_tokens, phase.completion_tokens, phase.cached_tokens = (
        sum(int(m.get(key) or 0) for m in messages) for key in TOKENS)


def _unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(values))


def _time(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
