"""Where a step is in a run: the key a completed step is recorded under in state.json.

The text (``2:design``, ``2:review_loop#1/code_review``, ``2:test_loop#final3/test_run``,
``2:review_loop!escalated``, ``2:approve_design/redo``) is what state.json has always held,
so a resumed run reads old states; its grammar lives here and nowhere else.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class StepKey:
    text: str

    @classmethod
    def top(cls, run: int, name: str) -> StepKey:
        """A chain entry of run ``run`` (1: the build, 2: the first improve, ...)."""
        return cls(f"{run}:{name}")

    def inner(self, cycle: int | str, name: str) -> StepKey:
        """Phase ``name`` in cycle ``cycle`` (a number, or ``"final<n>"``: the check after cycle n's fix) of this loop."""
        return StepKey(f"{self.text}#{cycle}/{name}")

    def final(self, name: str, cycle: int) -> StepKey:
        """The loop's check once more after the fix of cycle ``cycle``: a loop given one more cycle
        (escalated) checks again after that cycle's fix too (states before 2026-12-07 wrote
        ``#final``, one for the whole loop, and a resumed one checks again)."""
        return self.inner(f"final{cycle}", name)

    @property
    def escalated(self) -> StepKey:
        """The mark that this loop was escalated to a manager."""
        return StepKey(f"{self.text}!escalated")

    @property
    def redo(self) -> StepKey:
        """A checkpoint's reviewed phase, done again with the person's comment."""
        return StepKey(f"{self.text}/redo")

    def done(self, completed: Iterable[str]) -> bool:
        return self.text in completed

    def begun(self, completed: Iterable[str]) -> bool:
        """Whether a step inside this loop completed (a resumed loop, not a fresh one)."""
        return any(k.startswith(f"{self.text}#") for k in completed)

    def was_escalated(self, completed: Iterable[str]) -> bool:
        return self.escalated.text in completed

    def __str__(self) -> str:
        return self.text
