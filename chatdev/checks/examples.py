"""Example command lines: the arguments the program's own run is given.

A tool that takes arguments (``python main.py 10 km m``) run with none prints its
usage and exits 1, which the run verdict must not read as "does not run" — and a
tool that mishandles its arguments must be caught by a run that passes them. So the
program's run (every check, every candidate) uses the task's own examples when the
task gives some (people's words: ``python main.py 1994`` in backticks), else the
line a role wrote after the program refused a bare run with its usage (``TRIED``:
``Context.check_program`` asks once per usage text), else the design's ``run`` line
(the CTO's, written before the code), else no arguments.

Only plain command lines count: ``python[3] FILE.py ARGS``, no pipes, redirections
or shell operators (what comes through stdin is the scenarios' business).
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from chatdev.checks.scenarios import Scenario

TRIED = "usage_example"  # state.outputs key: {"run": the line a role wrote, "usage": what the program printed}
USAGE_SCHEMA = {"type": "object", "required": ["run"],
                "properties": {"run": {"type": "string", "minLength": 1, "maxLength": 200}}}
MAX_USAGE_CHARS = 600
_USAGE = re.compile(r"\busage\b|arguments? (are|is) required|expected \d+ arguments?|missing .*argument",
                    re.IGNORECASE)
MAX_EXAMPLES = 3  # runs of a program, each ~0.1 s for a tool; a program that waits stops the series
MAX_ARGS = 20
MAX_ARG_CHARS = 200
_BACKTICKS = re.compile(r"`([^`\n]+)`")
_SHELL = re.compile(r"[|<>;&$]|\$\(")
_PYTHON = ("python", "python3", "py")


def parse(command: str) -> list[str] | None:
    """The arguments of ``python FILE.py ARGS`` (``[]`` when there are none), or None for anything else."""
    text = command.strip()
    if not text or _SHELL.search(text):
        return None
    try:
        words = shlex.split(text)
    except ValueError:  # an unclosed quote
        return None
    if len(words) < 2 or words[0] not in _PYTHON or not words[1].endswith(".py"):
        return None
    args = words[2:]
    if len(args) > MAX_ARGS or any(len(a) > MAX_ARG_CHARS for a in args):
        return None
    return args


def first_command(line: str) -> list[str] | None:
    """The arguments of the first plain ``python FILE.py ARGS`` in a line a model wrote, which may
    list alternatives the way a usage line does (``python main.py add milk | list | done 1``)."""
    for part in re.split(r"\s*(?:\|\|?|;|&&|\n)\s*", line or ""):
        args = parse(part.strip().strip("`"))
        if args is not None:
            return args
    return None


def from_text(text: str) -> list[list[str]]:
    """Every ``python FILE.py ARGS`` written in backticks in ``text``, in order, once each."""
    found: list[list[str]] = []
    for span in _BACKTICKS.findall(text or ""):
        args = parse(span)
        if args is not None and args not in found:
            found.append(args)
    return found


_PRINTS = re.compile(r"`([^`\n]+)`\s+(?:prints|outputs|shows|gives)\s+(?:`([^`\n]+)`|([^\s,;`]+?))(?=[\s,;`]|[.!?]?$|[.!?]\s)")


def task_outputs(task: str) -> list[Scenario]:
    """What the task says its own command lines print (``python main.py 1994` prints MCMXCIV``),
    as scenarios the company runs beside the tests: written by the user, never by the model."""
    found: list[Scenario] = []
    for m in _PRINTS.finditer(task or ""):
        args = parse(m.group(1))
        expected = (m.group(2) or m.group(3) or "").strip()
        if args is None or not expected or len(found) >= MAX_EXAMPLES:
            continue
        found.append(Scenario(name=f"the task: `{m.group(1).strip()}` prints {expected}", argv=args,
                              expect=[expected], ends=bool(args)))
    return found


def task_commands(task: str) -> list[Scenario]:
    """The task's own command lines (``examples.task_examples``) that ``task_outputs`` does not
    already run, each checked for ending by itself: a command-line tool given its command does it
    and exits. The 1.5B's todo list wrapped its ``sys.argv`` dispatch in ``while True:`` and
    `add 'buy milk'` ran until killed, which the program's run (alive after 15 s) counts as
    running. Not for a window program, which a command line does not end, nor for a game (its
    "commands" are typed in while it runs)."""
    if _WINDOW.search(task or "") or _GAME.search(task or ""):
        return []
    said = [s.argv for s in task_outputs(task)]
    return [Scenario(name=f"the task: `python main.py {shlex.join(args)}` ends", argv=args, ends=True)
            for args in task_examples(task) if args and args not in said]


_READS_STDIN = re.compile(r"\b(standard input|stdin)\b", re.IGNORECASE)
# What the company pipes into a tool that reads standard input: a small sample of the format
# the task names (the first found, in this order), else plain text. Written by people, never by
# the model, and unlike bench/checks' inputs; it checks that the tool takes input, not its output.
SAMPLE_INPUTS: tuple[tuple[re.Pattern[str], str, str], ...] = (
    (re.compile(r"\bjson\b", re.IGNORECASE), "a JSON list of objects",
     '[{"city": "Oslo", "population": 709000}, {"city": "Lima", "population": 10092000}]\n'),
    (re.compile(r"\bcsv\b", re.IGNORECASE), "CSV", "city,population,area\nOslo,709000,454\nLima,10092000,2672\n"),
    (re.compile(r"\btable\b", re.IGNORECASE), "a Markdown table",
     "| city | population |\n|---|---|\n| Oslo | 709000 |\n| Lima | 10092000 |\n"),
    (re.compile(r"\blog\b", re.IGNORECASE), "log lines",
     "INFO service started\nWARNING disk almost full\nERROR connection lost\nINFO retrying\n"),
)
SAMPLE_TEXT_INPUT = "It was a bright cold day in April,\nand the clocks were striking thirteen.\n"


def reads_stdin(task: str) -> bool:
    """The task says its program reads standard input (so it is run with no arguments)."""
    return bool(_READS_STDIN.search(task or ""))


def task_input(task: str) -> list[Scenario]:
    """For a task whose program reads standard input: one run with a sample of that input piped in
    and closed, no arguments, checked for a clean end (no traceback, exit 0) and nothing more.

    The program's own run leaves its input open and silent, so a tool that reads it all waits there
    and counts as running: the 1.5B's word counter (``str.decode``) and markdown formatter (an
    IndexError) crashed on their first line of input, and the company never saw it.
    """
    if not reads_stdin(task):
        return []
    kind, sample = next(((k, s) for pattern, k, s in SAMPLE_INPUTS if pattern.search(task)), ("text", SAMPLE_TEXT_INPUT))
    return [Scenario(name=f"the task: {kind} piped to it on standard input", stdin=sample, eof=True)]


_WINDOW = re.compile(r"\b(pygame|tkinter|window)\b", re.IGNORECASE)
_ARROWS = re.compile(r"\b(?:(left|right|up|down)(?:,? (?:and|or) (left|right|up|down))? )?arrow keys?\b", re.IGNORECASE)
_SPACE = re.compile(r"\bspace(?:bar| bar| key)?\b(?!\s+(?:shooter|invaders?|ship|game|station))", re.IGNORECASE)
_WASD = re.compile(r"\bWASD\b", re.IGNORECASE)


def task_keys(task: str) -> list[Scenario]:
    """For a window program whose task names its keys ("move the paddle with the left and right
    arrow keys", "space makes the bird flap"): one run that sends them, checked for a window that
    is still there and changed (no traceback, and not closed by itself before the keys).

    The program's own run sends no key: the 1.5B's pong loop had no clock, the ball left the
    screen and the game ended in 0.7 s with exit 0, a run by issue 18's rule; its flappy bird
    never moved on space. Both were delivered as running. A screen that changes proves little (a
    game animates anyway); one that does not, or a window gone, is what this catches.
    """
    if not _WINDOW.search(task or ""):
        return common_keys(task)
    keys: list[str] = []
    for m in _ARROWS.finditer(task):
        named = [k.capitalize() for k in m.groups() if k]
        keys += named or ["Left", "Right", "Up", "Down"]
    keys += ["w", "a", "s", "d"] if _WASD.search(task) else []
    keys += ["space"] if _SPACE.search(task) else []
    keys = list(dict.fromkeys(keys))
    if not keys:
        return common_keys(task)
    sent = [k for k in keys for _ in range(2)]  # each twice: one may land before the game reads keys
    return [Scenario(name=f"the task: its window takes {', '.join(keys)}", keys=sent, screen_changes=True, timeout=8)]


_GAME = re.compile(r"\b(game|pygame)\b", re.IGNORECASE)
_TERMINAL = re.compile(r"\b(terminal|command[- ]line|console|text[- ]based|cli)\b", re.IGNORECASE)
COMMON_KEYS = ("space", "Up", "Left", "Down", "Right", "space")


def common_keys(task: str) -> list[Scenario]:
    """For a game (or a pygame program) whose task names no keys and no terminal ("a snake game"): the keys a player
    tries first, space and the arrows, checked only for no crash (a game may wait on a start
    screen, so an unchanged screen is no failure). Sent only to a window (a terminal program's run
    gets no keys, and this is a quiet run like its own).

    ``make demo`` (2026-12-07): the snake ran by issue 18's rule and died at its first arrow key
    (``UnboundLocalError`` on ``direction``); no check of the company had pressed one.
    """
    if not _GAME.search(task or "") or _TERMINAL.search(task):
        return []
    return [Scenario(name="a game: space and the arrow keys, no crash", keys=list(COMMON_KEYS), timeout=8)]


def task_examples(task: str) -> list[list[str]]:
    """The task's own examples that pass arguments: its ``python main.py ARGS`` lines, else the
    subcommands it names ("with the commands `add TEXT`, `list` and `done N`")."""
    return [args for args in from_text(task) if args] or subcommands(task)


_COMMANDS_CLAUSE = re.compile(r"\bcommands?\b(.*?)(?:\.(?:\s|$)|$)", re.IGNORECASE | re.DOTALL)
_SUBCOMMAND = re.compile(r"^[a-z][a-z0-9_-]*$")
_PLACEHOLDER = re.compile(r"^[A-Z][A-Z0-9_]*$")
NUMBER_WORDS = frozenset({"N", "NUM", "NUMBER", "INDEX", "ID", "COUNT", "AMOUNT", "SHIFT", "LIMIT", "POS", "I"})
SAMPLE_TEXT = "buy milk"


def subcommands(task: str) -> list[list[str]]:
    """Argument lists from the subcommands a task names in backticks after "command(s)", their
    placeholders filled (``done N`` -> ``done 1``, ``add TEXT`` -> ``add 'buy milk'``), in order."""
    found: list[list[str]] = []
    for clause in _COMMANDS_CLAUSE.findall(task or ""):
        for span in _BACKTICKS.findall(clause):
            try:
                words = shlex.split(span)
            except ValueError:
                continue
            if (not words or not _SUBCOMMAND.match(words[0]) or words[0] in _PYTHON or _SHELL.search(span)
                    or (len(words) == 1 and len(words[0]) == 1)):  # `q`: a key typed in, not a subcommand
                continue
            args = [("1" if w in NUMBER_WORDS else SAMPLE_TEXT) if _PLACEHOLDER.match(w) else w for w in words]
            if args not in found and len(found) < MAX_EXAMPLES:
                found.append(args)
    return found


def for_run(task: str, design: Mapping[str, Any] | None,
            tried: Mapping[str, Any] | None = None) -> list[list[str]]:
    """The argument lists the program's run is given, at most ``MAX_EXAMPLES``; ``[[]]``: no arguments."""
    found = task_examples(task)
    for source in (tried, design):
        if found:
            break
        if isinstance(source, Mapping) and isinstance(source.get("run"), str):
            args = first_command(str(source["run"]))
            if args:
                found.append(args)
    return found[:MAX_EXAMPLES] or [[]]


def refused(run: Any) -> str:
    """What a run printed when it refused to start without arguments (a usage line, exit 1 or 2,
    no traceback); "" for any other run."""
    if run is None or getattr(run, "timed_out", True) or getattr(run, "exit_code", None) not in (1, 2):
        return ""
    text = f"{getattr(run, 'stdout', '')}\n{getattr(run, 'stderr', '')}".strip()
    if "Traceback (most recent call last)" in text or len(text) > 4 * MAX_USAGE_CHARS or not _USAGE.search(text):
        return ""
    return text[:MAX_USAGE_CHARS]


_TAKES_ARGUMENTS = re.compile(r"\b(?:as|its|an|the|one|two|three)\s+(?:command[- ]line\s+)?arguments?\b",
                              re.IGNORECASE)


def prompted(task: str, run: Any) -> str:
    """What a bare run printed before it sat waiting for typed input, when the task says the
    program takes its input as arguments ("every prime number up to the number given as its
    argument": the 1.5B's primes tool did ``int(input(...))``, and a bare run that waits counts
    as running); "" otherwise. Like a usage line, it asks for the command line to try."""
    if (run is None or getattr(run, "args", ()) or not getattr(run, "waiting_input", False)
            or not _TAKES_ARGUMENTS.search(task or "")):
        return ""
    shown = (getattr(run, "stdout", "") or "").strip()[-MAX_USAGE_CHARS:] or "(nothing)"
    return f"{shown}\n(and then waited for typed input, though the task gives the program its input as arguments)"


def for_project(project: Path) -> list[list[str]]:
    """``for_run`` for a project folder chatdev made (its task and design in .chatdev/state.json)."""
    try:
        state = json.loads((Path(project) / ".chatdev" / "state.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return [[]]
    if not isinstance(state, dict):
        return [[]]
    outputs = state.get("outputs") if isinstance(state.get("outputs"), dict) else {}
    design = outputs.get("design")
    return for_run(str(state.get("task") or ""), design if isinstance(design, dict) else None)
