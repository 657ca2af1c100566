"""A person in the company: playing a role, answering the CEO's questions, approving at checkpoints.

Three kinds of human turn, all through one ``Desk``:

* ``reply``: ``--human ROLE`` puts a ``HumanModel`` in that role's seat. It implements the
  ``ChatModel`` protocol, so the person is shown exactly what the role's model would be (the
  other role's message, the files in question) and the reply goes through the same parsing and
  the same corrections (``phases._parse``, messages.yaml ``retry``) as a model's.
* ``review``: a checkpoint (``HumanPhase`` with ``review:``): approve, change (a comment the
  phase is redone with, once) or stop (like Ctrl-C: resumable).
* ``clarify``: the CEO's model asks at most three questions, the person answers them.

Where answers come from (``HumanIO``): the terminal (``TerminalIO``: lines ended by a line with
a single ``.`` or EOF; ``:e`` opens ``$EDITOR``), or a file (``AnswersIO``: ``--answers FILE``,
YAML keyed by phase name, a list for a phase that asks several times). Without a terminal
(``--json``, ``--quiet``, no TTY, CI) and without a file, a build that would ask is refused
before anything is made (``NoTerminal``).

Every answer is an event (``HumanWaiting`` before, ``HumanTurn`` after: the transcript and the
report) and a record in ``state.outputs["human"]``, checkpointed at once: ``chatdev resume``
replays the answers of the step it was in and never asks them again.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TextIO

from chatdev import events
from chatdev.errors import UsageError
from chatdev.models.base import ChatModel, ImageInput, Message, Reply, Usage, check_reply, image_label

RECORD = "human"  # state.outputs[RECORD]: every answer, in order
DECISIONS = {"approve": ("approve", "approved", "a", "yes", "y", "ok", "lgtm", "true", "accept"),
             "change": ("change", "c", "no", "n", "false", "revise"),
             "stop": ("stop", "s", "quit", "q", "abort")}
REVIEW_HINT = "approve | change: what to change | stop"
HOW = ("run it in a terminal without --json or --quiet, or give the answers in a file: "
       "--answers FILE (YAML: phase name -> answer, a list for a phase that asks several times)")


class HumanUnavailable(UsageError):
    """A person's turn with nobody to ask: no terminal and no answer in the file."""


class HumanStop(KeyboardInterrupt):
    """The person answered "stop" at a checkpoint: the build stops as on Ctrl-C (resumable)."""


@dataclass(frozen=True)
class Ask:
    phase: str
    role: str  # the seat the person is in (CEO, CTO, ... or "customer" for the CEO's questions)
    turn: str  # reply | review | clarify
    text: str  # what the person is shown
    hint: str = ""  # how to answer, one line


class HumanIO(Protocol):
    source: str  # terminal | answers

    def ask(self, ask: Ask) -> str: ...


def parse_decision(text: str) -> tuple[str, str] | None:
    """``approve`` / ``change: comment`` / ``stop`` (and short forms) -> (decision, comment); None if neither."""
    import re

    m = re.match(r"\s*([A-Za-z]+)\s*[:,.!;-]*\s*(.*)", text, re.DOTALL)
    if m is None:
        return None
    word, rest = m.group(1).lower(), m.group(2)
    for decision, words in DECISIONS.items():
        if word in words:
            comment = rest.strip()
            if decision == "change" and not comment:
                return None  # a change needs to say what
            return decision, comment
    return None


# --------------------------------------------------------------------------- where answers come from


class NoTerminal:
    """Nobody to ask (``--json``, ``--quiet``, no TTY, CI): a build that would ask is refused at once."""

    source = "none"

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def ask(self, ask: Ask) -> str:
        raise HumanUnavailable(f"{ask.role}'s turn in {ask.phase} needs a person at a terminal ({self.reason})",
                               hint=HOW)


class TerminalIO:
    """The person at the terminal: multi-line replies ended by ``.`` alone or EOF; ``:e`` opens ``$EDITOR``."""

    source = "terminal"

    def __init__(self, *, stdin: TextIO | None = None, stdout: TextIO | None = None,
                 editor: str | None = None) -> None:
        self.stdin = stdin
        self.stdout = stdout
        self.editor = editor

    def ask(self, ask: Ask) -> str:
        from chatdev.views.viewstate import clean

        out = self.stdout or sys.stdout
        inp = self.stdin or sys.stdin
        seat = "you (the customer)" if ask.role == "customer" else f"you, as {ask.role}"
        out.write(f"\n── {ask.phase}: {seat} ──\n{clean(ask.text).rstrip()}\n\n")
        if ask.hint:
            out.write(f"({ask.hint})\n")
        out.write("Type your reply; end it with a line holding only '.' (or EOF). ':e' alone opens $EDITOR.\n")
        out.flush()
        lines: list[str] = []
        while True:
            out.write("> ")
            out.flush()
            line = inp.readline()
            if not line:  # EOF
                break
            line = line.rstrip("\r\n")
            if line.strip() == ".":
                break
            if line.strip() == ":e" and not lines:
                return self._edit(ask)
            lines.append(line)
        return "\n".join(lines).strip("\n")

    def _edit(self, ask: Ask) -> str:
        editor = self.editor or os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
        marker = "# chatdev: write your reply below this line; lines above it are dropped\n"
        shown = "".join(f"# {line}\n" for line in ask.text.splitlines()[-60:])
        fd, name = tempfile.mkstemp(prefix="chatdev-", suffix=".md")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(shown + marker)
            subprocess.run([*shlex.split(editor), name], check=False)
            text = Path(name).read_text(encoding="utf-8")
        finally:
            Path(name).unlink(missing_ok=True)
        return text.split(marker, 1)[-1].strip("\n")


class AnswersIO:
    """``--answers FILE``: YAML keyed by phase name; a list for a phase that asks several times."""

    source = "answers"

    def __init__(self, path: Path, answers: dict[str, list[str]]) -> None:
        self.path = path
        self.answers = answers
        self.used: dict[str, int] = {}

    @classmethod
    def load(cls, path: Path) -> AnswersIO:
        import yaml

        path = Path(path)
        where = f"--answers {path}"
        if not path.is_file():
            raise UsageError(f"{where}: no such file", hint="write the answers as YAML: phase name -> answer")
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"{where}: cannot read: {exc}", hint="check the file") from None
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = f" line {mark.line + 1}" if mark is not None else ""
            raise UsageError(f"{where}:{line}: not YAML: {getattr(exc, 'problem', None) or 'syntax error'}",
                             hint="write the answers as YAML: phase name -> answer") from None
        if not isinstance(data, dict):
            raise UsageError(f"{where}: expected a mapping of phase name -> answer",
                             hint="e.g. approve_design: approve")
        answers: dict[str, list[str]] = {}
        for key, value in data.items():
            items = value if isinstance(value, list) else [value]
            if not items or any(isinstance(v, (dict, list)) or v is None for v in items):
                raise UsageError(f"{where}: {key}: expected an answer (text) or a list of answers",
                                 hint="e.g. clarify: [\"arrow keys\", \"no\"]")
            answers[str(key)] = [_text(v) for v in items]
        return cls(path, answers)

    def require(self, phases: Iterable[str], *, reviews: Iterable[str] = ()) -> None:
        """Every phase that will ask has an answer; a checkpoint's answers are decisions."""
        for name in phases:
            if name not in self.answers:
                raise UsageError(f"--answers {self.path}: no answer for phase {name!r}, which will ask",
                                 hint=f"add `{name}: ...` to the file")
        for name in reviews:
            for value in self.answers.get(name, []):
                if parse_decision(value) is None:
                    raise UsageError(f"--answers {self.path}: {name}: {value!r} is not a decision",
                                     hint=REVIEW_HINT)

    def skip(self, phase: str, count: int) -> None:
        """On resume: the answers a phase gave before are behind us."""
        self.used[phase] = max(self.used.get(phase, 0), count)

    def ask(self, ask: Ask) -> str:
        given = self.answers.get(ask.phase)
        index = self.used.get(ask.phase, 0)
        if not given or index >= len(given):
            have = f"has {len(given)} answer(s) for it" if given else "has no answer for it"
            raise HumanUnavailable(f"--answers {self.path}: {ask.phase} asks {ask.role} again and the file {have}",
                                   hint=f"add answers under `{ask.phase}:` (a list) and `chatdev resume`")
        self.used[ask.phase] = index + 1
        return given[index]


def _text(value: Any) -> str:
    if value is True:
        return "approve"
    if value is False:
        return "stop"
    return str(value)


# --------------------------------------------------------------------------- the desk: every human turn


class Desk:
    """Asks the person (or replays a recorded answer), records the answer and checkpoints it."""

    def __init__(self, io: HumanIO, state: Any, sink: events.EventSink, checkpoint: Callable[[], None]) -> None:
        self.io = io
        self.state = state
        self.sink = sink
        self.checkpoint = checkpoint
        self.step = ""  # the chain step running now (Chain._step)
        self.phase = ""  # the phase of the model call being made (Context.ask)
        self._counts: dict[str, int] = {}
        if isinstance(io, AnswersIO):  # a resumed run: the answers given before are behind us
            given: dict[str, int] = {}
            for record in self.records():
                given[str(record.get("phase"))] = given.get(str(record.get("phase")), 0) + 1
            for phase, count in given.items():
                io.skip(phase, count)

    def records(self) -> list[dict[str, Any]]:
        value = self.state.outputs.setdefault(RECORD, [])
        return value if isinstance(value, list) else []

    def ask(self, *, phase: str, role: str, turn: str, text: str, hint: str = "", replay: bool = True) -> str:
        step = self.step or phase
        n = self._counts.get(step, 0)
        self._counts[step] = n + 1
        key = f"{step}|{phase}|{n}"
        for record in self.records():
            if record.get("key") == key and record.get("replay", True):
                self.sink(events.HumanTurn(phase=phase, role=role, turn=turn, question=_short(text),
                                           answer=str(record["answer"]), source="recorded"))
                return str(record["answer"])
        self.sink(events.HumanWaiting(phase=phase, role=role, turn=turn))
        answer = self.io.ask(Ask(phase=phase, role=role, turn=turn, text=text, hint=hint))
        self.sink(events.HumanTurn(phase=phase, role=role, turn=turn, question=_short(text), answer=answer,
                                   source=self.io.source))
        self.records().append({"key": key, "step": step, "phase": phase, "role": role, "turn": turn,
                               "answer": answer, "source": self.io.source, "replay": replay})
        self.checkpoint()
        return answer

    def not_again(self) -> None:
        """The last answer is not replayed on resume ("stop": the resumed run asks again)."""
        if self.records():
            self.records()[-1]["replay"] = False
            self.checkpoint()


def _short(text: str) -> str:
    return text if len(text) <= 2000 else text[:1000] + "\n[...]\n" + text[-1000:]


# --------------------------------------------------------------------------- the person in a role's seat


class HumanModel:
    """A ``ChatModel`` whose replies the person types: the role's turn goes to the ``Desk``."""

    human = True
    name = "human"
    supports_vision = True  # the person is told where the pictures are

    def __init__(self, role: str, desk: Desk, base: ChatModel | None = None) -> None:
        self.role = role
        self.desk = desk
        self.base = base
        self.n_ctx = max(getattr(base, "n_ctx", 0) or 0, 32768)  # the person sees whole files

    def count_tokens(self, text: str) -> int:
        return self.base.count_tokens(text) if self.base is not None else (len(text) + 3) // 4

    def chat(self, messages: Sequence[Message], *, images: Sequence[ImageInput] = (),
             schema: dict[str, Any] | None = None, max_tokens: int = 512, stop: Sequence[str] = (),
             temperature: float = 0.2, seed: int | None = None,
             on_token: Callable[[str], None] | None = None) -> Reply:
        text = next((m.content for m in reversed(messages) if m.role == "user"), "")
        if images:
            text += "\n\nPictures: " + ", ".join(image_label(i) for i in images)
        hint = "reply with one JSON object" if schema is not None else ""
        answer = self.desk.ask(phase=self.desk.phase, role=self.role, turn="reply", text=text, hint=hint)
        if on_token is not None and answer:
            on_token(answer)
        if schema is None:
            return Reply(text=answer, usage=Usage())
        parsed, error = check_reply(answer, schema)
        return Reply(text=answer, usage=Usage(), parsed=parsed, schema_error=error)

    def close(self) -> None:
        return None


def is_human(model: Any) -> bool:
    return bool(getattr(model, "human", False))


# --------------------------------------------------------------------------- which roles, which phases


def check_roles(company: Any, names: Sequence[str]) -> list[str]:
    """The canonical role names of ``--human``; an unknown one is one line listing the known roles."""
    from chatdev.company.config import _lookup_role

    out: list[str] = []
    for name in names:
        role = _lookup_role(company.roles, name)
        if role is None:
            raise UsageError(f"--human {name}: no such role in {company.name}",
                             hint=f"known roles: {', '.join(company.roles)}")
        if role.name not in out:
            out.append(role.name)
    return out


def seat(phase: Any, company: Any) -> str:
    """The role of a human phase: its ``role:``, else the top of the org chart."""
    if getattr(phase, "role", None):
        return str(company.role(phase.role).name)
    return next((r.name for r in company.roles.values() if r.reports_to is None), next(iter(company.roles)))


def asking_phases(company: Any, chain: Sequence[str], humans: Sequence[str], *,
                  done: Callable[[str], bool] = lambda name: False) -> tuple[list[str], list[str]]:
    """(phases that will ask the person, the checkpoints among them), at the chain's top level.

    Phases inside loops and conditional (``when:``) phases may or may not ask; they are asked
    when they come (an answers file without them then stops the build with one line, resumable).
    """
    from chatdev.company.config import ChatPhase, DebatePhase, HumanPhase

    people = set(humans)
    asks: list[str] = []
    reviews: list[str] = []
    for name in chain:
        if done(name):
            continue
        phase = company.phases[name]
        if isinstance(phase, HumanPhase):
            asks.append(name)
            if phase.review:
                reviews.append(name)
        elif isinstance(phase, ChatPhase) and not phase.when:
            if company.role(phase.assistant).name in people or (
                    phase.max_turns > 1 and company.role(phase.instructor).name in people):
                asks.append(name)
        elif isinstance(phase, DebatePhase):
            if {company.role(p).name for p in [*phase.participants, phase.judge]} & people:
                asks.append(name)
    return asks, reviews


def clarifications(outputs: dict[str, Any], company: Any) -> str:
    """The CEO's questions and the person's answers, for the prompt variable ``clarifications``."""
    from chatdev.company.config import HumanPhase

    lines: list[str] = []
    for phase in getattr(company, "phases", {}).values():
        if isinstance(phase, HumanPhase) and phase.prompt is not None:
            for qa in outputs.get(phase.output_name) or []:
                if isinstance(qa, dict) and str(qa.get("answer", "")).strip():
                    lines.append(f"- Q: {qa.get('question', '')}\n  A: {str(qa['answer']).strip()}")
    return "\n".join(lines)
