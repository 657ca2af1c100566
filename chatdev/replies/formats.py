"""Reply formats: how a phase's reply is read (``expects: files | json | text``).

Each format is a small class: its parser (a reply it cannot use raises
``SchemaViolation`` with the reason, which goes back to the model) and the one-line
hint a retry adds (messages.yaml's ``retry`` renders it as ``{{ hint }}``). Adding a
format (search/replace edits, say) is one class here and its name in
``config.ChatPhase.expects``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from chatdev.models.base import SchemaViolation
from chatdev.replies import parsing, plans

Known = Callable[[], dict[str, str]]  # the project's text files, read only when needed


class ReplyFormat:
    name: ClassVar[str]
    hint: ClassVar[str]  # what a retry asks for, in one line

    def parse(self, text: str, *, schema: dict[str, Any] | None = None, expected: Sequence[str] = (),
              known: Known | None = None, cut: bool = False) -> Any:
        raise NotImplementedError


class FilesFormat(ReplyFormat):
    """Files: a path line, then the whole file in a fenced block (``artifacts.parse_files``).

    ``expected``: the one file the step asks for (a block without a path is that file).
    With ``known`` and nothing expected (a fix), a block without a path goes to the
    project file it rewrites, and each file lands on the project file it names.
    ``cut``: the reply hit its token limit; its open last block is dropped.
    """

    name = "files"
    hint = "Write the file path on one line, then the whole file in one ``` block."

    def parse(self, text: str, *, schema: dict[str, Any] | None = None, expected: Sequence[str] = (),
              known: Known | None = None, cut: bool = False) -> dict[str, str]:
        parsed = parsing.parse_files(text, expected=list(expected), cut=cut)
        if not parsed.ok and known is not None and not expected:
            parsed = parsing.parse_files(text, known=known(), cut=cut)
        if not parsed.ok:
            raise SchemaViolation("; ".join(parsed.problems), text)
        if known is not None and not expected:  # a fix: each file on the project file it rewrites
            return plans.map_fix_paths(parsed.files, known(), text)
        return parsed.files


class JsonFormat(ReplyFormat):
    """One JSON object matching the phase's schema; a file plan is checked (``plans.check_plan``)."""

    name = "json"
    hint = "Reply with one JSON object only, no other text."

    def parse(self, text: str, *, schema: dict[str, Any] | None = None, expected: Sequence[str] = (),
              known: Known | None = None, cut: bool = False) -> Any:
        return plans.check_plan(parsing.parse_json(text, schema), text)


class TextFormat(ReplyFormat):
    """Prose (requirements, a README): the reply without an outer fence, not empty."""

    name = "text"
    hint = ""

    def parse(self, text: str, *, schema: dict[str, Any] | None = None, expected: Sequence[str] = (),
              known: Known | None = None, cut: bool = False) -> str:
        cleaned = strip_outer_fence(text).strip()
        if len(cleaned) < 2:
            raise SchemaViolation("the reply was empty", text)
        return cleaned


def strip_outer_fence(text: str) -> str:
    m = re.fullmatch(r"\s*```[\w-]*\n(.*?)\n```\s*", text, re.DOTALL)
    return m.group(1) if m else text


FORMATS: dict[str, ReplyFormat] = {f.name: f for f in (FilesFormat(), JsonFormat(), TextFormat())}


def format_for(expects: str) -> ReplyFormat:
    return FORMATS[expects]
