"""Several candidates of one prompt: LlamaModel.chat_many's parallel sequences on the real Qwen2.5-Coder-0.5B,
base.chat_many's sequential fallback, and EndpointModel.chat_many's concurrent requests."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator

import httpx
import pytest

from chatdev.errors import ModelError
from chatdev.models.base import Message, candidate_seed, candidate_temperature, chat_many
from chatdev.models.llama import LlamaModel
from chatdev.models.scripted import ScriptedModel
from tests.test_models_openai import MODELS, fake
from tests.tinyllava import small_model_path

VERDICT = {
    "type": "object",
    "properties": {"approved": {"type": "boolean"}, "severity": {"enum": ["low", "medium", "high"]}},
    "required": ["approved", "severity"],
}
POEM = [Message("system", "You are a poet."), Message("user", "Write a short poem about the sea.")]


@pytest.fixture(scope="module")
def qwen() -> Iterator[LlamaModel]:
    model = LlamaModel(small_model_path(), n_ctx=2048, seed=0, name="qwen2.5-coder-0.5b")
    yield model
    model.close()


# ----------------------------------------------------------------------------- parallel sequences (Qwen 0.5B)


@pytest.mark.llm
def test_candidates_are_decoded_together_and_streamed_by_index(qwen: LlamaModel) -> None:
    pieces: dict[int, list[str]] = {}
    replies = qwen.chat_many(POEM, 3, max_tokens=16, temperature=0.9, seed=3,
                             on_token=lambda i, piece: pieces.setdefault(i, []).append(piece))
    assert len(replies) == 3
    assert len({r.text for r in replies}) >= 2  # hotter candidates with their own seeds differ
    prompt = replies[0].usage.prompt_tokens
    assert prompt > 10
    for i, reply in enumerate(replies):
        assert len(reply.text.split()) >= 3 and "\ufffd" not in reply.text  # sane text, whole characters
        assert "".join(pieces[i]) == reply.text and len(pieces[i]) > 1
        assert reply.usage.prompt_tokens == prompt and 0 < reply.usage.completion_tokens <= 16
        assert reply.finish_reason in ("stop", "length")
        assert reply.timings.prefill_s > 0 and reply.timings.decode_s > 0
    # the prompt is evaluated once: the other candidates share candidate 0's
    assert all(r.usage.cached_prompt_tokens == prompt for r in replies[1:])
    # the library's entry point uses the backend's own chat_many
    again = chat_many(qwen, POEM, 2, max_tokens=4, temperature=0.9, seed=3)
    assert len(again) == 2 and again[0].usage.prompt_tokens == prompt


@pytest.mark.llm
def test_schema_is_honoured_by_every_sequence(qwen: LlamaModel) -> None:
    replies = qwen.chat_many([Message("system", "You review code. Answer in JSON."),
                              Message("user", "Review: `def add(a, b): return a + b`")],
                             3, schema=VERDICT, max_tokens=40, temperature=0.7, seed=1)
    for reply in replies:
        assert reply.schema_error is None, reply.text
        value = reply.json()
        assert isinstance(value["approved"], bool) and value["severity"] in ("low", "medium", "high")
        assert reply.parsed == value
    cut = qwen.chat_many([Message("user", "Review `x = 1`.")], 2, schema=VERDICT, max_tokens=3)
    assert all(r.finish_reason == "length" and "max_tokens=3" in (r.schema_error or "") for r in cut)


@pytest.mark.llm
def test_stop_strings_and_max_tokens_per_sequence(qwen: LlamaModel) -> None:
    stopped = qwen.chat_many(POEM, 3, max_tokens=40, temperature=0.9, seed=5, stop=["\n"])
    for reply in stopped:
        assert "\n" not in reply.text and reply.text.strip()
        assert reply.finish_reason == "stop" and reply.usage.completion_tokens < 40
    counted = qwen.chat_many(POEM, 3, max_tokens=5, temperature=0.9, seed=5)
    assert all(r.finish_reason == "length" and r.usage.completion_tokens == 5 for r in counted)


@pytest.mark.llm
def test_too_many_candidates_is_one_model_error_before_decoding(qwen: LlamaModel) -> None:
    prompt = qwen.chat_many(POEM, 2, max_tokens=1)[0].usage.prompt_tokens
    fit = qwen.max_candidates(prompt, 8)
    assert 2 <= fit <= 256
    with pytest.raises(ModelError, match=rf"{fit + 1} candidates .* at most {fit} fit") as err:
        qwen.chat_many(POEM, fit + 1, max_tokens=8)
    line = err.value.line()
    assert "\n" not in line and f"at most {fit} candidates" in line
    assert qwen.max_candidates(3000, 8) == 0  # the prompt alone overflows n_ctx=2048
    with pytest.raises(ModelError, match=r"needs \d+ tokens but the context holds 2048"):
        qwen.chat_many([Message("user", "word " * 2500)], 2, max_tokens=8)
    assert len(qwen.chat_many(POEM, 2, max_tokens=2)) == 2  # still usable


@pytest.mark.llm
def test_prefix_cache_of_chat_survives_and_feeds_chat_many(qwen: LlamaModel) -> None:
    ceo = [Message("system", "You are the CEO of a software company. " * 12),
           Message("user", "We build a snake game. One sentence: what first?")]
    first = qwen.chat(ceo, max_tokens=8, temperature=0.0)
    more = ceo + [Message("assistant", first.text), Message("user", "And then?")]
    replies = qwen.chat_many(more, 2, max_tokens=6)
    # the main context's prefix is copied into the parallel context, not evaluated again
    assert replies[0].usage.cached_prompt_tokens >= first.usage.prompt_tokens - 1
    # chat() still finds its own KV cache as it left it
    again = qwen.chat(more, max_tokens=4, temperature=0.0)
    assert again.usage.cached_prompt_tokens >= first.usage.prompt_tokens - 1


COUNT = [Message("system", "You are terse."),
         Message("user", "Name a colour, then count from one to twenty in words.")]


@pytest.mark.llm
def test_an_accepted_candidate_stops_the_others_where_they_are(qwen: LlamaModel) -> None:
    """``accept`` sees each sequence as it ends; True stops the rest: they come back cancelled, with
    the start of what they would have written and no more tokens spent on them."""
    # the prompt cached first: each call below then decodes from the same state (a prompt decoded
    # in other chunks gives other logits in the last bits, and at 0.9 another sample, 2026-12-06)
    qwen.chat_many(COUNT, 3, max_tokens=1, temperature=0.9, seed=5, stop=["\n"])
    whole = qwen.chat_many(COUNT, 3, max_tokens=60, temperature=0.9, seed=5, stop=["\n"])
    ended: list[tuple[int, str]] = []
    declined = qwen.chat_many(COUNT, 3, max_tokens=60, temperature=0.9, seed=5, stop=["\n"],
                              accept=lambda i, reply: ended.append((i, reply.finish_reason)) is not None)
    assert [r.text for r in declined] == [r.text for r in whole]  # declining changes nothing
    assert ended and all(finish in ("stop", "length") for _, finish in ended)
    first = ended[0][0]  # the first to end (within one step, the lower index)
    taken: list[int] = []
    stopped = qwen.chat_many(COUNT, 3, max_tokens=60, temperature=0.9, seed=5, stop=["\n"],
                             accept=lambda i, reply: not taken.append(i))
    assert taken == [first]
    assert stopped[first].text == whole[first].text and stopped[first].finish_reason != "cancelled"
    assert any(reply.finish_reason == "cancelled" for reply in stopped)
    for i, reply in enumerate(stopped):
        if i == first:
            continue
        if reply.finish_reason != "cancelled":  # it ended in the same step as the first: whole
            assert reply.text == whole[i].text
            continue
        assert whole[i].text.startswith(reply.text)
        # no step after the one the first ended in (an end-of-text token is not counted, a stop string's is)
        assert reply.usage.completion_tokens <= whole[first].usage.completion_tokens + 1
    # the parallel context is usable again at once
    again = qwen.chat_many(COUNT, 2, max_tokens=6, temperature=0.9, seed=5)
    assert all(r.finish_reason in ("stop", "length") for r in again)


# ----------------------------------------------------------------------------- the sequential fallback


def test_a_model_without_chat_many_answers_one_candidate_after_another() -> None:
    model = ScriptedModel(["first", "second", "third"])
    assert not hasattr(model, "chat_many")
    pieces: list[tuple[int, str]] = []
    replies = chat_many(model, [Message("user", "hi")], 3, max_tokens=8, temperature=0.2, seed=11,
                        on_token=lambda i, piece: pieces.append((i, piece)))
    assert [r.text for r in replies] == ["first", "second", "third"]
    assert [c.seed for c in model.calls] == [11, candidate_seed(11, 1), candidate_seed(11, 2)]
    assert [c.temperature for c in model.calls] == [candidate_temperature(0.2, i) for i in range(3)]
    assert model.calls[1].temperature > 0.2 and model.calls[0].seed != model.calls[1].seed
    assert {i for i, _ in pieces} == {0, 1, 2}
    assert "".join(p for i, p in pieces if i == 1) == "second"
    with pytest.raises(ValueError):
        chat_many(model, [Message("user", "hi")], 0)


def test_one_after_another_an_accepted_candidate_leaves_the_rest_unasked() -> None:
    model = ScriptedModel(["first", "second", "third", "fourth"])
    seen: list[tuple[int, str]] = []
    replies = chat_many(model, [Message("user", "hi")], 4, max_tokens=8, seed=11,
                        accept=lambda i, reply: seen.append((i, reply.text)) is None and reply.text == "second")
    assert seen == [(0, "first"), (1, "second")]
    assert [r.text for r in replies] == ["first", "second", "", ""]
    assert [r.finish_reason for r in replies] == ["stop", "stop", "cancelled", "cancelled"]
    assert len(model.calls) == 2 and replies[3].usage.completion_tokens == 0


# ----------------------------------------------------------------------------- an endpoint: concurrent requests


def test_endpoint_sends_the_candidates_as_concurrent_requests() -> None:
    n = 3
    together = threading.Barrier(n, timeout=10)  # every request must be in flight at once
    bodies: list[dict[str, object]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/models"):
            return httpx.Response(200, json=MODELS)
        body = json.loads(request.content)
        bodies.append(body)
        together.wait()
        word = f"seed{body.get('seed')}"
        events = [{"choices": [{"delta": {"content": word}, "finish_reason": None}]},
                  {"choices": [{"delta": {"content": " done"}, "finish_reason": "stop"}]},
                  {"choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 2}}]
        text = "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"
        return httpx.Response(200, text=text, headers={"content-type": "text/event-stream"})

    model = fake(handler)
    pieces: dict[int, list[str]] = {}
    replies = model.chat_many([Message("user", "hi")], n, max_tokens=8, temperature=0.2, seed=4,
                              on_token=lambda i, piece: pieces.setdefault(i, []).append(piece))
    seeds = [4, candidate_seed(4, 1), candidate_seed(4, 2)]
    assert [r.text for r in replies] == [f"seed{s} done" for s in seeds]
    assert {i: "".join(p) for i, p in pieces.items()} == {i: r.text for i, r in enumerate(replies)}
    assert sorted(int(str(b["seed"])) for b in bodies) == sorted(seeds)
    assert sorted(float(str(b["temperature"])) for b in bodies) == [candidate_temperature(0.2, i) for i in range(n)]
    assert all(r.usage.prompt_tokens == 9 for r in replies)
    # without streaming, and through the library's entry point
    plain = chat_many(fake(lambda r: httpx.Response(200, json=MODELS) if r.url.path.endswith("/models") else
                           httpx.Response(200, json={"choices": [{"message": {"content": "ok"},
                                                                  "finish_reason": "stop"}]})),
                      [Message("user", "hi")], 2)
    assert [r.text for r in plain] == ["ok", "ok"]


class _Slow(httpx.SyncByteStream):
    """A streamed reply of ``words`` SSE events, ``pause`` seconds apart, that notes how far it got."""

    def __init__(self, word: str, words: int, pause: float) -> None:
        self.word, self.words, self.pause = word, words, pause
        self.sent, self.closed = 0, False

    def __iter__(self) -> Iterator[bytes]:
        import time

        for i in range(self.words):
            if self.closed:
                return
            last = i == self.words - 1
            event = {"choices": [{"delta": {"content": f"{self.word}{i} "}, "finish_reason": "stop" if last else None}]}
            self.sent += 1
            yield f"data: {json.dumps(event)}\n\n".encode()
            time.sleep(self.pause)
        yield b"data: [DONE]\n\n"

    def close(self) -> None:
        self.closed = True


def test_an_accepted_endpoint_candidate_closes_the_other_requests() -> None:
    """Candidate 0 ends after 3 pieces and is accepted; the two long ones are closed where they are."""
    streams: dict[int, _Slow] = {}

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/models"):
            return httpx.Response(200, json=MODELS)
        body = json.loads(request.content)
        assert body["stream"] is True  # streamed so that it can be stopped, with no on_token
        index = 0 if body["seed"] == 4 else 1 if body["seed"] == candidate_seed(4, 1) else 2
        streams[index] = _Slow(f"c{index}-", 3 if index == 0 else 400, 0.01)
        return httpx.Response(200, stream=streams[index], headers={"content-type": "text/event-stream"})

    accepted: list[tuple[int, str]] = []

    def accept(i: int, reply: object) -> bool:
        accepted.append((i, getattr(reply, "text")))
        return True

    replies = fake(handler).chat_many([Message("user", "hi")], 3, max_tokens=512, seed=4, accept=accept)
    assert accepted == [(0, "c0-0 c0-1 c0-2 ")]
    assert [r.finish_reason for r in replies] == ["stop", "cancelled", "cancelled"]
    for i in (1, 2):
        assert streams[i].closed and streams[i].sent < 400, (i, streams[i].sent)
        assert replies[i].text == "".join(f"c{i}-{k} " for k in range(len(replies[i].text.split())))
    # a candidate that is not accepted stops nothing, and the last one to end is not judged
    streams.clear()
    accepted.clear()

    def never(i: int, reply: object) -> bool:
        accepted.append((i, ""))
        return False

    replies = fake(handler).chat_many([Message("user", "hi")], 2, max_tokens=512, seed=4, accept=never)
    assert [r.finish_reason for r in replies] == ["stop", "stop"] and streams[1].sent == 400
    assert [i for i, _ in accepted] == [0]


def test_endpoint_candidate_errors_are_raised() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/models"):
            return httpx.Response(200, json=MODELS)
        return httpx.Response(400, json={"error": {"message": "bad request"}})

    with pytest.raises(ModelError, match="HTTP 400: bad request"):
        fake(handler).chat_many([Message("user", "hi")], 2)
