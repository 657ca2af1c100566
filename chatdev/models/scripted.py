"""A scripted ChatModel for fast, exact engine tests. Never a user default.

    model = ScriptedModel(["first reply", "second reply"])
    model = ScriptedModel(lambda messages: "echo: " + messages[-1].content)
    model = ScriptedModel(lambda messages, info: PLANS[info.phase])   # info: models.base.CallInfo

A function of two parameters also gets the ``CallInfo`` of the call (phase, role,
expected format, schema, item, cycle, turn, candidate), so a script routes on where
the call comes from instead of on the prompt's wording; it is ``CallInfo("", "")``
when the caller did not say. ``fill(schema)`` makes a value of any schema the phases use.

Every call is recorded in ``model.calls`` (messages, images, schema,
max_tokens ...). Tokens are counted plausibly (about four characters a
token), replies are cut at ``max_tokens`` like a real model's, streamed through
``on_token`` in small pieces, and a prompt longer than ``n_ctx`` raises the
same ``ModelError`` a real backend raises. ``cached_prompt_tokens`` reports the
prefix shared with the previous call, as a prefix cache would.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from chatdev.errors import ModelError
from chatdev.models.base import (
    CallInfo,
    ImageInput,
    Message,
    Reply,
    Timings,
    Usage,
    check_reply,
    current_call,
    image_bytes,
)

Script = list[str] | Callable[[list[Message]], str] | Callable[[list[Message], CallInfo], str]
_PIECE = re.compile(r"\s*\S{1,4}|\s+")
MESSAGE_OVERHEAD = 4  # role markers and separators of a chat template


@dataclass(frozen=True)
class ScriptedCall:
    messages: list[Message]
    images: list[ImageInput] = field(default_factory=list)
    schema: dict[str, Any] | None = None
    max_tokens: int = 512
    stop: list[str] = field(default_factory=list)
    temperature: float = 0.2
    seed: int | None = None
    info: CallInfo | None = None  # where the call came from, when the run said


class ScriptedModel:
    """A ChatModel whose replies come from a list (in order) or a function of the messages."""

    def __init__(self, replies: Script, *, n_ctx: int = 4096, name: str = "scripted",
                 supports_vision: bool = False, image_tokens: int = 576) -> None:
        self._replies: list[str] | None = list(replies) if not callable(replies) else None
        self._fn: Callable[..., str] | None = replies if callable(replies) else None
        self._wants_info = self._fn is not None and _positional(self._fn) >= 2
        self.n_ctx = n_ctx
        self.name = name
        self.supports_vision = supports_vision
        self.image_tokens = image_tokens
        self.calls: list[ScriptedCall] = []
        self.closed = False
        self._last_prompt: list[str] = []

    def count_tokens(self, text: str) -> int:
        return (len(text) + 3) // 4

    @property
    def remaining(self) -> int | None:
        """Replies left in a list script (None for a function)."""
        return len(self._replies) if self._replies is not None else None

    def chat(
        self,
        messages: Sequence[Message],
        *,
        images: Sequence[ImageInput] = (),
        schema: dict[str, Any] | None = None,
        max_tokens: int = 512,
        stop: Sequence[str] = (),
        temperature: float = 0.2,
        seed: int | None = None,
        on_token: Callable[[str], None] | None = None,
    ) -> Reply:
        msgs = list(messages)
        self.calls.append(ScriptedCall(msgs, list(images), schema, max_tokens, list(stop), temperature, seed,
                                       current_call()))
        if images:
            if not self.supports_vision:
                raise ModelError(f"{self.name} cannot see images: it has no vision projector",
                                 hint="use a vision model")
            for image in images:
                image_bytes(image)  # a missing file or a non-image fails as with a real model
        prompt_parts = [f"{m.role}:{m.content}" for m in msgs]
        prompt = sum(self.count_tokens(m.content) + MESSAGE_OVERHEAD for m in msgs)
        image_tokens = self.image_tokens * len(images)
        if prompt + image_tokens >= self.n_ctx:
            raise ModelError(f"{self.name}: the prompt needs {prompt + image_tokens} tokens but the context "
                             f"holds {self.n_ctx} (with max_tokens={max_tokens} to answer)",
                             hint="shorten the history or load the model with a larger --n-ctx")
        cached = 0
        for old, new in zip(self._last_prompt, prompt_parts):
            if old != new:
                break
            cached += self.count_tokens(new.split(":", 1)[1]) + MESSAGE_OVERHEAD
        self._last_prompt = prompt_parts

        text = self._next(msgs)
        for s in stop:
            if s and s in text:
                text = text[: text.index(s)]
        finish = "stop"
        budget = min(max_tokens, self.n_ctx - prompt - image_tokens)
        if self.count_tokens(text) > budget:
            text = text[: budget * 4]
            finish = "length"
        if on_token is not None:
            for piece in _PIECE.findall(text):
                on_token(piece)
        usage = Usage(prompt_tokens=prompt + image_tokens, completion_tokens=self.count_tokens(text),
                      cached_prompt_tokens=min(cached, prompt), image_tokens=image_tokens)
        reply = Reply(text=text, usage=usage, timings=Timings(), finish_reason=finish)
        if schema is not None:
            parsed, error = check_reply(text, schema)
            reply = Reply(text=text, usage=usage, timings=reply.timings, finish_reason=finish,
                          parsed=parsed, schema_error=error)
        return reply

    def _next(self, messages: list[Message]) -> str:
        if self._fn is not None:
            if self._wants_info:
                return self._fn(messages, current_call() or CallInfo("", ""))
            return self._fn(messages)
        assert self._replies is not None
        if not self._replies:
            raise AssertionError(f"{self.name}: the script ran out of replies after {len(self.calls) - 1} calls")
        return self._replies.pop(0)

    def close(self) -> None:
        self.closed = True

    def __repr__(self) -> str:
        return f"ScriptedModel({self.name!r}, calls={len(self.calls)})"


def _positional(fn: Callable[..., Any]) -> int:
    import inspect

    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return 1
    return sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty for p in params)


def fill(schema: dict[str, Any] | None) -> Any:
    """A value that fits ``schema`` (the subset the phases use): a test model answers any JSON phase."""
    schema = schema or {}
    if "enum" in schema:
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    for key in ("anyOf", "oneOf"):
        if schema.get(key):
            return fill(schema[key][0])
    kind = schema.get("type")
    kind = kind[0] if isinstance(kind, list) else kind
    if kind == "object" or "properties" in schema:
        props = schema.get("properties", {})
        return {k: fill(v) for k, v in props.items()}
    if kind == "array":
        return [fill(schema.get("items") or {"type": "string"}) for _ in range(max(1, schema.get("minItems", 1)))]
    if kind == "boolean":
        return True
    if kind in ("integer", "number"):
        return schema.get("minimum", 1)
    if kind == "null":
        return None
    return "x" * max(1, schema.get("minLength", 1))
