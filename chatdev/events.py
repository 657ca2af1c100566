"""Events: the one stream the terminal view, the transcript and the report read.

Library code never prints; it calls ``sink(event)``. Every event is a frozen
dataclass with a ``kind`` and turns into one JSON object (``to_dict``), which is
exactly one line of ``.chatdev/transcript.jsonl``.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar


@dataclass(frozen=True, kw_only=True)
class Event:
    kind: ClassVar[str] = "event"
    at: float = field(default_factory=time.time)

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        for key, value in list(data.items()):
            if isinstance(value, bytes):
                data[key] = None  # screenshots live in files, not in the transcript
        return {"kind": self.kind, **data}


@dataclass(frozen=True, kw_only=True)
class BuildStarted(Event):
    kind: ClassVar[str] = "build_started"
    task: str
    project: str
    company: str
    models: dict[str, str]  # role name -> model name
    chain: list[str]
    images: list[str] = field(default_factory=list)
    mode: str = "build"  # build | resume | improve
    org: list[tuple[int, str]] = field(default_factory=list)  # (depth, role) of the org chart, depth-first
    loops: dict[str, list[str]] = field(default_factory=dict)  # loop name -> its inner phases


@dataclass(frozen=True, kw_only=True)
class PhaseStarted(Event):
    kind: ClassVar[str] = "phase_started"
    phase: str
    phase_kind: str
    roles: list[str]
    cycle: int = 0  # loop cycle (1-based) or 0 outside loops
    item: str | None = None  # foreach item (e.g. the file being written)


@dataclass(frozen=True, kw_only=True)
class Message(Event):
    """One turn of a conversation, as sent and received."""

    kind: ClassVar[str] = "message"
    phase: str
    sender: str
    receiver: str
    text: str
    model: str | None = None
    candidate: int | None = None  # best-of-N: which candidate reply this is (0-based)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    drafted_tokens: int = 0  # completion tokens taken from drafts looked up in the context (llama.cpp)
    prefill_s: float = 0.0
    decode_s: float = 0.0
    images: list[str] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class Token(Event):
    """A streamed piece of the current speaker's reply (not written to the transcript)."""

    kind: ClassVar[str] = "token"
    phase: str
    sender: str
    text: str
    candidate: int = 0  # best-of-N: the candidate this piece belongs to


@dataclass(frozen=True, kw_only=True)
class Retry(Event):
    """A reply was unusable and goes back to the assistant with the reason."""

    kind: ClassVar[str] = "retry"
    phase: str
    role: str
    reason: str
    attempt: int


@dataclass(frozen=True, kw_only=True)
class CandidatesRanked(Event):
    """Best-of-N: each candidate's check in the sandbox, and the one that was kept."""

    kind: ClassVar[str] = "candidates"
    phase: str
    winner: int
    ranking: list[dict[str, Any]]  # best first: index, verdict line, files
    cycle: int = 0
    item: str | None = None


@dataclass(frozen=True, kw_only=True)
class SandboxRan(Event):
    kind: ClassVar[str] = "sandbox"
    phase: str
    command: str
    exit_code: int | None
    timed_out: bool
    duration: float
    stdout: str
    stderr: str
    screenshot: str | None = None  # path relative to the project


@dataclass(frozen=True, kw_only=True)
class Escalation(Event):
    kind: ClassVar[str] = "escalation"
    phase: str
    to_role: str
    from_role: str
    decision: str  # accept | retry
    directive: str = ""


@dataclass(frozen=True, kw_only=True)
class HumanWaiting(Event):
    """A person's turn begins (the live view steps aside while they type)."""

    kind: ClassVar[str] = "human_waiting"
    phase: str
    role: str
    turn: str  # reply (playing a role) | review (a checkpoint) | clarify (the CEO's questions)


@dataclass(frozen=True, kw_only=True)
class HumanTurn(Event):
    """What the person answered, and where the answer came from."""

    kind: ClassVar[str] = "human_turn"
    phase: str
    role: str
    turn: str  # reply | review | clarify
    question: str
    answer: str
    source: str = "terminal"  # terminal | answers (--answers FILE) | recorded (replayed on resume)


@dataclass(frozen=True, kw_only=True)
class PhaseEnded(Event):
    kind: ClassVar[str] = "phase_ended"
    phase: str
    status: str  # done | failed | skipped
    duration: float
    cycle: int = 0
    verdict: dict[str, Any] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    commit: str | None = None
    reason: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0


@dataclass(frozen=True, kw_only=True)
class Notice(Event):
    """Something the user should read once (fallback model, image ignored, ...)."""

    kind: ClassVar[str] = "notice"
    level: str  # info | warning
    text: str


@dataclass(frozen=True, kw_only=True)
class Progress(Event):
    """Long work with a size: downloads, image builds. total=None when unknown."""

    kind: ClassVar[str] = "progress"
    task: str
    done: float
    total: float | None = None
    unit: str = "B"


@dataclass(frozen=True, kw_only=True)
class BuildEnded(Event):
    kind: ClassVar[str] = "build_ended"
    status: str  # passed | failed | error | interrupted
    summary: dict[str, Any] = field(default_factory=dict)


EventSink = Callable[[Event], None]


def null_sink(event: Event) -> None:
    return None


class Fanout:
    """Send each event to several sinks, in order."""

    def __init__(self, sinks: Sequence[EventSink]) -> None:
        self.sinks = list(sinks)

    def __call__(self, event: Event) -> None:
        for sink in self.sinks:
            sink(event)


class Recorder:
    """A sink that keeps events in memory (tests, summaries)."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def __call__(self, event: Event) -> None:
        self.events.append(event)

    def of(self, cls: type[Event]) -> list[Any]:
        return [e for e in self.events if isinstance(e, cls)]


EVENT_TYPES: dict[str, type[Event]] = {
    cls.kind: cls
    for cls in (BuildStarted, PhaseStarted, Message, Token, Retry, CandidatesRanked, SandboxRan, Escalation,
                HumanWaiting, HumanTurn, PhaseEnded, Notice, Progress, BuildEnded)
}
