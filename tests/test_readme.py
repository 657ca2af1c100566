"""The README is tested: every `chatdev` command in it parses, and the quick ones run for real.

The long ones (`build`, `resume`, `improve` on a real model, `make demo`, `make test`) run in
tests/test_build_e2e.py and in CI (`.ci/run` is `make test`).
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

try:  # typer 0.29 vendors click as typer._click; the click package may be absent
    from typer._click import core as click  # type: ignore[import-not-found]
except ImportError:  # an older typer: the real click
    import click  # type: ignore[no-redef]
import pytest
import typer

from chatdev.cli import app
from tests.scripted_company import company_models, scripted

REPO = Path(__file__).resolve().parent.parent
README = (REPO / "README.md").read_text(encoding="utf-8")


def readme_commands() -> list[list[str]]:
    blocks = re.findall(r"```(?:sh|console|bash)\n(.*?)```", README, re.DOTALL)
    commands = []
    for block in blocks:
        for line in block.replace("\\\n", " ").splitlines():
            line = line.lstrip("$ ").split("  #")[0].split(" # ")[0].strip()
            for part in line.split("&&"):
                words = shlex.split(part.strip())
                if words and words[0] == "chatdev":
                    commands.append(words[1:])
    return commands


def parse(args: list[str]) -> click.Command:
    """Parse a command line the way `chatdev` does, without running it; return the leaf command."""
    command: click.Command = typer.main.get_command(app)
    ctx = command.make_context("chatdev", list(args))
    while hasattr(command, "resolve_command"):  # a group (click.Group, typer's TyperGroup)
        rest = list(getattr(ctx, "_protected_args", None) or getattr(ctx, "protected_args", [])) + ctx.args
        name, sub, rest = command.resolve_command(ctx, rest)
        assert sub is not None, f"unknown command {name}"
        ctx = sub.make_context(name or "", rest, parent=ctx)
        command = sub
    return command


def test_the_readme_names_the_commands() -> None:
    names = {c[0] for c in readme_commands() if c}
    assert {"build", "log", "report", "run", "improve", "resume", "init", "check", "models", "doctor"} <= names


@pytest.mark.parametrize("args", readme_commands(), ids=lambda a: " ".join(a)[:60])
def test_every_readme_command_parses(args: list[str]) -> None:
    parse(args)


def test_quickstart_is_two_make_targets_and_ci_runs_the_test_one() -> None:
    quick = README.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    lines = [ln for ln in re.findall(r"```sh\n(.*?)```", quick, re.DOTALL)[0].splitlines() if ln.strip()]
    assert [ln.split("#")[0].strip() for ln in lines] == ["make demo", "make test"]
    makefile = (REPO / "Makefile").read_text()
    assert 'chatdev build "$(TASK)"' in makefile and "TASK ?= a snake game" in makefile
    assert "make test" in (REPO / ".ci" / "run").read_text()


def test_the_quick_readme_commands_run_on_a_built_project(cli, tmp_path: Path) -> None:
    from chatdev.run import engine

    summary = engine.build(engine.BuildOptions(task="a snake game", out=tmp_path, no_run=True),
                           models=company_models(scripted()))
    project = summary.project
    env = {"BROWSER": "true"}  # `report --open` hands the page to $BROWSER
    for args in (["log", project], ["log", project, "--json"], ["report", project, "--open"], ["models", "list"],
                 ["init", str(tmp_path / "my-company")], ["check", str(tmp_path / "my-company")]):
        result = cli(*args, env=env, cwd=tmp_path)
        assert result.returncode == 0, (args, result.stderr)
    assert (Path(project) / ".chatdev" / "report.html").is_file()
    assert "demand_analysis" in cli("log", project).stdout
    doctor = cli("doctor")
    assert doctor.returncode == 0 and "llama" in doctor.stdout.lower()
