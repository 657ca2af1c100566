"""Scripted replies that play the default company well (or badly) for engine tests."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

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
    """A cooperative company: every phase answers in the asked-for format."""
    text = last_user(messages)
    counter = counter if counter is not None else {}
    if "Write the requirements" in text:
        return "- The snake moves on a grid\n- Eating food makes it longer\n- Hitting a wall ends the game"
    if "Plan the Python program" in text:
        return json.dumps({"summary": "A terminal snake game.", "entry": "main.py",
                           "files": [{"path": "main.py", "purpose": "game logic and loop"}]})
    if "Write the complete file main.py" in text:
        return f"main.py\n```python\n{GAME}```"
    if "Please review my code" in text:
        counter["review"] = counter.get("review", 0) + 1
        ok = counter["review"] > approve_after
        return json.dumps({"approved": ok, "issues": [] if ok else ["handle the wall"]})
    if "Fix the problems" in text:
        return f"main.py\n```python\n{GAME}# walls are handled by the caller\n```"
    if "pytest tests" in text:
        return f"tests/test_main.py\n```python\n{TESTS}```"
    if "Fix the cause" in text:
        return f"main.py\n```python\n{GAME}```"
    if "Write README.md" in text:
        return "# Snake\n\nA tiny snake game.\n\n## Run\n\n    python main.py\n\n## Use\n\nWatch it move."
    if "Decide:" in text:
        return json.dumps({"decision": "accept", "directive": ""})
    if "List the source files to edit" in text:
        return json.dumps({"summary": "Add a pause key.", "files": [{"path": "main.py", "purpose": "pause"}]})
    if "complete new version of main.py" in text:
        return f"main.py\n```python\n{GAME}PAUSE_KEY = 'p'\n```"
    if "The program changed" in text:
        return "# Snake\n\nNow with a pause key (p).\n\n## Run\n\n    python main.py\n\n## Use\n\nPress p."
    return "<DONE>"


def scripted(fn: Callable[[Sequence[Message]], str] = good_reply, **kwargs: object):
    from chatdev.models.scripted import ScriptedModel

    return ScriptedModel(fn, **kwargs)


def company_models(model) -> dict:
    return {role: model for role in ("CEO", "CTO", "Programmer", "Tester", "Documenter")}
