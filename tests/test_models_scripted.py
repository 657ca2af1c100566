"""The scripted test double: exact replies, recorded calls, plausible token counts."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from chatdev.errors import ModelError
from chatdev.models.base import ChatModel, Message, Reply, SchemaViolation, Usage, check_reply, schema_errors
from chatdev.models.scripted import ScriptedModel

sys.path.insert(0, str(Path(__file__).parent))
from tinyllava import png


def test_replies_in_order_and_calls_recorded() -> None:
    model = ScriptedModel(["first", "second"], n_ctx=1024)
    assert isinstance(model, ChatModel)
    msgs = [Message("system", "You are a CEO."), Message("user", "Go.")]
    assert model.chat(msgs, max_tokens=100, seed=3).text == "first"
    assert model.chat(msgs + [Message("user", "Again.")]).text == "second"
    assert model.remaining == 0
    assert model.calls[0].messages == msgs and model.calls[0].max_tokens == 100 and model.calls[0].seed == 3
    with pytest.raises(AssertionError, match="ran out of replies after 2 calls"):
        model.chat(msgs)


def test_function_script_tokens_and_streaming() -> None:
    model = ScriptedModel(lambda ms: f"echo: {ms[-1].content}")
    pieces: list[str] = []
    reply = model.chat([Message("user", "hello there, world")], on_token=pieces.append)
    assert reply.text == "echo: hello there, world" == "".join(pieces) and len(pieces) > 2
    assert model.count_tokens("abcdefgh") == 2 and model.count_tokens("") == 0
    assert reply.usage.completion_tokens == model.count_tokens(reply.text)
    assert reply.usage.prompt_tokens == model.count_tokens("hello there, world") + 4


def test_prefix_cache_is_simulated() -> None:
    model = ScriptedModel(lambda ms: "ok")
    system = Message("system", "x" * 400)
    first = model.chat([system, Message("user", "a")])
    second = model.chat([system, Message("user", "a"), Message("assistant", "ok"), Message("user", "b")])
    assert first.usage.cached_prompt_tokens == 0
    assert second.usage.cached_prompt_tokens == first.usage.prompt_tokens


def test_max_tokens_stop_and_overflow() -> None:
    model = ScriptedModel(lambda ms: "word " * 100 + "STOP tail", n_ctx=200)
    cut = model.chat([Message("user", "go")], max_tokens=10)
    assert cut.finish_reason == "length" and cut.usage.completion_tokens <= 10
    stopped = model.chat([Message("user", "go")], max_tokens=500, stop=["STOP"])
    assert "tail" not in stopped.text
    with pytest.raises(ModelError, match="needs .* tokens but the context holds 200"):
        model.chat([Message("user", "x" * 1000)])


def test_schema_and_images() -> None:
    schema = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}
    model = ScriptedModel(['{"ok": true}', '{"ok": "yes"}'], supports_vision=True, image_tokens=10)
    good = model.chat([Message("user", "x")], schema=schema, images=[png()])
    assert good.json() == {"ok": True} and good.usage.image_tokens == 10
    bad = model.chat([Message("user", "x")], schema=schema)
    with pytest.raises(SchemaViolation, match=r"\$\.ok should be boolean"):
        bad.json()
    blind = ScriptedModel(["x"])
    with pytest.raises(ModelError, match="cannot see images"):
        blind.chat([Message("user", "x")], images=[png()])
    with pytest.raises(ModelError, match="not an image"):
        ScriptedModel(["x"], supports_vision=True).chat([Message("user", "x")], images=[b"text"])


def test_schema_checker_subset() -> None:
    schema = {
        "type": "object", "additionalProperties": False, "required": ["files"],
        "properties": {"files": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/file"}}},
        "$defs": {"file": {"type": "object", "required": ["path"], "properties": {"path": {"type": "string"}}}},
    }
    assert schema_errors({"files": [{"path": "a.py"}]}, schema) == []
    assert schema_errors({"files": []}, schema) == ["$.files needs at least 1 items"]
    assert schema_errors({"files": [{}], "x": 1}, schema) == ["$.files[0] is missing required key 'path'",
                                                               "$ has unexpected key 'x'"]
    assert check_reply("not json", schema)[1].startswith("not valid JSON")
    assert Reply("[1]").json() == [1]
    assert Usage(1, 2, 3, 4) + Usage(1, 1, 1, 1) == Usage(2, 3, 4, 5)
