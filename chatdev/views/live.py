"""The terminal during a build: the live view, plain lines, or silence.

With ``screens.py`` (what each command prints at the end), the only modules that
import ``rich``, lazily, so ``chatdev --help`` stays fast. Library code emits events; :func:`view` turns them into a live panel
(``live``), one line per event (``plain``), nothing (``quiet``/``json``).
Human output goes to stdout; in ``json`` mode stdout carries exactly one JSON
document and nothing else.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Literal

from chatdev import events as ev
from chatdev.errors import ChatDevError
from chatdev.views.viewstate import (
    BuildState,
    PhaseState,
    candidates_line,
    clean,
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


def terminal(*, stderr: bool = False) -> Console:
    try:
        from rich.console import Console
    except ImportError as exc:  # pragma: no cover - rich is a hard dependency
        raise ChatDevError("the terminal view needs the 'rich' package",
                           hint="pip install 'rich>=13.7'") from exc
    return Console(stderr=stderr, highlight=False)


def print_json(data: Any) -> None:
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


STATUS_MARKS = {"pending": ("○", "dim"), "running": ("▶", "bold yellow"), "done": ("✓", "green"),
                "failed": ("✗", "bold red"), "skipped": ("–", "dim"), "committed": ("●", "blue"),
                "interrupted": ("■", "yellow"), "unfinished": ("…", "yellow")}  # status -> (mark, style)


class LiveView:
    """A sink that updates :class:`BuildState` and draws it with ``rich.live``."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.state = BuildState()
        self._lock = threading.RLock()
        self.live: Any = None

    paused = False  # a person is typing: the panel steps aside (HumanWaiting), back on the next event

    def __call__(self, event: ev.Event) -> None:
        if self.live is not None and isinstance(event, ev.HumanWaiting):
            self.paused = True
            self.live.stop()
            return
        if self.live is not None and self.paused:
            self.paused = False
            self.live.start(refresh=True)
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
            mark, style = STATUS_MARKS.get(event.status, ("?", ""))
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
        if isinstance(event, ev.CandidatesRanked):
            return Text(f"  ⚖ {clean(candidates_line(event))}", "cyan")
        if isinstance(event, ev.HumanTurn):
            return Text(clean(plain_line(event) or ""), "magenta")
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
            title = s.stream_sender or s.speaker or ""
            if s.candidates > 1:
                title += f" · candidate 0 of {s.candidates} decoding together"
            rows.append(Panel(body, title=title, title_align="left",
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
            mark, style = STATUS_MARKS.get(entry.status, ("?", ""))
            if i:
                text.append(" ")
            text.append(f"{mark} {name}", style)
            if entry.cycle:
                text.append(f" ×{entry.cycle}", style)
            if entry.children and entry.status == "running":
                text.append(" [", "dim")
                for j, child in enumerate(entry.children):
                    cmark, cstyle = STATUS_MARKS.get(s.inner.get(child, PhaseState(child)).status, ("?", ""))
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
    console = terminal()
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
