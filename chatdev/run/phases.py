"""The phase kinds: ``chat``, ``debate`` and ``action`` (``loop`` lives in chain.py).

Each runner takes a ``PhaseRun`` (the phase, its cycle, the shared context)
and returns a ``PhaseResult``: the output stored under the phase's output
name, verdicts, the files it wrote and its token usage. Model misbehaviour (no
code block, bad JSON) goes back to the model as a retry message a bounded
number of times; after that the phase fails with the reason (``PhaseFailed``).
"""

from __future__ import annotations

import ast
import dataclasses
import re
import shlex
import sys
from collections.abc import Callable, Sequence
from pathlib import PurePosixPath
from typing import Any

from chatdev import events
from chatdev.checks import answers, crashes, examples, expectations, targets, unused
from chatdev.company import prompts
from chatdev.company.config import ActionPhase, ChatPhase, DebatePhase, HumanPhase
from chatdev.errors import ChatDevError
from chatdev.models.base import Reply, SchemaViolation
from chatdev.project import api
from chatdev.repair import lettercase
from chatdev.repair.argv import feed_arguments, fit_arity
from chatdev.repair.assets import stand_ins
from chatdev.repair.display import init_pygame, make_display, undefined_name
from chatdev.repair.guard import guard_entry
from chatdev.repair.homes import rehome
from chatdev.repair.imports import add_missing_imports, class_as_module
from chatdev.repair.loops import run_once
from chatdev.repair.objects import make_objects
from chatdev.repair.params import pass_locals
from chatdev.repair.scopes import declare_outer, declare_read_before, unbound_name
from chatdev.repair.shadows import not_callable, rename_flag
from chatdev.replies import formats, parsing, plans
from chatdev.replies.splice import cut_program, cut_tests
from chatdev.run import human
from chatdev.run.context import Context, PhaseFailed, PhaseResult, SkipLoop
from chatdev.run.conversation import Conversation
from chatdev.sandbox import catalogue
from chatdev.sandbox.results import (
    asks_instead,
    crash_site,
    defects_text,
    is_test_path,
    program_failures,
    tests_record,
    usage_only,
    with_disputes,
)

DONE = "<DONE>"
SOURCE_SUFFIXES = (".py",)
MIN_CODE_BUDGET = 200
ANSWER_RESERVE = 1400  # tokens the code shown leaves for the answer (a files phase may allow more)
CANDIDATE_RUN_S = 5.0  # a candidate's run window: as long as the review loop's static check


# --------------------------------------------------------------------------- context for templates


def template_context(ctx: Context, *, cycle: int, item: Any = None, code: str = "", feedback: str = "",
                     role: str | None = None, focus: Sequence[str] = (), crash: str = "",
                     tested: Sequence[str] = ()) -> dict[str, Any]:
    return {
        "company": {"name": ctx.company.name, "description": ctx.company.spec.description},
        "task": ctx.state.task,
        "role": role,
        "outputs": _Outputs(ctx.state.outputs),
        "item": item,
        "files": ctx.workspace.files(),
        "code": code,
        "feedback": feedback,
        "cycle": cycle,
        "directive": ctx.state.directive,
        "change": ctx.state.change,
        "images": [str(p) for p in ctx.images],
        "focus": list(focus),
        "crash": crash,
        "tested": list(tested),
        "clarifications": human.clarifications(ctx.state.outputs, ctx.company),
        "importable": api.importable(_project_texts(ctx, suffix=".py")),
    }


class _Outputs(dict):  # type: ignore[type-arg]
    """``outputs.design`` for a phase that has not run yet renders as empty, not an error."""

    def __getattr__(self, name: str) -> Any:
        return self.get(name, "")


def persona(ctx: Context, role_name: str) -> str:
    role = ctx.company.role(role_name)
    return prompts.render(role.persona, {"company": {"name": ctx.company.name,
                                                     "description": ctx.company.spec.description},
                                         "role": {"name": role.name, "title": role.title},
                                         "sandbox": catalogue.describe()},
                          where=f"{role.source}: persona")


# --------------------------------------------------------------------------- code within a budget


def outline(source: str) -> str:
    """The def/class lines of a Python file: its API when the whole file does not fit."""
    keep = [f"{i:4d}| {line}" for i, line in enumerate(source.splitlines(), 1)
            if re.match(r"\s*(def |class |async def |[A-Z_][A-Z0-9_]* = )", line)]
    return "\n".join(keep) or "(no functions or classes)"


def code_context(ctx: Context, budget: int, *, first: tuple[str, ...] = (), tests: bool = True) -> str:
    """The project's source files as fenced blocks, whole while they fit, else outlined.

    ``first`` (the file being worked on) comes first, so it is the last to be outlined.
    """
    count = ctx.count_tokens
    paths = [p for p in ctx.workspace.files() if p.endswith(SOURCE_SUFFIXES) and (tests or not is_test_path(p))]
    paths.sort(key=lambda p: (p not in first, is_test_path(p), p))
    parts: list[str] = []
    used = 0
    for path in paths:
        text = ctx.workspace.read(path)
        block = f"{path}\n```python\n{text.rstrip()}\n```"
        cost = count(block)
        if used + cost > budget:
            block = f"{path} (outline; the whole file is too long to show)\n```\n{outline(text)}\n```"
            cost = count(block)
            if used + cost > budget:
                parts.append(f"{path} (not shown: no room in the context)")
                continue
        parts.append(block)
        used += cost
    return "\n\n".join(parts)


# --------------------------------------------------------------------------- chat


JUDGED = "judged"  # state.checks: a verdict phase -> the signature of the project it last judged


def run_chat(ctx: Context, phase: ChatPhase, *, cycle: int) -> PhaseResult:
    if phase.when and not _resolve(ctx, phase.when):
        return PhaseResult(output=ctx.state.outputs.get(phase.output_name), status="skipped",
                           reason=f"nothing to do: {phase.when} is empty")
    judge = bool(phase.verdict) and phase.expects == "json"
    signature = _project_signature(ctx) if judge else ""
    if judge and ctx.state.verdicts.get(phase.verdict) is False and ctx.state.checks.get(JUDGED, {}).get(
            phase.name) == signature:
        # the same files it refused: the same findings, without a model call (after an escalation's
        # "retry" the 1.5B's reviewer read main.py again for 33 s, and the fix then changed nothing)
        return PhaseResult(output=ctx.state.outputs.get(phase.output_name), status="skipped",
                           reason="nothing changed since its last verdict: its findings stand")
    result = PhaseResult()
    items: list[Any] = [None]
    if phase.foreach:
        items = _resolve(ctx, phase.foreach)
        if not isinstance(items, list) or not items:
            raise PhaseFailed(f"{phase.foreach} has no items to work on")
    written: dict[str, str] = {}
    output: Any = None
    for item in items:
        output = _exchange(ctx, phase, cycle=cycle, item=item, result=result, written=written)
    if phase.expects == "files":
        result.output = sorted(written)
    else:
        result.output = output
        if phase.expects == "json" and phase.verdict:
            value = bool(output.get(phase.verdict)) if isinstance(output, dict) else False
            # a model's "approved" does not outvote a check that failed (a verdict not set, as
            # when the sandbox is off, blocks nothing)
            failed = [r for r in phase.requires if ctx.state.verdicts.get(r) is False]
            if value and failed:
                value = False
                result.reason = f"{phase.verdict} overruled: {', '.join(failed)} failed"
            result.verdicts[phase.verdict] = value
            ctx.state.checks.setdefault(JUDGED, {})[phase.name] = signature
        if phase.writes:
            result.files += ctx.workspace.write({phase.writes: _document(ctx, phase, output)})
    result.files = sorted(set(result.files))  # what actually changed on disk
    return result


def _document(ctx: Context, phase: ChatPhase | DebatePhase, output: Any) -> str:
    if phase.document:
        text = prompts.render(phase.document, {"output": output, "task": ctx.state.task,
                                               "company": {"name": ctx.company.name},
                                               "outputs": _Outputs(ctx.state.outputs)},
                              where=f"{phase.source}: document")
    elif isinstance(output, str):
        text = output
    else:
        import json

        text = json.dumps(output, indent=2)
    return text.rstrip() + "\n"


def _resolve(ctx: Context, ref: str) -> Any:
    value: Any = ctx.state.outputs
    for part in ref.split(".")[1:]:
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _render_prompt(ctx: Context, phase: ChatPhase, *, cycle: int, item: Any, assistant: str,
                   system: str, source: str, where: str, expected: Sequence[str] = ()) -> str:
    """Render with ``code`` sized to what is left of the context after everything else; the
    reply format's instruction closes the request (``formats.ReplyFormat.instruction``)."""
    def render(code: str, focus: Sequence[str] = (), crash: str = "", tested: Sequence[str] = ()) -> str:
        text = prompts.render(source, template_context(ctx, cycle=cycle, item=item, code=code, role=assistant,
                                                       focus=focus, crash=crash, tested=tested), where=where)
        return instructed(text, phase.expects, expected=expected, schema=phase.json_schema)

    needs_code = "code" in prompts.undeclared(source, where=where)
    bare = render("")
    if not needs_code:
        return bare
    # the files the request itself names (a failure report, review findings) come first and
    # whole, and the prompt may say so through ``focus``
    paths = ctx.workspace.files()
    focus = named_files(bare, paths)
    # a crash names the one place to change: its innermost frame in a project file, first
    site = crash_site(bare, paths)
    crash = str(site) if site else ""
    tested: list[str] = []
    if site:
        focus = [site.path, *(p for p in focus if p != site.path)]
        read = crashes.ARGUMENT_READ.search(bare)  # it crashed on a command-line argument: change where it is read
        if read and read.group(1) in paths:
            crash += f", on an argument read at {read.group(1)} line {read.group(2)}: `{read.group(3)}`"
            focus = [read.group(1), *(p for p in focus if p != read.group(1))]
    else:  # failing tests name the test file: the program's code they call is where a fix belongs
        # the files are read only for a request that lists failing tests (a prompt is rendered often)
        called = targets.targets(bare, _project_texts(ctx, suffix=".py"), paths) if targets.FAILING.search(bare) else []
        tested = [str(t) for t in called]
        homes = list(dict.fromkeys(t.path for t in called))
        focus = [*homes, *(p for p in focus if p not in homes)]
    if focus:
        bare = render("", focus, crash, tested)
    model = ctx.model_for(assistant)
    # the code shown leaves room for a usual answer; a longer one gets what is left (``Conversation.fit``)
    reserve = min(phase.max_tokens, ANSWER_RESERVE)
    budget = model.n_ctx - reserve - ctx.count_tokens(system) - ctx.count_tokens(bare) - 200
    first = (str(item["path"]),) if isinstance(item, dict) and "path" in item else tuple(focus)
    tests = phase.expects != "files" or phase.foreach is None  # writing code file by file: tests are noise
    return render(code_context(ctx, max(budget, MIN_CODE_BUDGET), first=first, tests=tests), focus, crash, tested)


def instructed(text: str, expects: str, *, expected: Sequence[str] = (),
               schema: dict[str, Any] | None = None) -> str:
    """``text`` closed by the reply format's instruction: phase YAMLs say what, the format says how."""
    instruction = formats.format_for(expects).instruction(expected=expected, schema=schema)
    return f"{text.rstrip()}\n{instruction}\n" if instruction else text


def named_files(text: str, paths: Sequence[str]) -> list[str]:
    """The project files ``text`` names (``tests/test_main.py:47:53``, ``File "/work/game.py"``), in order."""
    found: list[tuple[int, str]] = []
    for path in paths:
        if not path.endswith(SOURCE_SUFFIXES):
            continue
        m = re.search(r"(?<![\w.-])" + re.escape(path) + r"(?![\w-])", text)
        if m:
            found.append((m.start(), path))
    return [p for _, p in sorted(found)]


def _exchange(ctx: Context, phase: ChatPhase, *, cycle: int, item: Any, result: PhaseResult,
              written: dict[str, str]) -> Any:
    instructor = ctx.company.role(phase.instructor).name
    assistant = ctx.company.role(phase.assistant).name
    system = persona(ctx, assistant)
    where = f"{phase.source}: prompt"
    expected: list[str] = []
    if phase.expects == "files" and isinstance(item, dict) and "path" in item:
        expected = [str(item["path"])]
    elif phase.expects == "files" and phase.writes:
        expected = [phase.writes]
    started = _entry_over_program(ctx, phase, expected, result)
    if started is not None:  # an earlier file holds the program and its main(): the entry starts it
        result.files += ctx.workspace.write(started)
        written.update({p: "" for p in started})
        return started
    prompt = _render_prompt(ctx, phase, cycle=cycle, item=item, assistant=assistant, system=system,
                            source=phase.prompt, where=where, expected=expected)
    revision = getattr(ctx, "revision", None)
    if revision and revision.get("phase") == phase.name:  # a checkpoint asked for a change: redo with it
        previous = revision.get("previous")
        if not isinstance(previous, str):
            import json

            previous = json.dumps(previous, indent=2, default=str)
        prompt += "\n\n" + prompts.render(ctx.company.messages.revise,
                                           {"previous": previous, "comment": revision.get("comment", "")},
                                           where="messages.yaml: revise")
    images = ctx.images_for(phase, assistant)
    conv = Conversation(ctx.model_for(assistant), system)
    boss: Conversation | None = None
    item_label = item.get("path") if isinstance(item, dict) else None
    output: Any = None
    message = prompt
    n = candidates_for(ctx, phase)
    for turn in range(1, phase.max_turns + 1):
        if turn == 1 and n > 1 and not images:
            output = _best_of(ctx, phase, conv, message, n, sender=instructor, receiver=assistant,
                              expected=expected, result=result, item=item_label, cycle=cycle)
        else:
            output = _ask_until_valid(ctx, phase, conv, message, sender=instructor, receiver=assistant,
                                      images=images if turn == 1 else (), expected=expected, result=result,
                                      item=item_label, cycle=cycle)
        images = ()
        if phase.expects == "files":
            changed = ctx.workspace.write(output)
            written.update({p: "" for p in output})
            result.files += changed
        if turn == phase.max_turns or (phase.expects == "json" and phase.verdict):
            break
        if boss is None:
            boss = Conversation(ctx.model_for(instructor), persona(ctx, instructor))
            boss.said(prompt)
        follow = ctx.ask(boss, phase.name, sender=instructor, receiver=assistant,
                         text=prompts.render(ctx.company.messages.continue_, {"reply": conv.history[-1].content},
                                             where="messages.yaml: continue"),
                         max_tokens=min(phase.max_tokens, 400), result=result, item=item_label, turn="continue")
        if DONE in follow.text or not follow.text.strip():
            break
        message = follow.text
    return output


def candidates_for(ctx: Context, phase: ChatPhase) -> int:
    """How many candidates a phase asks for: ``--candidates`` over the phase's own, files phases only."""
    if phase.expects != "files" or getattr(ctx.model_for(phase.assistant), "human", False):
        return 1  # a person writes one reply
    return phase.candidates_for(getattr(ctx.options, "candidates", None))


def _parse_files(ctx: Context, phase: ChatPhase, reply: Reply, expected: list[str], *, cut: bool) -> dict[str, str]:
    parsed = dict(_parse(reply, "files", None, expected, known=lambda: _project_texts(ctx), cut=cut))
    if reply.finish_reason == "length":  # a test file cut inside a test: the tests it finished
        for path, text in list(parsed.items()):
            whole = cut_tests(text) if is_test_path(path) and path.endswith(".py") else None
            if whole is None and expected and path.endswith(".py") and not is_test_path(path):
                whole = cut_program(text)  # one planned file cut short: its whole statements, said so
            if whole is not None:
                parsed[path] = whole
    if phase.program_only and any(is_test_path(p) for p in parsed):
        # tests are the tester's: a program fix that rewrites them makes them pass by agreeing with
        # the program (the 1.5B's test_fix did so in the snake and hangman, 2026-12-07)
        program = {p: t for p, t in parsed.items() if not is_test_path(p)}
        if not program:
            names = ", ".join(sorted(p for p in ctx.workspace.files() if p.endswith(".py") and not is_test_path(p))[:6])
            raise SchemaViolation(f"the reply changes only {', '.join(sorted(parsed))}: the tests are the tester's; "
                                  f"change the program's files ({names}) so they pass", reply.text)
        parsed = program
    if phase.foreach and expected and expected[0] not in parsed:
        # one planned file per step: another file's name here would overwrite that file
        raise SchemaViolation(f"the reply writes {', '.join(sorted(parsed))}, but this step is for "
                              f"{expected[0]}: write {expected[0]} only", reply.text)
    return dict(parsed)


def _best_of(ctx: Context, phase: ChatPhase, conv: Conversation, message: str, n: int, *, sender: str,
             receiver: str, expected: list[str], result: PhaseResult, item: str | None, cycle: int) -> Any:
    """Best-of-N: n replies at once, each written on trial and checked in the sandbox, the best kept.

    The ranking is ``candidates.RANKING``; every candidate stays in the transcript, and a
    ``CandidatesRanked`` event says which one won and why. Candidates are checked as they
    end: the first that is ``clean`` is kept and the others are stopped where they are.
    When no reply is usable the phase asks again one reply at a time, as without candidates.
    """
    from chatdev.run import candidates as cands

    check = _candidate_check(ctx, phase.name, receiver)
    checked: dict[int, cands.Candidate] = {}
    entry = _design_entry(ctx)
    later = entry is not None and entry not in ctx.workspace.files()  # the entry point is written later

    def clean(cand: cands.Candidate) -> bool:  # a module written before the entry point cannot run yet
        return cand.clean(can_run=not (later and entry not in cand.files))

    def read(index: int, reply: Reply) -> cands.Candidate:
        cut = reply.finish_reason == "length" and not expected
        try:
            return cands.Candidate(index, _parse_files(ctx, phase, reply, expected, cut=cut), text=reply.text)
        except SchemaViolation as exc:
            return cands.Candidate(index, {}, text=reply.text, problem=exc.reason)

    def accept(index: int, reply: Reply) -> bool:
        """Check a candidate that ended while others are still written; a clean one stops them."""
        cand = checked[index] = read(index, reply)
        cands.check_all(ctx.workspace, [cand], check)
        return clean(cand)

    answers = ctx.ask_many(conv, phase.name, n, sender=sender, receiver=receiver, text=message,
                           max_tokens=phase.max_tokens, result=result, cycle=cycle, item=item,
                           accept=accept if check is not None else None)
    first = next((c for c in checked.values() if clean(c)), None)
    pool: list[cands.Candidate] = []
    for index, reply in enumerate(answers):
        if index in checked:
            pool.append(checked[index])
        elif first is not None:
            why = "not checked" if reply.finish_reason != "cancelled" else \
                "stopped unfinished" if reply.usage.completion_tokens else "not asked"
            pool.append(cands.Candidate(index, {}, text=reply.text,
                                        stopped=f"{why}: candidate {first.index} was clean first"))
        else:
            pool.append(read(index, reply))
    usable = [c for c in pool if c.usable]
    if not usable:
        reason = pool[0].problem if pool else "no reply"
        ctx.sink(events.Retry(phase=phase.name, role=receiver, reason=f"no candidate was usable: {reason}",
                              attempt=1))
        del conv.history[-2:]
        return _ask_until_valid(ctx, phase, conv, message, sender=sender, receiver=receiver, images=(),
                                expected=expected, result=result, item=item, cycle=cycle, start=1,
                                reason=reason)
    if checked or len(usable) > 1:  # one usable reply and nothing checked yet: nothing to choose
        cands.check_all(ctx.workspace, [c for c in pool if c.index not in checked], check)
    ranked = cands.rank(pool)
    winner = ranked[0]
    conv.keep(answers[winner.index])
    ctx.sink(events.CandidatesRanked(phase=phase.name, winner=winner.index, ranking=[c.row() for c in ranked],
                                     cycle=cycle, item=item))
    return winner.files


def _candidate_check(ctx: Context, phase: str, role: str) -> Callable[[], Any] | None:
    """The acceptance check for a candidate: the program's run (5 s window) and its tests, if any;
    ``role`` (who wrote the candidates) writes the command line for a tool that wants arguments."""
    if ctx.verifier is None:
        return None

    def check() -> Any:
        tests = any(is_test_path(p) and p.endswith(".py") for p in ctx.workspace.files())  # the sandbox's rule
        return ctx.check_program(timeout=CANDIDATE_RUN_S, tests=tests, phase=phase, role=role)

    return check


def _ask_until_valid(ctx: Context, phase: ChatPhase | DebatePhase | HumanPhase, conv: Conversation, message: str,
                     *, sender: str, receiver: str, images: Any, expected: list[str], result: PhaseResult,
                     item: str | None, cycle: int = 0, start: int = 0, reason: str = "",
                     expects: str | None = None, schema: dict[str, Any] | None = None) -> Any:
    """The reply, parsed by its format (``expects``/``schema`` default to the phase's own)."""
    expects = expects or (phase.expects if isinstance(phase, ChatPhase) else "json")
    schema = schema if schema is not None else phase.json_schema
    request, shown, base = message, message, len(conv.history)
    hint = formats.format_for(expects).retry_hint(expected=expected, schema=schema)
    if start and reason:  # the first tries were made already (the candidates): ask with their reason
        note = prompts.render(ctx.company.messages.retry, {"reason": reason, "expects": expects, "attempt": start,
                                                        "hint": hint},
                              where="messages.yaml: retry")
        message = f"{request}\n\n{note.strip()}"
        shown = f"{note.strip()}\n(asked again under the original request; the unusable replies were dropped)"
    repeated: tuple[Any, Reply] | None = None  # the last files refused only for writing a class again
    for attempt in range(start, phase.retries + 1):
        reply = ctx.ask(conv, phase.name, sender=sender, receiver=receiver, text=message, images=images,
                        schema=schema if expects == "json" else None, max_tokens=phase.max_tokens, result=result,
                        cycle=cycle, attempt=attempt, shown=shown, expects=expects, item=item)
        try:
            # a fix reply (several files, none expected) cut at its token limit loses its open
            # last block, except on the last try; a phase writing one expected file keeps what
            # it got (asking again for a long file mostly meets the limit again; the checks
            # show what is missing)
            cut = reply.finish_reason == "length" and not expected and attempt < phase.retries
            if expects == "files" and isinstance(phase, ChatPhase):
                files = _parse_last_try(ctx, phase, reply, expected) if (
                    reply.finish_reason == "length" and not expected and not cut) else None
                files = files or _parse_files(ctx, phase, reply, expected, cut=cut)
                loop = parsing.looped(files) if reply.finish_reason == "length" and attempt < phase.retries else ""
                if loop:  # the model repeated itself to the limit: the file is not the program
                    raise SchemaViolation(loop, reply.text)
                # a class another file holds: the plan's step goes astray (asked again while tries
                # last), or the fix does (asked again once: a fix is a long reply)
                if attempt < phase.retries and (bool(phase.foreach and expected) or attempt == start):
                    try:
                        plans.check_repeats(files, _project_texts(ctx, suffix=".py"), reply.text,
                                            planned=_planned_paths(ctx, phase) if phase.foreach and expected else ())
                    except SchemaViolation:
                        repeated = (files, reply)
                        raise
                return files
            return _parse(reply, expects, schema, expected, known=lambda: _project_texts(ctx), cut=cut)
        except SchemaViolation as exc:
            reason = exc.reason
        if attempt < phase.retries:
            ctx.sink(events.Retry(phase=phase.name, role=receiver, reason=reason, attempt=attempt + 1))
            note = prompts.render(ctx.company.messages.retry, {"reason": reason, "expects": expects,
                                                               "attempt": attempt + 1,
                                                               "hint": hint},
                                  where="messages.yaml: retry")
            # Ask again from where the request was made: the unusable reply leaves the
            # conversation (a small model shown its own mistake repeats it, and a long bad
            # reply would push the request itself out of a 4k window), and the request goes
            # again with the correction under it; its prefix is still in the model's cache.
            del conv.history[base:]
            message = f"{request}\n\n{note.strip()}"
            shown = f"{note.strip()}\n(asked again under the original request; the unusable reply was dropped)"
    what = f" for {item}" if item else ""
    if repeated is not None:
        # Code that repeats a class runs; no file at all ends the build. Seen on the 1.5B snake
        # (2026-12-07): snake.py held the whole game, main.py was that game again twice, and the
        # last try was the example's placeholder: the build failed in coding with nothing delivered.
        conv.keep(repeated[1])  # the history's last answer is the kept one, not the last try
        entry = _design_entry(ctx)
        known = _project_texts(ctx, suffix=".py")
        thin = plans.entry_for_copy(entry, repeated[0][entry], known) if entry in repeated[0] else None
        if thin is not None:  # the entry was the whole program again: it starts the one copy instead
            holder, text = thin
            dead = plans.dead_copies(holder, {**known, entry: text}, keep=[entry])
            result.files += ctx.workspace.delete(dead)
            left = f"; {', '.join(dead)}, whose classes {holder} holds too, left out" if dead else ""
            ctx.sink(events.Notice(level="warning", text=f"{phase.name}{what}: no later try was usable, and the "
                                                         f"last was the program again ({reason}); {entry} now "
                                                         f"starts the copy in {holder}{left}"))
            return {**repeated[0], entry: text}
        ctx.sink(events.Notice(level="warning", text=f"{phase.name}{what}: no later try was usable, so the "
                                                     f"reply that writes a class again is kept ({reason})"))
        return repeated[0]
    raise PhaseFailed(f"{receiver} gave no usable reply{what} after {phase.retries + 1} tries: {reason}")


def _entry_over_program(ctx: Context, phase: ChatPhase, expected: Sequence[str],
                        result: PhaseResult) -> dict[str, str] | None:
    """``{entry: two lines}`` for a step of a plan (``foreach``) that would write the design's entry,
    not yet written, after a file that already holds the program and its ``main()``
    (``plans.program_holder``); None otherwise, and when a person answers for the role. The
    files that only repeat the holder's classes and that nobody imports are deleted
    (``plans.dead_copies``), as when the entry was asked for and written as a copy."""
    entry = _design_entry(ctx)
    if not phase.foreach or list(expected) != [entry] or entry is None or entry in ctx.workspace.files() \
            or getattr(ctx.model_for(phase.assistant), "human", False):
        return None
    known = _project_texts(ctx, suffix=".py")
    found = plans.program_holder(entry, known)
    if found is None:
        return None
    holder, text = found
    dead = plans.dead_copies(holder, {**known, entry: text}, keep=[entry])
    result.files += ctx.workspace.delete(dead)
    left = f"; {', '.join(dead)}, whose classes {holder} holds too, left out" if dead else ""
    ctx.sink(events.Notice(level="info", text=f"{phase.name} for {entry}: {holder} already holds the program and "
                                              f"its main(), so {entry} starts it (no model call){left}"))
    return {entry: text}


def _design_entry(ctx: Context) -> str | None:
    """The entry file the design names (None: no design, or no entry in it)."""
    design = ctx.state.outputs.get("design")
    entry = design.get("entry") if isinstance(design, dict) else None
    return entry if isinstance(entry, str) else None


def _planned_paths(ctx: Context, phase: ChatPhase) -> list[str]:
    """The paths of the plan a ``foreach`` phase writes, one a step."""
    items = _resolve(ctx, phase.foreach) if phase.foreach else None
    return [str(i["path"]) for i in items if isinstance(i, dict) and "path" in i] if isinstance(items, list) else []


def _parse_last_try(ctx: Context, phase: ChatPhase, reply: Reply, expected: list[str]) -> dict[str, str] | None:
    """The last try of a fix cut at its limit: what it rewrote, made whole (``splice.salvage``), if it can be."""
    try:
        return _parse_files(ctx, phase, reply, expected, cut=True)
    except SchemaViolation:
        return None


def _project_signature(ctx: Context, *, tests: bool = True) -> str:
    """One hash of every project file's path and text: equal when nothing in the project changed
    (``tests=False``: nothing in the program, the test files left out)."""
    import hashlib

    digest = hashlib.sha256()
    for path, text in sorted(_project_texts(ctx).items()):
        if tests or not is_test_path(path):
            digest.update(f"{path}\0{text}\0".encode("utf-8", "surrogatepass"))
    return digest.hexdigest()[:16]


def program_signature(ctx: Context) -> str:
    """One hash of the program's files, its tests left out: equal when only tests changed."""
    return _project_signature(ctx, tests=False)


def _program_texts(ctx: Context) -> dict[str, str]:
    """The program's own Python files (path -> content), its tests left out."""
    return {p: t for p, t in _project_texts(ctx, suffix=".py").items() if not is_test_path(p)}


def _project_texts(ctx: Context, *, suffix: str = "") -> dict[str, str]:
    """The project's text files (path -> content; only ``suffix`` files when given), for matching
    an unnamed block to one, or for what the program offers to import."""
    texts: dict[str, str] = {}
    for path in ctx.workspace.files():
        if not path.endswith(suffix):
            continue
        try:
            texts[path] = ctx.workspace.read(path)
        except (UnicodeDecodeError, OSError, ChatDevError):
            continue
    return texts


def _parse(reply: Reply, expects: str, schema: dict[str, Any] | None, expected: list[str], *,
           known: Callable[[], dict[str, str]] | None = None, cut: bool = False) -> Any:
    return formats.format_for(expects).parse(reply.text, schema=schema, expected=expected, known=known, cut=cut)


# --------------------------------------------------------------------------- a person's turn


def run_human(ctx: Context, phase: HumanPhase, *, cycle: int) -> PhaseResult:
    """A checkpoint (approve / change / stop) or the CEO's questions to the person (``clarify``)."""
    if ctx.desk is None:  # only a build that was checked for a person gets here
        raise human.HumanUnavailable(f"{phase.name} needs a person", hint=human.HOW)
    if phase.review is not None:
        return _checkpoint(ctx, phase)
    return _clarify(ctx, phase, cycle=cycle)


def _checkpoint(ctx: Context, phase: HumanPhase) -> PhaseResult:
    role = human.seat(phase, ctx.company)
    reviewed = ctx.company.phases[str(phase.review)]
    shown = _review_text(ctx, reviewed)
    text = f"The work of {reviewed.name} ({reviewed.description or 'no description'}):\n\n{shown}"
    for _ in range(5):
        answer = ctx.desk.ask(phase=phase.name, role=role, turn="review", text=text, hint=human.REVIEW_HINT)
        decision = human.parse_decision(answer)
        if decision is not None:
            break
        if ctx.desk.io.source != "terminal":
            raise human.HumanUnavailable(f"{phase.name}: {answer!r} is not a decision", hint=human.REVIEW_HINT)
        ctx.sink(events.Notice(level="warning", text=f"{phase.name}: answer {human.REVIEW_HINT}"))
    else:
        raise PhaseFailed(f"{phase.name}: no decision ({human.REVIEW_HINT})")
    what, comment = decision
    if what == "stop":
        ctx.desk.not_again()
        raise human.HumanStop(f"{role} stopped the build at {phase.name}")
    output = {"decision": what, "comment": comment, "by": role, "review": reviewed.name}
    return PhaseResult(output=output, reason=f"change: {comment}" if what == "change" else "approved")


def _review_text(ctx: Context, reviewed: Any) -> str:
    """What the person reviews: the document the phase wrote, else its commit's diff, else its output."""
    writes = getattr(reviewed, "writes", None)
    if writes and writes in ctx.workspace.files() and getattr(reviewed, "expects", "text") != "files":
        return str(ctx.workspace.read(writes)).rstrip()
    commit = next((r.get("commit") for r in reversed(ctx.state.phases)
                   if r.get("name") == reviewed.name and r.get("commit")), None)
    if commit:
        return ctx.workspace.diff(commit).rstrip() or "(no changes)"
    value = ctx.state.outputs.get(reviewed.output_name)
    if isinstance(value, str):
        return value
    import json

    return json.dumps(value, indent=2, default=str)


def _clarify(ctx: Context, phase: HumanPhase, *, cycle: int) -> PhaseResult:
    result = PhaseResult()
    role = human.seat(phase, ctx.company)
    prompt = instructed(prompts.render(str(phase.prompt), template_context(ctx, cycle=cycle, role=role),
                                       where=f"{phase.source}: prompt"), "json", schema=phase.json_schema)
    conv = Conversation(ctx.model_for(role), persona(ctx, role))
    data = _ask_until_valid(ctx, phase, conv, prompt, sender="chatdev", receiver=role, images=(), expected=[],
                            result=result, item=None, cycle=cycle)
    questions = [" ".join(str(q).split()) for q in data.get("questions", []) if str(q).strip()][:3]
    answers = []
    for question in questions:
        answer = ctx.desk.ask(phase=phase.name, role="customer", turn="clarify", text=f"{role} asks: {question}",
                              hint="a short answer; an empty one skips the question")
        answers.append({"question": question, "answer": answer.strip()})
    result.output = answers
    result.reason = f"{len(answers)} question(s) answered" if answers else "no questions"
    return result


# --------------------------------------------------------------------------- debate


def run_debate(ctx: Context, phase: DebatePhase, *, cycle: int) -> PhaseResult:
    if phase.proposals == "files":
        return _debate_files(ctx, phase, cycle=cycle)
    result = PhaseResult()
    judge = ctx.company.role(phase.judge).name
    names = [ctx.company.role(p).name for p in phase.participants]
    proposals: list[tuple[str, str]] = []
    for _round in range(phase.rounds):
        for name in names:
            others = "\n".join(f"{who}: {text}" for who, text in proposals if who != name)
            prompt = prompts.render(phase.prompt, template_context(ctx, cycle=cycle, feedback=others, role=name),
                                    where=f"{phase.source}: prompt")
            conv = Conversation(ctx.model_for(name), persona(ctx, name))
            reply = ctx.ask(conv, phase.name, sender=judge, receiver=name, text=prompt,
                            max_tokens=phase.max_tokens, result=result, turn="debate")
            proposals.append((name, reply.text.strip()))
    all_proposals = "\n\n".join(f"{who}:\n{text}" for who, text in proposals)
    prompt = instructed(prompts.render(phase.judge_prompt,
                                       template_context(ctx, cycle=cycle, feedback=all_proposals, role=judge),
                                       where=f"{phase.source}: judge_prompt"), "json", schema=phase.json_schema)
    conv = Conversation(ctx.model_for(judge), persona(ctx, judge))
    decision = _ask_until_valid(ctx, phase, conv, prompt, sender=names[0], receiver=judge, images=(),
                                expected=[], result=result, item=None)
    result.output = decision
    if phase.writes:
        result.files += ctx.workspace.write({phase.writes: _document(ctx, phase, decision)})
    return result


def _debate_files(ctx: Context, phase: DebatePhase, *, cycle: int) -> PhaseResult:
    """Each participant writes the program; each proposal is checked in the sandbox (a candidate,
    ``candidates.check_all``); the judge sees every proposal with its check and picks one by number."""
    from chatdev.run import candidates as cands

    result = PhaseResult()
    judge = ctx.company.role(phase.judge).name
    names = [ctx.company.role(p).name for p in phase.participants]
    planned = _resolve(ctx, phase.files_from) if phase.files_from else None
    expected = [str(f["path"]) for f in planned if isinstance(f, dict) and f.get("path")] \
        if isinstance(planned, list) else []
    pool: list[cands.Candidate] = []
    for index, name in enumerate(names):
        prompt = instructed(prompts.render(phase.prompt, template_context(ctx, cycle=cycle, role=name),
                                           where=f"{phase.source}: prompt"), "files", expected=expected)
        conv = Conversation(ctx.model_for(name), persona(ctx, name))
        try:
            files = _ask_until_valid(ctx, phase, conv, prompt, sender=judge, receiver=name, images=(),
                                     expected=expected, result=result, item=None, cycle=cycle, expects="files")
            pool.append(cands.Candidate(index, dict(files), text=conv.history[-1].content))
        except PhaseFailed as exc:
            pool.append(cands.Candidate(index, {}, problem=str(exc)))
    usable = [c for c in pool if c.usable]
    if not usable:
        raise PhaseFailed(f"no participant gave a usable proposal: {pool[0].problem}")
    cands.check_all(ctx.workspace, pool, _candidate_check(ctx, phase.name, names[0]))
    if len(usable) == 1:
        chosen, why = usable[0], "the only usable proposal"
    else:
        listing = "\n\n".join(f"Proposal {c.index + 1}, by {names[c.index]}: {c.verdict()}\n{_proposal_text(c)}"
                               for c in pool)
        schema = {"type": "object", "required": ["choice", "why"],
                  "properties": {"choice": {"type": "integer", "enum": [c.index + 1 for c in usable]},
                                 "why": {"type": "string", "maxLength": 200}},
                  "examples": [{"choice": cands.rank(usable)[0].index + 1, "why": "it runs and its tests pass"}]}
        prompt = instructed(prompts.render(phase.judge_prompt,
                                           template_context(ctx, cycle=cycle, feedback=listing, role=judge),
                                           where=f"{phase.source}: judge_prompt"), "json", schema=schema)
        conv = Conversation(ctx.model_for(judge), persona(ctx, judge))
        decision = _ask_until_valid(ctx, phase, conv, prompt, sender=names[0], receiver=judge, images=(),
                                    expected=[], result=result, item=None, cycle=cycle, expects="json", schema=schema)
        chosen = next(c for c in usable if c.index + 1 == decision["choice"])
        why = " ".join(str(decision.get("why", "")).split())
    rest = [c for c in cands.rank(pool) if c is not chosen]
    first = {**chosen.row(), "verdict": f"{chosen.verdict()}; chosen by {judge}: {why}"[:300]}
    ctx.sink(events.CandidatesRanked(phase=phase.name, winner=chosen.index,
                                     ranking=[first, *(c.row() for c in rest)], cycle=cycle))
    result.files += ctx.workspace.write(chosen.files)
    result.output = {"choice": chosen.index + 1, "by": names[chosen.index], "why": why}
    result.reason = f"{judge} chose proposal {chosen.index + 1}, by {names[chosen.index]}: {why}"
    return result


def _proposal_text(candidate: Any, *, whole_lines: int = 60) -> str:
    """A proposal for the judge: each short file whole, a long one as its outline (its def/class lines)."""
    parts = []
    for path, text in sorted(candidate.files.items()):
        shown = text.rstrip() if text.count("\n") <= whole_lines else outline(text)
        parts.append(f"{path}\n```python\n{shown}\n```")
    return "\n".join(parts) or f"(unusable: {candidate.problem})"


# --------------------------------------------------------------------------- actions


def run_action(ctx: Context, phase: ActionPhase, *, cycle: int) -> PhaseResult:
    if phase.action == "write_requirements":
        return _write_manifest(ctx)
    if ctx.verifier is None:
        reason = "the sandbox is disabled (--no-run): the program was not run"
        if phase.action == "static_check":  # the review still happens, on reading alone
            return PhaseResult(output="not checked (the sandbox is disabled)", status="skipped", reason=reason)
        raise SkipLoop(reason)
    if phase.action == "static_check":
        return _static_check(ctx, phase)
    return _run_tests(ctx, phase)


def _static_check(ctx: Context, phase: ActionPhase) -> PhaseResult:
    """pyflakes over the program, and the program's own run (short window, no tests)."""
    report, files = _verify_repairing(ctx, phase, tests=False)
    if report.runs is False:
        report = _answers(ctx, report)  # a task's command line that crashed: the call that answers it
    body = report.summary.split("\n", 1)[-1].strip()  # the run (its traceback), then any static errors
    if report.static_ok and (idle := unused.note(_program_texts(ctx))):
        body += "\n" + idle  # a function written and never wired in: the review reads it
    verdicts = {"clean": report.static_ok}
    if report.runs is not None:
        verdicts["runs"] = bool(report.runs)
    return PhaseResult(output=f"clean\n{body}" if report.static_ok else body, verdicts=verdicts, files=files,
                       progress=report.progress())


def _run_tests(ctx: Context, phase: ActionPhase) -> PhaseResult:
    """The program's run, then its tests; test defects go to the tester, then to quarantine."""
    used = PhaseResult()  # the model calls the check made (expected values settled)
    report, files = _verify_repairing(ctx, phase, tests=True)
    report, settled = _settle(ctx, phase, report, used)
    report, moved = _quarantine(ctx, report)
    report = _disputes(ctx, report)
    report = _answers(ctx, report)
    files = sorted(set(files) | set(settled) | set(moved))
    summary = report.summary
    if report.screenshot is not None:
        summary += ctx.look_at_screenshot(phase, report.screenshot)
    ctx.state.outputs["test_defects"] = defects_text(report)
    # the tester answers new disputes first: the programmer waits for the tests it repairs (a
    # rollback of a bad fix in the same cycle would undo the repair too)
    ctx.state.outputs["program_failures"] = summary if program_failures(report) and not report.disputed else ""
    verdicts = {"runs": bool(report.runs), "tests_pass": report.tests_pass is not False, "works": report.passed}
    return PhaseResult(output=summary, verdicts=verdicts, files=files, progress=report.progress(), usage=used.usage,
                       calls=used.calls)


MAX_ANSWERED = 2  # command lines of the task probed for a call that gives their answer, in one check


def _answers(ctx: Context, report: Any) -> Any:
    """For a command line of the task whose output lacks what the task says it prints (in a
    program that runs), or that crashed as the program's own run: the program's own function
    call that gives it, when there is one (``checks/answers.py``, run in the sandbox with the
    program beside it), under the report."""
    if ctx.computer is None or report.runs is None:
        return report
    said = examples.task_outputs(ctx.state.task)
    if report.runs:
        lacking = {c.name for c in report.cases if c.file == "the task" and c.failed
                   and "the output lacks" in c.message}
        wanted = [s for s in said if s.name in lacking]
    else:  # the run itself crashed: on a command line the task says what it prints?
        args = list(getattr(getattr(report, "run", None), "args", ()) or ())
        wanted = [s for s in said if args and s.argv == args]
    if not wanted:
        return report
    program = _program_texts(ctx)
    lines: list[str] = []
    for scenario in wanted[:MAX_ANSWERED]:
        if not scenario.argv or not scenario.expect:
            continue
        run = ctx.computer(answers.probe(program, scenario.argv, scenario.expect[0]), files=program,
                           script=answers.SCRIPT)
        if run is None or run.timed_out:
            continue
        command = shlex.join(["python", getattr(report, "entry", None) or "main.py", *scenario.argv])
        line = answers.hint(answers.found(run.stdout), command, scenario.expect[0])
        if line:
            lines.append(line)
    if not lines:
        return report
    return dataclasses.replace(report, summary=report.summary.rstrip() + "\n" + "\n".join(lines))


MAX_SETTLED = 3  # failing asserts settled in one check (a model call and a sandbox run each)


def _settle(ctx: Context, phase: ActionPhase, report: Any, used: PhaseResult) -> tuple[Any, list[str]]:
    """Failing ``assert CALL == VALUE`` lines of a program that runs, each settled once by the
    tester's independent computation (``checks/expectations.py``): an expected value it finds
    wrong takes the program's value in the test, and the check runs again (pytest stops a test at
    its first failing assert: the next one may be read then); one it confirms stays a program
    failure, and the programmer is told that a computation agrees with the test."""

    if not report.runs or ctx.computer is None:
        return report, []
    settled = ctx.state.outputs.get(expectations.SETTLED)
    settled = dict(settled) if isinstance(settled, dict) else {}
    files: list[str] = []
    notes: list[str] = []
    budget = MAX_SETTLED
    while budget > 0 and report.runs:
        present = set(ctx.workspace.files())
        failing = [c for c in report.cases if c.counts and c.failed and c.file in present]
        sources = {c.file: ctx.workspace.read(c.file) for c in failing}  # each test file read once
        found = [e for c in failing
                 if (e := expectations.find(c, sources[c.file])) is not None and e.key not in settled]
        if not found:
            break
        corrections: dict[str, str] = {}
        for expectation in found[:budget]:
            budget -= 1
            value = ctx.expected_value(phase.name, phase.role, expectation, result=used)
            said = expectations.verdict(expectation, value)
            settled[expectation.key] = said or "unsettled"
            where = f"{expectation.test}: `{expectation.call}`"
            if said == "program":
                source = corrections.get(expectation.file) or sources[expectation.file]
                corrections[expectation.file] = expectations.corrected(source, expectation)
                ctx.sink(events.Notice(level="info", text=f"{where} is {expectation.got!r}, as an independent "
                                       f"computation finds, not {expectation.expected!r}: the test's expected "
                                       "value was corrected"))
            elif said == "test":
                notes.append(f"An independent computation agrees with the test {where} should be "
                             f"{expectation.expected!r}, not {expectation.got!r}: the program is wrong there.")
        ctx.state.outputs[expectations.SETTLED] = settled
        if not corrections:
            break
        files = sorted({*files, *ctx.workspace.write(corrections)})
        report, more = _verify_repairing(ctx, phase, tests=True)
        files = sorted({*files, *more})
    if notes:
        report = dataclasses.replace(report, summary=report.summary + "\n" + "\n".join(notes))
    return report, files


def _quarantine(ctx: Context, report: Any) -> tuple[Any, list[str]]:
    """Skip the defective tests that had their one repair (or when no repair will come), with the reason."""

    from chatdev.checks import triage

    # the tester had its one repair (any file): what is still defective is quarantined now
    repaired = bool(_as_list(ctx.state.outputs.get("test_repaired")))
    due = [c for c in report.defects if report.passed or ctx.final_check or repaired]
    if not due:
        return report, []
    sources = {c.file: ctx.workspace.read(c.file) for c in due if c.file in ctx.workspace.files()}
    writes, aside = triage.quarantine(sources, due)
    changed = ctx.workspace.write(writes)
    for rel in aside:
        header = f"# {triage.QUARANTINE}: " + "; ".join(sorted({str(c.defect) for c in due if c.file == rel})) + "\n"
        changed += ctx.workspace.write({rel + triage.QUARANTINED_SUFFIX: header + sources[rel]})
        changed += ctx.workspace.delete([rel])
    due_ids = {c.id for c in due}
    cases = tuple(dataclasses.replace(c, quarantined=True) if c.id in due_ids else c for c in report.cases)
    ctx.sink(events.Notice(level="info", text=f"quarantined {len(due)} defective test(s): "
                                              + ", ".join(sorted(due_ids))[:300]))
    lines = [ln for ln in report.summary.splitlines() if "defective themselves" not in ln]
    left = len(report.defects) - len(due)
    if left:
        lines.append(f"{left} tests are defective themselves (sent to the tester, not to you).")
    lines.append(f"{len(due)} defective tests were quarantined: {', '.join(sorted(due_ids))[:300]}.")
    report = dataclasses.replace(report, cases=cases, summary="\n".join(lines)[:1500])
    ctx.state.tests = tests_record(report, ran_tests=True, before=ctx.state.tests)
    return report, sorted(set(changed))


def _disputes(ctx: Context, report: Any) -> Any:
    """Failing tests the programmer was told of and that fail word for word again go to the tester."""

    from chatdev.checks import disputes

    present = set(ctx.workspace.files())
    sources = {c.file: ctx.workspace.read(c.file) for c in report.cases if c.file in present}
    before = disputes.Record.from_value(ctx.state.outputs.get("test_disputes"))
    settled = ctx.state.outputs.get(expectations.SETTLED)
    settled = settled if isinstance(settled, dict) else {}
    confirmed = {expectations.test_of(key) for key, said in settled.items() if said == "test"}
    cases, record = disputes.mark(report.cases, before, sources=sources, runs=report.runs, exempt=confirmed)
    new = [c.id for c in cases if c.disputed]
    if not new:  # the programmer is sent this run's failures (``_run_tests``): what it was asked about
        record.asked = [c.id for c in cases if c.counts and c.failed]
    ctx.state.outputs["test_disputes"] = record.to_dict()
    kept = disputes.upheld(cases, before, sources=sources)
    if kept:  # the programmer hears that the test stands
        report = dataclasses.replace(report, summary=report.summary + "\nThe tester looked again at "
                                     + ", ".join(kept) + " and kept the expected values: the program must meet them.")
    if not new:
        return report
    ctx.sink(events.Notice(level="info", text=f"sent {len(new)} test(s) that failed again as they did to the "
                                              "tester to check: " + ", ".join(new)[:300]))
    return with_disputes(report, cases, _program_texts(ctx))


def _as_list(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []


def _verify_repairing(ctx: Context, phase: ActionPhase, *, tests: bool) -> tuple[Any, list[str]]:
    """``_check_and_repair``, with the build's record of the last check (``state.tests``) set from
    the report it returns: a repair that was tried and put back leaves its own check's result in
    the record otherwise (seen: the 1.5B's Markdown formatter was delivered with the crash of a
    count check fitted and taken back, not the usage its delivered code prints)."""
    before = dict(ctx.state.tests)
    report, files = _check_and_repair(ctx, phase, tests=tests)
    ctx.state.tests = tests_record(report, ran_tests=tests, before=before)
    return report, files


def _check_and_repair(ctx: Context, phase: ActionPhase, *, tests: bool) -> tuple[Any, list[str]]:
    """Run the check, repairing what needs no model: an entry file that starts the program when
    its tests import it (``repair/guard.py``: its closing calls under a main guard, before the
    run), names that only lack an import (then the check runs again), sounds and images the
    program loads and nobody wrote (``repair/assets.py``: silent and blank stand-ins), a name a
    function uses that its callers hold (``repair/params.py``: passed in as a parameter), a
    variable a function reads before assigning it where the module has it (``repair/scopes.py``:
    declared ``global``, kept while the crash moves on; ``repair/objects.py``: a module called as
    the one object of its class, the object made; ``repair/display.py``: a pygame window drawn on
    and never opened; ``repair/shadows.py``: a flag that hides a method), and a program that refuses
    or ignores the command line it was given (``repair/argv.py``: an argument count test fitted, or
    ``input()`` fed the arguments; kept only when the program then runs), a tool the task feeds on
    standard input that refuses to start without arguments (its count test fitted to none), and a
    command-line tool whose ``sys.argv`` dispatch sits in ``while True:`` (``repair/loops.py``: run
    once, kept only when it then ends)."""
    files: list[str] = []
    if tests:
        files += _guard_entry(ctx)
    report = ctx.verify(phase, tests=tests)
    names = report.static_output + "\n" + "\n".join(report.test_static)
    if not (report.static_ok and not report.test_static):
        fixed = add_missing_imports(_project_texts(ctx, suffix=".py"), names)
        if fixed:
            files = ctx.workspace.write(fixed)
            ctx.sink(events.Notice(level="info", text=f"added missing imports to {', '.join(files)}"))
            report = ctx.verify(phase, tests=tests)
    if not report.static_ok:
        program = _program_texts(ctx)
        made = stand_ins(program, known=set(ctx.workspace.files()))
        try:
            added = ctx.workspace.write(made) if made else []
        except ChatDevError:
            added = []  # a name the workspace refuses: the static error stays for the fixer
        if added:
            files = sorted({*files, *added})
            ctx.sink(events.Notice(level="info", text=f"added stand-ins for the files the program loads: "
                                                      f"{', '.join(added)}"))
            report = ctx.verify(phase, tests=tests)
    if not report.static_ok:
        report, passed = _pass_locals(ctx, phase, report, tests=tests)
        files = sorted({*files, *passed})
    if not report.static_ok:
        report, declared = _declare_read_before(ctx, phase, report, tests=tests)
        files = sorted({*files, *declared})
    report, declared = _repair_crashes(ctx, phase, report, tests=tests)
    files = sorted({*files, *declared})
    report, once = _run_dispatch_once(ctx, phase, report, tests=tests)
    files = sorted({*files, *once})
    if tests:
        report, swapped = _swap_letter_case(ctx, phase, report)
        files = sorted({*files, *swapped})
    run = getattr(report, "run", None)
    piped = examples.reads_stdin(ctx.state.task)  # run with no arguments, its input on standard input
    if report.runs is not False or run is None or not (run.args or piped):
        return report, files
    program = _program_texts(ctx)
    n = len(run.args)
    if usage_only(run, bare=piped):
        fitted = fit_arity(program, n)
        notice = (f"fitted the argument count check in {', '.join(fitted)} to {n} arguments" if n else
                  f"{', '.join(fitted)} demanded arguments: it runs without them now, reading standard input "
                  "as the task says")
    elif asks_instead(run):
        fed = feed_arguments(program, n)
        fitted = fed.files if fed else {}
        what = "its input() call reads" if fed and fed.calls == 1 else "its input() calls read"
        notice = f"{', '.join(fitted)} asked for what its command line gives: {what} the arguments first now"
    else:
        return report, files
    if fitted:
        report, kept = _keep_if(ctx, phase, report, fitted, program, tests=tests, notice=notice,
                                better=lambda before, after: bool(after.runs))
        files = sorted({*files, *kept})
    return report, files


def _swap_letter_case(ctx: Context, phase: ActionPhase, report: Any) -> tuple[Any, list[str]]:
    """A program that runs and fails a test on letter case alone (``'KHOOR'`` for ``'khoor'``):
    each conditional expression that picks upper or lower case gets its branches exchanged in
    turn (``repair/lettercase.py``), kept only when more tests pass and nothing got worse."""
    if not report.runs or not any(c.counts and c.failed and expectations.letter_case(c) for c in report.cases):
        return report, []

    def more(before: Any, after: Any) -> bool:
        was, now = before.progress(), after.progress()
        return bool(after.runs) and now.tests_passed > was.tests_passed and not now.worse_than(was)

    program = _program_texts(ctx)
    for rel, text, line in lettercase.swaps(program):
        notice = (f"exchanged the upper- and lower-case branches of {rel} line {line}: a test's values differed "
                  "in letter case alone, and more tests pass now")
        report, kept = _keep_if(ctx, phase, report, {rel: text}, program, tests=True, notice=notice, better=more)
        if kept:
            return report, kept
    return report, []


def _run_dispatch_once(ctx: Context, phase: ActionPhase, report: Any, *, tests: bool) -> tuple[Any, list[str]]:
    """A command-line tool given the task's command line that never ended, its ``sys.argv``
    dispatch in ``while True:``: the loop removed (``repair/loops.py``), kept only when the
    program then ends by itself and still runs."""
    run = getattr(report, "run", None)
    if (run is None or not run.args or not run.timed_out or run.waiting_input
            or not examples.task_commands(ctx.state.task)):
        return report, []
    program = _program_texts(ctx)
    once = run_once(program)
    if not once:
        return report, []

    def ended(before: Any, after: Any) -> bool:
        return bool(after.runs) and after.run is not None and not after.run.timed_out

    return _keep_if(ctx, phase, report, once, program, tests=tests, better=ended,
                    notice=f"{', '.join(sorted(once))}: the command line's dispatch ran in an endless loop; "
                           "it runs once now")


def _pass_locals(ctx: Context, phase: ActionPhase, report: Any, *, tests: bool) -> tuple[Any, list[str]]:
    """A function using a name its callers hold as a local gets it as a parameter (``repair/params.py``)."""
    program = _program_texts(ctx)
    passed = pass_locals(program, report.static_output)
    if passed is None:
        return report, []
    return _keep_if_fewer_errors(ctx, phase, report, passed.files, program, tests=tests,
                                 notice="passed the callers' variables to the functions that use them: "
                                        + ", ".join(passed.functions))


def _declare_read_before(ctx: Context, phase: ActionPhase, report: Any, *, tests: bool) -> tuple[Any, list[str]]:
    """A function pyflakes says reads a module variable before assigning it gets it declared ``global``
    (``repair/scopes.declare_read_before``)."""
    program = _program_texts(ctx)
    declared = declare_read_before(program, report.static_output)
    if declared is None:
        return report, []
    return _keep_if_fewer_errors(ctx, phase, report, declared.files, program, tests=tests,
                                 notice="declared `global` the module variables these functions assign after "
                                        f"reading them: {', '.join(declared.names)}")


def _keep_if_fewer_errors(ctx: Context, phase: ActionPhase, report: Any, fixed: dict[str, str],
                          program: dict[str, str], *, tests: bool, notice: str) -> tuple[Any, list[str]]:
    """Write a repair of static errors and check again: kept (and told) when the static errors went
    down and the program runs no worse, else the files are put back as they were."""
    def fewer(before: Any, after: Any) -> bool:
        was, now = before.progress(), after.progress()
        return now.static_errors < was.static_errors and not now.worse_than(was)

    return _keep_if(ctx, phase, report, fixed, program, tests=tests, notice=notice, better=fewer)


def _keep_if(ctx: Context, phase: ActionPhase, report: Any, fixed: dict[str, str], program: dict[str, str], *,
             tests: bool, notice: str, better: Callable[[Any, Any], bool]) -> tuple[Any, list[str]]:
    """Write a repair and check again: kept (and told) when ``better(report, the new report)``,
    else the files are put back as they were (``program``: their text before)."""
    written = ctx.workspace.write(fixed)
    again = ctx.verify(phase, tests=tests)
    if better(report, again):
        ctx.sink(events.Notice(level="info", text=notice))
        return again, written
    ctx.workspace.write({p: program[p] for p in fixed})  # it did not help: as it was
    return report, []


def _guard_entry(ctx: Context) -> list[str]:
    """The design's entry file, its closing calls under a main guard when a test imports it."""
    entry = _design_entry(ctx)
    texts = _project_texts(ctx, suffix=".py")
    if entry is None or entry not in texts:
        return []
    guarded = guard_entry(texts, entry, {p: t for p, t in texts.items() if is_test_path(p)})
    if not guarded:
        return []
    written = ctx.workspace.write(guarded)
    ctx.sink(events.Notice(level="info", text=f"{entry} started the program when the tests imported it: "
                                              "its closing calls are under `if __name__ == \"__main__\":` now"))
    return written


RUN_REPAIRS = 4  # crashes repaired without a model in one check, one crash (and one run) each


def _repair_crashes(ctx: Context, phase: ActionPhase, report: Any, *, tests: bool) -> tuple[Any, list[str]]:
    """While the program crashes where a repair needs no model, repair it and run again: a
    variable read before it is assigned where the module has it (``UnboundLocalError``: declared
    ``global``), a module used as the one object of its class (``module 'ball' has no attribute
    'move'``: the object made), a pygame window drawn on and never opened (``name 'screen' is not
    defined``: ``repair/display.py``), a font or window made before pygame was started (``font not
    initialized``: ``pygame.init()`` added, ``display.init_pygame``), a flag that hides a method of its
    class (``'bool' object is not callable``: the flag renamed, ``repair/shadows.py``), a standard-library
    function called on the wrong module (``module 'pygame' has no attribute 'randint'``: ``random.randint``,
    ``repair/homes.py``). A repair after
    which the same crash comes back is taken back."""
    files: list[str] = []
    for _ in range(RUN_REPAIRS):
        run = getattr(report, "run", None)
        if report.runs is not False or run is None:
            break
        program = _program_texts(ctx)
        site = crash_site(run.stderr, list(program))
        repaired = _crash_repair(program, site) if site else None
        if repaired is None:
            break
        fixed, again_pattern, notice = repaired
        ctx.workspace.write(fixed)
        again = ctx.verify(phase, tests=tests)
        later = getattr(again, "run", None)
        if later is not None and re.search(again_pattern, later.stderr):
            ctx.workspace.write({p: program[p] for p in fixed})  # it did not help: as it was
            break
        ctx.sink(events.Notice(level="info", text=notice))
        files = sorted({*files, *fixed})
        report = again
    return report, files


def _crash_repair(program: dict[str, str], site: Any) -> tuple[dict[str, str], str, str] | None:
    """(files, what the same crash again looks like, what to tell) for a crash a rule mends; None else."""
    name = unbound_name(site.error)
    if name:
        fixed = declare_outer(program, site.path, site.line, site.function, site.error)
        if not fixed:
            return None
        keyword = "nonlocal" if re.search(rf"^\s*nonlocal\b.*\b{name}\b", fixed[site.path], re.M) else "global"
        return (fixed, rf"(?:UnboundLocalError|NameError)\b.*'{name}'",
                f"declared `{name}` {keyword} in {site.function}() ({site.path}): it read that variable "
                "before assigning it")
    missing = undefined_name(site.error)
    window = make_display(program, site.path, site.error) if missing else {}
    if window:
        return (window, rf"NameError: name '{missing}' is not defined",
                f"made the window `{missing}` in {site.path} (`pygame.display.set_mode`): the program drew on "
                "it and never opened it")
    started = init_pygame(program, site.path, site.error)
    if started:
        return (started, r"pygame\.error: (?:font|video system) not initialized",
                f"added `pygame.init()` after `import pygame` in {site.path}: the program made a font or a "
                "window before pygame was started")
    if not_callable(site.error):
        renamed = rename_flag(program, site.path, site.line, site.error)
        if renamed is None:
            return None
        again = rf"\.{renamed.method}\([^\n]*\n(?:[ \t]*[~^]+[ \t~^]*\n)?TypeError: '\w+' object is not callable"
        return (renamed.files, again,
                f"renamed the flag `self.{renamed.method}` of {renamed.cls} to `self.{renamed.flag}` in {site.path}: "
                f"it hid the method `{renamed.method}()` and the call died")
    moved = rehome(program, site.error)
    if moved is not None:
        return (moved.files, rf"AttributeError: module '{re.escape(moved.module)}' has no attribute '{moved.name}'",
                f"called `{moved.home}.{moved.name}` where {', '.join(sorted(moved.files))} called "
                f"`{moved.module}.{moved.name}`: {moved.module} has no `{moved.name}`, the standard library's "
                f"{moved.home} has")
    named = class_as_module(program, site.path, site.error)
    if named:
        cls = site.error.rsplit("'", 2)[-2]
        return (named, rf"has no attribute '{cls}'",
                f"wrote `{cls}.{cls}` as `{cls}` in {site.path}: `from ... import {cls}` made the name the class")
    made = make_objects(program, site.path, site.error)
    if made is None:
        return None
    return (made.files, rf"module '{made.module}' has no attribute",
            f"made one {made.cls} in {site.path} (`{made.module} = {made.call}`): it called the module "
            f"{made.module}.py as if it were that object")


def third_party_imports(sources: dict[str, str]) -> list[str]:
    """Top-level modules a program imports that are neither stdlib nor its own files."""
    local = {PurePosixPath(p).stem for p in sources} | {PurePosixPath(p).parts[0] for p in sources}
    found: set[str] = set()
    for text in sources.values():
        try:
            tree = ast.parse(text)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module.split(".")[0])
    stdlib = set(sys.stdlib_module_names)
    return sorted(catalogue.pip_name(m) for m in found - stdlib - local - {"pytest", "__future__"})


def _write_manifest(ctx: Context) -> PhaseResult:
    sources = {p: ctx.workspace.read(p) for p in ctx.workspace.files()
               if p.endswith(".py") and not is_test_path(p)}
    deps = third_party_imports(sources)
    text = "\n".join(deps) + "\n" if deps else "# standard library only\n"
    files = ctx.workspace.write({"requirements.txt": text})
    return PhaseResult(output=deps, files=files)



# --------------------------------------------------------------------------- the kinds

Runner = Callable[..., PhaseResult]
# One runner per phase kind (a kind's YAML schema and load-time rules are its class in
# config.py): adding a kind is a class there, a runner here and a line in this table.
RUNNERS: dict[str, Runner] = {"chat": run_chat, "debate": run_debate, "action": run_action, "human": run_human}
