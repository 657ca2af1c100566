"""The in-process llama.cpp backend on the real Qwen2.5-Coder-0.5B GGUF and a tiny LLaVA-format pair."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from chatdev.errors import ModelEnvironmentError, ModelError
from chatdev.models import load_model
from chatdev.models.base import Message, SchemaViolation
from chatdev.models.llama import LlamaModel
from chatdev.models.llama_backend import backend_info

sys.path.insert(0, str(Path(__file__).parent))
from tinyllava import IMAGE_TOKENS, png, small_model_path, write_llm, write_mmproj, write_pair

pytestmark = pytest.mark.llm

VERDICT = {
    "type": "object",
    "properties": {"approved": {"type": "boolean"}, "severity": {"enum": ["low", "medium", "high"]}},
    "required": ["approved", "severity"],
}


@pytest.fixture(scope="module")
def qwen() -> Iterator[LlamaModel]:
    model = LlamaModel(small_model_path(), n_ctx=2048, seed=0, name="qwen2.5-coder-0.5b")
    yield model
    model.close()


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return write_pair(tmp_path_factory.mktemp("tiny"))


@pytest.fixture(scope="module")
def tiny_vision(pair: tuple[Path, Path]) -> Iterator[LlamaModel]:
    model = LlamaModel(pair[0], mmproj=pair[1], n_ctx=1024, seed=0, name="tiny-llava")
    yield model
    model.close()


# ----------------------------------------------------------------------------- Qwen 0.5B


def test_reply_streams_through_on_token(qwen: LlamaModel) -> None:
    pieces: list[str] = []
    reply = qwen.chat([Message("system", "You are a terse assistant."),
                       Message("user", "Write a Python function that adds two numbers.")],
                      max_tokens=24, temperature=0.0, on_token=pieces.append)
    assert len(pieces) > 1 and "".join(pieces) == reply.text
    assert "def" in reply.text
    assert reply.usage.prompt_tokens > 10
    assert 0 < reply.usage.completion_tokens <= 24
    assert reply.finish_reason in ("stop", "length")
    assert reply.timings.prefill_s > 0 and reply.timings.decode_s > 0
    assert qwen.n_ctx == 2048 and not qwen.supports_vision


def test_a_reply_that_repeats_itself_is_stopped_long_before_its_limit(qwen: LlamaModel) -> None:
    """The 1.5B's converter fix wrote one sentence again and again for 2,400 tokens (250 s)."""
    line = "The failing tests call convert_length (main.py line 3): look there first, and change the program, not the tests."
    pieces: list[str] = []
    ask = "Here is a log that repeats:\n" + (line + "\n") * 10 + "\nWrite the log again, twice as long."
    reply = qwen.chat([Message("user", ask)], max_tokens=1500, temperature=0.0, on_token=pieces.append)
    assert reply.text.count(line) >= 8, reply.text[:300]
    assert reply.finish_reason == "length"  # read like a reply the limit cut: parsed as cut, retried
    assert reply.usage.completion_tokens < 400, reply.usage  # stopped at the 8th copy, not at 1500
    assert "".join(pieces) == reply.text  # what streamed is the reply
    again = qwen.chat([Message("user", "Write a Python function that adds two numbers.")], max_tokens=40,
                      temperature=0.0)
    assert "def" in again.text  # the model state after the stop serves the next call


COPIED = """def total(prices, discount=0.0):
    \"\"\"The sum of the prices after a discount between 0 and 1.\"\"\"
    if not 0.0 <= discount <= 1.0:
        raise ValueError(f"discount {discount} is not between 0 and 1")
    subtotal = sum(prices)
    return round(subtotal * (1.0 - discount), 2)


def cheapest(prices):
    \"\"\"The lowest price, or None for no prices.\"\"\"
    return min(prices) if prices else None
"""


def test_a_reply_that_copies_its_prompt_is_drafted_from_it(qwen: LlamaModel) -> None:
    """A fix that rewrites a file its prompt holds: most tokens come from drafts looked up in the prompt,
    verified in one batch, and the reply is the one plain decoding gives (greedy: the same argmax)."""
    ask = [Message("user", "prices.py:\n```python\n" + COPIED + "```\n\nRename the function `cheapest` to "
                           "`lowest`. Reply with the whole file, both functions, in one ```python block.")]
    lookup = qwen._lookup
    assert lookup is not None  # on by default
    try:
        qwen._lookup = None
        plain = qwen.chat(ask, max_tokens=400, temperature=0.0)
    finally:
        qwen._lookup = lookup
    drafted = qwen.chat(ask, max_tokens=400, temperature=0.0)
    assert "def lowest(prices):" in drafted.text and "round(subtotal * (1.0 - discount), 2)" in drafted.text
    assert plain.usage.drafted_tokens == 0
    assert drafted.usage.drafted_tokens >= drafted.usage.completion_tokens // 2, drafted.usage
    assert lookup.stats.drafts > 0 and 0 < lookup.stats.accepted <= drafted.usage.drafted_tokens
    assert drafted.text == plain.text
    again = qwen.chat([Message("user", "Write a Python function that adds two numbers.")], max_tokens=40,
                      temperature=0.0)
    assert "def" in again.text  # the KV cache after the last, partly refused draft serves the next call


def test_lookup_drafting_is_on_unless_turned_off(monkeypatch: pytest.MonkeyPatch) -> None:
    from chatdev.models.llama_backend import lookup_default

    monkeypatch.delenv("CHATDEV_LLAMA_LOOKUP", raising=False)
    assert lookup_default()
    monkeypatch.setenv("CHATDEV_LLAMA_LOOKUP", "0")
    assert not lookup_default()


def test_a_reply_repeats_itself_when_its_end_is_one_block_eight_times_over() -> None:
    from chatdev.models.base import repeating

    sentence = "The failing tests call convert_length (main.py line 3): look there first, change the program.\n\n"
    assert not repeating(sentence * 7) and repeating(sentence * 8) and repeating(sentence * 9 + "The fail")
    board = "BOARD = [\n" + "    [0, 0, 0, 0, 0, 0, 0, 0, 0, 0],\n" * 23  # a long literal of equal rows is code
    assert not repeating(board)
    consts = "WIDTH = 640\nHEIGHT = 480\nCELL = 20\nFPS = 10\n"  # the 1.5B snake's four constants, again and again
    assert not repeating("import pygame\n" + consts * 3) and repeating("import pygame\n" + consts * 40)
    assert not repeating("x = 1\n" * 100)  # short lines repeat in real code: under 600 characters a block


def test_schema_constrained_reply_validates(qwen: LlamaModel) -> None:
    reply = qwen.chat([Message("system", "You review code. Answer in JSON."),
                       Message("user", "Review: `def add(a, b): return a + b`")],
                      schema=VERDICT, max_tokens=40, temperature=0.0)
    assert reply.schema_error is None, reply.text
    value = reply.json()
    assert isinstance(value["approved"], bool) and value["severity"] in ("low", "medium", "high")
    assert reply.parsed == value


def test_a_bounded_string_keeps_the_json_whole_inside_max_tokens(qwen: LlamaModel) -> None:
    """The escalation decision (run/chain.py): its directive is bounded, so the grammar closes the
    JSON before max_tokens cuts it (in make demo an unbounded one ran past 150 tokens)."""
    from chatdev.run.chain import DIRECTIVE_CHARS

    schema = {"type": "object", "required": ["decision", "directive"],
              "properties": {"decision": {"type": "string", "enum": ["accept", "retry"]},
                             "directive": {"type": "string", "maxLength": 40}}}
    reply = qwen.chat([Message("user", "Decide retry, and write a very long, detailed directive of many "
                                       "sentences for the programmer.")],
                      schema=schema, max_tokens=60, temperature=0.0)
    assert reply.schema_error is None, reply.text
    assert len(reply.json()["directive"]) <= 40 < DIRECTIVE_CHARS


def test_schema_reply_cut_by_max_tokens_is_a_typed_error(qwen: LlamaModel) -> None:
    reply = qwen.chat([Message("user", "Review `x = 1`.")], schema=VERDICT, max_tokens=3, temperature=0.0)
    assert reply.finish_reason == "length"
    assert reply.schema_error is not None and "max_tokens=3" in reply.schema_error
    with pytest.raises(SchemaViolation) as err:
        reply.json()
    assert err.value.text == reply.text


def test_schema_the_grammar_cannot_take_is_a_model_error(qwen: LlamaModel) -> None:
    with pytest.raises(ModelError, match="cannot become a llama.cpp grammar") as err:
        qwen.chat([Message("user", "hi")], schema={"not": {"type": "string"}}, max_tokens=4)
    assert err.value.hint


def test_prefix_is_reused_within_and_across_roles(qwen: LlamaModel) -> None:
    ceo = Message("system", "You are the CEO of a software company. " * 12)
    cto = Message("system", "You are the CTO of a software company. You choose the language. " * 8)
    task = Message("user", "We build a snake game. One sentence: what first?")
    first = qwen.chat([ceo, task], max_tokens=12, temperature=0.0)
    # another role speaks in between: its prompt shares only the chat template's first tokens
    other = qwen.chat([cto, Message("user", first.text)], max_tokens=12, temperature=0.0)
    assert other.usage.cached_prompt_tokens < 10
    # the CEO again, with its history: its earlier prompt comes back from the saved state
    again = qwen.chat([ceo, task, Message("assistant", first.text), Message("user", other.text)],
                      max_tokens=8, temperature=0.0)
    assert again.usage.cached_prompt_tokens >= first.usage.prompt_tokens - 1
    assert again.usage.cached_prompt_tokens < again.usage.prompt_tokens
    # the same role right away: the live KV cache serves it
    same = qwen.chat([ceo, task, Message("assistant", first.text), Message("user", other.text),
                      Message("assistant", again.text), Message("user", "And then?")], max_tokens=4, temperature=0.0)
    assert same.usage.cached_prompt_tokens >= again.usage.prompt_tokens - 1


def test_context_overflow_is_a_model_error_with_counts(qwen: LlamaModel) -> None:
    with pytest.raises(ModelError, match=r"needs \d+ tokens but the context holds 2048") as err:
        qwen.chat([Message("user", "word " * 2500)], max_tokens=8)
    assert "--n-ctx" in err.value.line()
    assert qwen.chat([Message("user", "Say OK.")], max_tokens=2).usage.completion_tokens >= 1  # still usable


def test_text_model_refuses_images(qwen: LlamaModel) -> None:
    with pytest.raises(ModelError, match="cannot see images") as err:
        qwen.chat([Message("user", "What is this?")], images=[png()], max_tokens=4)
    assert "mmproj" in err.value.line()


def test_count_tokens(qwen: LlamaModel) -> None:
    assert qwen.count_tokens("") == 0
    assert qwen.count_tokens("hello world") == 2
    assert qwen.count_tokens("def add(a, b):\n    return a + b\n") > 5


def test_backend_info() -> None:
    info = backend_info()
    assert set(info) >= {"version", "system_info", "gpu_offload"}
    assert isinstance(info["gpu_offload"], bool) and "CPU" in info["system_info"]


def test_load_model_by_registry_name() -> None:
    model = load_model("qwen2.5-coder-0.5b", n_ctx=512, seed=1)
    try:
        assert isinstance(model, LlamaModel) and model.name == "qwen2.5-coder-0.5b" and model.n_ctx == 512
        assert model.gpu_layers in (-1, 0)
    finally:
        model.close()
    with pytest.raises(ModelError, match="was closed"):
        model.chat([Message("user", "hi")], max_tokens=2)


# ----------------------------------------------------------------------------- bad files


def test_bad_model_files(tmp_path: Path, pair: tuple[Path, Path]) -> None:
    with pytest.raises(ModelError, match="no such model file"):
        LlamaModel(tmp_path / "missing.gguf", n_ctx=512)
    fake = tmp_path / "fake.gguf"
    fake.write_bytes(b"not a model at all")
    with pytest.raises(ModelError, match="not a GGUF file"):
        LlamaModel(fake, n_ctx=512)
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(pair[0].read_bytes()[:-5000])
    with pytest.raises(ModelError, match="truncated"):
        LlamaModel(cut, n_ctx=512)
    with pytest.raises(ModelError, match="is a vision projector"):
        LlamaModel(pair[1], n_ctx=512)
    with pytest.raises(ModelError, match="not a vision projector"):
        LlamaModel(pair[0], mmproj=pair[0], n_ctx=512)
    with pytest.raises(ModelError, match="too small"):
        LlamaModel(pair[0], n_ctx=8)


def test_mmproj_that_does_not_match_the_model(tmp_path: Path, pair: tuple[Path, Path]) -> None:
    other = write_mmproj(tmp_path / "mmproj-32.gguf", projection_dim=32)
    with pytest.raises(ModelError, match="do not belong together") as err:
        LlamaModel(pair[0], mmproj=other, n_ctx=512)
    assert "mmproj" in err.value.line()


def test_mmproj_mismatch_caught_by_llama_cpp_when_the_header_hides_it(tmp_path: Path) -> None:
    # the header claims 48 (matching the LLM) but the projector's tensors make 64-wide embeddings:
    # only mtmd's own check can see it, and it still ends as one ModelError
    llm = write_llm(tmp_path / "llm48.gguf", n_embd=48)
    proj = write_mmproj(tmp_path / "proj.gguf", projection_dim=64, header_projection_dim=48)
    with pytest.raises(ModelError, match="does not load with llm48.gguf") as err:
        LlamaModel(llm, mmproj=proj, n_ctx=512)
    assert "\n" not in err.value.line()


# ----------------------------------------------------------------------------- vision (tiny LLaVA)


def test_image_goes_in_and_tokens_come_out(tiny_vision: LlamaModel, tmp_path: Path) -> None:
    assert tiny_vision.supports_vision and tiny_vision.chat_format == "llava-1-5"
    image = tmp_path / "mockup.png"
    image.write_bytes(png(40, 30))
    reply = tiny_vision.chat([Message("system", "Describe images."), Message("user", "What is in the mockup?")],
                             images=[image, png(16, 16, (0, 0, 255))], max_tokens=6, temperature=0.0)
    assert reply.usage.image_tokens == 2 * IMAGE_TOKENS
    assert reply.usage.prompt_tokens > reply.usage.image_tokens
    assert 1 <= reply.usage.completion_tokens <= 8
    assert reply.usage.cached_prompt_tokens == 0


def test_text_calls_on_a_vision_model_reuse_the_prefix(tiny_vision: LlamaModel) -> None:
    msgs = [Message("system", "You are a tester."), Message("user", "List three checks.")]
    first = tiny_vision.chat(msgs, max_tokens=4, temperature=0.0)
    assert first.usage.image_tokens == 0
    again = tiny_vision.chat(msgs + [Message("assistant", first.text), Message("user", "More.")],
                             max_tokens=4, temperature=0.0)
    assert again.usage.cached_prompt_tokens >= first.usage.prompt_tokens - 1


def test_images_that_are_not_images(tiny_vision: LlamaModel, tmp_path: Path) -> None:
    text = tmp_path / "notes.png"
    text.write_text("this is not a picture")
    with pytest.raises(ModelError, match="not an image"):
        tiny_vision.chat([Message("user", "look")], images=[text], max_tokens=2)
    with pytest.raises(ModelError, match="no such file"):
        tiny_vision.chat([Message("user", "look")], images=[tmp_path / "missing.png"], max_tokens=2)
    broken = png()[:60]  # a PNG signature and header, then nothing
    with pytest.raises(ModelError, match="cannot be decoded"):
        tiny_vision.chat([Message("user", "look")], images=[broken], max_tokens=2)
    assert tiny_vision.chat([Message("user", "look")], images=[png()], max_tokens=2).usage.image_tokens == IMAGE_TOKENS


def test_calls_from_threads_are_serialised(tiny_vision: LlamaModel) -> None:
    results: list[int] = []
    errors: list[BaseException] = []

    def worker(i: int) -> None:
        try:
            r = tiny_vision.chat([Message("user", f"thread {i}")], max_tokens=3, temperature=0.0)
            results.append(r.usage.completion_tokens)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(results) == 4


def test_load_model_with_a_path_and_mmproj(pair: tuple[Path, Path]) -> None:
    model = load_model(str(pair[0]), n_ctx=512, mmproj=pair[1])
    try:
        assert model.supports_vision and model.name == "tiny-llava"
    finally:
        model.close()


def test_load_model_endpoint_down() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ModelEnvironmentError, match="unreachable") as err:
        load_model(f"http://127.0.0.1:{port}/v1", n_ctx=2048)
    assert err.value.exit_code == 3


def test_the_q4_k_layers_go_to_the_repack_buffer_and_candidates_still_decode() -> None:
    """Where AMX turns llama.cpp's extra buffers off, best-of-N still gets the repacked Q4_K kernels
    (the 1.5B's 4 sequences: 21.3 -> 34.1 tok/s); a Q6_K or Q5_0 tensor forced there crashes, so the
    GGUF header decides which layers go."""
    from chatdev.models import gguf_info, llama_backend

    info = gguf_info.read(small_model_path())
    assert info.repack_layers == (("ffn_down", (2, 4, 5, 11, 12, 14, 15, 17, 18, 20, 22, 23)),)  # its Q4_K ones
    assert llama_backend.repack_patterns(info.repack_layers) == [
        rb"^blk\.(2|4|5|11|12|14|15|17|18|20|22|23)\.ffn_down\.weight$"]
    assert llama_backend.repack_buffer_type(llama_backend.load()) is not None
    model = LlamaModel(small_model_path(), n_ctx=1024, seed=0, name="qwen2.5-coder-0.5b", extra_buffers=False,
                       repack=True)
    try:
        replies = model.chat_many([Message("user", "Write a Python function that adds two numbers.")], 2,
                                  max_tokens=16, temperature=0.2, seed=0)
        assert len(replies) == 2 and all(r.usage.completion_tokens > 0 and r.text.strip() for r in replies)
    finally:
        model.close()


def test_repack_is_for_runs_that_decode_candidates(monkeypatch: pytest.MonkeyPatch) -> None:
    from chatdev.models.llama_backend import repack_default

    monkeypatch.delenv("CHATDEV_LLAMA_REPACK", raising=False)
    assert repack_default(4) and not repack_default(1)
    monkeypatch.setenv("CHATDEV_LLAMA_REPACK", "0")
    assert not repack_default(4)
    monkeypatch.setenv("CHATDEV_LLAMA_REPACK", "1")
    assert repack_default(1)
