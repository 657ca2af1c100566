"""Reply formats: how a phase's reply is read (``expects: files | json | text``).

Each format is a small class that owns everything about its replies:

- ``instruction``: the closing lines of every request a phase with this ``expects:``
  sends (the phase's prompt says what to write, the format says how to reply: a phase
  YAML never spells the format out);
- ``example``: a one-shot example of a reply (for json, the schema's own ``examples``
  entry, else a skeleton of the schema; a files reply's example goes with a retry);
- ``parse``: a reply it cannot use raises ``SchemaViolation`` with the reason, which goes
  back to the model;
- ``retry_hint``: what a retry adds (messages.yaml's ``retry`` renders it as ``{{ hint }}``).

Adding a format (search/replace edits, say) is one class here and its name in
``config.ChatPhase.expects``.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from chatdev.models.base import SchemaViolation
from chatdev.replies import parsing, plans

Known = Callable[[], dict[str, str]]  # the project's text files, read only when needed


class ReplyFormat:
    name: ClassVar[str]
    hint: ClassVar[str]  # what a retry asks for, in one line

    def instruction(self, *, expected: Sequence[str] = (), schema: dict[str, Any] | None = None) -> str:
        """The lines that close a request for this format ("" when the prompt says it all)."""
        return ""

    def example(self, *, expected: Sequence[str] = (), schema: dict[str, Any] | None = None) -> str:
        """A one-shot example of a reply in this format ("" when there is none)."""
        return ""

    def retry_hint(self, *, expected: Sequence[str] = (), schema: dict[str, Any] | None = None) -> str:
        """What a retry adds under the reason the reply was refused."""
        return self.hint

    def parse(self, text: str, *, schema: dict[str, Any] | None = None, expected: Sequence[str] = (),
              known: Known | None = None, cut: bool = False) -> Any:
        raise NotImplementedError


PLACEHOLDER = "(every line of {path})"  # what the files format's example puts in its block
ECHOED = re.compile(re.escape(PLACEHOLDER).replace(re.escape("{path}"), r"[^)\n]*"))


_SENTENCE = re.compile(r"^[\W\d_]*[A-Z][\w`'()-]*(?:[ \t]+\S+){5,}[.!?:]?$")


def not_code(path: str, body: str) -> str:
    """Why a Python file a reply sent is not code at all ("" when it is): the files example's
    placeholder copied (``(every line of hangman.py)``, the 0.5B's hangman fix, 2026-12-06), or
    nothing but sentences that do not parse (the 0.5B's space shooter wrote ``This `SpaceShot`
    class is designed to ...`` in a python block, copied from a paragraph an earlier file had
    become). Code with a syntax error is code: the static check and the fixes take it."""
    if ECHOED.fullmatch(body.strip()):
        return (f"{path} was the example's placeholder `{PLACEHOLDER.format(path=path)}`, not code: "
                "send the file's real lines")
    if not path.endswith(".py"):
        return _code_as_data(path, body)
    try:
        ast.parse(body)
        return ""
    except (SyntaxError, ValueError):
        pass
    lines = [line.strip() for line in body.splitlines() if line.strip()]
    if lines and all(_SENTENCE.match(line) for line in lines):
        return f"{path} held only sentences about the code, not the code: send the whole file's Python code"
    return ""


DATA_SUFFIXES = (".txt", ".csv", ".tsv", ".json", ".dat")


def _code_as_data(path: str, body: str) -> str:
    """Why a data file a reply sent is a Python program instead ("" when it is not): the 1.5B's
    hangman review fix (2026-12-07) answered "words.txt is missing" with main.py's code as
    words.txt, and the game then drew its words from lines like ``import random``. A file of
    one word a line parses as Python too, so only an import, def or class makes it code."""
    if not path.endswith(DATA_SUFFIXES) or path.endswith("requirements.txt"):
        return ""
    try:
        tree = ast.parse(body)
    except (SyntaxError, ValueError):
        return ""
    if not any(isinstance(node, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.ClassDef)) for node in tree.body):
        return ""
    return (f"{path} held Python code, not its data: send the data the program reads from {path} "
            f"(for a word list, one word a line), and the program's code under its .py file")


class FilesFormat(ReplyFormat):
    """Files: a path line, then the whole file in a fenced block (``artifacts.parse_files``).

    ``expected``: the one file the step asks for (a block without a path is that file).
    With ``known`` and nothing expected (a fix), a block without a path goes to the
    project file it rewrites, and each file lands on the project file it names.
    ``cut``: the reply hit its token limit; its open last block is dropped.
    """

    name = "files"
    hint = "Write the file path on one line, then the whole file in one ``` block."

    def instruction(self, *, expected: Sequence[str] = (), schema: dict[str, Any] | None = None) -> str:
        if len(expected) > 1:  # the whole program (a files debate)
            return (f"For each of {', '.join(expected)}: write its path on one line and then the whole file "
                    f"in one ```{fence_language(expected[0])} block.")
        if expected:  # one named file (a planned file, a phase's ``writes:``)
            path = expected[0]
            return f"Reply with the line {path} and then the whole file in one ```{fence_language(path)} block."
        # a fix sends only what it changes (``replies/splice.py`` puts it in place): the 1.5B
        # snake's one-line fixes were 1300-token rewrites of its 128-line main.py, 130 s each, and
        # offered both, it still rewrote the whole file in every fix of its 2026-12-07 build (~900
        # tokens, 90-110 s each)
        return ("For each file you change, write its path on one line and then, in one ```python block, "
                "only the functions and classes you change, each complete (what you leave out stays as it "
                "is); the whole file only when most of it changes.")

    def example(self, *, expected: Sequence[str] = (), schema: dict[str, Any] | None = None) -> str:
        path = expected[0] if expected else "main.py"
        return f"{path}\n```{fence_language(path)}\n{PLACEHOLDER.format(path=path)}\n```"

    def retry_hint(self, *, expected: Sequence[str] = (), schema: dict[str, Any] | None = None) -> str:
        return f"{self.hint} Like this:\n{self.example(expected=expected)}"

    def parse(self, text: str, *, schema: dict[str, Any] | None = None, expected: Sequence[str] = (),
              known: Known | None = None, cut: bool = False) -> dict[str, str]:
        fix = known is not None and not expected
        # a fix cut at its limit inside a project file keeps what it rewrote (``splice.salvage``)
        parsed = parsing.parse_files(text, expected=list(expected), cut=cut,
                                     known=known() if fix and cut and known is not None else None)
        if not parsed.ok and known is not None and not expected:
            parsed = parsing.parse_files(text, known=known(), cut=cut)
        if not parsed.ok:
            raise SchemaViolation("; ".join(parsed.problems), text)
        files = parsed.files
        wrong = {path: why for path, body in files.items() if (why := not_code(path, body))}
        if wrong:  # never written: the next step would read it as the file (and copy it)
            files = {path: body for path, body in files.items() if path not in wrong}
            if not files:
                raise SchemaViolation(next(iter(wrong.values())), text)
        if known is not None and not expected:  # a fix: each file on the project file it rewrites
            files = plans.map_fix_paths(files, known(), text)
        plans.check_self_imports(files, text)
        return files


class JsonFormat(ReplyFormat):
    """One JSON object matching the phase's schema; a file plan is checked (``plans.check_plan``)."""

    name = "json"
    hint = "Reply with one JSON object only, no other text."

    def instruction(self, *, expected: Sequence[str] = (), schema: dict[str, Any] | None = None) -> str:
        return f"Reply with JSON only, like:\n{self.example(schema=schema)}"

    def example(self, *, expected: Sequence[str] = (), schema: dict[str, Any] | None = None) -> str:
        examples = (schema or {}).get("examples")
        value = examples[0] if isinstance(examples, list) and examples else skeleton(schema or {})
        return json.dumps(value, ensure_ascii=False)

    def parse(self, text: str, *, schema: dict[str, Any] | None = None, expected: Sequence[str] = (),
              known: Known | None = None, cut: bool = False) -> Any:
        value = parsing.parse_json(text, schema)
        examples = (schema or {}).get("examples")
        if isinstance(examples, list) and examples and value == examples[0] and _has_text(value):
            # the 0.5B's scenarios for a primes tool and a guessing game (2026-12-07) were the
            # example's "converts 10 km" word for word: an oracle of another task, worse than none.
            # An example with no text in it (a review's {"approved": true, "issues": []}) is a real answer.
            raise SchemaViolation("the reply is the example from the instructions, copied word for word: "
                                  "write it for this task", text)
        return plans.check_plan(value, text)


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


FENCE_LANGUAGES = {".py": "python", ".json": "json", ".md": "markdown", ".yaml": "yaml", ".yml": "yaml",
                   ".html": "html", ".css": "css", ".js": "javascript", ".toml": "toml", ".txt": "text"}


def fence_language(path: str) -> str:
    """The fence's language tag for a file (``python`` for ``main.py``; none for an unknown kind)."""
    suffix = "." + path.rsplit(".", 1)[-1].lower() if "." in path.rsplit("/", 1)[-1] else ""
    return FENCE_LANGUAGES.get(suffix, "")


def _has_text(value: Any) -> bool:
    """Whether a JSON value holds a non-empty string anywhere."""
    if isinstance(value, str):
        return bool(value.strip())
    if isinstance(value, dict):
        return any(_has_text(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_text(v) for v in value)
    return False


def skeleton(schema: dict[str, Any]) -> Any:
    """A value of the schema's shape, for a schema without ``examples``: keys, one item, "..." strings."""
    if "enum" in schema and schema["enum"]:
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    kind = schema.get("type")
    kind = kind[0] if isinstance(kind, list) and kind else kind
    if kind == "object" or "properties" in schema:
        return {key: skeleton(sub if isinstance(sub, dict) else {})
                for key, sub in schema.get("properties", {}).items()}
    if kind == "array":
        items = schema.get("items")
        return [skeleton(items)] if isinstance(items, dict) else []
    return {"boolean": True, "integer": 0, "number": 0, "null": None}.get(str(kind), "...")


def strip_outer_fence(text: str) -> str:
    m = re.fullmatch(r"\s*```[\w-]*\n(.*?)\n```\s*", text, re.DOTALL)
    return m.group(1) if m else text


FORMATS: dict[str, ReplyFormat] = {f.name: f for f in (FilesFormat(), JsonFormat(), TextFormat())}


def format_for(expects: str) -> ReplyFormat:
    return FORMATS[expects]
