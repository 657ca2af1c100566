"""The waterfall: phases in chain order, loops with break conditions and
escalation, a checkpoint and a commit after every completed phase, resume.

Each completed step has a key (``steps.StepKey``: ``2:design``, ``2:review_loop#1/code_review``;
the number is the run: 1 for the build, 2 for the first improve...). The keys
of completed steps are in ``state.json``, committed with the step, so a resumed
run skips exactly the steps whose commits exist.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from typing import Any

from chatdev import events
from chatdev.company import prompts
from chatdev.company.config import ACTION_OUTPUTS, ActionPhase, ChatPhase, Company, DebatePhase, HumanPhase, LoopPhase
from chatdev.models.base import SchemaViolation, Usage
from chatdev.project.gitlog import tokens_trailer
from chatdev.run.context import Context, PhaseFailed, PhaseResult, RunState, SkipLoop
from chatdev.run.conversation import Conversation
from chatdev.run.phases import RUNNERS, program_signature
from chatdev.run.steps import StepKey
from chatdev.sandbox.results import Progress

DIRECTIVE_CHARS = 300  # the longest directive a manager's escalation decision may carry


class Chain:
    """Runs a company's chain on a context, checkpointing and committing as it goes."""

    def __init__(self, ctx: Context, chain: Sequence[str]) -> None:
        self.ctx = ctx
        self.chain = list(chain)

    @property
    def state(self) -> RunState:
        return self.ctx.state

    def run(self) -> None:
        for name in self.chain:
            self._run(name, key=StepKey.top(self.state.run, name), cycle=0)

    def _run(self, name: str, *, key: StepKey, cycle: int) -> None:
        phase = self.ctx.company.phases[name]
        if isinstance(phase, LoopPhase):
            self._loop(phase, key=key)
            return
        if isinstance(phase, HumanPhase):
            self._human(phase, key=key, cycle=cycle)
            return
        if key.done(self.state.completed):
            return
        try:
            self._step(phase, key=key, cycle=cycle)
        except PhaseFailed:
            if not phase.optional:
                raise
            self.state.completed.append(key.text)  # recorded as failed; the chain goes on
            self.ctx.workspace.checkpoint(self.state.to_dict())

    def _human(self, phase: HumanPhase, *, key: StepKey, cycle: int) -> None:
        """A person's turn; a checkpoint's "change" redoes the reviewed phase once with the comment."""
        if not key.done(self.state.completed):
            self._step(phase, key=key, cycle=cycle)
        out = self.state.outputs.get(phase.output_name)
        redo = key.redo
        if (phase.review and isinstance(out, dict) and out.get("decision") == "change"
                and not redo.done(self.state.completed)):
            reviewed = self.ctx.company.phases[phase.review]
            self.ctx.revision = {"phase": reviewed.name, "comment": str(out.get("comment", "")),
                                 "previous": self.state.outputs.get(reviewed.output_name)}
            try:
                self._step(reviewed, key=redo, cycle=cycle)
            finally:
                self.ctx.revision = None

    def _step(self, phase: ChatPhase | DebatePhase | ActionPhase | HumanPhase, *, key: StepKey,
              cycle: int) -> PhaseResult:
        ctx = self.ctx
        if ctx.desk is not None:
            ctx.desk.step = key.text
        roles = _roles_of(phase, ctx.company)
        ctx.sink(events.PhaseStarted(phase=phase.name, phase_kind=phase.kind, roles=roles, cycle=cycle))
        start = time.monotonic()
        before, calls_before = dict(ctx.state.usage), ctx.state.llm_calls
        try:
            result = RUNNERS[phase.kind](ctx, phase, cycle=cycle)
        except (PhaseFailed, SkipLoop) as exc:
            status = "failed" if isinstance(exc, PhaseFailed) else "skipped"
            spent = Usage(ctx.state.usage["prompt"] - before["prompt"],  # what the failed tries cost
                          ctx.state.usage["completion"] - before["completion"],
                          ctx.state.usage["cached"] - before["cached"])
            self._ended(phase, key, cycle, start, PhaseResult(status=status, reason=str(exc), usage=spent,
                                                              calls=ctx.state.llm_calls - calls_before), None, roles)
            raise
        result.verdicts = {k: v for k, v in result.verdicts.items() if k}
        ctx.state.outputs[phase.output_name] = result.output
        ctx.state.verdicts.update(result.verdicts)
        ctx.state.completed.append(key.text)
        sha = self._commit(phase, key, cycle, start, result, roles)
        self._ended(phase, key, cycle, start, result, sha, roles)
        return result

    def _ended(self, phase: Any, key: StepKey, cycle: int, start: float, result: PhaseResult, sha: str | None,
               roles: list[str]) -> None:
        duration = round(time.monotonic() - start, 3)
        record = {"key": key.text, "name": phase.name, "kind": phase.kind, "status": result.status, "cycle": cycle,
                  "duration": duration, "roles": roles, "files": result.files, "commit": sha,
                  "verdict": result.verdicts, "reason": result.reason,
                  "prompt_tokens": result.usage.prompt_tokens, "completion_tokens": result.usage.completion_tokens,
                  "cached_tokens": result.usage.cached_prompt_tokens, "calls": result.calls}
        self.state.phases.append(record)
        self.ctx.workspace.checkpoint(self.state.to_dict())
        self.ctx.sink(events.PhaseEnded(phase=phase.name, status=result.status, duration=duration, cycle=cycle,
                                        verdict=result.verdicts, files=result.files, commit=sha, reason=result.reason,
                                        prompt_tokens=result.usage.prompt_tokens,
                                        completion_tokens=result.usage.completion_tokens,
                                        cached_tokens=result.usage.cached_prompt_tokens))

    def _commit(self, phase: Any, key: StepKey, cycle: int, start: float, result: PhaseResult,
                roles: list[str]) -> str | None:
        ctx = self.ctx
        ctx.workspace.checkpoint(self.state.to_dict())
        if isinstance(phase, HumanPhase):
            return self._human_commit(phase, start, result, roles)
        if not phase.commit or not result.files:
            return None
        summary = prompts.render(phase.commit, {"phase": phase.name, "files": result.files, "role": roles[-1],
                                                "outputs": dict(ctx.state.outputs), "item": None, "cycle": cycle,
                                                "verdict": result.verdicts, "task": ctx.state.task},
                                 where=f"{phase.source}: commit")
        if cycle:
            summary = f"{summary} (cycle {cycle})"
        if ctx.revision and ctx.revision.get("phase") == phase.name:
            summary = f"{summary} (revised after review)"
        author = roles[-1]
        model_name = ctx.models[author].name if author in ctx.models else None
        typed = getattr(ctx.models.get(author), "human", False)  # the person played this role
        u = result.usage
        trailers = {
            "Phase": phase.name,
            "Role": f"{author} (human)" if typed else author,
            "Model": model_name or "none",
            "Tokens": tokens_trailer(u.prompt_tokens, u.completion_tokens, u.cached_prompt_tokens),
            "Duration": f"{time.monotonic() - start:.1f}s",
        }
        return ctx.workspace.commit(role=author, phase=phase.name, summary=summary, trailers=trailers,
                                    model=model_name)

    def _human_commit(self, phase: HumanPhase, start: float, result: PhaseResult, roles: list[str]) -> str | None:
        """A person's decision or answers are committed with the step (a bookkeeping commit)."""
        out = result.output
        if phase.review:
            decision = out.get("decision", "") if isinstance(out, dict) else ""
            comment = f": {out.get('comment')}" if isinstance(out, dict) and out.get("comment") else ""
            summary = f"{'Approved' if decision == 'approve' else 'Change asked for'} {phase.review}{comment}"
            trailers = {"Phase": phase.name, "Role": f"{roles[-1]} (human)", "Model": "none",
                        "Decision": decision}
        else:
            count = len(out) if isinstance(out, list) else 0
            summary = f"Clarify: {count} question(s) answered by the customer"
            u = result.usage
            trailers = {"Phase": phase.name, "Role": roles[-1], "Human": f"customer answered {count}",
                        "Model": self.ctx.models[roles[-1]].name if roles[-1] in self.ctx.models else "none",
                        "Tokens": tokens_trailer(u.prompt_tokens, u.completion_tokens, u.cached_prompt_tokens)}
        trailers["Duration"] = f"{time.monotonic() - start:.1f}s"
        return self.ctx.workspace.commit(role=roles[-1], phase=phase.name, summary=summary[:200],
                                         trailers=trailers, model=None, bookkeeping=True)

    # loops -------------------------------------------------------------------
    def _loop(self, loop: LoopPhase, *, key: StepKey) -> None:
        """Cycles until the verdict holds, a cycle changes nothing, or the same failure comes back.

        Every fix is checked: a loop that ran out of cycles right after a fix checks once more
        (``#final<cycle>``), and a fix that made things worse is rolled back (``_after_check``).
        """
        if key.done(self.state.completed):
            return
        if not key.begun(self.state.completed):  # a fresh loop: nothing carried over from an earlier run of it (improve)
            self.state.verdicts[loop.until] = False
            self.state.directive = ""
            self.state.checks.pop(key.text, None)
            for sub in loop.phases:
                found = self.ctx.company.phases[sub]
                for name in (found.output_name, *(ACTION_OUTPUTS[found.action] if isinstance(found, ActionPhase) else ())):
                    self.state.outputs.pop(name, None)
        max_cycles = loop.max_cycles
        escalated = key.was_escalated(self.state.completed)
        if escalated:
            max_cycles += 1
        cycle = 1
        outcome = "unreached"
        self._unchecked = False
        while True:
            try:
                status = self._cycle(loop, key=key, cycle=cycle)
            except SkipLoop:
                outcome = "skipped"
                break
            if status == "reached":
                outcome = "reached"
                break
            if status == "stalled" or cycle >= max_cycles:
                if self._unchecked and self._final_check(loop, key=key, cycle=cycle):
                    outcome = "reached"
                    break
                if loop.escalate and not escalated:
                    escalated = True
                    why = self._stall_reason if status == "stalled" else "it ran out of cycles"
                    if self._escalate(loop, key=key, cycles=cycle, why=why):
                        max_cycles = max(max_cycles, cycle) + 1
                        cycle += 1
                        self.state.checks.get(key.text, {}).pop("signatures", None)  # the directive is new
                        continue
                if status == "stalled":
                    outcome = "stalled"
                break
            cycle += 1
        self.state.directive = ""
        self.state.completed.append(key.text)
        self.state.phases.append({"key": key.text, "name": loop.name, "kind": "loop", "status": outcome,
                                  "cycle": cycle, "duration": 0.0, "roles": [], "files": [], "commit": None,
                                  "verdict": {loop.until: bool(self.state.verdicts.get(loop.until))},
                                  "reason": self._stall_reason if outcome == "stalled" else "",
                                  "prompt_tokens": 0, "completion_tokens": 0, "cached_tokens": 0, "calls": 0})
        self.ctx.workspace.checkpoint(self.state.to_dict())

    _unchecked = False  # a fix changed files that no check has seen yet
    _stall_reason = ""

    def _cycle(self, loop: LoopPhase, *, key: StepKey, cycle: int) -> str:
        """One cycle: "reached", "stalled" (nothing changed, or the same failure again) or "continue".

        A cycle whose check sent failing tests to the tester as disputes (``checks/disputes.py``)
        is not stalled when the tester changes nothing: it kept them, and the next check sends them
        to the programmer as standing (the 1.5B Caesar tool, 2026-12-08: the escalation's extra
        cycle was spent on the dispute, and the manager's directive never reached the programmer)."""
        fixes, changed = 0, False
        disputed = _disputes_sent(self.state)
        for sub in loop.phases:
            phase = self.ctx.company.phases[sub]
            subkey = key.inner(cycle, sub)
            if isinstance(phase, LoopPhase):
                self._loop(phase, key=subkey)
            elif not subkey.done(self.state.completed):
                try:
                    result = self._step(phase, key=subkey, cycle=cycle)
                except PhaseFailed:
                    return "continue"  # a failed sub-phase ends this cycle; the loop decides what next
                if _is_check(phase):
                    self._after_check(loop, phase, result, key=key, cycle=cycle)
                elif isinstance(phase, ChatPhase) and phase.expects == "files" and result.status != "skipped":
                    fixes += 1
                    changed |= bool(result.files)
                    self._unchecked |= bool(result.files)
                if (self._sets(phase, loop.until) and not self.state.verdicts.get(loop.until)
                        and self._repeated(key, phase)):
                    self._stall_reason = "the same failure came back"
                    return "stalled"
            else:
                fixes, changed = fixes + 1, True  # done before a resume: assume it changed something
            if self._sets(phase, loop.until) and self.state.verdicts.get(loop.until):
                return "reached"
        if fixes and not changed and _disputes_sent(self.state) == disputed:
            self._stall_reason = "the fix changed nothing"
            return "stalled"
        return "continue"

    @staticmethod
    def _sets(phase: Any, verdict: str) -> bool:
        return getattr(phase, "verdict", None) == verdict or verdict in getattr(phase, "verdicts", ())

    def _repeated(self, key: StepKey, phase: Any) -> bool:
        """Whether the verdict phase's failure is word for word one of an earlier cycle of the loop
        (since its escalation): the cycle before, or one the fixes went back to (the 1.5B snake's
        fixes swapped `Snake()` and `Food()` and back, three cycles of 130 s)."""
        record = self.state.checks.setdefault(key.text, {})
        signature = hashlib.sha256(_signature(self.state.outputs.get(phase.output_name)).encode()).hexdigest()[:16]
        seen = record.setdefault("signatures", [])
        repeated = signature in seen
        seen.append(signature)
        return repeated

    def _after_check(self, loop: LoopPhase, phase: ActionPhase, result: PhaseResult, *, key: StepKey,
                     cycle: int) -> None:
        """No step backwards: a check worse than the one before the fix rolls the fix back."""
        progress = result.progress
        if progress is None:
            return
        self._unchecked = False
        record = self.state.checks.setdefault(key.text, {})
        before = record.get("progress")
        program = program_signature(self.ctx)
        # only the tests changed (the tester's repair, a quarantine): the program cannot have got
        # worse, and passing counts of other tests compare nothing (the 1.5B Roman converter,
        # 2026-12-07: the tester's corrected test was rolled back for "passing tests went from 2 to 1")
        same_program = bool(before) and record.get("program") == program
        worse = progress.worse_than(Progress.from_dict(before)) if before and not same_program else ""
        sha = self.ctx.workspace.head()
        if worse and record.get("sha") and record["sha"] != sha:
            files = self.ctx.workspace.restore(record["sha"])
            note = (f"\n\nThe last change was undone because {worse}; the results above are from before it. "
                    "Fix the failure another way.")
            self.state.outputs[phase.output_name] = str(record.get("output", "")) + note
            self.state.verdicts.update(record.get("verdicts", {}))
            self.state.tests = dict(record.get("tests") or self.state.tests)
            self.ctx.sink(events.Notice(level="warning", text=f"{loop.name}: rolled back the last fix ({worse})"))
            if files:
                author = self.ctx.company.role(phase.role).name
                self.ctx.workspace.commit(role=author, phase=phase.name,
                                          summary=f"Roll back the last fix: {worse} (cycle {cycle})",
                                          trailers={"Phase": phase.name, "Role": author, "Model": "none",
                                                    "Rollback": record["sha"][:12]}, model=None)
                self.ctx.workspace.checkpoint(self.state.to_dict())
            record["sha"] = self.ctx.workspace.head()
            return
        record.update(progress=progress.to_dict(), sha=sha, program=program,
                      output=self.state.outputs.get(phase.output_name),
                      verdicts={k: v for k, v in self.state.verdicts.items()
                                if k in getattr(phase, "verdicts", ()) or k == loop.until},
                      tests=dict(self.state.tests))

    def _final_check(self, loop: LoopPhase, *, key: StepKey, cycle: int) -> bool:
        """The loop's checks once more after its last fix, so no fix is delivered unchecked."""
        self.ctx.final_check = True
        try:
            for sub in loop.phases:
                phase = self.ctx.company.phases[sub]
                if not _is_check(phase):
                    continue
                subkey = key.final(sub, cycle)
                if subkey.done(self.state.completed):
                    continue
                try:
                    result = self._step(phase, key=subkey, cycle=cycle)
                except PhaseFailed:
                    return False
                self._after_check(loop, phase, result, key=key, cycle=cycle)
        finally:
            self.ctx.final_check = False
        return bool(self.state.verdicts.get(loop.until))

    def _escalate(self, loop: LoopPhase, *, key: StepKey, cycles: int, why: str = "") -> bool:
        """The manager decides: accept as it is, or one more cycle with a directive (``why``: the stall)."""
        ctx = self.ctx
        instructor = next((ctx.company.role(p.instructor).name for p in ctx.company.walk(loop.phases)
                           if isinstance(p, ChatPhase)), None)
        # not the reviewer who kept refusing: the manager of the role whose verdict failed
        judge = next((_verdict_role(p, ctx.company) for p in ctx.company.walk(loop.phases)
                      if self._sets(p, loop.until)), None) or instructor
        boss = ctx.chart.escalation_target(judge) if judge else None
        if boss is None:
            return False
        outcome = _last_outcome(ctx, loop)
        text = prompts.render(ctx.company.messages.escalation,
                              {"loop": loop.name, "cycles": cycles, "until": loop.until, "outcome": outcome,
                               "why": why},
                              where="messages.yaml: escalation")
        schema = {"type": "object", "required": ["decision"],
                  "properties": {"decision": {"type": "string", "enum": ["accept", "retry"]},
                                 # bounded, so the grammar closes the JSON inside max_tokens (the 1.5B's
                                 # directive ran past 150 tokens in make demo, and its "retry" was lost)
                                 "directive": {"type": "string", "maxLength": DIRECTIVE_CHARS}}}
        from chatdev.run.phases import persona

        conv = Conversation(ctx.model_for(boss), persona(ctx, boss))
        result = PhaseResult()
        decision, directive = "accept", ""
        try:
            reply = ctx.ask(conv, loop.name, sender=judge or "chatdev", receiver=boss, text=text,
                            schema=schema, max_tokens=150, result=result, expects="json", turn="escalate")
            from chatdev.replies.parsing import parse_json

            data = parse_json(reply.text, schema)
            decision, directive = data["decision"], str(data.get("directive", ""))[:DIRECTIVE_CHARS]
        except SchemaViolation as exc:
            directive = f"(no usable decision: {exc.reason}; accepted as it is)"
        ctx.state.escalations += 1
        ctx.state.directive = directive if decision == "retry" else ""
        ctx.state.completed.append(key.escalated.text)
        # from the role whose verdict failed ("escalated Tester -> CTO"), not the loop's first speaker
        ctx.sink(events.Escalation(phase=loop.name, to_role=boss, from_role=judge or "", decision=decision,
                                   directive=directive))
        ctx.workspace.checkpoint(ctx.state.to_dict())
        return decision == "retry"


def _is_check(phase: Any) -> bool:
    return isinstance(phase, ActionPhase) and phase.action in ("run_tests", "static_check")


def _verdict_role(phase: Any, company: Company) -> str:
    """Who decides a verdict: the assistant of a chat phase, the role of an action."""
    if isinstance(phase, ChatPhase):
        return company.role(phase.assistant).name
    return company.role(getattr(phase, "role", None) or getattr(phase, "judge", "")).name


def _disputes_sent(state: RunState) -> int:
    """How many failing tests the loop's checks have sent to the tester as disputes so far."""
    record = state.outputs.get("test_disputes")
    sent = record.get("sent") if isinstance(record, dict) else None
    return len(sent) if isinstance(sent, list) else 0


def _signature(output: Any) -> str:
    """A failure without its timings and object addresses, to tell "the same failure again"
    (``<ball.Ball object at 0x7f6ca5c197d0>`` differs in every run: the 1.5B breakout's
    same two failing asserts did not count as repeated, and the loop ran all its cycles)."""
    import json
    import re

    text = output if isinstance(output, str) else json.dumps(output, sort_keys=True, default=str)
    text = re.sub(r"\b0x[0-9a-fA-F]{6,}\b", "0x…", text or "")
    return re.sub(r"\d+(\.\d+)?\s*s\b", "", text)


def _roles_of(phase: Any, company: Company) -> list[str]:
    if isinstance(phase, HumanPhase):  # a person's seat: the named role or the top of the org chart
        from chatdev.run.human import seat

        return [seat(phase, company)]
    return [company.role(r).name for r in phase.role_refs()]


def _last_outcome(ctx: Context, loop: LoopPhase) -> str:
    """The latest verdict-setting output of the loop: what the manager is shown."""
    for phase in reversed(list(ctx.company.walk(loop.phases))):
        if getattr(phase, "verdict", None) == loop.until:
            value = ctx.state.outputs.get(phase.output_name)
            if value:
                return str(value)[:1200]
    return "(no result recorded)"
