"""The terminal: the live view of a build and the renderers every command uses.

The only module that imports ``rich`` (lazily, so ``chatdev --help`` stays
fast). Library code emits events; :func:`view` turns them into a live panel
(``live``), one line per event (``plain``), nothing (``quiet``/``json``).
Human output goes to stdout; in ``json`` mode stdout carries exactly one JSON
document and nothing else.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Literal

from chatdev import events as ev
from chatdev.errors import ChatDevError
from chatdev.viewstate import (
    BuildState,
    PhaseState,
    _data,
    _run_code,
    _tail,
    clean,
    fmt_bytes,
    fmt_count,
    fmt_duration,
    fmt_progress,
    last_lines,
    one_line,
    plain_line,
)

if TYPE_CHECKING:
    from rich.console import Console, RenderableType
    from rich.text import Text

Mode = Literal["live", "plain", "quiet", "json"]
MODES: tuple[str, ...] = ("live", "plain", "quiet", "json")

STREAM_LINES = 8  # lines of the current reply shown in the live view


def _console(*, stderr: bool = False) -> Console:
    try:
        from rich.console import Console
    except ImportError as exc:  # pragma: no cover - rich is a hard dependency
        raise ChatDevError("the terminal view needs the 'rich' package",
                           hint="pip install 'rich>=13.7'") from exc
    return Console(stderr=stderr, highlight=False)


def _emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str, ensure_ascii=False) + "\n")
    sys.stdout.flush()


# ----------------------------------------------------------------------------- plain: one line per event


class PlainSink:
    """Prints :func:`plain_line` for each event.

    Progress goes to a bar when stdout is a terminal (``models pull``,
    ``sandbox build``), else to a line at most every 10% or 5 s.
    """

    def __init__(self, console: Console) -> None:
        self.console = console
        self._progress_at: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()
        self._bars: Any = None
        self._bar_ids: dict[str, Any] = {}

    def __call__(self, event: ev.Event) -> None:
        with self._lock:
            if isinstance(event, ev.Progress):
                if self.console.is_terminal:
                    self._bar(event)
                    return
                if not self._progress_due(event):
                    return
            line = plain_line(event)
            if line is not None:
                out = self._bars.console if self._bars is not None else self.console
                out.print(line, markup=False, highlight=False, soft_wrap=True)

    def _bar(self, event: ev.Progress) -> None:
        from rich import progress as rp

        if self._bars is None:
            self._bars = rp.Progress(rp.TextColumn("{task.description}"), rp.BarColumn(),
                                     rp.TextColumn("{task.fields[amount]}"), rp.TimeRemainingColumn(),
                                     console=self.console, transient=False)
            self._bars.start()
        task = self._bar_ids.get(event.task)
        if task is None:
            task = self._bar_ids[event.task] = self._bars.add_task(event.task, total=event.total, amount="")
        self._bars.update(task, completed=event.done, total=event.total, amount=fmt_progress(event))

    def close(self) -> None:
        with self._lock:
            if self._bars is not None:
                self._bars.stop()
                self._bars = None

    def _progress_due(self, event: ev.Progress) -> bool:
        last = self._progress_at.get(event.task)
        finished = event.total is not None and event.done >= event.total
        frac = event.done / event.total if event.total else 0.0
        if last is None or finished or event.at - last[0] >= 5 or frac - last[1] >= 0.1:
            self._progress_at[event.task] = (event.at, frac)
            return True
        return False


# ----------------------------------------------------------------------------- live: the panel


_MARK = {"pending": ("○", "dim"), "running": ("▶", "bold yellow"), "done": ("✓", "green"),
         "failed": ("✗", "bold red"), "skipped": ("–", "dim"), "committed": ("●", "blue"),
         "interrupted": ("■", "yellow"), "unfinished": ("…", "yellow")}


class LiveView:
    """A sink that updates :class:`BuildState` and draws it with ``rich.live``."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.state = BuildState()
        self._lock = threading.RLock()
        self.live: Any = None

    def __call__(self, event: ev.Event) -> None:
        with self._lock:
            self.state.apply(event)
            line = None if isinstance(event, (ev.Token, ev.Message, ev.Progress)) else self._log_line(event)
        if line is not None and self.live is not None:
            self.live.console.print(line)
        if self.live is not None and isinstance(event, (ev.PhaseStarted, ev.PhaseEnded, ev.BuildEnded)):
            self.live.refresh()

    def _log_line(self, event: ev.Event) -> RenderableType | None:
        """Lasting lines printed above the panel: phases done, sandbox runs, notices."""
        from rich.text import Text

        if isinstance(event, ev.PhaseEnded):
            mark, style = _MARK.get(event.status, ("?", ""))
            text = Text.assemble((f"{mark} ", style), (event.phase, "bold"))
            if event.cycle:
                text.append(f" (cycle {event.cycle})", "dim")
            if self.state.item and self.state.phase == event.phase:
                text.append(f" · {self.state.item}", "cyan")
            details = [fmt_duration(event.duration)]
            if event.completion_tokens:
                details.append(f"{fmt_count(event.completion_tokens)} tokens out")
            if event.files:
                details.append(f"{len(event.files)} file{'s' if len(event.files) != 1 else ''}")
            if event.commit:
                details.append(event.commit[:7])
            text.append("  " + " · ".join(details), "dim")
            if event.reason:
                text.append(f"  {one_line(event.reason, 80)}", "red" if event.status == "failed" else "dim")
            return text
        if isinstance(event, ev.SandboxRan):
            return self._sandbox_text(event)
        if isinstance(event, ev.Notice):
            style = "yellow" if event.level == "warning" else "cyan"
            return Text(f"{'!' if event.level == 'warning' else 'i'} {clean(event.text)}", style)
        if isinstance(event, ev.Escalation):
            return Text(f"⇧ {event.from_role} escalated to {event.to_role}: {event.decision}"
                        + (f" — {one_line(event.directive, 80)}" if event.directive else ""), "magenta")
        if isinstance(event, ev.Retry):
            return Text(f"  ↻ {event.role} retries ({event.attempt}): {one_line(event.reason, 80)}", "yellow")
        return None

    @staticmethod
    def _sandbox_text(event: ev.SandboxRan) -> Text:
        from rich.text import Text

        ok = not event.timed_out and event.exit_code == 0
        outcome = "timed out" if event.timed_out else f"exit {event.exit_code}"
        text = Text.assemble(("  ⬢ " if ok else "  ⬡ ", "green" if ok else "red"), (clean(event.command), "bold"),
                             (f"  {outcome} in {fmt_duration(event.duration)}", "green" if ok else "red"))
        if not ok:
            tail = (event.stderr or event.stdout).strip().splitlines()
            if tail:
                text.append(f"  {one_line(tail[-1], 80)}", "dim")
        return text

    def __rich__(self) -> RenderableType:
        with self._lock:
            return self._render()

    def _render(self) -> RenderableType:
        from rich.console import Group
        from rich.panel import Panel
        from rich.progress_bar import ProgressBar
        from rich.table import Table
        from rich.text import Text

        s = self.state
        width = max(40, self.console.width - 4)
        rows: list[RenderableType] = []
        if s.task:
            rows.append(Text.assemble(("task  ", "dim"), one_line(s.task, width - 6)))
        if s.org:
            rows.append(Text.assemble(("org   ", "dim"), self._org_text()))
        if s.chain:
            rows.append(Text.assemble(("chain ", "dim"), self._chain_text()))
        if s.phase:
            head = Text.assemble(("now   ", "dim"), (s.phase, "bold yellow"))
            if s.cycle:
                head.append(f" · cycle {s.cycle}", "yellow")
            if s.item:
                head.append(f" · {s.item}", "cyan")
            if s.speaker:
                head.append("  ")
                head.append(s.speaker, "bold reverse green")
                if s.listener:
                    head.append(" → ")
                    head.append(s.listener, "bold green")
            if s.waiting:
                head.append(f"  {s.waiting[0]} is reading… {fmt_duration(time.time() - s.waiting[1])}",
                            "italic dim")
            rows.append(head)
            shown = max(3, min(STREAM_LINES, self.console.height - 16))
            lines = last_lines(s.stream, width=width - 4, count=shown)
            body = Text("\n".join(lines) or "…", "white", no_wrap=True, overflow="ellipsis")
            rows.append(Panel(body, title=s.stream_sender or s.speaker or "", title_align="left",
                              border_style="dim", height=shown + 2))
        stats = Text()
        stats.append(f"{fmt_count(s.prompt_tokens)} in · {fmt_count(s.completion_tokens)} out", "")
        if s.cached_tokens:
            stats.append(f" · {fmt_count(s.cached_tokens)} cached", "dim")
        if s.rate:
            stats.append(f" · {s.rate:.1f} tok/s", "cyan")
        stats.append(f" · {s.llm_calls} call{'s' if s.llm_calls != 1 else ''}", "dim")
        if s.retries:
            stats.append(f" · {s.retries} retries", "yellow")
        rows.append(Text.assemble(("tokens ", "dim"), stats))
        if s.sandbox:
            rows.append(Text.assemble(("sandbox", "dim"), self._sandbox_text(s.sandbox[-1])))
        for prog in list(s.progress.values())[-3:]:
            grid = Table.grid(padding=(0, 1))
            grid.add_row(Text(one_line(prog.task, 30)),
                         ProgressBar(total=prog.total, completed=prog.done, width=30)
                         if prog.total else ProgressBar(total=None, width=30, pulse=True),
                         Text(fmt_progress(prog), "dim"))
            rows.append(grid)
        title = f"chatdev · {s.project}" if s.project else "chatdev"
        status = f" {s.status}" if s.status else ""
        return Panel(Group(*rows), title=title, title_align="left",
                     subtitle=f"{fmt_duration(s.elapsed())}{status}", subtitle_align="right",
                     border_style="blue")

    def _org_text(self) -> Text:
        """The org chart by level, ``CEO → CTO · Documenter → Programmer · Tester``, the two talking lit."""
        from rich.text import Text

        s = self.state
        levels: dict[int, list[str]] = {}
        for depth, role in s.org:
            levels.setdefault(depth, []).append(role)
        text = Text()
        for i, depth in enumerate(sorted(levels)):
            if i:
                text.append(" → ", "dim")
            for j, role in enumerate(levels[depth]):
                if j:
                    text.append(" · ", "dim")
                style = ("bold reverse green" if role == s.speaker else
                         "bold green" if role == s.listener else "")
                text.append(role, style)
        return text

    def _chain_text(self) -> Text:
        from rich.text import Text

        s = self.state
        text = Text()
        for i, name in enumerate(s.chain):
            entry = s.top[name]
            mark, style = _MARK.get(entry.status, ("?", ""))
            if i:
                text.append(" ")
            text.append(f"{mark} {name}", style)
            if entry.cycle:
                text.append(f" ×{entry.cycle}", style)
            if entry.children and entry.status == "running":
                text.append(" [", "dim")
                for j, child in enumerate(entry.children):
                    cmark, cstyle = _MARK.get(s.inner.get(child, PhaseState(child)).status, ("?", ""))
                    text.append(("" if j == 0 else " ") + f"{cmark} {child}", cstyle)
                text.append("]", "dim")
        return text


# ----------------------------------------------------------------------------- the view


@contextmanager
def view(mode: str) -> Iterator[ev.EventSink]:
    """Yield the sink a build's events go to, drawn as ``mode`` says."""
    if mode not in MODES:
        raise ChatDevError(f"unknown display mode {mode!r}", hint=f"one of {', '.join(MODES)}")
    if mode in ("quiet", "json"):
        yield ev.null_sink
        return
    console = _console()
    if mode == "plain" or not console.is_terminal or console.is_dumb_terminal:
        plain = PlainSink(console)
        try:
            yield plain
        finally:
            plain.close()
        return
    from rich.live import Live

    sink = LiveView(console)
    with Live(sink, console=console, refresh_per_second=8, transient=True,
              redirect_stdout=True, redirect_stderr=True) as live:
        sink.live = live
        try:
            yield sink
        finally:
            sink.live = None


# ----------------------------------------------------------------------------- renderers


def _status_style(status: str) -> str:
    return {"passed": "green", "failed": "red", "error": "red", "interrupted": "yellow",
            "untested": "yellow"}.get(status, "")


def show_summary(summary: Any, *, mode: str) -> int:
    """The end-of-run panel (or the JSON summary); returns the exit code."""
    data = _data(summary)
    code = int(getattr(summary, "exit_code", data.get("exit_code", 0)) or 0)
    if mode == "json":
        _emit_json(data)
        return code
    from rich.console import Group
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text

    console = _console()
    status = str(data.get("status", "?"))
    style = _status_style(status)
    rows: list[RenderableType] = []
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column()
    if data.get("task"):
        grid.add_row("task", Text(one_line(str(data["task"]), 200)))
    grid.add_row("project", Text(str(data.get("project", "?")), "bold"))
    if data.get("reason"):
        grid.add_row("why", Text(one_line(str(data["reason"]), 300), style or "yellow"))
    tests = data.get("tests") or {}
    if tests:
        if tests.get("ran"):
            ok = bool(tests.get("passed"))
            grid.add_row("tests", Text(f"{'passed' if ok else 'failed'}"
                                       + (f": {one_line(str(tests.get('summary') or ''), 160)}"
                                          if tests.get("summary") else ""), "green" if ok else "red"))
        else:
            grid.add_row("tests", Text(str(tests.get("summary") or "not run"), "dim"))
    files = data.get("files") or []
    if files:
        shown = clean(", ".join(str(f) for f in files[:8])) + (f", … (+{len(files) - 8})" if len(files) > 8 else "")
        grid.add_row("files", Text(f"{len(files)} files, {data.get('lines', 0)} lines: {shown}"))
    tokens = data.get("tokens") or {}
    if tokens:
        tok = f"{fmt_count(tokens.get('prompt'))} in · {fmt_count(tokens.get('completion'))} out"
        if tokens.get("cached"):
            tok += f" · {fmt_count(tokens.get('cached'))} cached"
        tok += f" · {data.get('llm_calls', 0)} model calls"
        if data.get("model"):
            tok += f" · {data['model']}"
        grid.add_row("tokens", Text(tok))
    grid.add_row("time", Text(fmt_duration(data.get("wall_s"))
                              + (f" · {data['commits']} commits" if data.get("commits") is not None else "")
                              + (f" · {data['escalations']} escalations" if data.get("escalations") else "")))
    if data.get("run_hint"):
        grid.add_row("resume" if data.get("reason") else "run it", Text(str(data["run_hint"]), "bold cyan"))
    if data.get("report"):
        grid.add_row("report", Text(str(data["report"]), "cyan"))
    rows.append(grid)
    phases = data.get("phases") or []
    if phases:
        rows.append(Text(""))
        rows.append(_phases_line(phases))
    console.print(Panel(Group(*rows), title=f"chatdev · {status}", title_align="left", border_style=style or "blue"))
    return code


def _phases_line(phases: Sequence[dict[str, Any]]) -> RenderableType:
    from rich.text import Text

    text = Text()
    for i, ph in enumerate(phases):
        mark, style = _MARK.get(str(ph.get("status")), ("?", ""))
        if i:
            text.append("  ")
        text.append(f"{mark} {ph.get('name')}", style)
        if ph.get("cycle"):
            text.append(f"×{ph['cycle']}", style)
        text.append(f" {fmt_duration(ph.get('duration'))}", "dim")
    return text


def _mark(ok: bool | None) -> Text:
    from rich.text import Text

    if ok is None:
        return Text("–", "dim")
    return Text("✓", "green") if ok else Text("✗", "bold red")


def _grid() -> Any:
    from rich.table import Table

    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column()
    return grid


def show_timeline(entries: Sequence[Any]) -> None:
    """``chatdev log``: one row per phase run, a rule between builds, resumes and improvements."""
    from rich.table import Table
    from rich.text import Text

    console = _console()
    rows = [_data(e) for e in entries]
    if not rows:
        console.print("no phases recorded yet", style="dim")
        return
    table = Table(header_style="bold", box=None, padding=(0, 1), pad_edge=False)
    table.add_column("#", justify="right", style="dim")
    for col in ("phase", "", "who"):
        table.add_column(col)
    table.add_column("time", justify="right")
    table.add_column("tokens", justify="right")
    table.add_column("commit")
    table.add_column("files")
    table.add_column("notes", overflow="fold")
    run = None
    for row in rows:
        if row.get("run") != run and len({r.get("run") for r in rows}) > 1:
            run = row.get("run")
            table.add_row("", Text(f"── {row.get('mode', 'build')} (run {run})", "bold blue"), *[""] * 7)
        mark, style = _MARK.get(str(row.get("status")), ("?", "yellow"))
        phase = Text(str(row.get("phase", "?")), "bold")
        if row.get("cycle"):
            phase.append(f" ×{row['cycle']}", "dim")
        if row.get("item"):
            phase.append(f" {row['item']}", "cyan")
        notes: list[str] = []
        verdict = row.get("verdict") or {}
        notes += [f"{k}={'yes' if v is True else 'no' if v is False else v}" for k, v in verdict.items()]
        if row.get("retries"):
            notes.append(f"{row['retries']} retries")
        if row.get("sandbox_runs"):
            notes.append(f"{row['sandbox_runs']} sandbox runs")
        for esc in row.get("escalations") or []:
            notes.append(f"escalated to {esc.get('to_role')}: {esc.get('decision')}")
        if row.get("reason"):
            notes.append(one_line(str(row["reason"]), 80))
        commit = Text(str(row.get("commit") or "")[:8], "yellow")
        if row.get("author"):
            commit.append(f" {row['author']}", "dim")
        files = row.get("files") or []
        changes = f" +{row.get('insertions', 0)}/-{row.get('deletions', 0)}" if files else ""
        tokens = int(row.get("prompt_tokens") or 0) + int(row.get("completion_tokens") or 0)
        table.add_row(str(row.get("index", "")), phase, Text(mark, style),
                      Text(" ⇄ ".join(row.get("roles") or []), "dim"), fmt_duration(row.get("duration")),
                      fmt_count(tokens) if tokens else "", commit,
                      Text(clean(", ".join(files[:3])) + (f" +{len(files) - 3}" if len(files) > 3 else "") + changes),
                      Text("; ".join(notes), "dim"))
    console.print(table)


def show_run(report: Any, *, as_json: bool) -> int:
    """``chatdev run``: the program's outcome. 0 when it works, 1 when it does not."""
    from rich.console import Group
    from rich.panel import Panel
    from rich.text import Text

    data = _data(report)
    code = _run_code(report, data)
    if as_json:
        _emit_json(data)
        return code
    parts: list[RenderableType] = []
    grid = _grid()
    if "static_ok" in data:
        grid.add_row("static check", _mark(data.get("static_ok")))
    if data.get("entry"):
        grid.add_row("entry", Text(str(data["entry"])))
    for key in ("run", "tests"):
        result = data.get(key)
        if isinstance(result, dict):
            # a long-running program (a game) still running at the end of its window without a
            # traceback works: the report's own verdict decides, not the exit code alone
            still_running = bool(result.get("timed_out")) and key == "run" and bool(data.get("passed"))
            ok = (result.get("exit_code") == 0 and not result.get("timed_out")) or still_running
            how = ("still running at the end of its window (stopped)" if still_running
                   else "timed out (stopped)" if result.get("timed_out") else f"exit {result.get('exit_code')}")
            if result.get("oom_killed"):
                how += ", out of memory"
            grid.add_row(key, Text.assemble(_mark(ok), f" {how} in {fmt_duration(result.get('duration'))}"))
    if data.get("tests_found") is False:
        grid.add_row("tests", Text("none found", "dim"))
    if data.get("screenshot_path"):
        grid.add_row("screenshot", Text(str(data["screenshot_path"]), "cyan"))
    parts.append(grid)
    for key in ("run", "tests"):
        result = data.get(key)
        if isinstance(result, dict):
            for stream in ("stdout", "stderr"):
                if str(result.get(stream) or "").strip():
                    parts.append(Text(f"\n{key} {stream}:", "bold"))
                    parts.append(Text(_tail(str(result[stream])), "red" if stream == "stderr" else ""))
    if data.get("static_ok") is False and data.get("static_output"):
        parts.append(Text("\nstatic check:", "bold"))
        parts.append(Text(_tail(str(data["static_output"]))))
    if data.get("summary"):
        parts.append(Text("\n" + str(data["summary"]), "green" if code == 0 else "red"))
    title = "chatdev run · " + ("works" if code == 0 else "fails")
    _console().print(Panel(Group(*parts), title=title, title_align="left", border_style="green" if code == 0 else "red"))
    return code


def show_bench(results: Any, *, as_json: bool) -> None:
    """``chatdev bench``: one row per task, then the medians."""
    from rich.table import Table
    from rich.text import Text

    data = _data(results)
    if as_json:
        _emit_json(data)
        return
    console = _console()
    table = Table(title=f"chatdev bench · {data.get('model', '')}", title_justify="left", header_style="bold",
                  box=None, padding=(0, 1), pad_edge=False)
    table.add_column("task", min_width=16, overflow="fold")
    table.add_column("status")
    for col in ("time", "tokens", "calls", "files", "lines", "sandbox", "tests"):
        table.add_column(col, justify="right", no_wrap=True)
    for row in data.get("tasks") or []:
        status = str(row.get("status", "?"))
        table.add_row(Text(one_line(str(row.get("task", "")), 50)),
                      Text(status, _status_style(status) or "yellow"), fmt_duration(row.get("wall_s")),
                      fmt_count(row.get("total_tokens")), str(row.get("llm_calls", "")), str(row.get("files", "")),
                      str(row.get("lines", "")), _mark(row.get("sandbox_ran")), _mark(row.get("tests_passed")))
        if row.get("error"):
            table.add_row(Text("  " + one_line(str(row["error"]), 100), "red"), *[""] * 8)
    console.print(table)
    med = data.get("medians") or {}
    if med:
        console.print(Text(
            f"median: {fmt_duration(med.get('wall_s'))} · {fmt_count(med.get('total_tokens'))} tokens · "
            f"{med.get('llm_calls', 0):.0f} calls · {med.get('files', 0):.0f} files · "
            f"ran in the sandbox {med.get('ran_in_sandbox', 0):.0%} · tests passed {med.get('tests_passed', 0):.0%}"))


def show_doctor(report: Any, *, as_json: bool) -> None:
    """``chatdev doctor``: what this machine can do, the warnings first."""
    from rich.text import Text

    data = _data(report)
    if as_json:
        _emit_json(data)
        return
    console = _console()
    grid = _grid()
    grid.add_row("chatdev", Text(f"{data.get('chatdev', '?')} · Python {data.get('python', '?')}"))
    llama = data.get("llama_cpp") or {}
    if llama.get("error"):
        grid.add_row("llama.cpp", Text.assemble(_mark(False), f" {llama['error']}"))
    elif llama:
        grid.add_row("llama.cpp", Text.assemble(
            _mark(True), f" {llama.get('version') or '?'} · backends {', '.join(llama.get('backends') or []) or '?'}"
            f" · GPU offload {'yes' if llama.get('gpu_offload') else 'no'}"))
    gpus = data.get("gpus") or []
    if gpus:
        for gpu in gpus:
            cap = f", compute {gpu['compute_cap']}" if gpu.get("compute_cap") else ""
            grid.add_row("GPU", Text(f"{gpu.get('index', '')}: {gpu.get('name', '?')} · "
                                     f"{fmt_bytes(gpu.get('free_bytes'))} free of {fmt_bytes(gpu.get('total_bytes'))}"
                                     f" · driver {gpu.get('driver', '?')}{cap}"))
    else:
        grid.add_row("GPU", Text(str(data.get("gpu_error") or "none: models run on the CPU"), "dim"))
    docker = data.get("docker")
    if isinstance(docker, dict):
        grid.add_row("sandbox", _sandbox_line(docker))
    else:
        grid.add_row("sandbox", Text.assemble(_mark(False), f" {data.get('docker_error') or 'Docker not checked'}"))
    if data.get("build_model"):
        grid.add_row("build model", Text(str(data["build_model"]), "bold"))
    elif data.get("build_model_error"):
        grid.add_row("build model", Text.assemble(_mark(False), f" {data['build_model_error']}"))
    offload = data.get("offload")
    if isinstance(offload, dict):
        grid.add_row("offload", Text(str(offload.get("reason") or offload)))
    console.print(grid)
    models = data.get("models") or []
    if models:
        console.print(_models_table(models))
    elif data.get("models_error"):
        console.print(Text(f"models: {data['models_error']}", "red"))
    for line in data.get("warnings") or []:
        console.print(Text(f"! {line}", "bold yellow"))
    for line in data.get("notes") or []:
        console.print(Text(f"  {line}", "dim"))


def _sandbox_line(d: dict[str, Any]) -> Text:
    from rich.text import Text

    text = Text()
    text.append_text(_mark(bool(d.get("engine_reachable"))))
    text.append(f" Docker {d.get('engine_version') or ''}".rstrip() if d.get("engine_reachable") else " Docker unreachable")
    text.append(" · ")
    text.append_text(_mark(bool(d.get("image_present")) and bool(d.get("image_current", True))))
    state = "current" if d.get("image_current") else "out of date" if d.get("image_present") else "missing"
    text.append(f" image {d.get('image', '?')} {state} · ")
    text.append_text(_mark(bool(d.get("hardened_run_ok"))))
    text.append(" hardened run" + (f" {fmt_duration(d['run_seconds'])}" if d.get("run_seconds") else ""))
    if d.get("problem"):
        text.append(f"\n{d['problem']}", "red")
    if d.get("hint"):
        text.append(f"\n→ {d['hint']}", "cyan")
    return text


def _models_table(rows: Sequence[dict[str, Any]]) -> RenderableType:
    from rich.table import Table
    from rich.text import Text

    table = Table(header_style="bold", box=None, padding=(0, 2), pad_edge=False)
    for col in ("model", "here", "vision", "size", "from", "about"):
        table.add_column(col, overflow="fold" if col == "about" else "ellipsis",
                         no_wrap=col in ("model", "size"))
    for row in rows:
        about = Text(str(row.get("description", "")))
        for note in row.get("notes") or []:
            about.append(f"\n{note}", "dim")
        table.add_row(Text(str(row.get("name", "?")), "bold"), _mark(bool(row.get("present"))),
                      Text("yes" if row.get("vision") else ""), fmt_bytes(row.get("size")) if row.get("size") else "",
                      Text(", ".join(dict.fromkeys(str(s).split(":", 1)[0] for s in row.get("sources") or [])),
                           "dim"), about)
    return table


def show_models(entries: Sequence[Any], *, as_json: bool) -> None:
    """``chatdev models list``."""
    rows = [_data(e) for e in entries]
    if as_json:
        _emit_json(rows)
        return
    console = _console()
    if not rows:
        console.print("no models known", style="dim")
        return
    console.print(_models_table(rows))


def show_model_info(info: Any, *, as_json: bool) -> None:
    """``chatdev models info``: the facts of a GGUF header, in words."""
    from rich.text import Text

    d = _data(info)
    if as_json:
        _emit_json(d)
        return
    grid = _grid()
    grid.add_row("file", Text(str(d.get("path", "?"))))
    kind = "vision projector" if d.get("is_vision_projector") else "language model"
    grid.add_row("model", Text(f"{d.get('name') or '?'} · {d.get('architecture', '?')} {kind}"))
    grid.add_row("size", Text(f"{fmt_bytes(d.get('file_size'))} · {d.get('quantization', '?')}"
                              f" · {fmt_count(d.get('n_tensors'))} tensors · GGUF v{d.get('gguf_version', '?')}"))
    if d.get("is_vision_projector"):
        geometry = f"{d.get('image_size')}px images, {d.get('patch_size')}px patches" if d.get("image_size") else "?"
        grid.add_row("projector", Text(f"{d.get('projector_type') or '?'} · {geometry}"
                                       f" · feeds {d.get('projection_dim') or '?'}-wide embeddings"))
    else:
        grid.add_row("shape", Text(f"{d.get('n_layers')} layers · {d.get('n_embd')} wide · {d.get('n_head')} heads"
                                   f" ({d.get('n_head_kv')} KV) · vocabulary {fmt_count(d.get('vocab_size'))}"))
        ctx = int(d.get("n_ctx_train") or 0)
        kv = int(d.get("kv_bytes_per_token") or 0)
        grid.add_row("context", Text(f"{ctx:,} tokens trained · KV cache {fmt_bytes(kv)} per token"
                                     + (f" ({fmt_bytes(kv * 4096)} at 4,096)" if kv else "")))
        template = d.get("chat_template") or ""
        grid.add_row("chat template", Text(f"yes ({len(template):,} characters)" if d.get("has_chat_template")
                                           else "none: chatdev picks a chat format by architecture",
                                           "" if d.get("has_chat_template") else "yellow"))
    _console().print(grid)


def show_sandbox_check(status: Any, *, as_json: bool) -> int:
    """``chatdev sandbox check``: 0 when a hardened run works, 3 (environment) otherwise."""
    data = _data(status)
    ok = getattr(status, "ok", data.get("ok"))
    code = 0 if ok in (True, None) else 3
    if as_json:
        _emit_json(data)
    else:
        _console().print(_sandbox_line(data))
    return code
