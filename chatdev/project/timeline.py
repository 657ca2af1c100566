"""``chatdev log``: the timeline of a project, from its transcript and its git history.

One entry per phase run (a phase inside a loop gets one entry per cycle), as
:func:`chatdev.project.eventlog.fold` folds the transcript (``.chatdev/transcript.jsonl``):
it says what ran, who spoke, the tokens, verdicts and escalations; git says what
each commit changed. A chatdev commit
the transcript does not mention (a transcript cut short) still shows up, from
its trailers, with ``source="git"``.
"""

from __future__ import annotations

import re
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from chatdev.errors import WorkspaceError
from chatdev.project.eventlog import PhaseRecord, fold
from chatdev.project.workspace import TRANSCRIPT, CommitInfo, Workspace


@dataclass(frozen=True)
class TimelineEntry:
    index: int
    phase: str
    status: str  # done | failed | skipped | interrupted | unfinished | committed (git only): eventlog's rules
    roles: list[str] = field(default_factory=list)
    phase_kind: str = ""
    cycle: int = 0
    item: str | None = None
    run: int = 1  # 1 for the first build, +1 for each resume / improve
    mode: str = "build"  # build | resume | improve
    started_at: str | None = None  # ISO 8601, UTC
    duration: float = 0.0
    commit: str | None = None  # short sha
    commit_subject: str | None = None
    author: str | None = None  # the role that authored the commit
    files: list[str] = field(default_factory=list)
    insertions: int = 0
    deletions: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    models: list[str] = field(default_factory=list)
    messages: int = 0
    retries: int = 0
    sandbox_runs: int = 0
    verdict: dict[str, Any] = field(default_factory=dict)
    escalations: list[dict[str, Any]] = field(default_factory=list)
    candidates: list[dict[str, Any]] = field(default_factory=list)  # best-of-N: which won, of how many, why
    reason: str = ""
    source: str = "transcript"  # transcript | git

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _row(phase: PhaseRecord) -> dict[str, Any]:
    """A timeline row of one folded phase run (its commit is looked up in git afterwards)."""
    return {
        "phase": phase.name, "phase_kind": phase.kind, "status": phase.status, "cycle": phase.cycle,
        "item": phase.item, "run": phase.run, "mode": phase.mode, "at": phase.at, "duration": phase.duration,
        "roles": [*phase.roles, *(s for s in phase.senders if s not in phase.roles)], "models": phase.models,
        "prompt_tokens": phase.prompt_tokens, "completion_tokens": phase.completion_tokens,
        "cached_tokens": phase.cached_tokens, "messages": len(phase.of("message")),
        "retries": len(phase.of("retry")), "sandbox_runs": len(phase.of("sandbox")),
        "escalations": [{k: e.get(k) for k in ("from_role", "to_role", "decision", "directive")}
                        for e in phase.of("escalation")],
        "candidates": [{"item": c.get("item"), "winner": c.get("winner"), "of": len(c.get("ranking") or []),
                        "why": (c.get("ranking") or [{}])[0].get("verdict", "")} for c in phase.of("candidates")],
        "files": list(phase.files), "verdict": dict(phase.verdict), "commit": phase.commit, "reason": phase.reason,
    }


def _iso(epoch: float) -> str | None:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch)) if epoch else None


def _epoch(iso: str) -> float:
    try:
        return datetime.fromisoformat(iso).timestamp()
    except ValueError:
        return 0.0


def _from_git(c: CommitInfo) -> dict[str, Any]:
    t = c.trailers
    tokens = dict(re.findall(r"(prompt|completion|cached)=(\d+)", t.get("Tokens", "")))
    duration = re.match(r"\s*([\d.]+)", t.get("Duration", ""))
    return {
        "phase": t.get("Phase") or (re.match(r"\[([^\]]+)\]", c.subject) or [None, "?"])[1],
        "status": "committed", "roles": [t["Role"]] if t.get("Role") else [c.author_name],
        "models": [t["Model"]] if t.get("Model") else [], "at": _epoch(c.date),
        "duration": float(duration.group(1)) if duration else 0.0,
        "prompt_tokens": int(tokens.get("prompt", 0)), "completion_tokens": int(tokens.get("completion", 0)),
        "cached_tokens": int(tokens.get("cached", 0)), "source": "git", "commit": c.sha,
    }


def _merge(rows: list[dict[str, Any]], commits: list[tuple[int, CommitInfo]]) -> list[dict[str, Any]]:
    """Place the chatdev commits the transcript does not mention among the transcript's rows.

    Git dates have one-second resolution, so a commit goes before the first row that either
    refers to a later commit or started at least a second after it; the first commit of the
    history (the project's creation) goes first.
    """
    keyed: list[tuple[float, int, dict[str, Any]]] = [(float(i), 0, row) for i, row in enumerate(rows)]
    for k, c in commits:
        row = _from_git(c)
        pos = 0 if k == 0 else next((i for i, r in enumerate(rows) if (r["_k"] is not None and r["_k"] > k)
                                     or float(r.get("at") or 0.0) >= row["at"] + 1.0), len(rows))
        keyed.append((pos - 0.5, k, row))
    keyed.sort(key=lambda item: (item[0], item[1]))
    merged = [row for _, _, row in keyed]
    for i, row in enumerate(merged):  # a commit belongs to the run around it
        if row.get("source") == "git":
            around = [*range(i - 1, -1, -1), *range(i + 1, len(merged))]
            near: dict[str, Any] = next((merged[j] for j in around if merged[j].get("source") != "git"), {})
            row["run"], row["mode"] = near.get("run", 1), near.get("mode", "build")
    return merged


def read(project: Path) -> list[TimelineEntry]:
    """The timeline of ``project``: one entry per phase run, oldest first."""
    root = Path(project)
    if not root.is_dir():
        raise WorkspaceError(f"{project}: no such folder", hint="check the path to the project folder")
    if not (root / TRANSCRIPT).is_file():
        raise WorkspaceError(f"{project} has no transcript ({TRANSCRIPT}): it is not a chatdev project, "
                             "or nothing has run in it yet", hint="build one with `chatdev build`")
    ws = Workspace.inspect(root)
    history = ws.history()
    by_sha = {c.sha: c for c in history}

    def commit_of(sha: str | None) -> CommitInfo | None:
        if not sha:
            return None
        return by_sha.get(sha) or next((c for c in history if c.sha.startswith(sha)), None)

    rows = [_row(phase) for phase in fold(ws.transcript()).phases]
    for row in rows:  # "_k": the position in the history of the commit the row made
        found = commit_of(row.get("commit"))
        row["_k"] = history.index(found) if found else None
    mentioned = {row["_k"] for row in rows}
    rows = _merge(rows, [(k, c) for k, c in enumerate(history) if c.by_chatdev and k not in mentioned])

    entries = []
    for i, row in enumerate(rows, start=1):
        c = commit_of(row.get("commit"))
        fields = {k: v for k, v in row.items() if k in TimelineEntry.__dataclass_fields__}
        if c is not None:
            fields.update(commit=c.short, commit_subject=c.subject, author=c.author_name, files=c.files,
                          insertions=c.insertions, deletions=c.deletions)
        elif row.get("commit"):
            fields["commit"] = str(row["commit"])[:8]
        entries.append(TimelineEntry(index=i, started_at=_iso(row.get("at") or 0.0), **fields))
    return entries
