"""Company, role and phase YAML → typed, validated objects, once, at the boundary.

A company is a folder: ``company.yaml``, ``roles/<stem>.yaml``,
``phases/<name>.yaml``. A user's folder (``--company DIR``) overrides the
shipped defaults file by file. Every error names the file, the key and, where
YAML gives it, the line.
"""

from __future__ import annotations

import importlib.resources
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from chatdev.company import prompts
from chatdev.errors import ConfigError

MAX_CYCLES = 10
MAX_CANDIDATES = 8  # best-of-N: replies decoded together and checked one by one in the sandbox
MAX_FILE_BYTES = 256 * 1024  # a company file is a page of prompts; a bigger one is refused before parsing


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RoleSpec(Strict):
    name: str = Field(min_length=1)
    title: str = ""
    reports_to: str | None = None
    model: str = "default"  # "default" = the company's model; else a registry name, path or http(s) endpoint
    vision: bool = False  # shown the user's images and screenshots when the model can see
    persona: str = Field(min_length=1)
    source: str = Field(default="", exclude=True)


class _PhaseBase(Strict):
    name: str = Field(min_length=1)
    description: str = ""
    commit: str | None = None  # commit subject template; None = no commit
    output: str | None = None  # name the result is stored under (default: phase name)
    optional: bool = False  # a failure is recorded and the chain goes on (tests, docs)
    source: str = Field(default="", exclude=True)

    @property
    def output_name(self) -> str:
        return self.output or self.name

    def role_refs(self) -> list[str]:
        """The roles the phase names in its YAML (instructor, assistant, participants, ...), in order."""
        return []

    def check(self, env: CheckEnv) -> None:
        """The kind's own load-time rules, beyond its fields' types (roles, prompts, verdicts)."""


@dataclass(frozen=True)
class CheckEnv:
    """What a phase kind's ``check`` may consult: the whole company and what its prompts may use."""

    company: Company
    chart: Any  # company.OrgChart
    outputs: frozenset[str]  # names under ``outputs.`` in templates
    prompt_attrs: dict[str, frozenset[str]]

    def role(self, phase: Any, key: str, value: str) -> str:
        role = _lookup_role(self.company.roles, value)
        if role is None:
            raise ConfigError(f"{phase.source}: {key}: unknown role {value!r}",
                              hint=f"known roles: {', '.join(self.company.roles)}")
        return role.name

    def prompt(self, phase: Any, key: str, source: str) -> None:
        prompts.check(source, prompts.PROMPT_VARS, where=f"{phase.source}: {key}", attrs=self.prompt_attrs)

    def schema(self, phase: Any, schema: dict[str, Any] | None) -> None:
        """A schema's ``examples`` (the one-shot example its requests end with) must fit the schema."""
        examples = (schema or {}).get("examples")
        if examples is None:
            return
        if not isinstance(examples, list) or not examples:
            raise ConfigError(f"{phase.source}: schema: examples: a list with at least one example")
        from chatdev.models.base import schema_errors

        errors = schema_errors(examples[0], schema or {})
        if errors:
            raise ConfigError(f"{phase.source}: schema: examples[0] does not fit the schema: {errors[0]}",
                              hint="the example is what the model is shown: make it a valid reply")

    def output_ref(self, phase: Any, key: str, ref: str | None, *, shape: str) -> None:
        if ref and (not ref.startswith("outputs.") or ref.split(".")[1] not in self.outputs):
            raise ConfigError(f"{phase.source}: {key}: {ref!r} is not {shape} of a phase",
                              hint=f"outputs: {', '.join(sorted(self.outputs - prompts.MAPPING_METHODS))}")

    def known_verdicts(self) -> set[str]:
        phases = self.company.phases.values()
        return ({p.verdict for p in phases if getattr(p, "verdict", None)}
                | {v for p in phases if isinstance(p, ActionPhase) for v in p.verdicts})


class ChatPhase(_PhaseBase):
    kind: Literal["chat"] = "chat"
    instructor: str
    assistant: str
    prompt: str = Field(min_length=1)
    max_turns: int = Field(default=1, ge=1, le=20)
    expects: Literal["files", "json", "text"] = "text"
    json_schema: dict[str, Any] | None = Field(default=None, alias="schema")
    verdict: str | None = None  # a boolean field of the JSON reply that becomes a verdict
    requires: list[str] = Field(default_factory=list)  # verdicts that must hold for `verdict` to be true
    foreach: str | None = None  # "outputs.<name>.<list field>": one exchange per item
    images: bool = False  # attach the user's images (roles with vision only)
    writes: str | None = None  # text/json: the file the output goes to; files: the file expected
    document: str | None = None  # template rendering a json output into `writes` (variables: output, task)
    retries: int = Field(default=2, ge=0, le=5)
    max_tokens: int = Field(default=1024, ge=16, le=32768)
    when: str | None = None  # "outputs.<name>[.<field>]": the phase runs only when that is not empty
    program_only: bool = False  # files: the reply changes the program; the test files it writes are dropped
    # best-of-N (expects: files): N replies decoded together, each checked in the sandbox, the best kept
    candidates: int = Field(default=1, ge=1, le=MAX_CANDIDATES)

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    def role_refs(self) -> list[str]:
        return [self.instructor, self.assistant]

    def candidates_for(self, override: int | None) -> int:
        """How many candidates this phase asks for: ``--candidates`` over its own, files phases only."""
        return (override or self.candidates) if self.expects == "files" else 1

    def check(self, env: CheckEnv) -> None:
        where = self.source
        a = env.role(self, "instructor", self.instructor)
        b = env.role(self, "assistant", self.assistant)
        if not env.chart.may_talk(a, b):
            raise ConfigError(f"{where}: assistant: {a} may not talk to {b} under the org chart",
                              hint="pick a direct report, a manager or a peer")
        env.prompt(self, "prompt", self.prompt)
        if self.expects == "json" and self.json_schema is None:
            raise ConfigError(f"{where}: schema: required when expects is json")
        env.schema(self, self.json_schema)
        if self.verdict and self.expects != "json":
            raise ConfigError(f"{where}: verdict: only a json phase can set a verdict")
        if self.verdict:
            _check_verdict_field(self)
        if self.candidates > 1 and self.expects != "files":
            raise ConfigError(f"{where}: candidates: only a phase that writes files (expects: files) "
                              "can pick among candidates", hint="the sandbox ranks candidates by running them")
        if self.program_only and self.expects != "files":
            raise ConfigError(f"{where}: program_only: only a phase that writes files (expects: files) "
                              "can keep its reply to the program")
        known = env.known_verdicts()
        for name in self.requires:
            if name not in known:
                raise ConfigError(f"{where}: requires: no phase sets verdict {name!r}")
        env.output_ref(self, "when", self.when, shape="outputs.<name>")
        if self.foreach and not self.foreach.startswith("outputs."):
            raise ConfigError(f"{where}: foreach: must look like outputs.<phase>.<field>")
        if self.foreach and self.foreach.split(".")[1] not in env.outputs:
            raise ConfigError(f"{where}: foreach: no phase has the output {self.foreach.split('.')[1]!r}",
                              hint=f"outputs: {', '.join(sorted(env.outputs - prompts.MAPPING_METHODS))}")


class LoopPhase(_PhaseBase):
    kind: Literal["loop"] = "loop"
    phases: list[str] = Field(min_length=1)
    max_cycles: int = Field(default=3, ge=1, le=MAX_CYCLES)
    until: str
    escalate: bool = True

    def check(self, env: CheckEnv) -> None:
        _check_until(self, env.company.phases)


class DebatePhase(_PhaseBase):
    """Participants propose, a judge decides (``run/phases.run_debate``).

    ``proposals: text`` (the default): each proposes in prose, in ``rounds`` rounds, and the
    judge writes the phase's JSON output. ``proposals: files``: each participant writes the
    program (the files of ``files_from``, e.g. ``outputs.design.files``), every proposal is a
    candidate checked in the sandbox like best-of-N's, and the judge sees each with its check
    result and picks one by number; the chosen files are written and committed.
    """

    kind: Literal["debate"] = "debate"
    participants: list[str] = Field(min_length=2)
    judge: str
    rounds: int = Field(default=1, ge=1, le=5)
    proposals: Literal["text", "files"] = "text"
    files_from: str | None = None  # proposals: files: the planned files, "outputs.<phase>.<list field>"
    prompt: str = Field(min_length=1)
    judge_prompt: str = Field(min_length=1)
    json_schema: dict[str, Any] | None = Field(default=None, alias="schema")
    writes: str | None = None
    document: str | None = None
    retries: int = Field(default=2, ge=0, le=5)
    max_tokens: int = Field(default=512, ge=16, le=32768)

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    def role_refs(self) -> list[str]:
        return [*self.participants, self.judge]

    def check(self, env: CheckEnv) -> None:
        names = [env.role(self, f"participants[{i}]", p) for i, p in enumerate(self.participants)]
        judge = env.role(self, "judge", self.judge)
        for n in names:
            if n != judge and not env.chart.may_talk(judge, n):
                raise ConfigError(f"{self.source}: judge: {judge} may not talk to {n} under the org chart")
        env.prompt(self, "prompt", self.prompt)
        env.prompt(self, "judge_prompt", self.judge_prompt)
        env.schema(self, self.json_schema)
        if self.proposals == "files":
            for key, value in (("rounds", self.rounds > 1), ("schema", self.json_schema is not None),
                               ("writes", self.writes is not None), ("document", self.document is not None)):
                if value:
                    raise ConfigError(f"{self.source}: {key}: not with proposals: files (one round; the judge "
                                      "picks a proposal by number, and the proposal's files are written)")
        elif self.files_from:
            raise ConfigError(f"{self.source}: files_from: only with proposals: files")
        env.output_ref(self, "files_from", self.files_from, shape="a list output")


# The verdicts each action sets. `runs`: the entry point exits 0, or is still alive at the
# end of its window, with no traceback; `tests_pass`: the tests that are not quarantined pass;
# `works`: both; `clean`: no static errors in the program's own files.
ACTION_VERDICTS: dict[str, tuple[str, ...]] = {"run_tests": ("works", "runs", "tests_pass"),
                                               "static_check": ("clean", "runs"), "write_requirements": ()}
# Outputs an action stores besides its own (``outputs.test_defects``: the tests at fault themselves,
# and the disputed ones; ``outputs.program_failures``: what the programmer has to fix, empty when
# only disputed tests fail; ``test_disputes``: the disputes' memory). A loop clears them when it starts.
ACTION_OUTPUTS: dict[str, tuple[str, ...]] = {"run_tests": ("test_defects", "program_failures", "test_disputes"),
                                              "static_check": (), "write_requirements": ()}


class ActionPhase(_PhaseBase):
    kind: Literal["action"] = "action"
    action: Literal["run_tests", "static_check", "write_requirements"]
    role: str  # who is credited (commit author, transcript)
    timeout: float = Field(default=20.0, gt=0, le=600)
    verdict: str | None = None  # the verdict that counts for the loop (one of ACTION_VERDICTS[action])

    @field_validator("action", mode="before")
    @classmethod
    def _old_name(cls, value: Any) -> Any:
        return "write_requirements" if value == "write_docs" else value  # its name before 0.2: companies keep working

    @property
    def verdicts(self) -> tuple[str, ...]:
        return ACTION_VERDICTS[self.action]

    def role_refs(self) -> list[str]:
        return [self.role]

    def check(self, env: CheckEnv) -> None:
        env.role(self, "role", self.role)


CLARIFY_SCHEMA: dict[str, Any] = {
    "type": "object", "required": ["questions"], "examples": [{"questions": ["Should the game keep a high score?"]}],
    "properties": {"questions": {"type": "array", "maxItems": 3,
                                 "items": {"type": "string", "minLength": 1, "maxLength": 300}}}}


class HumanPhase(_PhaseBase):
    """A person's turn (``chatdev/run/human.py``): a checkpoint or the CEO's questions.

    ``review: <phase>``: the person sees that phase's document (or diff) and answers approve,
    change (a comment; the phase is redone once with it) or stop. ``prompt:``: the role's model
    asks the person at most three short questions (``clarify``), the answers become the prompt
    variable ``clarifications``.
    """

    kind: Literal["human"] = "human"
    review: str | None = None  # the phase whose work the person approves, changes or stops
    prompt: str | None = None  # clarify: what the role's model is asked (a JSON reply with `questions`)
    role: str | None = None  # the person's seat (review) or the asking role (clarify); default the top role
    json_schema: dict[str, Any] = Field(default_factory=lambda: dict(CLARIFY_SCHEMA), alias="schema")
    retries: int = Field(default=2, ge=0, le=5)
    max_tokens: int = Field(default=200, ge=16, le=4096)

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    def role_refs(self) -> list[str]:
        return [self.role] if self.role else []

    def check(self, env: CheckEnv) -> None:
        where = self.source
        if (self.review is None) == (self.prompt is None):
            raise ConfigError(f"{where}: a human phase has either review: (a checkpoint) or prompt: "
                              "(questions for the person)", hint="see phases/clarify.yaml")
        if self.role:
            env.role(self, "role", self.role)
        if self.review is not None and self.review not in env.company.phases:
            raise ConfigError(f"{where}: review: unknown phase {self.review!r}")
        if self.prompt is not None:
            env.prompt(self, "prompt", self.prompt)
            env.schema(self, self.json_schema)


AnyPhase = ChatPhase | LoopPhase | DebatePhase | ActionPhase | HumanPhase
PhaseSpec = Annotated[ChatPhase | LoopPhase | DebatePhase | ActionPhase | HumanPhase, Field(discriminator="kind")]


class InlineLoop(Strict):
    loop: list[str] = Field(min_length=1)
    max_cycles: int = Field(default=3, ge=1, le=MAX_CYCLES)
    until: str
    name: str | None = None
    escalate: bool = True


class CompanySpec(Strict):
    name: str = Field(min_length=1)
    description: str = ""
    model: str = "llava-1.5-7b"
    n_ctx: int = Field(default=4096, ge=512, le=262144)
    roles: list[str] = Field(min_length=1)
    chain: list[str | InlineLoop] = Field(min_length=1)
    improve_chain: list[str | InlineLoop] = Field(default_factory=list)  # `chatdev improve`
    images_to: list[str] = Field(default_factory=list)  # phases that see user images (besides phase.images)
    # checkpoints: after each named phase (or the phase writing docs/<name>.md) the person approves
    approve: list[str] = Field(default_factory=list)
    clarify: bool = False  # the CEO asks the person up to three questions before the first phase

    @field_validator("roles")
    @classmethod
    def _unique(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v):
            raise ValueError("role listed twice")
        return v


class _PhaseFile(BaseModel):
    spec: PhaseSpec


class Messages(Strict):
    """What chatdev itself says inside conversations (messages.yaml)."""

    retry: str = Field(min_length=1)
    continue_: str = Field(min_length=1, alias="continue")
    escalation: str = Field(min_length=1)
    screenshot: str = Field(min_length=1)
    revise: str = Field(default=(
        "Your previous version:\n{{ previous }}\n\nThe customer reviewed it and asks for this change:\n"
        "{{ comment }}\nWrite it again with that change, in the same format."), min_length=1)
    usage: str = Field(default=(
        "Task: {{ task }}\n\nRun with no arguments, the program {{ entry }} printed:\n{{ usage }}\n\n"
        "Write the command line a user types to try it, with real example arguments.\n"
        'Reply with JSON only, like: {"run": "python {{ entry }} ..."}'), min_length=1)
    expected: str = Field(default=(
        "Task of a program: {{ task }}\n\nA test of the program does this:\n```python\n{{ setup }}\n```\n"
        "and then checks the value of `{{ call }}`.\n\nWrite a Python function `expected()` that computes, "
        "with the standard library only and without the program, the value `{{ call }}` has when the "
        "program does its task correctly. Reply with the function in one ```python block."), min_length=1)

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


MESSAGE_VARS = {
    "retry": frozenset({"reason", "expects", "attempt", "hint"}),  # hint: the reply format's retry_hint (replies/formats.py)
    "continue_": frozenset({"reply"}),
    "escalation": frozenset({"loop", "cycles", "until", "outcome", "why"}),
    "screenshot": frozenset({"task"}),
    "revise": frozenset({"previous", "comment"}),
    "usage": frozenset({"task", "entry", "usage"}),
    "expected": frozenset({"task", "setup", "call"}),
}
REVIEW = ("requirements", "design", "change_plan")  # what --review approves, where the chain has it


@dataclass(frozen=True)
class Company:
    """A loaded, validated company: the spec, its roles by name, its phases by name."""

    spec: CompanySpec
    messages: Messages
    roles: dict[str, RoleSpec]  # by role name ("CTO")
    phases: dict[str, ChatPhase | LoopPhase | DebatePhase | ActionPhase | HumanPhase]
    chain: list[str]  # top-level phase names in order (inline loops get a name)
    improve: list[str]  # the chain `chatdev improve` runs
    sources: dict[str, str]  # relative file -> the text it was loaded from
    root: Path | None  # the user's folder, if any

    @property
    def name(self) -> str:
        return self.spec.name

    def role(self, name: str) -> RoleSpec:
        role = self.roles.get(name) or _lookup_role(self.roles, name)
        if role is None:
            raise ConfigError(f"unknown role {name!r}", hint=f"known: {', '.join(self.roles)}")
        return role

    def walk(self, names: list[str] | None = None) -> Iterator[AnyPhase]:
        """All phases in chain order, loops followed by their sub-phases."""
        for name in self.chain if names is None else names:
            phase = self.phases[name]
            yield phase
            if isinstance(phase, LoopPhase):
                yield from self.walk(phase.phases)


# --------------------------------------------------------------------------- files


def defaults_dir() -> Path:
    """Where the shipped company lives: inside the wheel, or at the repo top level."""
    packaged = Path(str(importlib.resources.files("chatdev"))) / "defaults"
    if (packaged / "company.yaml").is_file():
        return packaged
    repo = Path(__file__).resolve().parents[2]
    if (repo / "company.yaml").is_file():
        return repo
    raise ConfigError("the default company is missing from this installation", hint="reinstall chatdev")


def _read(rel: str, user: Path | None) -> tuple[str, str, Path] | None:
    """(text, display name, path) of ``rel``, the user's copy first."""
    for base in ([user] if user else []) + [defaults_dir()]:
        path = base / rel
        if path.is_file():
            try:
                size = path.stat().st_size
                if size > MAX_FILE_BYTES:
                    raise ConfigError(f"{path}: the file is {size:,} bytes; the limit is {MAX_FILE_BYTES:,}",
                                      hint="a company file holds a few prompts: shorten it")
                return path.read_text(encoding="utf-8"), str(path), path
            except (OSError, UnicodeDecodeError) as exc:
                raise ConfigError(f"{path}: cannot read: {exc}") from exc
    return None


def _load_yaml(text: str, where: str) -> tuple[Any, yaml.Node | None]:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{where}:{line}: YAML syntax error: {problem}", hint="fix the YAML") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping of keys at the top level")
    return data, node


def _line_of(node: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    """The 1-based line of the key path ``loc`` inside a composed YAML node."""
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if key.value == part:
                    line = key.start_mark.line + 1
                    node = value
                    break
            else:
                return line
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def _validation_error(exc: ValidationError, where: str, node: yaml.Node | None, skip: int = 0) -> ConfigError:
    # in a union (a chain entry is a name or a loop) the deepest error is the one that explains
    err = max(exc.errors(), key=lambda e: len(e["loc"]))
    loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p in ("chat", "loop", "debate", "action", "str", "InlineLoop")))[skip:]
    key = ".".join(str(p) for p in loc) or "(top level)"
    line = _line_of(node, loc)
    at = f" line {line}" if line else ""
    msg = err["msg"]
    if err["type"] == "extra_forbidden":
        msg = "unknown key"
    elif err["type"] == "missing":
        msg = "required key is missing"
    return ConfigError(f"{where}:{at}: {key}: {msg}", hint="see `chatdev init` for a documented example")


def _lookup_role(roles: dict[str, RoleSpec], name: str) -> RoleSpec | None:
    low = name.lower()
    for role in roles.values():
        if role.name.lower() == low:
            return role
    return None


# --------------------------------------------------------------------------- loading


def load_company(user_dir: Path | None = None, *, approve: Sequence[str] | None = None,
                 clarify: bool | None = None) -> Company:
    """Load and validate a company: the user's folder over the shipped defaults.

    ``approve`` (checkpoints) and ``clarify`` add to what company.yaml asks for (``--review``,
    ``--clarify``); names in ``approve`` that no chain has are skipped there, not in company.yaml.
    """
    if user_dir is not None:
        user_dir = Path(user_dir)
        if not user_dir.is_dir():
            raise ConfigError(f"{user_dir}: company folder not found", hint="create one with `chatdev init DIR`")
    sources: dict[str, str] = {}

    spec, where = _load_file("company.yaml", CompanySpec, user_dir, sources)

    roles: dict[str, RoleSpec] = {}
    for stem in spec.roles:
        rel = f"roles/{stem}.yaml"
        role, rwhere = _load_file(rel, RoleSpec, user_dir, sources, with_source=True,
                                  missing=(f"{where}: roles: unknown role {stem!r} (no {rel})",
                                           f"add {rel} or remove it from roles"))
        if _lookup_role(roles, role.name):
            raise ConfigError(f"{rwhere}: name: role {role.name!r} is defined twice")
        prompts.check(role.persona, prompts.PERSONA_VARS, where=f"{rwhere}: persona", attrs=prompts.PERSONA_ATTRS)
        roles[role.name] = role

    messages, mwhere = _load_file("messages.yaml", Messages, user_dir, sources)
    for key, allowed in MESSAGE_VARS.items():
        prompts.check(getattr(messages, key), allowed, where=f"{mwhere}: {key.rstrip('_')}")

    phases: dict[str, ChatPhase | LoopPhase | DebatePhase | ActionPhase | HumanPhase] = {}
    chain = _load_chain(spec.chain, "chain", phases, sources, user_dir, where)
    improve = _load_chain(spec.improve_chain, "improve_chain", phases, sources, user_dir, where)
    chain, improve = _human_steps(spec, chain, improve, phases, sources, user_dir, where,
                                  extra=list(approve or ()), clarify=bool(clarify) or spec.clarify)

    company = Company(spec=spec, messages=messages, roles=roles, phases=phases, chain=chain, improve=improve, sources=sources, root=user_dir)
    _validate(company)
    return company


def _load_file(rel: str, model: type[Any], user_dir: Path | None, sources: dict[str, str], *,
               with_source: bool = False, missing: tuple[str, str] | None = None) -> tuple[Any, str]:
    """Read ``rel`` (the user's copy first), record its text in ``sources``, validate it as ``model``.

    Every error names the file, the key and the line. A phase file (``_PhaseFile``) is validated
    under a ``spec`` key with ``kind: chat`` as its default.
    """
    found = _read(rel, user_dir)
    if found is None:
        message, hint = missing or (f"{rel} not found", "reinstall chatdev or restore the file")
        raise ConfigError(message, hint=hint)
    text, where, _ = found
    sources[rel] = text
    data, node = _load_yaml(text, where)
    if with_source:
        data = {**data, "source": where}
    wrapped = model is _PhaseFile
    if wrapped:
        data = {"spec": {"kind": "chat", **data}}
    try:
        return model.model_validate(data), where
    except ValidationError as exc:
        raise _validation_error(exc, where, node, skip=1 if wrapped else 0) from exc


def _load_chain(entries: list[str | InlineLoop], key: str, phases: dict[str, Any], sources: dict[str, str],
                user_dir: Path | None, where: str) -> list[str]:
    chain: list[str] = []
    for index, entry in enumerate(entries):
        if isinstance(entry, InlineLoop):
            name = entry.name or f"{entry.loop[0]}_loop"
            referrer = f"{where}: {key}[{index}]"
            loop = LoopPhase(name=name, phases=list(entry.loop), max_cycles=entry.max_cycles,
                             until=entry.until, escalate=entry.escalate, source=referrer)
            _load_phases(list(entry.loop), phases, sources, user_dir, referrer, stack=[name])
            _check_until(loop, phases)  # before the name clash: a misspelled `until` is the likelier mistake
            if name in phases and phases[name].model_dump() != loop.model_dump():
                raise ConfigError(_clash(referrer, phases[name], loop),
                                  hint="make both loops the same, or give one another `name:`")
            phases[name] = loop
            chain.append(name)
        else:
            chain.append(entry)
            _load_phases([entry], phases, sources, user_dir, f"{where}: {key}[{index}]", stack=[])
    return chain


def _human_steps(spec: CompanySpec, chain: list[str], improve: list[str], phases: dict[str, Any],
                 sources: dict[str, str], user_dir: Path | None, where: str, *, extra: list[str],
                 clarify: bool) -> tuple[list[str], list[str]]:
    """Checkpoints after the approved phases and the CEO's questions first (``HumanPhase``)."""
    def target(name: str) -> str | None:
        if name in phases and not isinstance(phases[name], (LoopPhase, HumanPhase)):
            return name
        return next((p.name for p in phases.values()
                     if getattr(p, "writes", None) and Path(str(p.writes)).stem == name), None)

    wanted: list[str] = []
    for index, name in enumerate(spec.approve):
        found = target(name)
        if found is None:
            raise ConfigError(f"{where}: approve[{index}]: no phase {name!r} in the chain",
                              hint="name a phase (demand_analysis, design, ...) or the document it writes")
        wanted.append(found)
    wanted += [found for name in extra if (found := target(name)) is not None]

    def with_checkpoints(names: list[str]) -> list[str]:
        out: list[str] = []
        for name in names:
            out.append(name)
            if name in wanted:
                check = f"approve_{name}"
                if check not in phases:
                    phases[check] = HumanPhase(name=check, review=name, source=f"{where}: approve",
                                               description=f"The person approves the work of {name}.")
                out.append(check)
        return out

    chain, improve = with_checkpoints(chain), with_checkpoints(improve)
    if clarify and "clarify" not in chain:
        _load_phases(["clarify"], phases, sources, user_dir, f"{where}: clarify", stack=[])
        chain = ["clarify", *chain]
    return chain, improve


def _clash(referrer: str, old: Any, new: LoopPhase) -> str:
    if not isinstance(old, LoopPhase):
        return f"{referrer}: name: {new.name!r} is already a phase of kind {old.kind}"
    before, after = old.model_dump(exclude={"source"}), new.model_dump(exclude={"source"})
    diff = ", ".join(f"{k}: {before[k]!r} there, {after[k]!r} here" for k in after if before.get(k) != after[k])
    return f"{referrer}: name: the loop {new.name!r} is already defined differently ({diff})"


def _verdict_setters(names: list[str], phases: dict[str, Any]) -> set[str]:
    """The verdicts the phases ``names`` (and the loops among them, inside out) can set."""
    found: set[str] = set()
    for name in names:
        phase = phases.get(name)
        if isinstance(phase, (ChatPhase, ActionPhase)) and phase.verdict:
            found.add(phase.verdict)
        if isinstance(phase, ActionPhase):
            found.update(phase.verdicts)
        elif isinstance(phase, LoopPhase):
            found |= _verdict_setters(phase.phases, phases)
    return found


def _check_until(loop: LoopPhase, phases: dict[str, Any]) -> None:
    setters = _verdict_setters(loop.phases, phases)
    if loop.until not in setters:
        known = f"its phases set: {', '.join(sorted(setters))}" if setters else "set `verdict:` on one of its phases"
        raise ConfigError(f"{loop.source}: until: no phase in the loop sets verdict {loop.until!r}",
                          hint=f"the loop could never end early; {known}")


def _load_phases(names: list[str], phases: dict[str, Any], sources: dict[str, str], user_dir: Path | None,
                 referrer: str, stack: list[str]) -> None:
    for name in names:
        if name in stack:
            raise ConfigError(f"{referrer}: phase {name!r} contains itself (loop cycle {' -> '.join(stack + [name])})",
                              hint="a loop may not name itself or an enclosing loop")
        if name in phases:
            continue
        rel = f"phases/{name}.yaml"
        phase_file, where = _load_file(rel, _PhaseFile, user_dir, sources, with_source=True,
                                       missing=(f"{referrer}: chain names unknown phase {name!r} (no {rel})",
                                                f"add {rel} or fix the name"))
        phase = phase_file.spec
        if phase.name != name:
            raise ConfigError(f"{where}: name: {phase.name!r} does not match the file name {name!r}")
        phases[name] = phase
        if isinstance(phase, LoopPhase):
            _load_phases(phase.phases, phases, sources, user_dir, where, stack + [name])


def _validate(company: Company) -> None:
    from chatdev.company.orgchart import OrgChart

    chart = OrgChart.from_roles(list(company.roles.values()))  # raises on unknown manager / cycle
    outputs = (frozenset(p.output_name for p in company.phases.values()) | prompts.MAPPING_METHODS
               | {o for p in company.phases.values() if isinstance(p, ActionPhase) for o in ACTION_OUTPUTS[p.action]})
    prompt_attrs = {**prompts.PROMPT_ATTRS, "outputs": outputs}

    env = CheckEnv(company=company, chart=chart, outputs=outputs, prompt_attrs=prompt_attrs)
    for phase in company.phases.values():
        where = phase.source
        phase.check(env)  # the kind's own rules
        if phase.commit:
            prompts.check(phase.commit, prompts.COMMIT_VARS, where=f"{where}: commit", attrs={"outputs": outputs})
        document = getattr(phase, "document", None)
        if document:
            prompts.check(document, prompts.DOCUMENT_VARS, where=f"{where}: document",
                          attrs={**prompts.DOCUMENT_ATTRS, "outputs": outputs, **_output_attrs(phase)})
        writes = getattr(phase, "writes", None)
        if writes:
            from chatdev.replies.parsing import UnsafePath, safe_relpath

            try:
                safe_relpath(writes)
            except UnsafePath as exc:
                raise ConfigError(f"{where}: writes: {exc}") from exc


def _schema_fields(schema: dict[str, Any] | None) -> dict[str, Any] | None:
    """The top-level properties of an object schema, or None when it does not list them."""
    props = (schema or {}).get("properties")
    return props if isinstance(props, dict) else None


def _check_verdict_field(phase: ChatPhase) -> None:
    """A verdict is a boolean field of the reply: anything else could never be true."""
    fields = _schema_fields(phase.json_schema) or {}
    spec = fields.get(phase.verdict)
    if isinstance(spec, dict) and spec.get("type") == "boolean":
        return
    booleans = [k for k, v in fields.items() if isinstance(v, dict) and v.get("type") == "boolean"]
    raise ConfigError(f"{phase.source}: verdict: {phase.verdict!r} is not a boolean field of the schema",
                      hint=f"boolean fields: {', '.join(booleans)}" if booleans
                      else f"add schema.properties.{phase.verdict}: {{type: boolean}}")


def _output_attrs(phase: Any) -> dict[str, frozenset[str]]:
    """``output``'s fields in a document template, when the phase's schema lists them."""
    fields = _schema_fields(getattr(phase, "json_schema", None))
    return {"output": frozenset(fields) | prompts.MAPPING_METHODS} if fields is not None else {}
