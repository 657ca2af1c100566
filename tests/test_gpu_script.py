"""The GPU verification script (bench/gpu/verify.py) works: run it on the CPU, small.

The script is meant for a GPU machine (bench/gpu/run.sh builds a CUDA llama.cpp
there first); ``--small`` runs every section on the CPU with a small model shape
against the llama-cpp-python already installed, so CI checks the script itself.
Speed figures on a shared CPU are noise: only their presence is checked here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "bench" / "gpu" / "verify.py"


@pytest.mark.slow
@pytest.mark.llm
def test_verify_small_on_the_cpu(tmp_path: Path) -> None:
    pytest.importorskip("llama_cpp")
    pytest.importorskip("gguf")
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "OUT": ""}
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--small", "--out", str(out), "--workdir", str(tmp_path / "work"),
         "--reps", "2", "--decode", "16", "--words", "40"],
        capture_output=True, text=True, timeout=300, env=env, cwd=str(ROOT), check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    data = json.loads((out / "verify.json").read_text())
    assert data["errors"] == {}

    assert data["build"]["llama_cpp"]["version"] and data["on_gpu"] is False
    gguf = data["model"]["gguf"]
    assert gguf["architecture"] == "llama" and gguf["n_layers"] == 4 and gguf["vocab_size"] == 32000
    assert data["plan"]["plan"]["gpu_layers"] == 0  # no GPU here: the planner keeps it on the CPU
    assert data["plan"]["llama_buffers_mib"]  # llama.cpp's own buffer sizes were read from its log

    speed = data["speed"]
    for kind in ("raw", "chatdev"):
        s = speed["summary"][kind]
        assert s["prefill_tps"] > 0 and s["decode_tps"] > 0 and s["engine_decode_tps"] > 0
    assert speed["ratio"]["decode"] > 0 and speed["ratio"]["prefill"] > 0
    assert {"decode_ratio", "prefill_ratio", "prefix_cache", "vision", "doctor"} <= set(data["checks"])

    prefix = data["prefix"]
    assert len(prefix["turns"]) == 10 and {t["role"] for t in prefix["turns"]} == {"CTO", "Programmer"}
    assert prefix["share"] > 0.3 and data["checks"]["prefix_cache"]["pass"]

    vision = data["vision"]
    assert vision["ok"] and vision["image_tokens"] == vision["expected_image_tokens"]
    assert vision["projector_on_cuda"] is False

    assert data["doctor"]["exit_code"] == 0 and data["doctor"]["json"]["llama_cpp"]["gpu_offload"] is False
    text = (out / "verify.txt").read_text()
    assert "tokens/s" in text and "prefix cache" in text and "PASS  vision" in text
    assert text.strip() in proc.stdout
