"""Black-box acceptance scenarios: what a person checks first, written down.

A scenario starts the program's entry point in the sandbox with some arguments
and some typed input (a terminal program) or some keys (a GUI program under
Xvfb), and passes when the program does not crash, prints every expected text,
and, where asked, its screen changed after the keys. They are small enough for
a small model to write (``tests/scenarios.yaml`` in a generated project) and are
what ``chatdev bench`` uses, hand-written, for ``does_task``.

Pure: loading and judging. ``sandbox.run_scenarios`` runs them.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chatdev.errors import ConfigError
from chatdev.project.paths import SANDBOX_ROOT

TRACEBACK = "Traceback (most recent call last)"
# a frame of a traceback from the sandbox: (file, relative when the project's; line; function; its code line)
TRACEBACK_FRAME = re.compile(r'File "(?:' + re.escape(SANDBOX_ROOT) + r')?([^"]+)", line (\d+), in (\S+)\n'
                             r'(?:[ \t]+(\S[^\n]*))?')
KEYS = ("name", "argv", "stdin", "eof", "expect", "keys", "screen_changes", "ends", "timeout")
MAX_SCENARIOS = 8
MAX_TIMEOUT = 30.0
PROJECT_FILE = "tests/scenarios.yaml"  # where a generated project keeps the tester's scenarios


@dataclass(frozen=True)
class Scenario:
    name: str
    argv: list[str] = field(default_factory=list)
    stdin: str = ""
    eof: bool = False  # the input ends after ``stdin``, as when piped in (a tool that reads it all); else it stays open
    expect: list[str] = field(default_factory=list)  # substrings of stdout, case-insensitive
    keys: list[str] = field(default_factory=list)  # X keysyms sent to a GUI program (xdotool)
    screen_changes: bool = False  # GUI: the screenshot after the keys differs from the one before
    ends: bool = False  # the program ends by itself within ``timeout`` (a command-line tool given its command)
    timeout: float = 6.0

    def to_spec(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class ScenarioResult:
    name: str
    passed: bool
    reason: str
    trace: str = ""  # a crash's traceback, its last lines: where the fix must look

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def parse_scenarios(data: Any, where: str) -> list[Scenario]:
    """Scenarios from parsed YAML (a list of mappings); ``ConfigError`` naming ``where`` otherwise."""
    if not isinstance(data, list) or not data:
        raise ConfigError(f"{where}: expected a list of scenarios (mappings with name, argv, stdin, expect, keys)")
    if len(data) > MAX_SCENARIOS:
        raise ConfigError(f"{where}: {len(data)} scenarios; at most {MAX_SCENARIOS}")
    out: list[Scenario] = []
    for i, item in enumerate(data, 1):
        at = f"{where}: scenario {i}"
        if not isinstance(item, dict):
            raise ConfigError(f"{at}: not a mapping")
        unknown = sorted(set(map(str, item)) - set(KEYS))
        if unknown:
            raise ConfigError(f"{at}: unknown key {unknown[0]!r} (known: {', '.join(KEYS)})")
        name = str(item.get("name") or f"scenario {i}")
        argv, expect, keys = (_strings(item.get(k), f"{at}: {k}") for k in ("argv", "expect", "keys"))
        stdin = item.get("stdin", "")
        if not isinstance(stdin, (str, int, float)):
            raise ConfigError(f"{at}: stdin must be text")
        timeout = item.get("timeout", 6.0)
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not math.isfinite(timeout) \
                or not 0 < timeout <= MAX_TIMEOUT:
            raise ConfigError(f"{at}: timeout must be a number of seconds in (0, {MAX_TIMEOUT:.0f}]")
        changes = item.get("screen_changes", False)
        if not isinstance(changes, bool):
            raise ConfigError(f"{at}: screen_changes must be true or false")
        eof, ends = item.get("eof", False), item.get("ends", False)
        if not isinstance(eof, bool):
            raise ConfigError(f"{at}: eof must be true or false")
        if not isinstance(ends, bool):
            raise ConfigError(f"{at}: ends must be true or false")
        out.append(Scenario(name=name, argv=argv, stdin=str(stdin), eof=eof, expect=expect, keys=keys,
                            screen_changes=changes, ends=ends, timeout=float(timeout)))
    return out


def _strings(value: Any, where: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return [str(value)]
    if isinstance(value, list) and all(isinstance(v, (str, int, float)) and not isinstance(v, bool) for v in value):
        return [str(v) for v in value]
    raise ConfigError(f"{where}: expected text or a list of texts")


def load_scenarios(path: Path) -> list[Scenario]:
    import yaml

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the scenarios: {exc}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {str(exc).splitlines()[0]}") from exc
    return parse_scenarios(data, str(path))


def judge(scenario: Scenario, run: dict[str, Any]) -> ScenarioResult:
    """Pass or fail from what the agent saw: ``run`` has exit_code, timed_out, stdout, stderr, changed."""
    out, err = str(run.get("stdout", "")), str(run.get("stderr", ""))
    if run.get("error"):
        return ScenarioResult(scenario.name, False, str(run["error"]))
    if TRACEBACK in err or TRACEBACK in out:
        last = [ln for ln in err.strip().splitlines() if ln.strip()][-1:] or ["a traceback"]
        frames = [m for m in TRACEBACK_FRAME.finditer(err) if not m[1].startswith("/")]  # the program's own
        at = (f" (at {frames[-1][1]} line {frames[-1][2]}, in {frames[-1][3]}: "
              f"`{(frames[-1][4] or '').strip()[:120]}`)") if frames else ""
        trace = "\n".join(err[err.rfind(TRACEBACK):].strip().splitlines()[-9:]) if TRACEBACK in err else ""
        return ScenarioResult(scenario.name, False, f"crashed: {last[0][:200]}{at}", trace=trace[-700:])
    if scenario.ends and run.get("timed_out"):
        printed = " ".join(out.split())
        shown = f"; it printed {printed[-120:]!r}" if printed else ""
        return ScenarioResult(scenario.name, False,
                              f"did not end within {scenario.timeout:.0f} s{shown}: a command-line tool does the "
                              f"command it is given and exits (no loop around it, no input() after it)")
    if not run.get("timed_out") and run.get("exit_code") not in (0, None):
        return ScenarioResult(scenario.name, False, f"exited with code {run.get('exit_code')}")
    lowered = out.lower()
    missing = [e for e in scenario.expect if e.lower() not in lowered]
    if missing:
        printed = " ".join(out.split())
        shown = f"it printed {printed[-120:]!r}" if printed else "it printed nothing"
        return ScenarioResult(scenario.name, False, f"the output lacks {missing[0]!r} ({shown})")
    if scenario.screen_changes and not run.get("changed"):
        if run.get("changed") is not None:
            why = "the screen did not change after the keys"
        elif not run.get("timed_out"):  # a game that ends by itself at once (the snake runs into a wall)
            why = f"the program ended by itself after {float(run.get('duration') or 0):.1f} s, before any key"
        else:
            why = "no screen was captured"
        return ScenarioResult(scenario.name, False, why)
    return ScenarioResult(scenario.name, True, "ok")
