"""What each command prints when it is done: the build summary, timelines, doctor, models.

Every renderer takes typed results (or their dicts) and a JSON switch: human
output is rich text on stdout; ``as_json`` prints exactly one JSON document.
Imports ``rich`` lazily, as ``ui.py`` does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from chatdev.views.live import STATUS_MARKS, print_json, terminal
from chatdev.views.viewstate import _data, _run_code, _tail, clean, fmt_bytes, fmt_count, fmt_duration, one_line

if TYPE_CHECKING:
    from rich.console import RenderableType
    from rich.text import Text


def _status_style(status: str) -> str:
    return {"passed": "green", "failed": "red", "error": "red", "interrupted": "yellow",
            "untested": "yellow", "tests_fail": "yellow"}.get(status, "")


def show_summary(summary: Any, *, mode: str) -> int:
    """The end-of-run panel (or the JSON summary); returns the exit code."""
    data = _data(summary)
    code = int(getattr(summary, "exit_code", data.get("exit_code", 0)) or 0)
    if mode == "json":
        print_json(data)
        return code
    from rich.console import Group
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text

    console = terminal()
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
            for label, text, ok in verdict_rows(tests):
                grid.add_row(label, Text.assemble(_mark(ok), f" {one_line(text, 200)}"))
        else:
            grid.add_row("runs", Text(str(tests.get("summary") or "not run"), "dim"))
    files = data.get("files") or []
    if files:
        shown = clean(", ".join(str(f) for f in files[:8])) + (f", … (+{len(files) - 8})" if len(files) > 8 else "")
        grid.add_row("files", Text(f"{len(files)} files, {data.get('lines', 0)} lines: {shown}"))
    tokens = data.get("tokens") or {}
    if tokens:
        tok = f"{fmt_count(tokens.get('prompt'))} in · {fmt_count(tokens.get('completion'))} out"
        if tokens.get("cached"):
            tok += f" · {fmt_count(tokens.get('cached'))} cached"
        if tokens.get("drafted"):
            tok += f" · {fmt_count(tokens.get('drafted'))} drafted"
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


def verdict_rows(tests: dict[str, Any]) -> list[tuple[str, str, bool | None]]:
    """("runs", why, ok) and ("tests", counts, ok): two separate facts, never one."""
    runs = tests.get("runs", tests.get("passed"))
    rows: list[tuple[str, str, bool | None]] = [
        ("runs", ("yes: " if runs else "no: ") + str(tests.get("run_reason") or ""), runs)]
    counts = tests.get("counts") or {}
    passed, failed = int(counts.get("passed", 0)), int(counts.get("failed", 0))
    extra = [f"{counts[k]} {k}" for k in ("defects", "quarantined") if counts.get(k)]
    if tests.get("tests_pass") is None:
        text = "none that count" + (f" ({', '.join(extra)})" if extra else "")
    else:
        text = f"{passed} of {passed + failed} pass" + (f" · {', '.join(extra)}" if extra else "")
    rows.append(("tests", text, tests.get("tests_pass")))
    return rows


def _phases_line(phases: Sequence[dict[str, Any]]) -> RenderableType:
    from rich.text import Text

    text = Text()
    for i, ph in enumerate(phases):
        mark, style = STATUS_MARKS.get(str(ph.get("status")), ("?", ""))
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

    console = terminal()
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
        mark, style = STATUS_MARKS.get(str(row.get("status")), ("?", "yellow"))
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
        for pick in row.get("candidates") or []:
            where = f" for {pick['item']}" if pick.get("item") else ""
            notes.append(f"candidate {pick.get('winner')} of {pick.get('of')} kept{where} ({pick.get('why', '')})")
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
        print_json(data)
        return code
    parts: list[RenderableType] = []
    grid = _grid()
    if "static_ok" in data:
        grid.add_row("static check", _mark(data.get("static_ok")))
    if data.get("entry"):
        grid.add_row("entry", Text(str(data["entry"])))
    if "runs" in data:
        for label, text, ok in verdict_rows({**data, "counts": data.get("counts") or {}}):
            grid.add_row(label, Text.assemble(_mark(ok), f" {one_line(text, 200)}"))
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
    title = "chatdev run · " + {0: "works", 4: "runs, tests fail"}.get(code, "does not run")
    terminal().print(Panel(Group(*parts), title=title, title_align="left", border_style="green" if code == 0 else "red"))
    return code


def show_bench(results: Any, *, as_json: bool) -> None:
    """``chatdev bench``: one row per task (the verdicts a user sees, time, tokens), then the totals."""
    from rich.table import Table
    from rich.text import Text

    data = _data(results)
    if as_json:
        print_json(data)
        return
    console = terminal()
    table = Table(title=f"chatdev bench · {data.get('model', '')}", title_justify="left", header_style="bold",
                  box=None, padding=(0, 1), pad_edge=False)
    table.add_column("task", min_width=12, ratio=1, overflow="fold")
    table.add_column("status", no_wrap=True)
    verdicts = ("runs", "tests_pass", "complete", "does_task")
    for col in ("runs", "tests", "complete", "does task"):
        table.add_column(col, justify="center", no_wrap=True)
    for col in ("time", "tokens", "calls"):
        table.add_column(col, justify="right", no_wrap=True)
    wide = console.width >= 110  # room for the phase each task spent most time in
    if wide:
        table.add_column("most time", no_wrap=True, overflow="ellipsis", max_width=24)
    notes: list[Text] = []
    for row in data.get("tasks") or []:
        status = str(row.get("status", "?"))
        task = one_line(str(row.get("task", "")), 50)
        phases = row.get("phases") or {}
        slowest = max(phases.items(), key=lambda kv: kv[1]) if phases else None
        table.add_row(Text(task), Text(status, _status_style(status) or "yellow"),
                      *[_mark(row.get(k)) for k in verdicts],
                      fmt_duration(row.get("wall_s")), fmt_count(row.get("tokens")), str(row.get("calls", "")),
                      *([f"{slowest[0]} {fmt_duration(slowest[1])}" if slowest else ""] if wide else []))
        short = one_line(task, 30)
        failed = [s for s in row.get("scenarios") or [] if not s.get("passed")]
        if failed:
            notes.append(Text(f"{short}: check {one_line(str(failed[0].get('name', '')), 40)!r}: "
                              f"{one_line(str(failed[0].get('reason', '')), 80)}", "yellow"))
        if row.get("placeholders"):
            more = len(row["placeholders"]) - 1
            notes.append(Text(f"{short}: placeholder {one_line(str(row['placeholders'][0]), 80)}"
                              + (f" (+{more} more)" if more > 0 else ""), "yellow"))
        if row.get("error"):
            notes.append(Text(f"{short}: {one_line(str(row['error']), 100)}", "red"))
    console.print(table)
    for note in notes:
        console.print(note)
    total = data.get("total") or {}
    counts = total.get("counts") or {}
    if data.get("tasks"):
        parts = []
        for key in verdicts:
            share, (yes, of) = total.get(key), counts.get(key) or (0, 0)
            parts.append(f"{key.replace('_', ' ')} {'–' if share is None else f'{share:.0%}'} ({yes}/{of})")
        console.print(Text(f"total: {' · '.join(parts)}"), soft_wrap=True)
    med = data.get("medians") or {}
    if med:
        console.print(Text(f"median: {fmt_duration(med.get('wall_s'))} · {fmt_count(med.get('tokens'))} tokens · "
                           f"{med.get('calls', 0):.0f} calls · {med.get('files', 0):.0f} files · "
                           f"{med.get('lines', 0):.0f} lines"))
    phases = data.get("phases") or {}
    if phases:
        spent = sum(phases.values()) or 1.0
        top = list(phases.items())[:6]
        console.print(Text("time went to: " + ", ".join(f"{name} {fmt_duration(sec)} ({sec / spent:.0%})"
                                                        for name, sec in top)))


def show_doctor(report: Any, *, as_json: bool) -> None:
    """``chatdev doctor``: what this machine can do, the warnings first."""
    from rich.text import Text

    data = _data(report)
    if as_json:
        print_json(data)
        return
    console = terminal()
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
    if not d.get("engine_reachable"):
        state = "not checked"  # without an engine there is no telling whether the image is there
    else:
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
        print_json(rows)
        return
    console = terminal()
    if not rows:
        console.print("no models known", style="dim")
        return
    console.print(_models_table(rows))


def show_model_info(info: Any, *, as_json: bool) -> None:
    """``chatdev models info``: the facts of a GGUF header, in words."""
    from rich.text import Text

    d = _data(info)
    if as_json:
        print_json(d)
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
    terminal().print(grid)


def show_sandbox_check(status: Any, *, as_json: bool) -> int:
    """``chatdev sandbox check``: 0 when a hardened run works, 3 (environment) otherwise."""
    data = _data(status)
    ok = getattr(status, "ok", data.get("ok"))
    code = 0 if ok in (True, None) else 3
    if as_json:
        print_json(data)
    else:
        terminal().print(_sandbox_line(data))
    return code
