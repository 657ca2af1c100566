"""The HTML report: built from a real transcript in a real git repository, checked in a real Chromium."""

from __future__ import annotations

import re
import shutil
import struct
import zlib
from pathlib import Path

import pytest

from chatdev import events as ev
from chatdev.errors import WorkspaceError
from chatdev.project.workspace import Workspace
from chatdev.views import report

EVIL = ('Here is the plan. <script>window.__pwned = 1</script> <img src="x" onerror="window.__pwned = 2">'
        ' and a closing tag </script><b>bold?</b>')
CODE = "import random\n\n\ndef roll() -> int:\n    return random.randint(1, 6)\n\n\nprint('</script>', roll())\n"
PHASES = ["demand_analysis", "coding", "code_review", "code_fix", "code_review", "test_run", "documentation"]


def png(width: int = 96, height: int = 64) -> bytes:
    """A real PNG (a colour gradient), made with zlib only."""
    rows = b"".join(b"\x00" + bytes(c for x in range(width) for c in (x * 2 % 256, y * 4 % 256, 160))
                    for y in range(height))

    def chunk(tag: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def make_project(root: Path, *, huge: int = 0) -> Path:
    """A project written the way a build writes one: events recorded by the workspace, one commit per phase."""
    ws = Workspace.create(root / "dice", company_name="ChatDev")
    rec = ws.record
    (ws.root / ".chatdev" / "images").mkdir(parents=True, exist_ok=True)
    (ws.root / ".chatdev" / "images" / "mockup.png").write_bytes(png(120, 80))
    rec(ev.BuildStarted(task="a dice roller <with> a score", project="dice", company="ChatDev",
                        models={"CEO": "qwen2.5-coder-0.5b", "CTO": "qwen2.5-coder-0.5b",
                                "Programmer": "qwen2.5-coder-0.5b", "Tester": "qwen2.5-coder-0.5b"},
                        chain=["demand_analysis", "coding", "review_loop", "test_run", "documentation"],
                        images=[".chatdev/images/mockup.png"],
                        org=[(0, "CEO"), (1, "CTO"), (2, "Programmer"), (2, "Tester")]))

    def phase(name: str, kind: str, roles: list[str], talk: list[tuple[str, str, str]], *, cycle: int = 0,
              files: dict[str, str] | None = None, status: str = "done", retry: str = "",
              **extra: object) -> str | None:
        rec(ev.PhaseStarted(phase=name, phase_kind=kind, roles=roles, cycle=cycle))
        if retry:
            rec(ev.Retry(phase=name, role=roles[-1], reason=retry, attempt=1))
        for sender, receiver, text in talk:
            rec(ev.Message(phase=name, sender=sender, receiver=receiver, text=text, model="qwen2.5-coder-0.5b",
                           prompt_tokens=200 + len(text) // 4, completion_tokens=len(text) // 4 + 1,
                           prefill_s=0.2, decode_s=len(text) / 400 + 0.1,
                           images=[".chatdev/images/mockup.png"] if (name, sender) == ("demand_analysis", "CEO") else []))
        sha = None
        if files:
            ws.write(files)
            sha = ws.commit(role=roles[-1], phase=name, summary=f"{name} ({len(files)} files)", trailers={})
        rec(ev.PhaseEnded(phase=name, status=status, duration=1.5 + len(talk), cycle=cycle, commit=sha,
                          files=sorted(files or {}), prompt_tokens=300 * len(talk), completion_tokens=80 * len(talk),
                          **extra))  # type: ignore[arg-type]
        return sha

    phase("demand_analysis", "chat", ["CEO", "CTO"], [("CEO", "CTO", "We need a dice roller."), ("CTO", "CEO", EVIL)])
    big = "x" * huge
    phase("coding", "chat", ["CTO", "Programmer"],
          [("CTO", "Programmer", "Write main.py"), ("Programmer", "CTO", f"main.py\n```python\n{CODE}```\n{big}")],
          files={"main.py": CODE})
    phase("code_review", "chat", ["CTO", "Programmer"], [("CTO", "Programmer", "Add a docstring.")], cycle=1,
          verdict={"approved": False})
    phase("code_fix", "chat", ["CTO", "Programmer"],
          [("Programmer", "CTO", "main.py\n```python\n\"\"\"Dice.\"\"\"\n" + CODE + "```")], cycle=1,
          files={"main.py": '"""Dice."""\n' + CODE}, retry="the reply had no code block")
    phase("code_review", "chat", ["CTO", "Programmer"], [("CTO", "Programmer", "Looks good.")], cycle=2,
          verdict={"approved": True})
    screens = ws.root / ".chatdev" / "screens"
    screens.mkdir(parents=True, exist_ok=True)
    (screens / "test_run-1.png").write_bytes(png())
    rec(ev.PhaseStarted(phase="test_run", phase_kind="action", roles=["Tester"], cycle=1))
    rec(ev.SandboxRan(phase="test_run", command="python main.py", exit_code=0, timed_out=False, duration=0.8,
                      stdout="</script> 4\n", stderr="", screenshot=".chatdev/screens/test_run-1.png"))
    rec(ev.SandboxRan(phase="test_run", command="python -m pytest -q", exit_code=1, timed_out=False, duration=2.1,
                      stdout="F\n1 failed", stderr="AssertionError: <b>6 != 7</b>"))
    rec(ev.Escalation(phase="test_run", to_role="CTO", from_role="Tester", decision="accept",
                      directive="ship it; the failing test checks an impossible roll"))
    rec(ev.Notice(level="warning", text="the model cannot see images: mockup.png ignored"))
    rec(ev.PhaseEnded(phase="test_run", status="failed", duration=3.0, cycle=1, reason="1 test failed"))
    phase("documentation", "chat", ["CEO", "Programmer"], [("Programmer", "CEO", "# Dice\n\nRun `python main.py`.")],
          files={"README.md": "# Dice\n\nRun `python main.py`.\n"})
    rec(ev.BuildEnded(status="failed", summary={
        "project": str(ws.root), "status": "failed", "exit_code": 1, "files": ["README.md", "main.py"], "lines": 12,
        "tests": {"ran": True, "passed": False, "summary": "1 failed"}, "commits": 4, "wall_s": 42.0,
        "run_hint": "chatdev run dice"}))
    return ws.root


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_project(tmp_path_factory.mktemp("report"))


@pytest.fixture(scope="module")
def html_path(project: Path) -> Path:
    return report.write_report(project)


def test_report_is_written_in_the_project(project: Path, html_path: Path) -> None:
    assert html_path == project / ".chatdev" / "report.html"
    html = html_path.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>")
    for name in set(PHASES):
        assert f'data-phase="{name}"' in html
    assert html.count('class="phase-entry"') == len(PHASES)


def test_report_is_self_contained(html_path: Path) -> None:
    html = html_path.read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)\s*=\s*["'](https?:|//|file:)""", html)
    assert "@import" not in html and "url(" not in html
    # the user's mockup (in the header and with the message it was sent with) and the screenshot
    assert html.count("data:image/png;base64,") == 3
    assert '<div class="sent"><img src="data:image/png;base64,' in html
    assert "default-src 'none'" in html  # CSP: no request can leave the page


def test_model_text_is_escaped(html_path: Path) -> None:
    html = html_path.read_text(encoding="utf-8")
    assert "<script>window.__pwned" not in html
    assert "&lt;script&gt;window.__pwned = 1&lt;/script&gt;" in html
    assert 'onerror="window' not in html
    assert "&lt;b&gt;6 != 7&lt;/b&gt;" in html
    # the page's only script is chatdev's own, carrying the CSP nonce
    scripts = re.findall(r"<script\b[^>]*>", html)
    assert len(scripts) == 1 and "nonce=" in scripts[0]
    assert html.count("</script>") == 1


def test_code_is_highlighted_and_diffs_shown(project: Path, html_path: Path) -> None:
    html = html_path.read_text(encoding="utf-8")
    assert '<pre class="code"><span class="lang">python</span>' in html
    assert '<span class="kn">import</span>' in html  # Pygments classes
    ws = Workspace.inspect(project)
    shas = [c.sha for c in ws.history() if "main.py" in c.files]
    assert len(shas) == 2
    for sha in shas:
        assert sha[:10] in html
    assert "+&#34;&#34;&#34;Dice.&#34;&#34;&#34;" in html or "Dice." in html
    assert "diff --git a/main.py b/main.py" in html


def test_huge_message_is_truncated_with_a_note(tmp_path: Path) -> None:
    root = make_project(tmp_path, huge=2_000_000)
    size = (root / ".chatdev" / "transcript.jsonl").stat().st_size
    assert size > 2_000_000
    html = report.write_report(root).read_text(encoding="utf-8")
    assert len(html) < 1_000_000
    assert "truncated: showing the first 60,000 of 2,000," in html


def test_no_transcript_is_a_clear_error(tmp_path: Path) -> None:
    Workspace.create(tmp_path / "empty", company_name="ChatDev")
    with pytest.raises(WorkspaceError) as err:
        report.write_report(tmp_path / "empty")
    assert "no transcript" in err.value.line() and err.value.exit_code == 2
    with pytest.raises(WorkspaceError, match="no such folder"):
        report.write_report(tmp_path / "missing")


def test_chatdev_report_without_transcript_exits_2(tmp_path: Path) -> None:
    import subprocess
    import sys

    (tmp_path / "empty").mkdir()
    done = subprocess.run([sys.executable, "-m", "chatdev", "report", str(tmp_path / "empty")],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.startswith(f"chatdev: error: {tmp_path / 'empty'} has no transcript")
    assert done.stderr.count("\n") == 1


def test_cli_report_command(project: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from chatdev.cli import app

    result = CliRunner().invoke(app, ["report", str(project)])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == str(project / ".chatdev" / "report.html")
    Workspace.create(tmp_path / "bare", company_name="ChatDev")
    result = CliRunner().invoke(app, ["report", str(tmp_path / "bare")])
    assert result.exit_code != 0
    assert isinstance(result.exception, WorkspaceError)


def test_collect_counts_tokens_per_role_and_phase(project: Path) -> None:
    data = report.collect(Workspace.inspect(project).transcript(), project=project)
    assert [p.name for p in data.phases] == PHASES
    assert [p.cycle for p in data.phases if p.name == "code_review"] == [1, 2]
    assert {b.label for b in data.role_tokens} == {"CEO", "CTO", "Programmer"}
    assert {b.label for b in data.phase_time} == set(PHASES)
    assert max(b.percent for b in data.role_tokens) == 100.0
    assert data.status == "failed" and len(data.escalations) == 1 and len(data.tests) == 2
    assert data.org == [(0, "CEO"), (1, "CTO"), (2, "Programmer"), (2, "Tester")]
    retry = [i for p in data.phases for i in p.items if i.kind == "retry"]
    assert retry and retry[0].data["reason"] == "the reply had no code block"


# ----------------------------------------------------------------------------- in a real browser


def _chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.skip("Debian's chromium is not installed (apt-get install -y chromium)")
    return path


@pytest.mark.browser
def test_report_in_headless_chromium(html_path: Path, tmp_path: Path) -> None:
    executable = _chromium()
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    url = html_path.resolve().as_uri()
    console: list[str] = []
    errors: list[str] = []
    requests: list[str] = []
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=executable, headless=True,
            viewport={"width": 1280, "height": 900},
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run"])
        try:
            page = browser.pages[0] if browser.pages else browser.new_page()
            page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("request", lambda r: requests.append(r.url))
            page.goto(url, wait_until="load")

            assert [m for m in console if m.startswith(("error", "warning"))] == []
            assert errors == []
            assert requests == [url]
            assert page.evaluate("window.__pwned === undefined")

            entries = page.locator("nav.timeline li.phase-entry")
            assert [entries.nth(i).get_attribute("data-phase") for i in range(entries.count())] == PHASES
            assert page.locator("#overview").is_visible()
            assert not page.locator("section.phase").first.is_visible()

            page.locator('nav.timeline li.phase-entry[data-phase="coding"] a').click()
            coding = page.locator('section.phase[data-phase="coding"]')
            assert coding.is_visible()
            assert not page.locator("#overview").is_visible()
            assert "Write main.py" in coding.inner_text()
            assert coding.locator("pre.code .kn").first.inner_text() == "import"

            page.locator('nav.timeline li.phase-entry[data-phase="demand_analysis"] a').click()
            first = page.locator('section.phase[data-phase="demand_analysis"]')
            assert "<script>window.__pwned = 1</script>" in first.inner_text()  # shown as text, not run
            assert page.evaluate("window.__pwned === undefined")

            page.locator('nav.timeline li.phase-entry[data-phase="test_run"] a').click()
            shot = page.locator('section.phase[data-phase="test_run"] img.shot')
            assert shot.is_visible()
            assert page.evaluate("(img) => img.naturalWidth", shot.element_handle()) == 96

            out = tmp_path / "report.png"
            page.screenshot(path=str(out), full_page=True)
            assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 10_000
            assert [m for m in console if m.startswith("error")] == []
        finally:
            browser.close()


def test_log_shows_the_same_timeline(project: Path) -> None:
    from typer.testing import CliRunner

    from chatdev.cli import app

    result = CliRunner().invoke(app, ["log", str(project)], env={"COLUMNS": "160"})
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    phases = [name for name in PHASES]
    for line in lines[1:]:
        if phases and phases[0] in line:
            phases.pop(0)
    assert phases == [], result.output  # every phase, in order
    assert any("code_review ×2" in line and "approved=yes" in line for line in lines)
    assert any("test_run" in line and "✗" in line and "escalated to CTO: accept" in line for line in lines)
    assert any("coding" in line and "Programmer" in line and "main.py +8/-0" in line for line in lines)


def test_render_text_fences_and_markdown() -> None:
    html = str(report.render_text("Plan:\n**bold** `x<y`\n```python\nprint(1)\n```\nafter"))
    assert '<div class="prose">Plan:\n<strong>bold</strong> <code>x&lt;y</code></div>' in html
    assert '<pre class="code"><span class="lang">python</span>' in html and '<span class="nb">print</span>' in html
    assert html.endswith('<div class="prose">after</div>')
    # a model that forgot the opening fence: what it wrote stays visible as text
    stray = str(report.render_text("main.py\n\nimport os\n```\n\nThis code lists files."))
    assert "<pre" not in stray and "```" in stray and "This code lists files." in stray
    # a reply cut by max_tokens inside a block is still code
    cut = str(report.render_text("```python\ndef f(:\n"))
    assert cut.startswith('<pre class="code"><span class="lang">python</span>')


def test_a_later_improve_run_gets_its_own_section(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    ws = Workspace.open(root, for_write=False) if Workspace.is_project(root) else Workspace.inspect(root)
    ws.record(ev.BuildStarted(task="add a --sides option", project=str(root), company="ChatDev",
                              models={"CTO": "qwen2.5-coder-0.5b", "Programmer": "qwen2.5-coder-0.5b"},
                              chain=["improve"], mode="improve"))
    ws.record(ev.PhaseStarted(phase="improve", phase_kind="chat", roles=["CTO", "Programmer"]))
    ws.record(ev.Message(phase="improve", sender="CTO", receiver="Programmer", text="Add --sides."))
    # killed here: no PhaseEnded, no BuildEnded
    data = report.collect(ws.transcript(), project=root)
    assert [r["mode"] for r in data.runs] == ["build", "improve"]
    assert data.phases[-1].name == "improve" and data.phases[-1].run == 1
    assert data.phases[-1].status == "unfinished" and data.status == "unfinished"
    html = report.write_report(root).read_text(encoding="utf-8")
    assert '<li class="run">build: a dice roller &lt;with&gt; a score</li>' in html
    assert '<li class="run">improve: add a --sides option</li>' in html


def test_an_interrupted_run_points_at_resume(tmp_path: Path) -> None:
    ws = Workspace.create(tmp_path / "stopped", company_name="ChatDev")
    ws.record(ev.BuildStarted(task="a dice roller", project="stopped", company="ChatDev",
                              models={"CEO": "m", "CTO": "m"}, chain=["demand_analysis", "coding"]))
    ws.record(ev.PhaseStarted(phase="demand_analysis", phase_kind="chat", roles=["CEO", "CTO"]))
    ws.record(ev.Message(phase="demand_analysis", sender="CEO", receiver="CTO", text="A dice roller.", model="m"))
    ws.checkpoint({"task": "a dice roller", "status": "interrupted", "reason": "stopped by the user"})
    ws.record(ev.BuildEnded(status="interrupted", summary={"reason": "stopped by the user", "wall_s": 3.0}))
    page = report.write_report(ws.root).read_text()
    assert f"chatdev resume {ws.root}" in page and "Carry on" in page
    assert f"chatdev run {ws.root}" not in page


def test_a_finished_run_points_at_run(project: Path, html_path: Path) -> None:
    page = html_path.read_text()
    assert "Run it" in page and "chatdev resume" not in page
