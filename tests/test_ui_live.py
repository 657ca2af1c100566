"""The live view of a real `chatdev build` (real llama.cpp, the real small GGUF), read off a pseudo-terminal."""

from __future__ import annotations

import os
import re
import shutil
import sys
import time
from pathlib import Path

import pytest

COMPANY = """\
name: ChatDev
description: a one-phase company for the live-view test
model: qwen2.5-coder-0.5b
n_ctx: 2048
roles: [ceo, cto, programmer, tester, documenter]
chain:
  - demand_analysis
"""


@pytest.mark.llm
@pytest.mark.slow
def test_live_view_of_a_real_build(tmp_path: Path) -> None:
    pexpect = pytest.importorskip("pexpect")
    pyte = pytest.importorskip("pyte", reason="pip install pyte")
    chatdev = shutil.which("chatdev", path=str(Path(sys.executable).parent)) or shutil.which("chatdev")
    assert chatdev, "the chatdev command is not installed (pip install -e .)"
    from chatdev.company.config import defaults_dir

    company = tmp_path / "company"
    (company / "phases").mkdir(parents=True)
    (company / "company.yaml").write_text(COMPANY, encoding="utf-8")
    phase = (defaults_dir() / "phases" / "demand_analysis.yaml").read_text(encoding="utf-8")
    phase = re.sub(r"(?m)^max_tokens: *\d+", "max_tokens: 64", phase)  # a short reply keeps the test short
    (company / "phases" / "demand_analysis.yaml").write_text(phase, encoding="utf-8")
    rows, cols = 40, 120
    screen = pyte.Screen(cols, rows)
    stream = pyte.ByteStream(screen)
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": str(cols), "LINES": str(rows)}
    env.pop("NO_COLOR", None)
    child = pexpect.spawn(chatdev, ["build", "a dice roller", "--company", str(company), "--no-run", "--seed", "7",
                                    "--model", "qwen2.5-coder-0.5b", "--out", str(tmp_path)],
                          env=env, dimensions=(rows, cols), timeout=None)

    def text() -> str:
        return "\n".join(line.rstrip() for line in screen.display)

    seen_streaming = ""
    deadline = time.time() + 600
    while time.time() < deadline:
        try:
            stream.feed(child.read_nonblocking(65536, timeout=0.2))
        except pexpect.TIMEOUT:
            pass
        except pexpect.EOF:
            break
        now = text()
        # the phase and the speaker while the CTO's reply streams in (the first such frame)
        if not seen_streaming and "▶ demand_analysis" in now and "now   demand_analysis  CTO → CEO" in now \
                and "╭─ CTO" in now and "tok/s" in now:
            seen_streaming = now
    child.close()
    final = text()
    assert seen_streaming, f"the live panel never showed the CTO answering the CEO:\n{final}"
    assert "chain ▶ demand_analysis" in seen_streaming
    assert "org   CEO → CTO" in seen_streaming
    assert "✓ demand_analysis" in final  # the finished phase stays above
    assert "chatdev · " in final and "project" in final  # the summary panel
    assert child.exitstatus in (0, 1), final
    report = next(tmp_path.glob("*/.chatdev/report.html"))
    assert "demand_analysis" in report.read_text(encoding="utf-8")
