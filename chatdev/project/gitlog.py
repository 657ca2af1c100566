"""The commit record: authors, commit messages, trailers and the history of a project.

Pure functions of text: nothing here imports ``git`` or runs it (that is
:mod:`chatdev.project.workspace`, which re-exports these names).

* Authors are roles (``Programmer <programmer@acme.chatdev>``); the committer is
  always ``chatdev <chatdev@localhost>`` (``COMMITTER``).
* A message is ``[phase] summary``, a blank line, then ``Key: value`` trailers
  (``Phase``, ``Role``, ``Model``, ``Tokens``, ...); ``parse_trailers`` reads them back.
* ``parse_log`` turns the output of ``git log --numstat --format=LOG_FORMAT`` into
  ``CommitInfo`` records.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

COMMITTER = ("chatdev", "chatdev@localhost")
LOG_FORMAT = "%x1e%H%x1f%an%x1f%ae%x1f%ce%x1f%aI%x1f%B%x1d"  # what parse_log reads (with --numstat)
_TRAILER_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9-]*$")
_TRAILER_LINE = re.compile(r"^([A-Za-z][A-Za-z0-9-]*): ?(.*)$")


@dataclass(frozen=True)
class Author:
    name: str
    email: str

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


def slug(text: str, *, fallback: str = "chatdev") -> str:
    """``"Acme Soft!"`` → ``"acme-soft"``: lower-case letters, digits and dashes."""
    out = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return out or fallback


def author_for(role_name: str, company_name: str) -> Author:
    """The git author of a role: ``Programmer <programmer@<company-slug>.chatdev>``."""
    name = re.sub(r"[<>\n\r\x00]+", " ", role_name).strip() or "chatdev"
    return Author(name=name, email=f"{slug(name, fallback='role')}@{slug(company_name, fallback='company')}.chatdev")


def tokens_trailer(prompt: int, completion: int, cached: int) -> str:
    return f"prompt={prompt} completion={completion} cached={cached}"


def commit_message(*, role: str, phase: str, summary: str, trailers: Mapping[str, str],
                   model: str | None = None) -> str:
    """``[phase] summary``, a blank line, then ``Phase:``, ``Role:``, ``Model:`` and the given trailers."""
    subject = " ".join(summary.split()) or "no summary"
    if len(subject) > 120:
        subject = subject[:119] + "…"
    lines = {"Phase": phase, "Role": role}
    if model:
        lines["Model"] = model
    for key, value in trailers.items():
        if not _TRAILER_KEY.match(key):
            raise ValueError(f"not a git trailer key: {key!r}")
        lines[key] = str(value)
    body = "\n".join(f"{k}: {' '.join(str(v).split())}" for k, v in lines.items())
    return f"[{' '.join(phase.split())}] {subject}\n\n{body}\n"


def parse_trailers(message: str) -> dict[str, str]:
    """The ``Key: value`` lines of the last paragraph of a commit message."""
    paragraphs = [p for p in message.strip().split("\n\n") if p.strip()]
    if len(paragraphs) < 2:
        return {}
    found = [_TRAILER_LINE.match(line) for line in paragraphs[-1].strip().splitlines()]
    if not all(found):
        return {}
    return {m.group(1): m.group(2).strip() for m in found if m}


@dataclass(frozen=True)
class CommitInfo:
    sha: str
    subject: str
    author_name: str
    author_email: str
    committer_email: str
    date: str  # ISO 8601, author date
    message: str
    trailers: dict[str, str] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)  # project files only (not .chatdev/)
    insertions: int = 0
    deletions: int = 0

    @property
    def short(self) -> str:
        return self.sha[:8]

    @property
    def by_chatdev(self) -> bool:
        return self.committer_email == COMMITTER[1]

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "short": self.short, "by_chatdev": self.by_chatdev}


def parse_log(out: str, *, skip_prefix: str = "") -> list[CommitInfo]:
    """The commits in ``git log --numstat --format=LOG_FORMAT`` output, in its order.

    Files under ``skip_prefix`` are left out of ``files`` and the line counts.
    """
    commits = []
    for chunk in out.split("\x1e")[1:]:
        head, _, stats = chunk.partition("\x1d")
        sha, an, ae, ce, date, message = head.split("\x1f", 5)
        files, ins, dels = [], 0, 0
        for line in stats.strip("\n").splitlines():
            parts = line.split("\t", 2)
            if len(parts) != 3 or (skip_prefix and parts[2].startswith(skip_prefix)):
                continue
            files.append(parts[2])
            ins += int(parts[0]) if parts[0].isdigit() else 0
            dels += int(parts[1]) if parts[1].isdigit() else 0
        message = message.strip("\n")
        commits.append(CommitInfo(sha=sha, subject=message.split("\n", 1)[0], author_name=an,
                                  author_email=ae, committer_email=ce, date=date, message=message,
                                  trailers=parse_trailers(message), files=files, insertions=ins,
                                  deletions=dels))
    return commits


__all__ = ["COMMITTER", "LOG_FORMAT", "Author", "CommitInfo", "author_for", "commit_message", "parse_log",
           "parse_trailers", "slug", "tokens_trailer"]
