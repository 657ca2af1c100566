"""The one model surface every backend implements: ``ChatModel.chat``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

ImageInput = str | Path | bytes  # a path, or the raw bytes of a PNG/JPEG


@dataclass(frozen=True)
class Message:
    role: Literal["system", "user", "assistant"]
    content: str


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_prompt_tokens: int = 0  # prompt tokens served from the prefix cache
    image_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
            self.cached_prompt_tokens + other.cached_prompt_tokens,
            self.image_tokens + other.image_tokens,
        )

    @property
    def total(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True)
class Timings:
    prefill_s: float = 0.0
    decode_s: float = 0.0


@dataclass(frozen=True)
class Reply:
    text: str
    usage: Usage = field(default_factory=Usage)
    timings: Timings = field(default_factory=Timings)
    finish_reason: str = "stop"  # stop | length


class SchemaViolation(Exception):
    """A reply that should be JSON matching a schema is not.

    Not a ChatDevError: it is model misbehaviour, caught by the caller and sent
    back into the conversation as the next message.
    """

    def __init__(self, reason: str, text: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.text = text


@runtime_checkable
class ChatModel(Protocol):
    name: str
    n_ctx: int
    supports_vision: bool

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
        """One completion. ``images`` attach to the last user message.

        With ``schema`` the backend constrains decoding to JSON of that schema
        where it can; the caller still validates (``artifacts.parse_json``).
        Raises ModelError (context overflow with the counts, missing file,
        endpoint down); never a raw library exception.
        """
        ...

    def count_tokens(self, text: str) -> int: ...

    def close(self) -> None: ...
