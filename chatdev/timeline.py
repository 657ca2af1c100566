"""``chatdev log``: the timeline of a project, from its transcript and its git history.

One entry per phase run (a phase inside a loop gets one entry per cycle). The
transcript (``.chatdev/transcript.jsonl``) says what ran, who spoke, the tokens,
verdicts and escalations; git says what each commit changed. A chatdev commit
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
from chatdev.workspace import TRANSCRIPT, CommitInfo, Workspace


@dataclass(frozen=True)
class TimelineEntry:
    index: int
    phase: str
    status: str  # done | failed | skipped | interrupted | unfinished | committed (git only)
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


class _Run:
    """A phase run being assembled from events."""

    def __init__(self, ev: dict[str, Any], run: int, mode: str) -> None:
        self.data: dict[str, Any] = {
            "phase": str(ev.get("phase", "?")), "phase_kind": str(ev.get("phase_kind", "")),
            "roles": list(ev.get("roles") or []), "cycle": int(ev.get("cycle") or 0), "item": ev.get("item"),
            "run": run, "mode": mode, "status": "unfinished", "at": float(ev.get("at") or 0.0),
            "prompt_tokens": 0, "completion_tokens": 0, "cached_tokens": 0, "models": [], "messages": 0,
            "retries": 0, "sandbox_runs": 0, "escalations": [], "files": [], "verdict": {}, "candidates": [],
        }
        self.ended = False

    def add(self, ev: dict[str, Any]) -> None:
        d, kind = self.data, ev.get("kind")
        if kind == "message":
            d["messages"] += 1
            for key in ("prompt_tokens", "completion_tokens", "cached_tokens"):
                d[key] += int(ev.get(key) or 0)
            if ev.get("model") and ev["model"] not in d["models"]:
                d["models"].append(ev["model"])
            if ev.get("sender") and ev["sender"] not in d["roles"]:
                d["roles"].append(ev["sender"])
        elif kind == "retry":
            d["retries"] += 1
        elif kind == "candidates":
            d["candidates"].append({"item": ev.get("item"), "winner": ev.get("winner"),
                                    "of": len(ev.get("ranking") or []),
                                    "why": (ev.get("ranking") or [{}])[0].get("verdict", "")})
        elif kind == "sandbox":
            d["sandbox_runs"] += 1
        elif kind == "escalation":
            d["escalations"].append({k: ev.get(k) for k in ("from_role", "to_role", "decision", "directive")})

    def end(self, ev: dict[str, Any]) -> None:
        d = self.data
        d["status"] = str(ev.get("status") or "done")
        d["duration"] = float(ev.get("duration") or 0.0)
        d["verdict"] = dict(ev.get("verdict") or {})
        d["files"] = list(ev.get("files") or [])
        d["commit"] = ev.get("commit") or None
        d["reason"] = str(ev.get("reason") or "")
        if any(ev.get(k) for k in ("prompt_tokens", "completion_tokens", "cached_tokens")):
            for key in ("prompt_tokens", "completion_tokens", "cached_tokens"):
                d[key] = int(ev.get(key) or 0)
        self.ended = True

    def stop(self, status: str, at: float) -> None:
        if not self.ended:
            self.data["status"] = status
            if at and self.data["at"]:
                self.data["duration"] = max(0.0, at - self.data["at"])
            self.ended = True


def _runs(events: list[dict[str, Any]]) -> list[_Run]:
    runs: list[_Run] = []
    open_: list[_Run] = []
    build, mode = 0, "build"

    def target(phase: Any) -> _Run | None:
        for r in reversed(open_):
            if r.data["phase"] == phase:
                return r
        return open_[-1] if open_ else None

    for ev in events:
        kind = ev.get("kind")
        at = float(ev.get("at") or 0.0)
        if kind == "build_started":
            for r in open_:
                r.stop("interrupted", at)
            open_.clear()
            build, mode = build + 1, str(ev.get("mode") or "build")
        elif kind == "phase_started":
            started = _Run(ev, max(build, 1), mode)
            runs.append(started)
            open_.append(started)
        elif kind == "phase_ended":
            same = [r for r in open_ if r.data["phase"] == ev.get("phase")]
            match = next((r for r in reversed(same) if r.data["cycle"] == int(ev.get("cycle") or 0)),
                         same[-1] if same else None)
            if match is not None:
                match.end(ev)
                open_.remove(match)
        elif kind == "build_ended":
            status = "interrupted" if ev.get("status") == "interrupted" else "failed"
            for r in open_:
                r.stop(status, at)
            open_.clear()
        elif kind in ("message", "retry", "candidates", "sandbox", "escalation"):
            run = target(ev.get("phase"))
            if run is not None:
                run.add(ev)
    return runs


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

    rows = [r.data for r in _runs(ws.transcript())]
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
