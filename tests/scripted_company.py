"""Scripted replies that play the default company well (or badly) for engine tests."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from chatdev.models.base import Message

GAME = '''import random


def new_food(width, height, snake):
    """A free cell for the food."""
    free = [(x, y) for x in range(width) for y in range(height) if (x, y) not in snake]
    return random.choice(free)


def step(snake, direction):
    """Move the snake one cell; returns the new body."""
    head = (snake[0][0] + direction[0], snake[0][1] + direction[1])
    return [head] + snake[:-1]


if __name__ == "__main__":
    snake = [(5, 5), (4, 5)]
    for _ in range(3):
        snake = step(snake, (1, 0))
    print("snake at", snake[0], "food at", new_food(10, 10, snake))
'''

TESTS = '''from main import new_food, step


def test_step_moves_head():
    assert step([(1, 1), (0, 1)], (1, 0))[0] == (2, 1)


def test_food_is_free():
    assert new_food(2, 1, [(0, 0)]) == (1, 0)
'''


def last_user(messages: Sequence[Message]) -> str:
    return next(m.content for m in reversed(messages) if m.role == "user")


def good_reply(messages: Sequence[Message], *, approve_after: int = 0, counter: dict | None = None) -> str:
    """A cooperative company: every phase answers in the asked-for format.

    It routes on where the call comes from (``CallInfo``: the phase, the turn, the file
    being written), never on a prompt's wording; a call made outside a run (no CallInfo)
    routes on the phase's phrases.
    """
    from chatdev.models.base import current_call
    from chatdev.models.scripted import fill

    counter = counter if counter is not None else {}
    info = current_call()
    phase = _phase_of(last_user(messages)) if info is None else info.phase
    turn = "answer" if info is None else info.turn
    if turn == "continue":
        return "<DONE>"
    if turn == "escalate" or phase == "escalate":
        return json.dumps({"decision": "accept", "directive": ""})
    if phase == "code_review":
        counter["review"] = counter.get("review", 0) + 1
        ok = counter["review"] > approve_after
        return json.dumps({"approved": ok, "issues": [] if ok else ["handle the wall"]})
    if phase in REPLIES:
        return REPLIES[phase]
    if info is not None and info.expects == "json":
        return json.dumps(fill(info.schema))
    return "<DONE>"


REPLIES = {
    "demand_analysis": "- The snake moves on a grid\n- Eating food makes it longer\n- Hitting a wall ends the game",
    "design": json.dumps({"summary": "A terminal snake game.", "entry": "main.py", "run": "python main.py",
                          "files": [{"path": "main.py", "purpose": "game logic and loop"}]}),
    "coding": f"main.py\n```python\n{GAME}```",
    "code_fix": f"main.py\n```python\n{GAME}# walls are handled by the caller\n```",
    "test_writing": f"tests/test_main.py\n```python\n{TESTS}```",
    "test_repair": f"tests/test_main.py\n```python\n{TESTS}```",
    "test_fix": f"main.py\n```python\n{GAME}```",
    "documentation": "# Snake\n\nA tiny snake game.\n\n## Run\n\n    python main.py\n\n## Use\n\nWatch it move.",
    "change_plan": json.dumps({"summary": "Add a pause key.", "files": [{"path": "main.py", "purpose": "pause"}]}),
    "change_coding": f"main.py\n```python\n{GAME}PAUSE_KEY = 'p'\n```",
    "documentation_update": "# Snake\n\nNow with a pause key (p).\n\n## Run\n\n    python main.py\n\n## Use\n\n"
                            "Press p.",
}

# a call made outside a run: the phase by a phrase of its prompt
_PHRASES = (("Write the requirements", "demand_analysis"), ("Plan the Python program", "design"),
            ("Write the complete file main.py", "coding"), ("Please review my code", "code_review"),
            ("Fix the problems", "code_fix"), ("pytest tests", "test_writing"), ("Fix the cause", "test_fix"),
            ("Write README.md", "documentation"), ("List the source files to edit", "change_plan"),
            ("complete new version of main.py", "change_coding"), ("The program changed", "documentation_update"))


def _phase_of(text: str) -> str:
    if "Decide:" in text:
        return "escalate"
    return next((phase for phrase, phase in _PHRASES if phrase in text), "")


def scripted(fn: Callable[[Sequence[Message]], str] = good_reply, **kwargs: object):
    from chatdev.models.scripted import ScriptedModel

    return ScriptedModel(fn, **kwargs)


def one_file_program(main: str, *, summary: str, run: str) -> Callable[[Sequence[Message]], str]:
    """The cooperative company, whose design is main.py alone (``run`` its command line), whose
    coding writes ``main`` and whose tester writes no tests."""
    from chatdev.models.base import current_call

    def company(messages: Sequence[Message]) -> str:
        info = current_call()
        if info is not None and info.phase == "design":
            return json.dumps({"summary": summary, "entry": "main.py", "run": run,
                               "files": [{"path": "main.py", "purpose": summary}]})
        if info is not None and info.phase == "coding":
            return f"main.py\n```python\n{main}```"
        if info is not None and info.phase == "test_writing":
            return "no tests"
        return good_reply(messages)

    return company


def stubborn_program(files: dict[str, str], *, summary: str) -> Callable[[Sequence[Message]], str]:
    """A company whose design is ``files`` (main.py the entry, run as ``python main.py``), whose
    coding writes each of them, whose fixes send main.py back as it was and whose tester writes
    no tests: only a repair without a model can change the program."""
    from chatdev.models.base import current_call

    def company(messages: Sequence[Message]) -> str:
        info = current_call()
        phase = info.phase if info is not None else ""
        if phase == "design":
            return json.dumps({"summary": summary, "entry": "main.py", "run": "python main.py",
                               "files": [{"path": p, "purpose": f"part of {summary}"} for p in files]})
        if phase == "coding" and info is not None:
            return f"{info.item}\n```python\n{files[str(info.item)]}```"
        if phase in ("code_fix", "test_fix"):
            return f"main.py\n```python\n{files['main.py']}```"
        if phase == "test_writing":
            return "no tests"
        return good_reply(messages)

    return company


def build_scripted(out, company: Callable[[Sequence[Message]], str], task: str) -> tuple[Any, list[str]]:
    """A build of ``task`` by ``company`` (every role), in the real sandbox: (its summary, its notices)."""
    from chatdev import events
    from chatdev.run import engine

    sink = events.Recorder()
    summary = engine.build(engine.BuildOptions(task=task, out=out), sink=sink,
                           models=company_models(scripted(company)))
    return summary, [e.text for e in sink.events if isinstance(e, events.Notice)]


def company_models(model) -> dict:
    return {role: model for role in ("CEO", "CTO", "Programmer", "Tester", "Documenter")}


def checked_build(out, monkeypatch, company, verify, *, task: str = "a snake game", compute=None):
    """A build by the scripted ``company`` whose sandbox checks are ``verify`` (the verifier's
    signature, Docker left out) and whose expected values are computed by ``compute`` (source ->
    RunResult; by default nothing is computed): (summary, recorder)."""
    from chatdev import events
    from chatdev.run import engine

    monkeypatch.setattr(engine, "_verifier", verify)
    monkeypatch.setattr(engine, "_computer", compute or (lambda source, **kwargs: None))
    monkeypatch.setattr(engine, "_sandbox_ready", lambda: None)
    recorder = events.Recorder()
    summary = engine.build(engine.BuildOptions(task=task, out=out), sink=recorder,
                           models=company_models(scripted(company)))
    return summary, recorder


def first_requests(out, **reply_kwargs: object) -> dict[str, str]:
    """A --no-run build of "a snake game" by the cooperative company; the first request each
    phase sent (its last user message), by phase. ``reply_kwargs`` go to ``good_reply``."""
    from chatdev import events
    from chatdev.models.base import current_call
    from chatdev.run import engine

    asked: dict[str, str] = {}

    def record(messages: Sequence[Message]) -> str:
        info = current_call()
        if info is not None and info.turn == "answer":
            asked.setdefault(info.phase, messages[-1].content)
        return good_reply(messages, **reply_kwargs)  # type: ignore[arg-type]

    options = engine.BuildOptions(task="a snake game", out=out, no_run=True)
    engine.build(options, sink=events.Recorder(), models=company_models(scripted(record)))
    return asked
