"""The static HTML report: one self-contained page per project.

``write_report(project)`` reads the transcript (``.chatdev/transcript.jsonl``)
and the git history through :mod:`chatdev.project.workspace`, and renders
``templates/report.html.j2`` with autoescaping on: nothing a model wrote can
run in the page (a Content-Security-Policy that allows only the page's own
script backs this up, and forbids every network request). Screenshots and the
user's images are embedded as data URIs, so the file works from ``file://``,
offline, anywhere it is copied.
"""

from __future__ import annotations

import base64
import os
import re
import secrets
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chatdev.errors import WorkspaceEnvironmentError, WorkspaceError
from chatdev.project import eventlog

REPORT_NAME = "report.html"
MESSAGE_LIMIT = 60_000  # characters of one message shown in the page
OUTPUT_LIMIT = 20_000  # characters of a sandbox stdout/stderr shown
DIFF_LIMIT = 150_000  # characters of one commit's diff shown
HIGHLIGHT_LIMIT = 40_000  # code blocks above this are shown plain (highlighting is slow)
IMAGE_LIMIT = 5 * 1024 * 1024  # bytes of one embedded image
_IMAGE_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif",
                ".webp": "image/webp"}
_FENCE = re.compile(r"^```[ \t]*([\w.+#-]*)[^\n]*\n(.*?)(?:(?P<close>^```[ \t]*$)|\Z)", re.DOTALL | re.MULTILINE)


# ----------------------------------------------------------------------------- what the page shows


@dataclass
class Item:
    """One entry of a phase's conversation: a message, retry, sandbox run, escalation or notice."""

    kind: str
    data: dict[str, Any]
    html: Any = None  # Markup of the message body
    note: str = ""  # e.g. "truncated: showing 60,000 of 2,000,000 characters"
    image: str | None = None  # data URI of a screenshot
    images: list[str] = field(default_factory=list)  # data URIs of the images sent with a message


@dataclass
class PhaseRun:
    index: int
    name: str
    kind: str = ""
    roles: list[str] = field(default_factory=list)
    cycle: int = 0
    item: str | None = None
    status: str = "running"
    duration: float = 0.0
    reason: str = ""
    verdict: dict[str, Any] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    commit: str | None = None
    diff_html: Any = None
    diff_note: str = ""
    commit_info: dict[str, Any] = field(default_factory=dict)  # CommitInfo.to_dict() of ``commit``
    items: list[Item] = field(default_factory=list)
    talks: list[str] = field(default_factory=list)  # "CTO → Programmer"
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    run: int = 0  # which build/resume/improve run it belongs to
    implicit: bool = False  # no PhaseStarted (a loop's escalation): ends when the next phase starts

    @property
    def anchor(self) -> str:
        return f"phase-{self.index}"

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass
class Bar:
    label: str
    value: float
    text: str
    percent: float = 0.0


@dataclass
class ReportData:
    project: str  # the folder's name
    path: str = ""  # where the build made it
    task: str = ""
    company: str = ""
    mode: str = "build"
    status: str = "unknown"
    models: dict[str, str] = field(default_factory=dict)
    org: list[tuple[int, str]] = field(default_factory=list)
    chain: list[str] = field(default_factory=list)
    images: list[tuple[str, str | None]] = field(default_factory=list)  # (name, data URI or None)
    runs: list[dict[str, Any]] = field(default_factory=list)  # each BuildStarted: mode, task, at
    phases: list[PhaseRun] = field(default_factory=list)
    escalations: list[dict[str, Any]] = field(default_factory=list)
    notices: list[dict[str, Any]] = field(default_factory=list)
    tests: list[tuple[PhaseRun, Item]] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    role_tokens: list[Bar] = field(default_factory=list)
    role_time: list[Bar] = field(default_factory=list)
    phase_tokens: list[Bar] = field(default_factory=list)
    phase_time: list[Bar] = field(default_factory=list)
    totals: dict[str, Any] = field(default_factory=dict)
    commits: list[dict[str, Any]] = field(default_factory=list)
    skipped_lines: int = 0
    started: float | None = None
    ended: float | None = None


# ----------------------------------------------------------------------------- text → HTML


def _markup(html: str) -> Any:
    from markupsafe import Markup

    return Markup(html)  # every caller builds html from escaped parts


def _escape(text: str) -> str:
    from markupsafe import escape

    return str(escape(text))


def _highlight(code: str, lang: str) -> str:
    """Highlighted HTML of ``code`` (escaped plain text if Pygments is missing or the block is huge)."""
    if len(code) <= HIGHLIGHT_LIMIT:
        try:
            from pygments import highlight
            from pygments.formatters import HtmlFormatter
            from pygments.lexers import get_lexer_by_name, guess_lexer
            from pygments.util import ClassNotFound

            try:
                lexer = get_lexer_by_name(lang) if lang else guess_lexer(code)
            except ClassNotFound:
                lexer = get_lexer_by_name("text")
            return str(highlight(code, lexer, HtmlFormatter(nowrap=True)))
        except ImportError:
            pass
    return _escape(code)


def render_text(text: str) -> Any:
    """A model's reply as HTML: prose escaped (line breaks kept), fenced code blocks highlighted.

    A fence that never closes is code only when it names a language (a reply cut
    by ``max_tokens``); a bare stray ````` stays visible as text, as the model wrote it.
    """
    parts: list[str] = []
    pos = 0
    for match in _FENCE.finditer(text):
        lang = match.group(1).lower()
        if match.group("close") is None and not lang:
            continue
        if match.start() > pos:
            parts.append(_prose(text[pos:match.start()]))
        label = f'<span class="lang">{_escape(lang)}</span>' if lang else ""
        parts.append(f'<pre class="code">{label}<code>{_highlight(match.group(2), lang)}</code></pre>')
        pos = match.end()
    if pos < len(text):
        parts.append(_prose(text[pos:]))
    return _markup("".join(parts))


_INLINE_CODE = re.compile(r"`([^`\n]+)`")
_BOLD = re.compile(r"\*\*([^*\n]+)\*\*")
_HEADING = re.compile(r"^(#{1,4}) +(.+)$", re.MULTILINE)


def _prose(text: str) -> str:
    """Escaped prose with a little Markdown: headings, **bold**, `code` (applied after escaping)."""
    if not text.strip():
        return ""
    html = _escape(text.strip("\n"))
    html = _INLINE_CODE.sub(r"<code>\1</code>", html)
    html = _BOLD.sub(r"<strong>\1</strong>", html)
    html = _HEADING.sub(lambda m: f'<strong class="h{len(m.group(1))}">{m.group(2)}</strong>', html)
    return f'<div class="prose">{html}</div>'



def _clip(text: str, limit: int, *, tail: bool = False) -> tuple[str, str]:
    if len(text) <= limit:
        return text, ""
    note = f"truncated: showing {'the last' if tail else 'the first'} {limit:,} of {len(text):,} characters"
    return (text[-limit:] if tail else text[:limit]), note


def _data_uri(path: Path) -> str | None:
    mime = _IMAGE_TYPES.get(path.suffix.lower())
    try:
        if mime is None or not path.is_file() or path.stat().st_size > IMAGE_LIMIT:
            return None
        return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"
    except OSError:
        return None


def _find_file(project: Path, ref: str, *, inside: bool = False) -> Path | None:
    """The file ``ref`` names: relative to the project, or (unless ``inside``) anywhere (the user's images)."""
    path = Path(ref)
    root = project.resolve()
    candidates = [project / path, project / ".chatdev" / path, project / ".chatdev" / "screens" / path.name]
    for candidate in candidates if inside else [*candidates, path]:
        try:
            if candidate.is_file() and (not inside or candidate.resolve().is_relative_to(root)):
                return candidate
        except OSError:
            continue
    return None


# ----------------------------------------------------------------------------- records → ReportData


def collect(records: Iterable[Mapping[str, Any]], *, project: Path, diff: Callable[[str], str] | None = None,
            commits: Sequence[Mapping[str, Any]] = (), facts: Mapping[str, Any] | None = None) -> ReportData:
    """What the page shows of transcript records (``event.to_dict()``), folded by :func:`chatdev.project.eventlog.fold`.

    ``diff(sha) -> str`` gives a commit's patch (None: no diffs shown); ``commits``
    are ``CommitInfo.to_dict()`` of the history, oldest first; ``facts`` fill the
    summary where the transcript is silent (tests and files from the state, ...).
    """
    return _from_log(eventlog.fold(records), project=project, diff=diff, commits=commits, facts=facts)


def _from_log(log: eventlog.Log, *, project: Path, diff: Callable[[str], str] | None,
              commits: Sequence[Mapping[str, Any]], facts: Mapping[str, Any] | None) -> ReportData:
    """The folded log with what only the page needs: clipped and highlighted text, images, diffs, charts."""
    data = ReportData(project=project.name, path=log.project or str(project), task=log.task, company=log.company,
                      mode=log.mode, status=log.status, models=dict(log.models), org=list(log.org),
                      chain=list(log.chain), runs=[r.to_dict() for r in log.runs],
                      escalations=list(log.escalations), notices=list(log.notices), summary=dict(log.summary),
                      commits=[dict(c) for c in commits], started=log.started, ended=log.ended)
    data.images = [(Path(i).name, _data_uri(p) if (p := _find_file(project, i)) else None) for i in log.images]
    by_sha = {str(c.get("sha")): dict(c) for c in commits}
    role_tok: dict[str, int] = {}
    role_sec: dict[str, float] = {}
    calls = 0
    for record in log.phases:
        run = PhaseRun(index=record.index, name=record.name, kind=record.kind, roles=list(record.roles),
                       cycle=record.cycle, item=record.item, status=record.status, duration=record.duration,
                       reason=record.reason, verdict=dict(record.verdict), files=list(record.files),
                       commit=record.commit, prompt_tokens=record.prompt_tokens,
                       completion_tokens=record.completion_tokens, cached_tokens=record.cached_tokens,
                       run=record.run - 1, implicit=record.implicit)
        data.phases.append(run)
        for rec in record.records:
            item = _item(rec, project)
            if item is None:
                continue
            run.items.append(item)
            if item.kind == "sandbox":
                data.tests.append((run, item))
            elif item.kind == "message":
                sender = str(rec.get("sender"))
                _add_talk(run.talks, sender, str(rec.get("receiver")))
                tokens = int(rec.get("prompt_tokens") or 0) + int(rec.get("completion_tokens") or 0)
                calls += 1 if tokens else 0
                role_tok[sender] = role_tok.get(sender, 0) + tokens
                role_sec[sender] = role_sec.get(sender, 0.0) + float(rec.get("prefill_s") or 0) + float(
                    rec.get("decode_s") or 0)
        if run.commit:
            run.commit_info = by_sha.get(run.commit) or next(
                (c for sha, c in by_sha.items() if sha.startswith(run.commit)), {})
        if run.commit and diff is not None:
            try:
                text, run.diff_note = _clip(str(diff(run.commit)), DIFF_LIMIT)
            except Exception as exc:  # noqa: BLE001 - a missing commit must not lose the whole report
                text, run.diff_note = "", f"diff unavailable: {exc}"
            run.diff_html = _markup(_highlight(text, "diff")) if text else None
    if not data.org:
        data.org = [(0, role) for role in data.models] or [(0, r) for r in role_tok]
    for key, value in (facts or {}).items():
        if data.summary.get(key) in (None, "", [], {}):
            data.summary[key] = value
    _charts(data, role_tok, role_sec)
    data.totals = {
        "prompt": sum(r.prompt_tokens for r in data.phases),
        "completion": sum(r.completion_tokens for r in data.phases),
        "cached": sum(r.cached_tokens for r in data.phases),
        "calls": calls,
        "wall_s": data.summary.get("wall_s") or ((data.ended - data.started) if data.started and data.ended else 0),
        "phases": len(data.phases),
    }
    return data


_ITEM_KINDS = {"message": "message", "retry": "retry", "candidates": "candidates", "human_turn": "human",
               "sandbox": "sandbox", "escalation": "escalation", "notice": "notice"}


def _item(rec: Mapping[str, Any], project: Path) -> Item | None:
    """One record of a phase run as the page shows it (None: not shown, e.g. a person's reply, which is its message)."""
    from chatdev.views.viewstate import clean

    kind = _ITEM_KINDS.get(str(rec.get("kind")))
    if kind is None or (kind == "human" and rec.get("turn") == "reply"):
        return None
    data = dict(rec)
    if kind == "message":
        text, note = _clip(str(rec.get("text", "")), MESSAGE_LIMIT)
        if note:
            note += " (the full text is in .chatdev/transcript.jsonl)"
        shown = [uri for ref in rec.get("images") or [] if (p := _find_file(project, str(ref))) and (uri := _data_uri(p))]
        return Item("message", data, html=render_text(text), note=note, images=shown)
    if kind == "sandbox":
        notes = []
        for key in ("stdout", "stderr"):
            data[key], note = _clip(clean(str(rec.get(key) or "")), OUTPUT_LIMIT, tail=True)
            if note:
                notes.append(f"{key} {note}")
        shot = _find_file(project, str(rec["screenshot"]), inside=True) if rec.get("screenshot") else None
        return Item("sandbox", data, note="; ".join(notes), image=_data_uri(shot) if shot else None)
    return Item(kind, data)


def _add_talk(talks: list[str], sender: str, receiver: str) -> None:
    """Record who talked to whom: ``A → B``, or ``A ⇄ B`` once both ways."""
    one, back, both = f"{sender} → {receiver}", f"{receiver} → {sender}", f"{receiver} ⇄ {sender}"
    if one in talks or both in talks or f"{sender} ⇄ {receiver}" in talks:
        return
    if back in talks:
        talks[talks.index(back)] = both
    else:
        talks.append(one)


def _bars(values: Mapping[str, float], fmt: Any) -> list[Bar]:
    top = max(values.values(), default=0) or 1
    return [Bar(k, v, fmt(v), round(100 * v / top, 1)) for k, v in values.items()]


def _charts(data: ReportData, role_tok: dict[str, int], role_sec: dict[str, float]) -> None:
    from chatdev.views.viewstate import fmt_count, fmt_duration

    data.role_tokens = _bars(role_tok, fmt_count)
    data.role_time = _bars(role_sec, fmt_duration)
    tok: dict[str, float] = {}
    sec: dict[str, float] = {}
    for run in data.phases:
        tok[run.name] = tok.get(run.name, 0) + run.tokens
        sec[run.name] = sec.get(run.name, 0.0) + run.duration
    data.phase_tokens = _bars(tok, fmt_count)
    data.phase_time = _bars(sec, fmt_duration)


# ----------------------------------------------------------------------------- rendering and writing


def _environment() -> Any:
    try:
        import jinja2
    except ImportError as exc:  # pragma: no cover - jinja2 is a hard dependency
        raise WorkspaceError("the report needs the 'jinja2' package", hint="pip install 'jinja2>=3.1'") from exc
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(Path(__file__).parent / "templates")),
        autoescape=True,  # everything a model wrote is escaped
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _code_css() -> str:
    try:
        from pygments.formatters import HtmlFormatter
    except ImportError:
        return ""
    return str(HtmlFormatter(style="default").get_style_defs(".code"))


def render_html(data: ReportData) -> str:
    """The report page for ``data`` (one self-contained HTML document)."""
    from chatdev import __version__
    from chatdev.views.viewstate import fmt_count, fmt_duration

    template = _environment().get_template("report.html.j2")
    return str(template.render(
        r=data,
        nonce=secrets.token_urlsafe(16),
        code_css=_markup(_code_css()),
        version=__version__,
        generated=time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime()),
        started=time.strftime("%Y-%m-%d %H:%M", time.localtime(data.started)) if data.started else "",
        fmt_count=fmt_count,
        fmt_duration=fmt_duration,
        plural=lambda n, word: f"{n} {word}{'' if n == 1 else 's'}",
    ))


def _records(ws: Any) -> list[Mapping[str, Any]]:
    out: list[Mapping[str, Any]] = []
    for rec in ws.transcript():
        out.append(rec.to_dict() if hasattr(rec, "to_dict") else rec)
    return out


def _facts(ws: Any, commits: Sequence[Mapping[str, Any]], *, resumable: bool) -> dict[str, Any]:
    """What the state file and git say about the run (the transcript's BuildEnded carries less).

    ``resumable``: the log's own answer (:attr:`chatdev.project.eventlog.Log.resumable`) to whether
    the latest run stopped early; then what helps is carrying on, not running half a program.
    """
    facts: dict[str, Any] = {"commits": len(commits), "run_hint": f"chatdev run {ws.root}"}
    if resumable:
        facts["run_hint"] = f"chatdev resume {ws.root}"
        facts["resume"] = True
    try:
        facts["files"] = list(ws.files())
    except WorkspaceError:
        pass
    try:
        state = ws.load_state()
    except WorkspaceError:
        return facts
    if isinstance(state.get("tests"), dict):
        facts["tests"] = state["tests"]
    for key in ("wall_s", "status"):
        if state.get(key):
            facts[key] = state[key]
    return facts


def write_report(project: Path) -> Path:
    """Write ``<project>/.chatdev/report.html`` from the transcript and git history; return its path."""
    from chatdev.project.workspace import Workspace

    project = Path(project)
    if not project.is_dir():
        raise WorkspaceError(f"{project}: no such folder", hint="give the folder `chatdev build` made")
    transcript = project / ".chatdev" / "transcript.jsonl"
    if not transcript.is_file():
        raise WorkspaceError(f"{project} has no transcript (.chatdev/transcript.jsonl), so there is nothing to report",
                             hint="build a project first: chatdev build \"a snake game\"")
    ws = Workspace.inspect(project)
    records = _records(ws)
    lines = sum(1 for line in transcript.read_bytes().splitlines() if line.strip())
    if not records:
        raise WorkspaceError(f"{project}: the transcript .chatdev/transcript.jsonl is empty, so there is nothing "
                             "to report", hint="build the project again: chatdev build")
    commits = [c.to_dict() for c in ws.history()]
    log = eventlog.fold(records)
    data = _from_log(log, project=project, diff=ws.diff, commits=commits,
                     facts=_facts(ws, commits, resumable=log.resumable))
    data.skipped_lines = max(0, lines - len(records))
    html = render_html(data)
    out = project / ".chatdev" / REPORT_NAME
    tmp = out.with_name(f".{REPORT_NAME}.{os.getpid()}.tmp")
    try:
        tmp.write_text(html, encoding="utf-8")
        os.replace(tmp, out)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise WorkspaceEnvironmentError(f"cannot write {out}: {exc.strerror or exc}",
                                        hint="check the folder's permissions and free space") from exc
    return out
