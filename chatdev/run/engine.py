"""Build, resume and improve: the three ways a company gets to work on a project.

Everything that can be refused is refused before the project folder is made
(the task, the images, the company, the models, the sandbox), so bad input
never leaves half a project behind.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from chatdev import events
from chatdev.company.config import Company, LoopPhase, load_company
from chatdev.errors import ChatDevError, UsageError, WorkspaceError
from chatdev.models.base import ChatModel
from chatdev.project.eventlog import stopped_early
from chatdev.project.gitlog import tokens_trailer
from chatdev.run.chain import Chain
from chatdev.run.context import Context, PhaseFailed, RunOptions, RunState
from chatdev.run.steps import StepKey

MAX_TASK_CHARS = 4000
STOPWORDS = {"a", "an", "the", "simple", "small", "little", "basic", "make", "build", "write", "create", "me"}


@dataclass(frozen=True)
class BuildOptions:
    task: str
    name: str | None = None
    company_dir: Path | None = None
    model: str | None = None
    mmproj: Path | None = None
    endpoint: str | None = None
    images: list[Path] = field(default_factory=list)
    out: Path = Path(".")
    gpu_layers: int | None = None
    n_ctx: int | None = None
    seed: int | None = None
    allow_install: bool = False
    no_run: bool = False
    human: tuple[str, ...] = ()  # roles the person plays (--human)
    review: bool = False  # checkpoints after the requirements and the design (--review)
    clarify: bool = False  # the CEO asks the person up to three questions first (--clarify)
    answers: Path | None = None  # the person's answers as a YAML file (--answers)
    candidates: int | None = None  # --candidates N: best-of-N for every phase that writes files


@dataclass(frozen=True)
class Summary:
    project: str
    task: str
    status: str  # passed | tests_fail | failed (does not run) | untested | interrupted | error
    exit_code: int
    phases: list[dict[str, Any]]
    files: list[str]
    lines: int
    tokens: dict[str, int]
    llm_calls: int
    wall_s: float
    tests: dict[str, Any]
    commits: int
    model: str
    run_hint: str
    report: str | None = None
    reason: str = ""
    escalations: int = 0
    runs: bool | None = None  # the entry point ran: exit 0, or alive at the end of its window, no traceback
    tests_pass: bool | None = None  # the tests that count (not defective, not quarantined) passed

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# --------------------------------------------------------------------------- checks before anything is made


def check_task(task: str) -> str:
    task = task.strip()
    if not task:
        raise UsageError('the task is empty', hint='say what to build, e.g. chatdev build "a snake game"')
    if len(task) > MAX_TASK_CHARS:
        raise UsageError(f"the task is {len(task):,} characters; the limit is {MAX_TASK_CHARS:,}",
                         hint="a small model's context is small: state the essentials in a few sentences")
    return task


def slug(text: str) -> str:
    words = [w for w in re.findall(r"[a-z0-9]+", text.lower())]
    kept = [w for w in words if w not in STOPWORDS] or words or ["project"]
    out = ""
    for w in kept:
        if len(out) + len(w) + 1 > 40:
            break
        out = f"{out}_{w}" if out else w
    return out or kept[0][:40]


def check_images(paths: list[Path]) -> list[Path]:
    """The images as the model layer will read them (one table of image types: ``models.base``)."""
    from chatdev.errors import ModelError
    from chatdev.models.base import image_bytes

    for path in paths:
        if not path.is_file():
            raise UsageError(f"{path}: image not found", hint="check the --image path")
        try:
            image_bytes(path)  # WebP, or anything that is not a PNG, JPEG, GIF or BMP, is refused
        except ModelError as exc:
            raise UsageError(str(exc), hint=exc.hint) from None
    return [p.resolve() for p in paths]


def check_project_dir(path: Path) -> None:
    """The project folder can be made here: ``--out`` is a folder (or can be one), the project is new."""
    out = path.parent
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out}: --out is not a folder", hint="pass a folder to create the project in")
    if path.is_symlink():
        raise UsageError(f"{path}: is a symbolic link; chatdev will not build through it",
                         hint="pick another --name or --out")
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise UsageError(f"{path}: folder exists and is not empty",
                         hint="pick another --name or --out, or `chatdev improve` an existing project")


def _keep_images(root: Path, images: list[Path]) -> list[Path]:
    """Copy the user's images into .chatdev/images/, so the record survives the originals moving."""
    kept = []
    for index, path in enumerate(images, 1):
        target = root / ".chatdev" / "images" / f"{index}-{path.name}"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(path.read_bytes())
        kept.append(target)
    return kept


def _sandbox_ready() -> None:
    from chatdev.sandbox import container

    container.preflight()  # raises SandboxError with what to do


def _verifier(root: Path, *, entry: str | None, timeout: float, tests: bool, allow_install: bool,
              args: Sequence[Sequence[str]] = (), expect: Sequence[Any] = (), runs: Any = None) -> Any:
    from chatdev.sandbox import container

    return container.verify_program(root, entry=entry, timeout=timeout, tests=tests, allow_install=allow_install,
                                    args=args, expect=expect, runs=runs)


def _computer(source: str, *, timeout: float = 10.0, files: Mapping[str, str] | None = None,
              script: str | None = None) -> Any:
    """``source`` run as a script in a fresh sandbox folder: alone, for an expected value's
    independent computation (``checks/expectations.py``), or with ``files`` (path -> text, the
    program's own) beside it, for the calls that already give a task's answer (``checks/answers.py``)."""
    import tempfile

    from chatdev.checks.expectations import SCRIPT
    from chatdev.sandbox.container import Sandbox

    name = script or SCRIPT
    with tempfile.TemporaryDirectory(prefix="chatdev-expected-") as folder:
        for rel, text in (files or {}).items():
            path = Path(folder) / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        (Path(folder) / name).write_text(source, encoding="utf-8")
        return Sandbox().run(Path(folder), ["python", name], timeout=timeout)


def _build_verifier() -> Any:
    """The verifier of one build: the program's runs it keeps (``sandbox/reuse.py``) are this build's."""
    from chatdev.sandbox.reuse import RunMemo

    return functools.partial(_verifier, runs=RunMemo())


# --------------------------------------------------------------------------- models


def role_model_refs(company: Company, *, model: str | None, endpoint: str | None,
                    sink: events.EventSink) -> dict[str, str]:
    """role name -> model reference; ``default`` roles get --endpoint, --model or the company's model."""
    from chatdev.models import registry

    default: str | None = endpoint or model
    refs: dict[str, str] = {}
    for role in company.roles.values():
        if role.model != "default":
            refs[role.name] = role.model
            continue
        if default is None:
            default = registry.default_model(company.spec.model, sink=sink)
        refs[role.name] = default
    return refs


def most_candidates(company: Company, chain: Sequence[str], wanted: int | None) -> int:
    """The most replies any phase of ``chain`` decodes at once (1 without best-of-N)."""
    from chatdev.company.config import ChatPhase

    return max([phase.candidates_for(wanted) for phase in company.walk(list(chain))
                if isinstance(phase, ChatPhase)] or [1])


def load_models(refs: dict[str, str], *, n_ctx: int, gpu_layers: int | None, seed: int | None,
                mmproj: Path | None, sink: events.EventSink, skip: Sequence[str] = (),
                parallel: int = 1) -> dict[str, ChatModel]:
    """One model per distinct reference, shared by the roles that use it (``skip``: the person's roles).

    ``parallel``: the most candidates a phase decodes at once, so a backend can lay its weights
    out for batches (``LlamaModel``'s repacked weights on CPU)."""
    from chatdev.models import load_model

    loaded: dict[str, ChatModel] = {}
    by_role: dict[str, ChatModel] = {}
    for role, ref in refs.items():
        if role in skip:
            continue
        if ref not in loaded:
            loaded[ref] = load_model(ref, n_ctx=n_ctx, gpu_layers=gpu_layers, seed=seed, mmproj=mmproj, sink=sink,
                                     parallel=parallel)
        by_role[role] = loaded[ref]
    return by_role


def close_models(models: dict[str, ChatModel]) -> None:
    for model in {id(m): m for m in models.values()}.values():
        model.close()


# --------------------------------------------------------------------------- a person in the company


def _people(company: Company, chain: list[str], humans: list[str], *, answers: Path | None, io: Any,
            done: Any = None) -> Any:
    """Where the person's answers come from, checked before anything is made (None: nobody asks).

    ``--answers FILE`` must have every phase that will ask; without it, a terminal (``io``) must be
    there: with ``--json``, ``--quiet``, no TTY or CI the build is refused at once, in one line.
    """
    from chatdev.run import human

    asks, reviews = human.asking_phases(company, chain, humans, done=done or (lambda name: False))
    if answers is not None:
        source = human.AnswersIO.load(answers)
        source.require(asks, reviews=reviews)
        return source
    if not asks and not humans:
        return None
    if io is None:
        io = human.NoTerminal("no terminal")
    if isinstance(io, human.NoTerminal) and asks:
        seat = f"--human {humans[0]}" if humans else asks[0]
        raise human.HumanUnavailable(f"{seat} needs a person at a terminal ({io.reason})", hint=human.HOW)
    return io


def _options_people(opts: dict[str, Any], humans: list[str], review: bool, clarify: bool) -> dict[str, Any]:
    return {**opts, "human": list(humans), "review": review, "clarify": clarify}


# --------------------------------------------------------------------------- the three entry points


def check_candidates(company: Company, chain: Sequence[str], models: dict[str, ChatModel],
                     wanted: int | None) -> None:
    """Best-of-N must fit: each files phase's prompt (up to the window) plus N answers in its model.

    Asked of the models that decode candidates together (``max_candidates``); a model that
    answers them one after another needs no more room than one reply.
    """
    from chatdev.company.config import ChatPhase

    for phase in company.walk(list(chain)):
        if not isinstance(phase, ChatPhase):
            continue
        n = phase.candidates_for(wanted)
        model = models.get(company.role(phase.assistant).name)
        limit = getattr(model, "max_candidates", None)
        if n <= 1 or model is None or not callable(limit):
            continue
        prompt = max(model.n_ctx - phase.max_tokens, 1)
        most = int(limit(prompt, phase.max_tokens))
        if n > most:
            where = "--candidates" if wanted else f"{phase.source}: candidates:"
            raise UsageError(f"{where} {n}: {model.name} can decode at most {most} candidates of "
                             f"{phase.max_tokens} tokens after a prompt of up to {prompt} tokens ({phase.name})",
                             hint=f"use --candidates {max(most, 1)} or fewer")


def build(opts: BuildOptions, *, sink: events.EventSink = events.null_sink,
          models: dict[str, ChatModel] | None = None, io: Any = None) -> Summary:
    """Run the company on a new task. ``models`` (role -> model) replaces loading (tests, benchmarks);
    ``io`` is the person at the terminal (``human.TerminalIO``) or why there is none (``NoTerminal``)."""
    from chatdev.company.config import REVIEW
    from chatdev.project.workspace import Workspace
    from chatdev.run import human

    started = time.monotonic()
    task = check_task(opts.task)
    images = check_images(list(opts.images))
    company = load_company(opts.company_dir, approve=REVIEW if opts.review else None, clarify=opts.clarify)
    humans = human.check_roles(company, list(opts.human))
    people = _people(company, company.chain, humans, answers=opts.answers, io=io)
    project = Path(opts.out) / (slug(opts.name) if opts.name else slug(task))
    check_project_dir(project)
    if not opts.no_run:
        _sandbox_ready()
    early = events.Recorder()  # events before the project exists, replayed into its transcript
    sink_early = events.Fanout([sink, early])
    owned = models is None
    if models is None:
        refs = role_model_refs(company, model=opts.model, endpoint=opts.endpoint, sink=sink_early)
        models = load_models(refs, n_ctx=opts.n_ctx or company.spec.n_ctx, gpu_layers=opts.gpu_layers,
                             seed=opts.seed, mmproj=opts.mmproj, sink=sink_early, skip=humans,
                             parallel=most_candidates(company, company.chain, opts.candidates))
    else:
        refs = {role: m.name for role, m in models.items()}
    try:
        check_candidates(company, company.chain, models, opts.candidates)
        workspace = Workspace.create(project, company_name=company.name)
        workspace.save_company(company.sources)
        images = _keep_images(workspace.root, images)
        state = RunState(task=task, project=project.name, company=company.name, models=refs,
                         images=[str(p) for p in images],
                         options=_options_people(
                             {"seed": opts.seed, "no_run": opts.no_run, "allow_install": opts.allow_install,
                              "candidates": opts.candidates, "n_ctx": opts.n_ctx or company.spec.n_ctx, "gpu_layers": opts.gpu_layers,
                              "mmproj": str(opts.mmproj) if opts.mmproj else None},
                             humans, opts.review, opts.clarify))
        return _run(company, company.chain, models, workspace, state, sink, early.events, images, started,
                    mode="build", humans=humans, people=people)
    finally:
        if owned:
            close_models(models)


def resume(project: Path, *, sink: events.EventSink = events.null_sink,
           models: dict[str, ChatModel] | None = None, humans: Sequence[str] = (), answers: Path | None = None,
           io: Any = None) -> Summary:
    """Continue from the last committed phase, with the same config, models and people
    (``humans`` replaces the roles the person played, when given)."""
    from chatdev.company.config import REVIEW
    from chatdev.project.workspace import Workspace
    from chatdev.run import human

    started = time.monotonic()
    workspace = Workspace.open(Path(project), for_write=True)
    state = _load_state(workspace)
    if state.status in ("passed", "failed", "untested") and not state.reason:
        raise WorkspaceError(f"{project}: this run already finished ({state.status})",
                             hint=f'to change it, use `chatdev improve {project} "..."`')
    options = state.options
    company = load_company(workspace.root / ".chatdev" / "company",
                           approve=REVIEW if options.get("review") else None, clarify=bool(options.get("clarify")))
    people_now = human.check_roles(company, list(humans) or list(options.get("human") or []))
    chain = company.improve if state.change else company.chain
    people = _people(company, chain, people_now, answers=answers, io=io,
                     done=lambda name: StepKey.top(state.run, name).done(state.completed))
    workspace.reset_to_head()
    if not options.get("no_run"):
        _sandbox_ready()
    early = events.Recorder()
    owned = models is None
    if models is None:
        models = load_models(state.models, n_ctx=options.get("n_ctx") or company.spec.n_ctx,
                             gpu_layers=options.get("gpu_layers"), seed=options.get("seed"),
                             mmproj=Path(options["mmproj"]) if options.get("mmproj") else None,
                             sink=events.Fanout([sink, early]), skip=people_now,
                             parallel=most_candidates(company, company.chain, options.get("candidates")))
    try:
        if state.status == "failed":  # answers given in the step that failed are asked again
            for record in state.outputs.get(human.RECORD) or []:
                if isinstance(record, dict) and record.get("step") not in state.completed:
                    record["replay"] = False
        state.status = "running"
        state.options = {**options, "human": people_now}
        images = [Path(p) for p in state.images if Path(p).is_file()]
        return _run(company, chain, models, workspace, state, sink, early.events, images, started, mode="resume",
                    humans=people_now, people=people)
    finally:
        if owned:
            close_models(models)


def improve(project: Path, change: str, *, model: str | None = None, endpoint: str | None = None,
            sink: events.EventSink = events.null_sink, models: dict[str, ChatModel] | None = None,
            no_run: bool = False, humans: Sequence[str] = (), review: bool = False, answers: Path | None = None,
            io: Any = None, candidates: int | None = None) -> Summary:
    """Change an existing project (a chatdev project or any git repo of Python code) and commit on top."""
    from chatdev.company.config import REVIEW
    from chatdev.project.workspace import Workspace
    from chatdev.run import human

    started = time.monotonic()
    change = check_task(change)
    project = Path(project)
    is_chatdev = (project / ".chatdev" / "state.json").is_file()
    if is_chatdev:
        workspace = Workspace.open(project, for_write=True)
        state = _load_state(workspace)
        company_dir: Path | None = workspace.root / ".chatdev" / "company"
    else:
        workspace = Workspace.adopt(project)
        state = None
        company_dir = None
    company = load_company(company_dir, approve=REVIEW if review else None)
    if not company.improve:
        raise UsageError(f"{company.name}: the company has no improve_chain", hint="add improve_chain to company.yaml")
    people_now = human.check_roles(company, list(humans))
    people = _people(company, company.improve, people_now, answers=answers, io=io)
    if not no_run:
        _sandbox_ready()
    early = events.Recorder()
    owned = models is None
    if models is None:
        if state is not None and not (model or endpoint):
            refs = state.models
        else:
            refs = role_model_refs(company, model=model, endpoint=endpoint, sink=events.Fanout([sink, early]))
        opts = state.options if state else {}
        models = load_models(refs, n_ctx=opts.get("n_ctx") or company.spec.n_ctx, gpu_layers=opts.get("gpu_layers"),
                             seed=opts.get("seed"), mmproj=None, sink=events.Fanout([sink, early]), skip=people_now,
                             parallel=most_candidates(company, company.improve, candidates))
    else:
        refs = {role: m.name for role, m in models.items()}
    try:
        check_candidates(company, company.improve, models, candidates)
        if state is None:
            workspace.save_company(company.sources)
            state = RunState(task=change, project=workspace.root.name, company=company.name, models=refs)
        state.run += 1 if is_chatdev else 0
        state.change = change
        state.status = "running"
        state.models = refs
        state.options = _options_people({**state.options, "no_run": no_run, "candidates": candidates},
                                        people_now, review, False)
        state.phases = []
        state.tests = {"ran": False, "passed": None, "summary": ""}
        return _run(company, company.improve, models, workspace, state, sink, early.events, [], started,
                    mode="improve", humans=people_now, people=people)
    finally:
        if owned:
            close_models(models)


def _load_state(workspace: Any) -> RunState:
    data = workspace.load_state()
    problem = state_problem(data)
    if problem is None:
        try:
            return RunState.from_dict(data)
        except TypeError as exc:
            problem = str(exc)
    raise WorkspaceError(f"{workspace.root}: .chatdev/state.json is not a chatdev state: {problem}",
                         hint=f"restore it with `git -C {workspace.root} checkout -- .chatdev/state.json`")


def state_problem(data: Any) -> str | None:
    """What is wrong with the shape of a state.json (None: it fits ``RunState``).

    The shape comes from ``RunState``'s own field types, so the two cannot drift apart.
    """
    import typing

    if not isinstance(data, dict):
        return "expected a JSON object"
    hints = typing.get_type_hints(RunState)
    for f in dataclasses.fields(RunState):
        if f.name not in data:
            required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
            if required:
                return f"{f.name}: missing"
            continue
        problem = _type_problem(data[f.name], hints[f.name])
        if problem:
            return f"{f.name}: {problem}"
    return None


def _type_problem(value: Any, hint: Any) -> str | None:
    """Whether a JSON value fits a simple type hint (str, int, float, bool, list[T], dict[str, T], Any, X | None)."""
    import types
    import typing

    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return None
    if origin in (typing.Union, types.UnionType):
        fits = [a for a in args if _type_problem(value, a) is None]
        return None if fits else f"expected {' or '.join(_type_name(a) for a in args)}, got {_json_name(value)}"
    if hint is type(None):
        return None if value is None else f"expected null, got {_json_name(value)}"
    if origin is list:
        if not isinstance(value, list):
            return f"expected a list, got {_json_name(value)}"
        for index, item in enumerate(value):
            problem = _type_problem(item, args[0]) if args else None
            if problem:
                return f"[{index}]: {problem}"
        return None
    if origin is dict:
        if not isinstance(value, dict):
            return f"expected an object, got {_json_name(value)}"
        for key, item in value.items():
            problem = _type_problem(item, args[1]) if args else None
            if problem:
                return f"{key}: {problem}"
        return None
    if hint is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    elif hint is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    else:
        ok = isinstance(value, hint)
    return None if ok else f"expected {_type_name(hint)}, got {_json_name(value)}"


def _type_name(hint: Any) -> str:
    import typing

    origin = typing.get_origin(hint)
    names = {str: "a string", int: "an integer", float: "a number", bool: "true or false", list: "a list",
             dict: "an object", type(None): "null"}
    return names.get(origin or hint, str(hint))


def _json_name(value: Any) -> str:
    names = {str: "a string", bool: "true or false", int: "a number", float: "a number", list: "a list",
             dict: "an object", type(None): "null"}
    return names.get(type(value), type(value).__name__)


# --------------------------------------------------------------------------- running


def _run(company: Company, chain_names: list[str], models: dict[str, ChatModel], workspace: Any, state: RunState,
         user_sink: events.EventSink, early: list[events.Event], images: list[Path], started: float, *,
         mode: str, humans: Sequence[str] = (), people: Any = None) -> Summary:
    sink = events.Fanout([user_sink, workspace.record])
    for event in early:
        workspace.record(event)
    from chatdev.company.orgchart import OrgChart

    desk = None
    if people is not None:
        from chatdev.run import human

        desk = human.Desk(people, state, sink, checkpoint=lambda: workspace.checkpoint(state.to_dict()))
        base = next(iter(models.values()), None)
        models = {**models, **{role: human.HumanModel(role, desk, base=models.get(role, base)) for role in humans}}

    org = OrgChart.from_roles(list(company.roles.values()))
    sink(events.BuildStarted(task=state.change or state.task, project=str(workspace.root), company=company.name,
                             models={r: m.name for r, m in models.items()}, chain=list(chain_names),
                             images=state.images, mode=mode, org=org.tree(),
                             loops={p.name: list(p.phases) for p in company.walk(chain_names)
                                    if isinstance(p, LoopPhase)}))
    _gpu_warning(sink)
    ctx = Context(company=company, models=models, workspace=workspace, state=state, sink=sink,
                  options=RunOptions(seed=state.options.get("seed"), no_run=bool(state.options.get("no_run")),
                                     allow_install=bool(state.options.get("allow_install")),
                                     candidates=state.options.get("candidates")),
                  images=images, verifier=None if state.options.get("no_run") else _build_verifier(),
                  computer=None if state.options.get("no_run") else _computer, desk=desk)
    reason = ""
    state.reason = ""
    previous_wall = state.wall_s
    try:
        Chain(ctx, chain_names).run()
        if not state.tests.get("ran"):
            state.status = "untested"
        else:
            state.status = delivered_status(state.tests)
    except PhaseFailed as exc:
        state.status, reason = "failed", str(exc)
    except KeyboardInterrupt:
        state.status, reason = "interrupted", "stopped by the user"
    except ChatDevError as exc:
        state.status, reason = "error", exc.line()
        _close_run(workspace, state, started, previous_wall, sink, reason, org.top()[0])
        raise
    _close_run(workspace, state, started, previous_wall, sink, reason, org.top()[0])
    report_path = _write_report(workspace.root, sink)
    return _summary(workspace, state, reason, report_path)


def _close_run(workspace: Any, state: RunState, started: float, previous_wall: float,
               sink: events.EventSink, reason: str, top_role: str) -> None:
    state.wall_s = round(previous_wall + time.monotonic() - started, 2)
    state.reason = reason
    workspace.checkpoint(state.to_dict())
    sink(events.BuildEnded(status=state.status, summary={"reason": reason, "wall_s": state.wall_s,
                                                         "tokens": dict(state.usage)}))
    if not reason:  # the company finished its chain
        outcome = {"passed": "runs, tests pass", "tests_fail": "runs, tests fail", "failed": "does not run",
                   "untested": "not run"}[state.status]
        if state.status == "passed" and state.tests.get("tests_pass") is None:  # every test quarantined, or none
            outcome = "runs, no test that counts"
        workspace.commit(role=top_role, phase="deliver", summary=f"Deliver ({outcome})",
                         trailers={"Phase": "deliver", "Status": state.status,
                                   "Tokens": tokens_trailer(state.usage["prompt"], state.usage["completion"],
                                                            state.usage["cached"]),
                                   "Duration": f"{state.wall_s:.1f}s"},
                         model=None, bookkeeping=True)
        workspace.tag(workspace.next_version_tag())
    # stopped early (a phase failed, Ctrl-C, an error): nothing half-done is committed; the
    # checkpoint on disk says where it stopped and `chatdev resume` rewinds to the last commit


def _gpu_warning(sink: events.EventSink) -> None:
    try:
        from chatdev.tools import doctor

        warning = doctor.gpu_warning()
    except Exception:  # noqa: BLE001 - a diagnostic must never stop a build
        return
    if warning:
        sink(events.Notice(level="warning", text=warning))


def _write_report(root: Path, sink: events.EventSink) -> str | None:
    try:
        from chatdev.views import report

        return str(report.write_report(root))
    except ChatDevError as exc:
        sink(events.Notice(level="warning", text=f"report not written: {exc.line()}"))
    except ImportError:
        pass
    return None


def _summary(workspace: Any, state: RunState, reason: str, report: str | None) -> Summary:
    files = [f for f in workspace.files()]
    lines = 0
    for f in files:
        try:
            lines += workspace.read(f).count("\n")
        except (UnicodeDecodeError, OSError):
            continue
    codes = {"passed": 0, "untested": 0, "failed": 1, "tests_fail": 4, "interrupted": 130, "error": 1}
    return Summary(
        project=str(workspace.root), task=state.change or state.task, status=state.status,
        exit_code=codes.get(state.status, 1), phases=[p for p in state.phases], files=files, lines=lines,
        tokens=dict(state.usage), llm_calls=state.llm_calls, wall_s=state.wall_s, tests=dict(state.tests),
        commits=len(workspace.history()), model=", ".join(sorted(set(state.models.values()))),
        run_hint=f"chatdev {'resume' if stopped_early(state.status, reason) else 'run'} {workspace.root}",
        report=report, reason=reason, escalations=state.escalations,
        runs=state.tests.get("runs") if state.tests.get("ran") else None,
        tests_pass=state.tests.get("tests_pass") if state.tests.get("ran") else None)


def delivered_status(tests: dict[str, Any]) -> str:
    """passed (runs, tests that count pass), tests_fail (runs, a test fails) or failed (does not run)."""
    runs = tests.get("runs", tests.get("passed"))  # a state from before `runs` was recorded
    if not runs:
        return "failed"
    return "tests_fail" if tests.get("tests_pass") is False else "passed"




__all__ = ["BuildOptions", "Summary", "build", "improve", "resume", "slug"]
