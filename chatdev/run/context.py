"""What a run carries from phase to phase: its options, its state (state.json), the
context every phase runner sees, and what a phase hands back.

Between the chain (chain.py, which orders and commits the phases) and the phase kinds
(phases.py, which run one phase); both import this module, neither imports the other's
insides through it.
"""

from __future__ import annotations

import dataclasses
import json
import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chatdev import events
from chatdev.checks import examples, expectations
from chatdev.company import prompts
from chatdev.company.config import ActionPhase, ChatPhase, Company
from chatdev.company.orgchart import OrgChart
from chatdev.errors import ModelError
from chatdev.models.base import Accept, CallInfo, ChatModel, Reply, Usage, calling
from chatdev.replies.parsing import parse_files
from chatdev.run.conversation import Conversation
from chatdev.sandbox.results import STDIN_HINT, Progress, tests_record, wants_arguments, with_hint


class PhaseFailed(Exception):
    """A phase could not produce usable output within its retries."""


class SkipLoop(Exception):
    """An action that cannot run (sandbox disabled) ends its loop without a verdict."""


@dataclass
class PhaseResult:
    output: Any = None
    verdicts: dict[str, bool] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    calls: int = 0
    status: str = "done"  # done | skipped
    reason: str = ""
    progress: Progress | None = None  # a check's result, compared with the next (no step backwards)


STATE_VERSION = 1


@dataclass
class RunOptions:
    seed: int | None = None
    no_run: bool = False
    allow_install: bool = False
    temperature: float = 0.2
    candidates: int | None = None  # --candidates N: best-of-N for every phase that writes files


@dataclass
class RunState:
    """Everything a resumed run needs; saved as .chatdev/state.json."""

    task: str
    project: str
    company: str
    models: dict[str, str]  # role -> model reference
    run: int = 1
    change: str = ""
    completed: list[str] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    verdicts: dict[str, bool] = field(default_factory=dict)
    directive: str = ""
    usage: dict[str, int] = field(default_factory=lambda: {"prompt": 0, "completion": 0, "cached": 0})
    llm_calls: int = 0
    phases: list[dict[str, Any]] = field(default_factory=list)
    tests: dict[str, Any] = field(default_factory=lambda: {"ran": False, "passed": None, "summary": ""})
    escalations: int = 0
    checks: dict[str, Any] = field(default_factory=dict)  # loop key -> the last check's progress (no step back)
    status: str = "running"
    reason: str = ""  # why the run stopped early (a phase failed, interrupted, an error)
    wall_s: float = 0.0
    images: list[str] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)
    version: int = STATE_VERSION

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunState:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


class Context:
    """What every phase runner sees: company, models, workspace, sandbox, state, sink."""

    def __init__(self, *, company: Company, models: dict[str, ChatModel], workspace: Any, state: RunState,
                 sink: events.EventSink, options: RunOptions, images: Sequence[Path] = (),
                 verifier: Callable[..., Any] | None = None, computer: Callable[[str], Any] | None = None,
                 desk: Any = None) -> None:
        self.company = company
        self.chart = OrgChart.from_roles(list(company.roles.values()))
        self.models = models
        self.workspace = workspace
        self.state = state
        self.sink = sink
        self.options = options
        self.images = list(images)
        self.verifier = verifier
        self.computer = computer  # a script run alone in the sandbox: its RunResult (an expected value's check)
        self.final_check = False  # a loop's last check after its last fix: test defects are quarantined now
        self._told_no_vision = False
        self.desk = desk  # human.Desk when a person takes part (--human, checkpoints, --clarify)
        self.revision: dict[str, Any] | None = None  # a checkpoint's change: the phase redone with the comment

    # models ------------------------------------------------------------------
    def model_for(self, role: str) -> ChatModel:
        return self.models[self.company.role(role).name]

    def count_tokens(self, text: str) -> int:
        return next(iter(self.models.values())).count_tokens(text)

    def images_for(self, phase: ChatPhase, role: str) -> list[Path]:
        wants = phase.images or phase.name in self.company.spec.images_to
        if not self.images or not wants:
            return []
        model = self.model_for(role)
        if self.company.role(role).vision and model.supports_vision:
            return list(self.images)
        if not self._told_no_vision:
            self._told_no_vision = True
            self.sink(events.Notice(level="warning", text=f"--image ignored: {model.name} cannot see images "
                                    "(use a vision model such as llava-1.5-7b with its --mmproj)"))
        return []

    def ask(self, conv: Conversation, phase: str, *, sender: str, receiver: str, text: str,
            images: Sequence[Any] = (), schema: dict[str, Any] | None = None, max_tokens: int = 512,
            result: PhaseResult, cycle: int = 0, attempt: int = 0, shown: str | None = None,
            expects: str = "text", item: str | None = None, turn: str = "answer") -> Reply:
        """One model call with events, streaming and accounting.

        ``expects``, ``item`` and ``turn`` say where the call comes from (``CallInfo``,
        which test models route on).

        A later loop cycle or a retry must not meet the same prompt with the same sampling:
        a small model then answers exactly as before. So the seed moves with the cycle and
        the attempt, and the temperature rises a little with each. ``shown`` is what the
        transcript records of ``text`` when the two differ (a retry re-sends the request).
        """
        self.sink(events.Message(phase=phase, sender=sender, receiver=receiver, text=text if shown is None else shown,
                                 images=[str(i) for i in images if isinstance(i, (str, Path))]))

        def on_token(piece: str) -> None:
            self.sink(events.Token(phase=phase, sender=receiver, text=piece))

        if self.desk is not None:
            self.desk.phase = phase  # a person in the receiver's seat answers for this phase

        seed, temperature = self._sampling(cycle, attempt)
        info = CallInfo(phase=phase, role=receiver, expects=expects, schema=schema, item=item, cycle=cycle,
                        turn=turn)
        with calling(info):
            reply = conv.ask(text, images=images, schema=schema, max_tokens=max_tokens,
                             temperature=temperature, seed=seed, on_token=on_token)
        self._answered(phase, conv.model.name, sender, receiver, reply, result)
        return reply

    def ask_many(self, conv: Conversation, phase: str, n: int, *, sender: str, receiver: str, text: str,
                 max_tokens: int, result: PhaseResult, cycle: int = 0, shown: str | None = None,
                 item: str | None = None, accept: Accept | None = None) -> list[Reply]:
        """``n`` candidate replies to one request, decoded together where the backend can; each
        is one message of the transcript (``candidate`` set) and counts as one call, but for a
        candidate ``accept`` stopped before it was asked (``models.base.chat_many``)."""
        self.sink(events.Message(phase=phase, sender=sender, receiver=receiver, text=text if shown is None else shown))

        def on_token(index: int, piece: str) -> None:
            self.sink(events.Token(phase=phase, sender=receiver, text=piece, candidate=index))

        if self.desk is not None:
            self.desk.phase = phase
        seed, temperature = self._sampling(cycle, 0)
        with calling(CallInfo(phase=phase, role=receiver, expects="files", item=item, cycle=cycle)):
            replies = conv.ask_many(text, n, max_tokens=max_tokens, temperature=temperature, seed=seed,
                                    on_token=on_token, accept=accept)
        for index, reply in enumerate(replies):
            if reply.finish_reason == "cancelled" and not reply.usage.completion_tokens:
                continue  # never asked
            self._answered(phase, conv.model.name, sender, receiver, reply, result, candidate=index)
        return replies

    def _sampling(self, cycle: int, attempt: int) -> tuple[int | None, float]:
        seed = self.options.seed
        if seed is not None:
            seed += 7919 * max(cycle - 1, 0) + 104729 * attempt
        return seed, min(0.9, self.options.temperature + 0.15 * max(cycle - 1, 0) + 0.2 * attempt)

    def _answered(self, phase: str, model: str, sender: str, receiver: str, reply: Reply, result: PhaseResult,
                  candidate: int | None = None) -> None:
        """A reply counted (the phase's and the run's usage, one call) and recorded as the receiver's message."""
        u = reply.usage
        result.usage = result.usage + u
        result.calls += 1
        self.state.usage["prompt"] += u.prompt_tokens
        self.state.usage["completion"] += u.completion_tokens
        self.state.usage["cached"] += u.cached_prompt_tokens
        if u.drafted_tokens:  # a state.json of an older run has no such count
            self.state.usage["drafted"] = self.state.usage.get("drafted", 0) + u.drafted_tokens
        self.state.llm_calls += 1
        self.sink(events.Message(phase=phase, sender=receiver, receiver=sender, text=reply.text, model=model,
                                 prompt_tokens=u.prompt_tokens, completion_tokens=u.completion_tokens,
                                 cached_tokens=u.cached_prompt_tokens, drafted_tokens=u.drafted_tokens,
                                 prefill_s=reply.timings.prefill_s,
                                 decode_s=reply.timings.decode_s, candidate=candidate))

    # sandbox -----------------------------------------------------------------
    def verify(self, phase: ActionPhase, *, tests: bool) -> Any:
        """The program's run (and, with ``tests``, its tests) in the sandbox: a ``ProgramReport``."""
        report = self.check_program(timeout=phase.timeout, tests=tests, phase=phase.name, role=phase.role)
        self._record_runs(phase, report)
        self.state.tests = tests_record(report, ran_tests=tests, before=self.state.tests)
        return report

    def check_program(self, *, timeout: float, tests: bool, phase: str = "", role: str | None = None) -> Any:
        """The verifier on the project as it is now (its design's entry point).

        A tool that refuses a bare run with its usage, or waits for typed input where the task
        says it takes arguments (``examples.prompted``), is tried again (not when the task says it
        reads standard input: a bare run is its command line) with the command line
        ``role`` writes from what it printed (asked once per text, kept in ``examples.TRIED``);
        that question is the only thing recorded here.
        """
        assert self.verifier is not None, "the caller checks for a sandbox first"
        design = self.state.outputs.get("design")
        design = design if isinstance(design, dict) else None
        entry = design.get("entry") if design else None
        tried = self.state.outputs.get(examples.TRIED)
        args = examples.for_run(self.state.task, design, tried if isinstance(tried, dict) else None)
        report = self._check(entry, timeout=timeout, tests=tests, args=args)
        run = getattr(report, "run", None)
        usage = examples.refused(run) or examples.prompted(self.state.task, run)
        if not usage or not role or examples.task_examples(self.state.task) or examples.reads_stdin(self.state.task):
            return report  # the task gives the command line, or says the input comes on standard input
        if isinstance(tried, dict) and tried.get("usage") == usage:
            return report  # asked for this usage before: the answer did not help, do not ask again
        line = self._ask_usage(phase, role, entry or "main.py", usage)
        self.state.outputs[examples.TRIED] = {"run": line, "usage": usage}
        new = examples.first_command(line)
        if not new:
            return report
        return self._check(entry, timeout=timeout, tests=tests, args=[new])

    def _check(self, entry: str | None, *, timeout: float, tests: bool, args: list[list[str]]) -> Any:
        """One verifier call; a tool the task feeds on standard input that refused to run without
        arguments is told where its input is (the fixer reads the report)."""
        report = self._verify(entry, timeout=timeout, tests=tests, args=args)
        if examples.reads_stdin(self.state.task) and wants_arguments(getattr(report, "run", None)):
            report = with_hint(report, STDIN_HINT)
        return report

    def _verify(self, entry: str | None, *, timeout: float, tests: bool, args: list[list[str]]) -> Any:
        assert self.verifier is not None
        return self.verifier(self.workspace.root, entry=entry, timeout=timeout, tests=tests,
                             allow_install=self.options.allow_install, args=args,
                             expect=[*examples.task_outputs(self.state.task), *examples.task_commands(self.state.task),
                                     *examples.task_input(self.state.task), *examples.task_keys(self.state.task)]
                             if tests else [])

    def _ask_usage(self, phase: str, role: str, entry: str, usage: str) -> str:
        """The command line ``role`` would type to try a program that printed ``usage`` ("" if none)."""
        name = self.company.role(role).name
        model = self.model_for(name)
        if getattr(model, "human", False):
            return ""  # a person playing the seat is not asked this aside; they see the usage in the report
        text = prompts.render(self.company.messages.usage, {"task": self.state.task, "entry": entry, "usage": usage},
                              where="messages.yaml: usage")
        try:
            reply = self.ask(Conversation(model, ""), phase, sender="chatdev", receiver=name,
                             text=text, schema=examples.USAGE_SCHEMA, max_tokens=60, result=PhaseResult(),
                             expects="json", turn="usage")
        except ModelError:
            return ""  # an aside: a model that cannot answer it leaves the bare run's verdict
        value = reply.parsed if isinstance(reply.parsed, dict) else None
        if value is None:
            try:
                value = json.loads(reply.text)
            except ValueError:
                return ""
        run = value.get("run") if isinstance(value, dict) else None
        return run.strip() if isinstance(run, str) else ""

    def expected_value(self, phase: str, role: str, expectation: expectations.Expectation, *,
                       result: PhaseResult) -> Any:
        """What ``role``'s own computation of a failing assert's call gives (``checks/expectations.py``):
        a function it writes with the standard library alone, the program not shown, run alone in
        the sandbox. ``expectations.NOTHING`` when there is no sandbox, no usable function or no value.
        The call counts in ``result`` (the check's phase)."""
        name = self.company.role(role).name
        model = self.model_for(name)
        if self.computer is None or getattr(model, "human", False):
            return expectations.NOTHING  # a person in the seat reads the failing test in the report
        text = prompts.render(self.company.messages.expected,
                              {"task": self.state.task, "setup": expectation.setup, "call": expectation.call},
                              where="messages.yaml: expected")
        try:
            reply = self.ask(Conversation(model, ""), phase, sender="chatdev", receiver=name, text=text,
                             max_tokens=300, result=result, expects="files", turn="expected")
        except ModelError:
            return expectations.NOTHING  # an aside: the failing test goes on as it would have
        source = _expected_function(reply.text, f"{expectation.setup}\n{expectation.call}")
        if not source:
            return expectations.NOTHING
        run = self.computer(expectations.script(source))
        ok = run is not None and run.exit_code == 0 and not run.timed_out
        return expectations.computed(run.stdout) if ok else expectations.NOTHING

    def _record_runs(self, phase: ActionPhase, report: Any) -> None:
        shot = None
        if getattr(report, "screenshot", None):
            rel = f".chatdev/screens/{self.state.run}-{phase.name}-{len(self.state.phases)}.png"
            path = self.workspace.root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(report.screenshot)
            shot = rel
        if not getattr(report, "static_ok", True):
            self.sink(events.SandboxRan(phase=phase.name, command="pyflakes", exit_code=1, timed_out=False,
                                        duration=0.0, stdout=report.summary[-4000:], stderr=""))
        for label, run in (("run", getattr(report, "run", None)), ("pytest", getattr(report, "tests", None))):
            if run is None:
                continue
            command = label
            if label == "run" and getattr(report, "entry", None):
                command = shlex.join(["python", report.entry, *getattr(run, "args", ())])
            if label == "run" and getattr(run, "reused", False):
                command += " (its last run: the program's files are unchanged)"
            self.sink(events.SandboxRan(phase=phase.name, command=command, exit_code=run.exit_code,
                                        timed_out=run.timed_out, duration=run.duration, stdout=run.stdout[-4000:],
                                        stderr=run.stderr[-4000:], screenshot=shot if label == "run" else None))

    def look_at_screenshot(self, phase: ActionPhase, png: bytes) -> str:
        """The tester shows a screenshot to a vision model; text-only models skip this."""
        role = self.company.role(phase.role)
        model = self.model_for(role.name)
        if not (role.vision and model.supports_vision):
            return ""
        text = prompts.render(self.company.messages.screenshot, {"task": self.state.task},
                              where="messages.yaml: screenshot")
        conv = Conversation(model, "")
        reply = self.ask(conv, phase.name, sender="chatdev", receiver=role.name, text=text, images=[png],
                         max_tokens=120, result=PhaseResult(), turn="screenshot")
        return f"\nWhat the screenshot shows ({role.name}): {reply.text.strip()}"


def _expected_function(reply: str, inputs: str) -> str:
    """The reply's code when its ``expected()`` computes a value from ``inputs``' values
    (``expectations.computes``), else ""."""
    parsed = parse_files(reply, expected=[expectations.SCRIPT])
    source = parsed.files.get(expectations.SCRIPT, "") if parsed.ok else ""
    return source if expectations.computes(source, inputs) else ""
