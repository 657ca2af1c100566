"""Replies → artifacts. Pure functions: files from fenced blocks, JSON verdicts.

Small local models are sloppy with formats, so the file parser accepts the
shapes they actually produce (a path line before the fence, a path in the
fence's info string, a ``# path`` first line inside it, a single unnamed block
when exactly one file is expected, an unnamed block of one file's functions,
put in place by ``splice``) and refuses every path that could escape
the project. What cannot be parsed is reported as a reason the conversation
sends back to the model.
"""

from __future__ import annotations

import ast
import difflib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from chatdev.models.base import SchemaViolation

FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^\n`]*)$", re.MULTILINE)
# file names a reply may name: a known extension, so `unittest.main` or `pygame.init` is never a path
EXTENSIONS = ("py", "pyw", "txt", "md", "rst", "json", "yaml", "yml", "toml", "cfg", "ini", "csv", "tsv", "html",
              "htm", "css", "js", "sh", "sql", "xml", "svg", "env", "in", "lock")
PATHISH = re.compile(r"^[\w.\-/]+\.(" + "|".join(EXTENSIONS) + r")$|^(Makefile|Dockerfile|LICENSE|README)$")
LANG_WORDS = {"python", "py", "python3", "text", "txt", "markdown", "md", "json", "yaml", "yml", "toml", "ini",
              "bash", "sh", "shell", "html", "css", "javascript", "js", "plaintext", "console", "cfg", ""}


class UnsafePath(ValueError):
    """A path a reply named that must not be written."""


def safe_relpath(raw: str) -> str:
    """Normalise a path a model wrote, or raise UnsafePath saying why.

    The rule is ``files.path_problem`` (the workspace's own), after the reply's quoting
    and backslashes are taken off; a model's path is also kept short. Symlink escapes
    are the workspace's to refuse (they depend on the filesystem).
    """
    from chatdev.project.paths import SANDBOX_ROOT, path_problem

    path = raw.strip().strip("`*'\"").strip()
    if not path:
        raise UnsafePath("empty path")
    if any(ord(c) < 32 for c in path):
        raise UnsafePath(f"{raw!r}: control character in path")
    path = path.replace("\\", "/")  # a model on Windows habits: the same path
    path = path.removeprefix(SANDBOX_ROOT)  # copied from a traceback: the project's own file
    problem = path_problem(path)
    if problem is not None:
        raise UnsafePath(f"{path}: {problem}")
    parts = [p for p in PurePosixPath(path).parts if p not in ("", ".")]
    if len(path) > 200 or len(parts) > 8:  # a model's file name, not a project's: kept short
        raise UnsafePath(f"{path}: path too long")
    return "/".join(parts)


@dataclass(frozen=True)
class FileParse:
    files: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)  # refused paths and other reasons

    @property
    def ok(self) -> bool:
        return bool(self.files)


@dataclass(frozen=True)
class _Block:
    info: str
    body: str
    before: str  # the text between the previous block and this fence
    closed: bool = True  # False: the reply ended inside it


def _blocks(text: str) -> list[_Block]:
    blocks: list[_Block] = []
    pos = 0
    lines = text.splitlines(keepends=True)
    i = 0
    offset = 0
    starts = []
    for line in lines:
        starts.append(offset)
        offset += len(line)
    while i < len(lines):
        m = FENCE.match(lines[i].rstrip("\n"))
        if not m:
            i += 1
            continue
        fence = m.group("fence")
        info = m.group("info").strip()
        j = i + 1
        while j < len(lines):
            close = lines[j].strip()
            if close.startswith(fence[0] * len(fence)) and close.strip(fence[0]) == "":
                break
            j += 1
        body = "".join(lines[i + 1:j])
        indent = m.group("indent")
        if indent:  # a fence inside a list item: its body carries the item's indentation
            body = "".join(ln[len(indent):] if ln.startswith(indent) else ln.lstrip(" \t")
                           for ln in lines[i + 1:j])
        before = text[pos:starts[i]]
        blocks.append(_Block(info=info, body=body, before=before, closed=j < len(lines)))
        pos = starts[j] + len(lines[j]) if j < len(lines) else len(text)
        i = j + 1
    return blocks


def _path_from_line(line: str) -> str | None:
    s = line.strip()
    s = re.sub(r"^(#+|[-*]|\d+[.)])\s*", "", s)  # markdown heading / bullet / numbering
    s = re.sub(r"^(file(name)?|path)\s*[:=]\s*", "", s, flags=re.IGNORECASE)
    s = s.strip().strip("*`'\":").strip()
    s = re.sub(r"\s+\(.*\)$", "", s)  # "main.py (entry point)"
    s = s.rstrip(":").strip()
    return s if s and PATHISH.match(s) and " " not in s else None


def _name_for(block: _Block) -> tuple[str | None, str]:
    """(path, body) of one block: from the info string, the line before, or a first-line comment."""
    info_words = block.info.split()
    for word in info_words:
        if word.lower() not in LANG_WORDS and _path_from_line(word):
            return _path_from_line(word), block.body
    before_lines = [ln for ln in block.before.splitlines() if ln.strip()]
    if before_lines:
        cand = _path_from_line(before_lines[-1])
        if cand:
            return cand, block.body
        # "Here is main.py:" style
        m = re.search(r"([\w./\-]+\.[A-Za-z0-9]{1,10})`?\**:?\s*$", before_lines[-1])  # "Here is main.py:"
        if m and _path_from_line(m.group(1)):
            return m.group(1), block.body
    first, _, _rest = block.body.partition("\n")
    m = re.match(r"^\s*(?:#|//|<!--)\s*(?:file(?:name)?\s*[:=]\s*)?([\w./\-]+\.[A-Za-z0-9]{1,10})\s*(?:-->)?\s*$",
                 first, re.IGNORECASE)
    if m and PATHISH.match(m.group(1)):
        return m.group(1), block.body  # keep the comment line: it is valid code
    return None, block.body


_TOP_DEF = re.compile(r"^(?:async[ \t]+)?(?:def|class)[ \t]+(\w+)", re.MULTILINE)
# a fence's language word or a file's extension -> one name per kind of file
_KINDS = {"python": "py", "python3": "py", "pyw": "py", "markdown": "md", "yaml": "yml", "htm": "html",
          "javascript": "js", "text": "txt", "plaintext": "txt"}


def _kind(path_or_lang: str) -> str:
    ext = path_or_lang.rsplit(".", 1)[-1].lower() if "." in path_or_lang else path_or_lang.lower()
    return _KINDS.get(ext, ext)


def infer_path(block_body: str, *, info: str = "", before: str = "", known: Mapping[str, str],
               taken: Sequence[str] = ()) -> str | None:
    """The project file an unnamed block rewrites, when the reply makes that plain; else None.

    A fix reply from a small model often drops the path line ("Here is the corrected
    code:"). The block is taken as file F only when it is F *whole*: it defines at least
    half of F's top-level functions and classes (for a file with none, the text before
    it names F and at least half its lines are F's), its language fits F's extension,
    and no other file fits as well. A fragment (a lone ``if __name__ == ...``) fits
    nothing and still goes back to the model as a retry.
    """
    lang = _kind(info.split()[0]) if info.split() else ""
    block_defs = set(_TOP_DEF.findall(block_body))
    block_lines = block_body.count("\n") + 1
    scored: list[tuple[int, float, str]] = []
    for path, content in known.items():
        if path in taken or (lang and lang != _kind(path)) or (not lang and _kind(path) != "py"):
            continue
        name = PurePosixPath(path).name
        mentioned = bool(re.search(r"(?<![\w/.-])(" + re.escape(path) + "|" + re.escape(name) + r")(?![\w-])",
                                   before))
        defs = set(_TOP_DEF.findall(content))
        if defs:
            coverage = len(defs & block_defs) / len(defs)
            fits = coverage >= 0.5
        else:  # a script without definitions: named before the block, and mostly kept
            coverage = 0.0
            fits = (mentioned and block_lines * 2 >= content.count("\n") + 1
                    and difflib.SequenceMatcher(None, content.splitlines(), block_body.splitlines()).ratio() >= 0.5)
        if fits:
            scored.append((int(mentioned), coverage, path))
    if not scored:
        return None
    scored.sort(reverse=True)
    if len(scored) > 1 and scored[0][:2] == scored[1][:2]:
        return None  # two files fit equally: guessing could overwrite the wrong one
    return scored[0][2]


def parse_files(text: str, *, expected: Sequence[str] = (), known: Mapping[str, str] | None = None,
                cut: bool = False) -> FileParse:
    """Files named in a reply. With exactly one expected path, one unnamed block is that file.

    ``known`` (the project's text files, path -> content) lets an unnamed block that is
    plainly a whole rewrite of one of them count as that file (see ``infer_path``).
    ``cut``: the reply stopped at its token limit, so a last block left open is half a
    file and is dropped, never written.
    """
    text = _open_lone_closing_fence(text)
    files: dict[str, str] = {}
    problems: list[str] = []
    # an outline of another file echoed from the prompt (``  23| class Food:``) is context, never a file
    blocks = [b for b in _blocks(text) if b.body.strip() and not is_outline_echo(b.body, b.before)]
    if cut and blocks and not blocks[-1].closed:
        whole = _salvaged(blocks[-1], known) if known else None
        if whole is not None:  # a rewrite of a project file cut short: the rest is the file as it was
            blocks[-1] = _Block(info=blocks[-1].info, body=whole, before=blocks[-1].before)
        else:
            blocks.pop()
        if not blocks:
            return FileParse(problems=[("the reply reached its length limit inside the file, so the file is "
                                        "incomplete: send only the functions and classes you change, each one "
                                        "whole, after the line with its file's path (they replace the ones of "
                                        "the same name)")])
    unnamed: list[_Block] = []
    for block in blocks:
        name, body = _name_for(block)
        if name is None:
            unnamed.append(block)
            continue
        try:
            path = safe_relpath(name)
        except UnsafePath as exc:
            problems.append(f"refused path: {exc}")
            continue
        if expected and len(expected) == 1 and path != expected[0] and PurePosixPath(path).name == PurePosixPath(expected[0]).name:
            path = expected[0]
        for part_path, part in _split_headers(path, body, known or {}):
            files[part_path] = part if part.endswith("\n") else part + "\n"
    if not files and len(expected) == 1 and unnamed:
        best = _for_file(unnamed, expected[0])
        files[safe_relpath(expected[0])] = best.body if best.body.endswith("\n") else best.body + "\n"
        unnamed = []
    if known and not expected:
        for block in unnamed:
            path = infer_path(block.body, info=block.info, before=block.before, known=known, taken=list(files))
            if path is not None:
                files[path] = block.body if block.body.endswith("\n") else block.body + "\n"
                continue
            from chatdev.replies import splice  # a few of one file's functions: put in place

            placed = splice.place(block.body, {p: files.get(p, c) for p, c in known.items()})
            if placed is not None and _kind(block.info.split()[0] if block.info.split() else "py") == "py":
                files[placed[0]] = placed[1]
    if not files and not problems:
        if not blocks:
            problems.append("no fenced code block found: put each file in ```...``` after a line with its path")
        else:
            problems.append("code blocks have no file path: write the path on the line before each block")
    if len(expected) == 1 and expected[0] in files and len(files) > 1:
        # one file was asked for: the others are echoes of the context, and writing them
        # would overwrite files that other steps wrote
        files = {expected[0]: files[expected[0]]}
    files = {path: _without_path_line(path, body) for path, body in files.items()}
    return FileParse(files=files, problems=problems)


def _without_path_line(path: str, body: str) -> str:
    """A Python file whose first line is a path in some wrapper, ``(main.py`` (the 0.5B's snake,
    2026-12-06, after the example's ``(every line of main.py)``), without that line when only the
    file without it parses (its own path alone: whenever the rest parses). A ``# main.py`` comment
    line stays: it is valid code."""
    first, _, rest = body.partition("\n")
    if not path.endswith(".py") or first.lstrip().startswith("#"):
        return body
    name = first.strip().strip("()[]{}*`'\":").strip()
    if not PATHISH.match(name):
        return body
    own = name in (path, PurePosixPath(path).name)  # `main.py` parses, as a NameError waiting to happen
    try:
        ast.parse(body)
        if not own:
            return body
    except (SyntaxError, ValueError):
        pass
    try:
        ast.parse(rest)
    except (SyntaxError, ValueError):
        return body
    return rest


def _open_lone_closing_fence(text: str) -> str:
    """A reply whose one fence closes code that no fence opened, as if one had.

    Seen on the 0.5B's tic-tac-toe (2026-12-06): ``game.py``, a blank line, the whole file with
    no fence, then a lone ````` and a paragraph about the game. Read as a block left open, the
    paragraph became game.py and the program died on a SyntaxError. When the reply's only fence
    is bare, the text before it (after a path line, if any) parses as Python with a definition,
    an import or an assignment in it, and the text after it does not, the code is what the fence
    closes."""
    fences = list(FENCE.finditer(text))
    if len(fences) != 1 or fences[0].group("info").strip() or fences[0].group("indent"):
        return text
    fence = fences[0]
    lines = text[:fence.start()].splitlines(keepends=True)
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is None:
        return text
    start = first + 1 if _path_from_line(lines[first]) else first
    while start < len(lines) and not lines[start].strip():
        start += 1
    head = "".join(lines[:start])
    body = text[len(head):fence.start()]
    after = text[fence.end():]
    if not _is_code(body) or (after.strip() and _is_code(after)):
        return text
    return f"{head}```python\n{body}{fence.group('fence')}{after}"


def _is_code(text: str) -> bool:
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return False
    kinds = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Import, ast.ImportFrom, ast.Assign)
    return any(isinstance(node, kinds) for node in tree.body)


HEADER = re.compile(r"^#[ \t]*(?:file(?:name)?[ \t]*[:=][ \t]*)?(?P<path>[\w./\-]+\.py)[ \t]*$", re.IGNORECASE)


def _split_headers(path: str, body: str, known: Mapping[str, str]) -> list[tuple[str, str]]:
    """One block that holds several files, each after a comment line naming it, as those files.

    Seen on the 1.5B Roman numeral converter (2026-12-06): a fix sent one block that began
    ``# main.py`` and went on, after a line ``# roman.py``, with the whole of roman.py; main.py
    was written as both, and the program ran roman.py's ``main`` on its own copy. A line splits
    the block only where it is a comment at the left margin that is nothing but a Python file's
    path, other than the block's own, and the block began with such a line or the path is a
    project file (a stray ``# utils.py`` in a file's middle is left alone otherwise)."""
    if not path.endswith(".py"):
        return [(path, body)]
    lines = body.splitlines(keepends=True)
    headed = bool(lines) and HEADER.match(lines[0].rstrip("\n")) is not None
    parts: list[tuple[str, list[str]]] = [(path, [])]
    for line in lines:
        m = HEADER.match(line.rstrip("\n"))
        other = m["path"] if m else None
        if other and other != parts[-1][0] and (headed or other in known):
            try:
                parts.append((safe_relpath(other), [line]))
                continue
            except UnsafePath:
                pass
        parts[-1][1].append(line)
    if len(parts) == 1:
        return [(path, body)]
    merged: dict[str, str] = {}
    for part_path, part_lines in parts:
        text = "".join(part_lines).strip("\n")
        if text.strip():
            merged[part_path] = (merged[part_path] + "\n\n" if part_path in merged else "") + text + "\n"
    return list(merged.items()) or [(path, body)]


def _for_file(blocks: Sequence[_Block], path: str) -> _Block:
    """Of several unnamed blocks, the one that is ``path``: the block that defines what the file is
    named for (``class Paddle`` for paddle.py), else the longest. Seen on the 1.5B breakout
    (2026-12-04): asked for paddle.py, it sent ``class Paddle`` and then ``class Ball``, and the
    longer Ball became paddle.py."""
    own = PurePosixPath(path).stem.replace("_", "").lower()
    named = [b for b in blocks if any(d.replace("_", "").lower() == own for d in _TOP_DEF.findall(b.body))]
    return max(named or blocks, key=lambda b: len(b.body))


def _salvaged(block: _Block, known: Mapping[str, str]) -> str | None:
    """The cut block made whole from the project file it rewrites (``splice.salvage``), or None."""
    from chatdev.replies import splice

    name, body = _name_for(block)
    try:
        path = safe_relpath(name) if name else None
    except UnsafePath:
        return None
    if path is None or not path.endswith(".py") or path not in known:
        return None
    return splice.salvage(body, known[path])


LINE_NUMBER = re.compile(r"^ {0,6}\d{1,5}\| ?")


LOOP_TIMES = 6  # the same line this often in a reply that hit its token limit: the model looped
MIN_LOOP_LINE = 8  # shorter lines (`else:`, `break`, `pass`) repeat in real code
LOOP_SHARE = 0.2  # and that often among the file's lines: a converter's 11 `return value` in 120 lines is code


def looped(files: Mapping[str, str]) -> str:
    """Why a reply that ran out of tokens looped ("" when no file repeats a line ``LOOP_TIMES`` times).

    Seen on the 1.5B snake (2026-12-02): main.py was `pygame.init()`, then the same four
    constant assignments again and again until the token limit, and no game; it exited 0.
    The line must also be a fifth of the file's lines: the 1.5B converter's long main.py
    (2026-12-03) had `return value` 11 times in its branches and was refused as a loop.
    """
    for path, text in files.items():
        counts: dict[str, int] = {}
        filled = 0
        for line in text.splitlines():
            key = line.strip()
            filled += bool(key)
            if len(key) >= MIN_LOOP_LINE and not key.startswith("#"):
                counts[key] = counts.get(key, 0) + 1
        if counts:
            line, times = max(counts.items(), key=lambda kv: kv[1])
            if times >= LOOP_TIMES and times >= LOOP_SHARE * filled:
                return (f"{path} repeats the line `{line[:80]}` {times} times and ran out of room before its end: "
                        "write each line once, and keep the file short")
    return ""


def is_outline_echo(body: str, before: str = "") -> bool:
    """A block that repeats a numbered outline from the prompt (``   9| class Snake:``).

    Most of its non-blank lines carry the outline's line numbers, or the line before it says
    "(outline": code that merely contains ``|`` is not one.
    """
    last = before.strip().splitlines()[-1] if before.strip() else ""
    if "(outline" in last:
        return True
    filled = [ln for ln in body.splitlines() if ln.strip()]
    return bool(filled) and sum(bool(LINE_NUMBER.match(ln)) for ln in filled) * 2 >= len(filled)


# --------------------------------------------------------------------------- JSON


def extract_json(text: str) -> Any:
    """The first JSON object or array in a reply (fences and chatter around it are ignored)."""
    candidates = [b.body for b in _blocks(text)] + [text]
    last_error = "no JSON object found"
    for cand in candidates:
        s = cand.strip()
        start = min([i for i in (s.find("{"), s.find("[")) if i >= 0], default=-1)
        if start < 0:
            continue
        decoder = json.JSONDecoder()
        try:
            value, _ = decoder.raw_decode(s[start:])
            return value
        except json.JSONDecodeError as exc:
            last_error = f"invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
    raise SchemaViolation(last_error, text)


def parse_json(text: str, schema: dict[str, Any] | None) -> Any:
    """Parse and validate a JSON reply; SchemaViolation carries the reason for the model."""
    from chatdev.models.base import schema_errors  # the one validator (backends use it too)

    value = extract_json(text)
    if schema is not None:
        errors = schema_errors(value, schema)
        if errors:
            raise SchemaViolation("; ".join(errors[:3]), text)
    return value
