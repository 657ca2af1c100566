"""One dialogue with one model, every request sized to fit its context window.

Small local models have small windows (LLaVA-1.5: 4096 tokens). Before each
request the conversation makes the prompt fit ``n_ctx`` with room for the
answer: it drops the oldest turns first, then lowers the answer budget to a
floor, then cuts the middle of the newest message. Only when even that cannot
fit does it raise ``ModelError`` with the numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from chatdev.errors import ModelError
from chatdev.models.base import Accept, ChatModel, ImageInput, Message, Reply

MARGIN = 48  # chat-template tokens per message and safety
MIN_ANSWER = 256
IMAGE_TOKENS = 600  # LLaVA-1.5 spends 576 tokens per image


def cut_middle(text: str, keep_tokens: int, count: Callable[[str], int]) -> str:
    """Keep the head and the tail of ``text`` within about ``keep_tokens``."""
    if count(text) <= keep_tokens:
        return text
    lines = text.splitlines()
    head, tail = lines[: len(lines) // 2], lines[len(lines) // 2:]
    widest = f"[... {len(lines)} lines cut to fit the context ...]"  # the marker is measured too
    while (head or tail) and count("\n".join(head + [widest] + tail)) > keep_tokens:
        if len(head) >= len(tail) and head:
            head.pop()
        elif tail:
            tail.pop(0)
    if not head and not tail:  # one enormous line
        chars = max(0, keep_tokens * 3)
        return text[: chars // 2] + "\n[... cut to fit the context ...]\n" + text[-chars // 2:]
    cut = len(lines) - len(head) - len(tail)
    return "\n".join(head + [f"[... {cut} lines cut to fit the context ...]"] + tail)


@dataclass
class Conversation:
    model: ChatModel
    system: str
    history: list[Message] = field(default_factory=list)
    trimmed: int = 0  # turns dropped so far

    def _size(self, messages: Sequence[Message]) -> int:
        return sum(self.model.count_tokens(m.content) + MARGIN for m in messages)

    def fit(self, text: str, *, max_tokens: int, images: int = 0) -> tuple[list[Message], int]:
        """The messages to send and the answer budget, within ``n_ctx``."""
        n_ctx = self.model.n_ctx
        system = [Message("system", self.system)] if self.system else []
        history = list(self.history)
        user = Message("user", text)
        image_cost = images * IMAGE_TOKENS

        def total(hist: list[Message], msg: Message, answer: int) -> int:
            return self._size(system + hist + [msg]) + answer + image_cost

        while history and total(history, user, max_tokens) > n_ctx:
            history = history[2:] if len(history) >= 2 else []
            self.trimmed += 1
        answer = max_tokens
        if total(history, user, answer) > n_ctx:
            answer = max(min(max_tokens, MIN_ANSWER), n_ctx - total(history, user, 0))
        if total(history, user, answer) > n_ctx:
            room = n_ctx - self._size(system + history) - answer - image_cost - MARGIN
            if room < 64:
                raise ModelError(
                    f"{self.model.name}: the system prompt alone needs {self._size(system)} tokens "
                    f"of a {n_ctx}-token context",
                    hint="shorten the role's persona or load the model with a larger --n-ctx")
            user = Message("user", cut_middle(text, room, self.model.count_tokens))
        self.history = history
        return system + history + [user], answer

    def ask(
        self,
        text: str,
        *,
        images: Sequence[ImageInput] = (),
        schema: dict[str, Any] | None = None,
        max_tokens: int = 512,
        temperature: float = 0.2,
        seed: int | None = None,
        on_token: Callable[[str], None] | None = None,
    ) -> Reply:
        messages, answer = self.fit(text, max_tokens=max_tokens, images=len(images))
        reply = self.model.chat(messages, images=images, schema=schema, max_tokens=answer,
                                temperature=temperature, seed=seed, on_token=on_token)
        self.history = self.history + [messages[-1], Message("assistant", reply.text)]
        return reply

    def ask_many(
        self,
        text: str,
        n: int,
        *,
        schema: dict[str, Any] | None = None,
        max_tokens: int = 512,
        temperature: float = 0.2,
        seed: int | None = None,
        on_token: Callable[[int, str], None] | None = None,
        accept: Accept | None = None,
    ) -> list[Reply]:
        """``n`` candidate replies to one request (``models.base.chat_many``, ``accept`` included);
        the history keeps candidate 0 until ``keep`` names the one chosen."""
        from chatdev.models.base import chat_many

        messages, answer = self.fit(text, max_tokens=max_tokens)
        replies = chat_many(self.model, messages, n, schema=schema, max_tokens=answer, temperature=temperature,
                            seed=seed, on_token=on_token, accept=accept)
        self.history = self.history + [messages[-1], Message("assistant", replies[0].text)]
        return replies

    def keep(self, reply: Reply) -> None:
        """The chosen candidate becomes the last answer of the history."""
        if self.history and self.history[-1].role == "assistant":
            self.history[-1] = Message("assistant", reply.text)

    def said(self, text: str) -> None:
        """Record a turn this side said without asking the model (an opening line)."""
        self.history.append(Message("assistant", text))
