"""The one model surface every backend implements: ``ChatModel.chat``."""

from __future__ import annotations

import contextlib
import dataclasses
import json
from collections.abc import Callable, Iterator, Sequence
from contextvars import ContextVar
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
    drafted_tokens: int = 0  # completion tokens a lookup draft proposed and the sampler kept (llama.cpp only)

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
            self.cached_prompt_tokens + other.cached_prompt_tokens,
            self.image_tokens + other.image_tokens,
            self.drafted_tokens + other.drafted_tokens,
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
    finish_reason: str = "stop"  # stop | length | cancelled (a candidate stopped: another was accepted first)
    # With ``schema``: the parsed value when the reply is JSON matching it, else
    # ``schema_error`` says why not (truncated by max_tokens, invalid JSON, ...).
    parsed: Any = None
    schema_error: str | None = None

    def json(self) -> Any:
        """The reply's JSON value; SchemaViolation (reason + text) when it did not validate."""
        if self.schema_error is not None:
            raise SchemaViolation(self.schema_error, self.text)
        if self.parsed is not None:
            return self.parsed
        try:
            return json.loads(self.text)
        except ValueError as exc:
            raise SchemaViolation(f"not JSON: {exc}", self.text) from None


class SchemaViolation(Exception):
    """A reply that should be JSON matching a schema is not.

    Not a ChatDevError: it is model misbehaviour, caught by the caller and sent
    back into the conversation as the next message.
    """

    def __init__(self, reason: str, text: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.text = text


_JSON_TYPES: dict[str, type | tuple[type, ...]] = {
    "object": dict, "array": list, "string": str, "integer": int, "number": (int, float),
    "boolean": bool, "null": type(None),
}


def schema_errors(value: Any, schema: dict[str, Any], path: str = "$",
                  root: dict[str, Any] | None = None) -> list[str]:
    """Where ``value`` breaks ``schema`` (the JSON-Schema subset grammars enforce); [] when it fits."""
    root = root if root is not None else schema
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        target: Any = root
        for part in ref[2:].split("/"):
            target = target.get(part, {}) if isinstance(target, dict) else {}
        return schema_errors(value, target, path, root)
    for key in ("anyOf", "oneOf"):
        if key in schema and not any(not schema_errors(value, sub, path, root) for sub in schema[key]):
            return [f"{path} matches none of the {key} choices"]
    expected = schema.get("type")
    if expected:
        kinds = expected if isinstance(expected, list) else [expected]
        if not any(k in _JSON_TYPES and isinstance(value, _JSON_TYPES[k])
                   and not (k in ("integer", "number") and isinstance(value, bool)) for k in kinds):
            return [f"{path} should be {' or '.join(kinds)}, got {type(value).__name__}"]
    errors: list[str] = []
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{path} should be one of {schema['enum']}")
    if "const" in schema and value != schema["const"]:
        errors.append(f"{path} should be {schema['const']!r}")
    if isinstance(value, dict):
        props = schema.get("properties", {})
        errors += [f"{path} is missing required key {key!r}" for key in schema.get("required", [])
                   if key not in value]
        for key, item in value.items():
            if key in props:
                errors += schema_errors(item, props[key], f"{path}.{key}", root)
            elif schema.get("additionalProperties") is False:
                errors.append(f"{path} has unexpected key {key!r}")
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0):
            errors.append(f"{path} needs at least {schema['minItems']} items")
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            errors.append(f"{path} has more than {schema['maxItems']} items")
        if isinstance(schema.get("items"), dict):
            for i, item in enumerate(value):
                errors += schema_errors(item, schema["items"], f"{path}[{i}]", root)
    if isinstance(value, str):
        if len(value) < schema.get("minLength", 0):
            errors.append(f"{path} is shorter than {schema['minLength']}")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            errors.append(f"{path} is longer than {schema['maxLength']} characters")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            errors.append(f"{path} is below {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            errors.append(f"{path} is above {schema['maximum']}")
    return errors


def check_reply(text: str, schema: dict[str, Any]) -> tuple[Any, str | None]:
    """Parse a schema-constrained reply: (value, None) or (None, why it does not validate)."""
    try:
        value = json.loads(text)
    except ValueError as exc:
        return None, f"not valid JSON ({exc})"
    errors = schema_errors(value, schema)
    return (value, None) if not errors else (None, "; ".join(errors[:3]))


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


# ----------------------------------------------------------------------------- images

_IMAGE_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"BM", "image/bmp"),
)


def image_label(image: ImageInput) -> str:
    """How an image is named in messages: its path, or '<N bytes>'."""
    return f"<{len(image)} bytes>" if isinstance(image, bytes) else str(image)


def image_bytes(image: ImageInput) -> tuple[bytes, str]:
    """The bytes and MIME type of an image given as a path or raw bytes.

    Raises ModelError (one line) for a missing file or something that is not a
    PNG, JPEG, GIF or BMP image.
    """
    from chatdev.errors import ModelError

    label = image_label(image)
    if isinstance(image, bytes):
        data = image
    else:
        path = Path(image).expanduser()
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise ModelError(f"image {label}: no such file", hint="check the --image path") from None
        except OSError as exc:
            raise ModelError(f"image {label}: cannot read ({exc.strerror or exc})", hint="check the --image path") from None
    for magic, mime in _IMAGE_MAGIC:
        if data.startswith(magic):
            return data, mime
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        raise ModelError(f"image {label}: WebP is not supported", hint="convert it to PNG or JPEG")
    raise ModelError(f"image {label}: not an image (PNG, JPEG, GIF or BMP expected)",
                     hint="pass a PNG or JPEG file")


def image_data_uri(image: ImageInput) -> str:
    """``data:image/png;base64,...`` for a path or raw bytes (checked to be an image)."""
    import base64

    data, mime = image_bytes(image)
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def openai_messages(messages: Sequence[Message], images: Sequence[ImageInput] = ()) -> list[dict[str, Any]]:
    """Messages in the OpenAI chat shape; images become data-URI parts of the last user message."""
    out: list[dict[str, Any]] = [{"role": m.role, "content": m.content} for m in messages]
    if images:
        from chatdev.errors import ModelError

        last_user = next((i for i in range(len(out) - 1, -1, -1) if out[i]["role"] == "user"), None)
        if last_user is None:
            raise ModelError("images need a user message to attach to", hint="this is a bug in the caller")
        parts: list[dict[str, Any]] = [{"type": "image_url", "image_url": {"url": image_data_uri(img)}}
                                       for img in images]
        parts.append({"type": "text", "text": out[last_user]["content"]})
        out[last_user] = {"role": "user", "content": parts}
    return out


# ----------------------------------------------------------------------------- where a call comes from


@dataclass(frozen=True)
class CallInfo:
    """Where a model call comes from: the phase, who answers, the format asked for.

    Set by the run around each call (``calling``); real backends never read it. A test
    model routes on it instead of on prompt wording (like pydantic-ai's ``AgentInfo``).
    """

    phase: str
    role: str  # who answers
    expects: str = "text"  # files | json | text
    schema: dict[str, Any] | None = None
    item: str | None = None  # the foreach item (the file being written)
    cycle: int = 0
    turn: str = "answer"  # answer | continue (the instructor's follow-up) | escalate | screenshot | debate | usage
    candidate: int = 0


_CALL: ContextVar[CallInfo | None] = ContextVar("chatdev_call", default=None)


LOOP_REPEATS = 8  # the same block of lines this many times in a row at a reply's end: the model loops
LOOP_CHARS = 600  # and that much text repeated (a board of zeros, a row of 31 characters a line, is code to 23 rows)
LOOP_BLOCK = 8  # the longest block of lines looked for


def repeating(text: str) -> bool:
    """Whether ``text`` ends in one block of lines repeated ``LOOP_REPEATS`` times in a row, blank
    lines aside (only complete lines count). A small model that starts to repeat itself does so
    until its token limit: the 1.5B's converter fix (2026-12-07) wrote its one pointer sentence
    again and again for 2,400 tokens, 250 s on 2 cores, and was then asked again anyway."""
    lines = [line.strip() for line in text.split("\n")[:-1]]
    lines = [line for line in lines if line]
    for size in range(1, LOOP_BLOCK + 1):
        if len(lines) < size * LOOP_REPEATS:
            break
        block = lines[-size:]
        if sum(map(len, block)) * LOOP_REPEATS < LOOP_CHARS:
            continue
        end = len(lines)
        if all(lines[end - (k + 1) * size:end - k * size] == block for k in range(1, LOOP_REPEATS)):
            return True
    return False


def current_call() -> CallInfo | None:
    """The ``CallInfo`` of the model call being made, if the run said."""
    return _CALL.get()


@contextlib.contextmanager
def calling(info: CallInfo) -> Iterator[None]:
    token = _CALL.set(info)
    try:
        yield
    finally:
        _CALL.reset(token)


# ----------------------------------------------------------------------------- several candidates at once


def candidate_seed(seed: int | None, index: int) -> int:
    """The seed of candidate ``index``: candidate 0 keeps the call's seed, the others differ by a fixed step."""
    base = 0 if seed is None else seed
    return (base + 7919 * index) & 0x7FFFFFFF


def candidate_temperature(temperature: float, index: int) -> float:
    """Candidate 0 keeps the call's temperature; the others sample a little hotter, capped at 1.0."""
    return temperature if index == 0 else min(1.0, max(temperature, 0.2) + 0.15 * index)


Accept = Callable[[int, Reply], bool]  # a candidate that ended -> whether to stop the others


def chat_many(
    model: ChatModel,
    messages: Sequence[Message],
    n: int,
    *,
    schema: dict[str, Any] | None = None,
    max_tokens: int = 512,
    stop: Sequence[str] = (),
    temperature: float = 0.2,
    seed: int | None = None,
    on_token: Callable[[int, str], None] | None = None,
    accept: Accept | None = None,
) -> list[Reply]:
    """``n`` replies to one prompt, candidate ``i`` sampled with ``candidate_seed``/``candidate_temperature``.

    A backend that can decode several sequences together (llama.cpp's batch API,
    an endpoint's parallel slots) has a ``chat_many`` method of this signature
    without ``model``; any other model answers one candidate after another.
    ``on_token(i, piece)`` streams candidate ``i``. ``accept(i, reply)``, where given, is
    called with each candidate as it ends while another is still being written or yet to be
    asked; when it returns True the candidates not yet ended are stopped
    (``finish_reason="cancelled"``, with what they wrote so far; one never started has no text
    and no usage). A backend whose ``chat_many`` takes no ``accept`` returns every candidate
    finished, and ``accept`` is not called.
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    own = getattr(model, "chat_many", None)
    if n > 1 and callable(own):
        extra = {"accept": accept} if accept is not None and _takes(own, "accept") else {}
        return list(own(messages, n, schema=schema, max_tokens=max_tokens, stop=stop, temperature=temperature,
                        seed=seed, on_token=on_token, **extra))
    seeds = [seed] + [candidate_seed(seed, i) for i in range(1, n)]
    return chat_each(model, messages, seeds, [candidate_temperature(temperature, i) for i in range(n)],
                     schema=schema, max_tokens=max_tokens, stop=stop, on_token=on_token, accept=accept)


def _takes(function: Callable[..., Any], name: str) -> bool:
    import inspect

    try:
        return name in inspect.signature(function).parameters
    except (TypeError, ValueError):
        return False


def chat_each(model: ChatModel, messages: Sequence[Message], seeds: Sequence[int | None],
              temperatures: Sequence[float], *, on_token: Callable[[int, str], None] | None = None,
              accept: Accept | None = None, **kwargs: Any) -> list[Reply]:
    """The candidates as ``model.chat`` calls one after another, candidate ``i`` with ``seeds[i]`` and
    ``temperatures[i]`` (and ``CallInfo.candidate`` set to ``i``); ``kwargs`` go to every call. Once
    ``accept`` takes a candidate the rest are not asked (empty, ``finish_reason="cancelled"``)."""
    replies: list[Reply] = []
    info = current_call()
    for i, (seed, temperature) in enumerate(zip(seeds, temperatures, strict=True)):
        if replies and accept is not None and accept(len(replies) - 1, replies[-1]):
            replies += [Reply(text="", finish_reason="cancelled") for _ in range(len(seeds) - i)]
            break
        stream = (lambda piece, i=i: on_token(i, piece)) if on_token is not None else None
        with calling(dataclasses.replace(info, candidate=i)) if info is not None else contextlib.nullcontext():
            replies.append(model.chat(messages, temperature=temperature, seed=seed, on_token=stream, **kwargs))
    return replies
