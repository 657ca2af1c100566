"""What the terminal view knows, without ``rich``: the build state and the plain text.

:class:`BuildState` is the state the live view keeps from events;
:func:`plain_line` is the one line ``--plain`` prints per event; the small
formatters (:func:`fmt_duration`, :func:`fmt_count`, :func:`fmt_bytes`) and
:func:`clean`/:func:`one_line` make text safe and short for a terminal.
:mod:`chatdev.views.live` draws these with ``rich``; nothing here imports it.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any

from chatdev import events as ev
from chatdev.project.eventlog import unended_status

_STREAM_KEEP = 6000  # characters of the current reply kept in memory


# ----------------------------------------------------------------------------- small formatters


def fmt_duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, sec = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{sec:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def fmt_count(n: float | None) -> str:
    if n is None:
        return "-"
    n = float(n)
    for unit, div in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= div:
            return f"{n / div:.1f}{unit}"
    return f"{n:.0f}"


def fmt_bytes(n: float | None) -> str:
    if n is None:
        return "?"
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"  # pragma: no cover


_ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_])")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def clean(text: str) -> str:
    """Text a model or a program wrote, safe for a terminal: escape sequences and control characters removed."""
    return _CONTROL.sub("", _ANSI.sub("", text.replace("\r\n", "\n")))


def last_lines(text: str, *, width: int, count: int) -> list[str]:
    """The last ``count`` screen lines of ``text`` wrapped at ``width`` (tabs as 4 spaces)."""
    out: list[str] = []
    for line in reversed(clean(text.expandtabs(4)).rstrip("\n").splitlines()):
        pieces = [line[i:i + width] for i in range(0, len(line), width)] or [""]
        out[:0] = pieces
        if len(out) >= count:
            break
    return out[-count:]


def one_line(text: str, width: int = 100) -> str:
    flat = " ".join(clean(text).split())
    return flat if len(flat) <= width else flat[: max(0, width - 1)] + "…"


# ----------------------------------------------------------------------------- the state the live view draws


@dataclass
class PhaseState:
    name: str
    status: str = "pending"  # pending | running | done | failed | skipped
    cycle: int = 0
    duration: float = 0.0
    children: list[str] = field(default_factory=list)  # a loop's inner phases, as they are seen


@dataclass
class BuildState:
    """Everything the live panel shows, updated by :meth:`apply` (no rich here).

    The chain holds top-level names; a loop's inner phases are not in it, so a
    phase that is not is placed in the loop running now, or in the next entry
    of the chain (``BuildStarted.loops``, if the engine sends it, says exactly).
    """

    task: str = ""
    project: str = ""
    company: str = ""
    models: dict[str, str] = field(default_factory=dict)
    org: list[tuple[int, str]] = field(default_factory=list)
    chain: list[str] = field(default_factory=list)
    loops: dict[str, list[str]] = field(default_factory=dict)
    top: dict[str, PhaseState] = field(default_factory=dict)  # chain entries
    inner: dict[str, PhaseState] = field(default_factory=dict)  # phases inside loops
    pos: int = -1  # index in ``chain`` of the entry running now
    phase: str | None = None
    phase_kind: str = ""
    roles: list[str] = field(default_factory=list)
    cycle: int = 0
    item: str | None = None
    speaker: str | None = None
    listener: str | None = None
    stream: str = ""
    stream_sender: str | None = None
    stream_tokens: int = 0
    stream_started: float | None = None
    rate: float | None = None  # tokens/s of the reply streaming now (or the last one)
    waiting: tuple[str, float] | None = None  # (role, since): reading a prompt, no token yet
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    llm_calls: int = 0
    retries: int = 0
    candidates: int = 0  # best-of-N: replies being decoded together in this phase (0: one)
    sandbox: list[ev.SandboxRan] = field(default_factory=list)
    notices: list[ev.Notice] = field(default_factory=list)
    escalations: list[ev.Escalation] = field(default_factory=list)
    progress: dict[str, ev.Progress] = field(default_factory=dict)
    started: float = field(default_factory=time.time)
    ended: float | None = None
    status: str | None = None

    def apply(self, event: ev.Event) -> None:
        handler = getattr(self, f"_on_{event.kind}", None)
        if handler is not None:
            handler(event)

    def _on_build_started(self, event: ev.BuildStarted) -> None:
        self.task, self.company = event.task, event.company
        self.project = event.project.rstrip("/").rsplit("/", 1)[-1] or event.project
        self.models = dict(event.models)
        org = getattr(event, "org", None)
        self.org = [(int(d), str(r)) for d, r in org] if org else [(0, r) for r in event.models]
        self.chain = list(event.chain)
        self.loops = {str(k): list(v) for k, v in (getattr(event, "loops", None) or {}).items()}
        self.top = {name: PhaseState(name, children=list(self.loops.get(name, []))) for name in self.chain}
        self.inner, self.pos = {}, -1
        self.started, self.ended, self.status = event.at, None, None

    def _advance(self, index: int) -> None:
        """Entry ``index`` of the chain runs now; those before it are behind us."""
        for name in self.chain[:index]:
            if self.top[name].status in ("pending", "running"):
                self.top[name].status = "done"
        self.pos = index
        self.top[self.chain[index]].status = "running"

    def _loop_for(self, name: str, cycle: int) -> str | None:
        for loop, children in self.loops.items():
            if name in children and loop in self.top:
                return loop
        if 0 <= self.pos < len(self.chain):
            here = self.top[self.chain[self.pos]]
            if here.children and (name in here.children or here.cycle <= 1 and cycle <= 1):
                return here.name
        for index in range(max(self.pos + 1, 0), len(self.chain)):
            if self.chain[index] not in self.loops or name in self.loops[self.chain[index]]:
                return self.chain[index]
        return None

    def _on_phase_started(self, event: ev.PhaseStarted) -> None:
        if event.phase in self.top:
            self._advance(self.chain.index(event.phase))
        else:
            loop = self._loop_for(event.phase, event.cycle)
            if loop is not None:
                self._advance(self.chain.index(loop))
                entry = self.top[loop]
                entry.cycle = max(entry.cycle, event.cycle)
                if event.phase not in entry.children:
                    entry.children.append(event.phase)
            inner = self.inner.setdefault(event.phase, PhaseState(event.phase))
            inner.status, inner.cycle = "running", event.cycle
            for name in self.top[loop].children if loop else []:
                if name != event.phase and self.inner.get(name, PhaseState(name)).status == "running":
                    self.inner[name].status = "done"
        self.phase, self.phase_kind, self.roles = event.phase, event.phase_kind, list(event.roles)
        self.cycle, self.item = event.cycle, event.item
        self.speaker = self.roles[0] if self.roles else None
        self.listener = self.roles[1] if len(self.roles) > 1 else None
        self.stream, self.stream_sender, self.stream_started = "", None, None
        self.candidates = 0
        self.waiting = None

    def _on_token(self, event: ev.Token) -> None:
        self.waiting = None
        if event.candidate:  # best-of-N: candidate 0 streams, the others are counted
            self.candidates = max(self.candidates, event.candidate + 1)
            return
        if event.sender != self.stream_sender or self.stream_started is None:
            self.stream, self.stream_sender, self.stream_tokens = "", event.sender, 0
            self.stream_started = event.at
            if event.sender != self.speaker:
                self.listener = self.speaker if self.speaker != event.sender else self.listener
                self.speaker = event.sender
        self.stream = (self.stream + event.text)[-_STREAM_KEEP:]
        self.stream_tokens += 1
        elapsed = event.at - (self.stream_started or event.at)
        if elapsed > 0.25 and self.stream_tokens > 2:
            self.rate = self.stream_tokens / elapsed

    def _on_message(self, event: ev.Message) -> None:
        self.speaker, self.listener = event.sender, event.receiver
        # a prompt (no usage) is followed by the receiver reading it: prefill, before its first token
        self.waiting = None if (event.prompt_tokens or event.completion_tokens) else (event.receiver, event.at)
        if event.sender != self.stream_sender or not self.stream:
            self.stream, self.stream_sender = event.text[-_STREAM_KEEP:], event.sender
        self.stream_started = None  # the next Token starts a new reply
        self.prompt_tokens += event.prompt_tokens
        self.completion_tokens += event.completion_tokens
        self.cached_tokens += event.cached_tokens
        if event.completion_tokens:
            self.llm_calls += 1
        if event.decode_s > 0 and event.completion_tokens:
            self.rate = event.completion_tokens / event.decode_s

    def _on_candidates(self, event: ev.CandidatesRanked) -> None:
        self.candidates = 0

    def _on_retry(self, event: ev.Retry) -> None:
        self.retries += 1

    def _on_sandbox(self, event: ev.SandboxRan) -> None:
        self.sandbox.append(event)

    def _on_escalation(self, event: ev.Escalation) -> None:
        self.escalations.append(event)

    def _on_phase_ended(self, event: ev.PhaseEnded) -> None:
        self.waiting = None
        entry = self.top.get(event.phase) or self.inner.setdefault(event.phase, PhaseState(event.phase))
        entry.status, entry.cycle = event.status, event.cycle or entry.cycle
        entry.duration += event.duration

    def _on_notice(self, event: ev.Notice) -> None:
        self.notices.append(event)

    def _on_progress(self, event: ev.Progress) -> None:
        if event.total is not None and event.done >= event.total:
            self.progress.pop(event.task, None)
        else:
            self.progress[event.task] = event

    def _on_build_ended(self, event: ev.BuildEnded) -> None:
        self.ended, self.status = event.at, event.status
        for entry in [*self.top.values(), *self.inner.values()]:
            if entry.status == "running":  # the batch fold's rule for a phase that never said it ended
                entry.status = unended_status(event.status)
        self.progress.clear()

    def elapsed(self, now: float | None = None) -> float:
        return (self.ended or now or time.time()) - self.started


# ----------------------------------------------------------------------------- plain: one line per event


def plain_line(event: ev.Event) -> str | None:
    """The one line ``--plain`` prints for an event (None: print nothing), safe for a terminal."""
    line = _plain_line(event)
    return None if line is None else clean(line)


def _plain_line(event: ev.Event) -> str | None:
    if isinstance(event, ev.BuildStarted):
        models = sorted(set(event.models.values()))
        return (f"build {one_line(event.task, 80)!r} -> {event.project} "
                f"(company {event.company}; model {', '.join(models) or '-'}; "
                f"chain {' -> '.join(event.chain)})")
    if isinstance(event, ev.PhaseStarted):
        extra = f" [cycle {event.cycle}]" if event.cycle else ""
        extra += f" [{event.item}]" if event.item else ""
        return f"> {event.phase} ({event.phase_kind}) {' <-> '.join(event.roles)}{extra}"
    if isinstance(event, ev.Message):
        usage = ""
        if event.prompt_tokens or event.completion_tokens:
            usage = f" ({event.prompt_tokens}+{event.completion_tokens} tok"
            usage += f", {fmt_duration(event.prefill_s + event.decode_s)})" if event.decode_s else ")"
        return f"  {event.sender} -> {event.receiver}: {one_line(event.text, 100)}{usage}"
    if isinstance(event, ev.Retry):
        return f"  retry {event.role} (attempt {event.attempt}): {one_line(event.reason, 100)}"
    if isinstance(event, ev.CandidatesRanked):
        return "  " + candidates_line(event)
    if isinstance(event, ev.SandboxRan):
        outcome = "timed out" if event.timed_out else f"exit {event.exit_code}"
        line = f"  $ {event.command} -> {outcome} in {fmt_duration(event.duration)}"
        if event.timed_out or event.exit_code:
            tail = (event.stderr or event.stdout).strip().splitlines()
            if tail:
                line += f": {one_line(tail[-1], 100)}"
        return line
    if isinstance(event, ev.Escalation):
        directive = f": {one_line(event.directive, 100)}" if event.directive else ""
        return f"  escalated {event.from_role} -> {event.to_role}: {event.decision}{directive}"
    if isinstance(event, ev.PhaseEnded):
        mark = {"done": "ok", "failed": "FAILED", "skipped": "skipped"}.get(event.status, event.status)
        details = [fmt_duration(event.duration)]
        if event.files:
            details.append(f"{len(event.files)} file{'s' if len(event.files) != 1 else ''}")
        if event.commit:
            details.append(f"commit {event.commit[:7]}")
        if event.reason:
            details.append(one_line(event.reason, 80))
        cycle = f" cycle {event.cycle}" if event.cycle else ""
        return f"{mark} {event.phase}{cycle} ({', '.join(details)})"
    if isinstance(event, ev.Notice):
        return f"{'warning' if event.level == 'warning' else 'note'}: {event.text}"
    if isinstance(event, ev.Progress):
        if event.total:
            return f"  {event.task}: {fmt_progress(event)} ({event.done / event.total:.0%})"
        return f"  {event.task}: {fmt_progress(event)}"
    if isinstance(event, ev.BuildEnded):
        return f"build {event.status}"
    if isinstance(event, ev.HumanTurn):
        who = "the customer" if event.role == "customer" else f"{event.role} (human)"
        how = {"answers": " from --answers", "recorded": " (recorded before)"}.get(event.source, "")
        return f"  {who} answered{how}: {one_line(event.answer, 100) or '(empty)'}"
    return None  # Token, HumanWaiting and unknown events


def candidates_line(event: ev.CandidatesRanked) -> str:
    """``kept candidate 2 of 4 (runs; 3 tests pass...); next: 0 does not run: ...``"""
    rows = event.ranking
    best = rows[0] if rows else {"index": event.winner, "verdict": ""}
    line = f"kept candidate {event.winner} of {len(rows)} ({one_line(str(best.get('verdict', '')), 80)})"
    if len(rows) > 1:
        line += f"; next: {rows[1].get('index')} ({one_line(str(rows[1].get('verdict', '')), 60)})"
    return line


def fmt_progress(event: ev.Progress) -> str:
    if event.unit == "B":
        done = fmt_bytes(event.done)
        return f"{done} / {fmt_bytes(event.total)}" if event.total else done
    total = f" / {fmt_count(event.total)}" if event.total else ""
    return f"{fmt_count(event.done)}{total} {event.unit}"


# ----------------------------------------------------------------------------- helpers the renderers share


def _data(obj: Any) -> Any:
    return obj.to_dict() if hasattr(obj, "to_dict") else obj


def _tail(text: str, lines: int = 15) -> str:
    kept = clean(text).rstrip().splitlines()
    if len(kept) <= lines:
        return "\n".join(kept)
    return f"… ({len(kept) - lines} lines above)\n" + "\n".join(kept[-lines:])


def _run_code(report: Any, data: dict[str, Any]) -> int:
    """``chatdev run``'s exit code: 0 works, 1 does not run, 4 runs but a test that counts fails."""
    if "runs" in data:
        if not data.get("runs"):
            return 1
        return 4 if data.get("tests_pass") is False else 0
    for attr in ("passed", "ok"):
        value = getattr(report, attr, data.get(attr))
        if isinstance(value, bool):
            return 0 if value else 1
    return 0 if data.get("exit_code") in (0, None) and not data.get("timed_out") else 1
