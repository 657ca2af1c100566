"""The OpenAI-compatible endpoint backend: against a real llama_cpp.server on 127.0.0.1, and
against fakes at the HTTP boundary for what a real server will not do on demand (503s, garbage)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from chatdev.errors import ModelEnvironmentError, ModelError
from chatdev.models import load_model
from chatdev.models.base import Message
from chatdev.models.openai import EndpointModel, api_base

sys.path.insert(0, str(Path(__file__).parent))
from tinyllava import png, small_model_path

VERDICT = {
    "type": "object",
    "properties": {"approved": {"type": "boolean"}, "severity": {"enum": ["low", "medium", "high"]}},
    "required": ["approved", "severity"],
}

# llama_cpp.server with chatdev's safe llama.cpp defaults applied first (see llama_backend.extra_buffers_default)
SERVER = ("from chatdev.models.llama_backend import patch_process_defaults; patch_process_defaults(); "
          "import runpy, sys; sys.argv[0] = 'llama_cpp.server'; "
          "runpy.run_module('llama_cpp.server', run_name='__main__', alter_sys=True)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    log = tmp_path_factory.mktemp("server") / "server.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-c", SERVER, "--model", str(small_model_path()), "--port", str(port),
             "--host", "127.0.0.1", "--n_ctx", "2048", "--model_alias", "qwen-small"],
            stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                pytest.fail(f"llama_cpp.server exited with {proc.returncode}: {log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{url}/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"llama_cpp.server did not start: {log.read_text()[-2000:]}")
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def endpoint(server: str) -> Iterator[EndpointModel]:
    model = EndpointModel(server, n_ctx=2048)
    yield model
    model.close()


# ----------------------------------------------------------------------------- a real server


@pytest.mark.llm
def test_discovers_the_server(endpoint: EndpointModel) -> None:
    assert endpoint.model_id == "qwen-small"
    assert endpoint.server == "llama-cpp-python"
    assert endpoint.schema_style == "json_object"  # llama-cpp-python ignores the json_schema shape
    assert not endpoint.supports_vision
    assert endpoint.name == f"qwen-small@{endpoint.base.split('//')[1].split('/')[0]}"


@pytest.mark.llm
def test_chat_reports_the_servers_usage(endpoint: EndpointModel) -> None:
    reply = endpoint.chat([Message("system", "You are terse."), Message("user", "Say hello.")],
                          max_tokens=8, temperature=0.0)
    assert reply.text.strip()
    assert reply.usage.prompt_tokens > 5 and 0 < reply.usage.completion_tokens <= 8
    assert reply.timings.prefill_s > 0


@pytest.mark.llm
def test_streaming_through_on_token(endpoint: EndpointModel) -> None:
    pieces: list[str] = []
    reply = endpoint.chat([Message("user", "Count: one, two, three, four.")], max_tokens=12,
                          temperature=0.0, on_token=pieces.append)
    assert len(pieces) > 1 and "".join(pieces) == reply.text
    # the server sends no usage while streaming: counted with its tokenizer instead
    assert reply.usage.prompt_tokens > 5 and reply.usage.completion_tokens > 0


@pytest.mark.llm
def test_schema_is_enforced_by_the_server(endpoint: EndpointModel) -> None:
    reply = endpoint.chat([Message("system", "You review code. Answer in JSON."),
                           Message("user", "Review: `def add(a, b): return a + b`")],
                          schema=VERDICT, max_tokens=40, temperature=0.0)
    assert reply.schema_error is None, reply.text
    assert isinstance(reply.json()["approved"], bool)


@pytest.mark.llm
def test_count_tokens_uses_the_servers_tokenizer(endpoint: EndpointModel) -> None:
    assert endpoint.count_tokens("hello world") == 2
    assert endpoint.count_tokens("hello world") == 2  # cached


@pytest.mark.llm
def test_overflow_and_images(endpoint: EndpointModel) -> None:
    with pytest.raises(ModelError, match="context") as err:
        endpoint.chat([Message("user", "word " * 2500)], max_tokens=8)
    assert err.value.exit_code == 2
    with pytest.raises(ModelError, match="not known to see images"):
        endpoint.chat([Message("user", "look")], images=[png()], max_tokens=4)


@pytest.mark.llm
def test_load_model_picks_the_endpoint(server: str) -> None:
    model = load_model(server, n_ctx=2048)
    assert isinstance(model, EndpointModel) and model.model_id == "qwen-small"
    model.close()


# ----------------------------------------------------------------------------- fakes at the boundary


MODELS = {"object": "list", "data": [{"id": "m", "object": "model", "owned_by": "vllm", "max_model_len": 1024}]}


def completion(text: str, **usage: object) -> dict[str, object]:
    return {"choices": [{"message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 2, **usage}}


def fake(handler: object, **kw: object) -> EndpointModel:
    return EndpointModel("http://fake.test:8000", transport=httpx.MockTransport(handler), backoff=0.0,
                         **kw)  # type: ignore[arg-type]


def test_retries_on_503_then_succeeds() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        if request.url.path.endswith("/models"):
            return httpx.Response(200, json=MODELS)
        if seen.count("/v1/chat/completions") < 3:
            return httpx.Response(503, text="busy", headers={"retry-after": "0"})
        return httpx.Response(200, json=completion("ok", prompt_tokens_details={"cached_tokens": 7}))

    model = fake(handler)
    assert model.server == "vllm" and model.n_ctx == 1024  # the server's context is smaller than asked
    reply = model.chat([Message("user", "hi")], max_tokens=4)
    assert reply.text == "ok" and seen.count("/v1/chat/completions") == 3
    assert reply.usage.cached_prompt_tokens == 7


def test_json_schema_shape_for_vllm_and_json_object_for_llama_server() -> None:
    bodies: list[dict[str, object]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/models"):
            return httpx.Response(200, json=MODELS)
        bodies.append(json.loads(request.content))
        return httpx.Response(200, json=completion('{"approved": true, "severity": "low"}'))

    reply = fake(handler).chat([Message("user", "x")], schema=VERDICT, max_tokens=20)
    assert reply.parsed == {"approved": True, "severity": "low"}
    fmt = bodies[0]["response_format"]
    assert fmt == {"type": "json_schema", "json_schema": {"name": "reply", "schema": VERDICT, "strict": True}}
    forced = fake(handler, schema_style="json_object")
    forced.chat([Message("user", "x")], schema=VERDICT, max_tokens=20)
    assert bodies[-1]["response_format"] == {"type": "json_object", "schema": VERDICT}


def test_llama_server_props_and_streamed_cache_counts() -> None:
    events = [
        {"choices": [{"delta": {"content": "Hel"}, "finish_reason": None}]},
        {"choices": [{"delta": {"content": "lo"}, "finish_reason": "stop"}]},
        {"choices": [], "usage": {"prompt_tokens": 30, "completion_tokens": 2}, "timings": {"cache_n": 25}},
    ]

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/models":
            return httpx.Response(200, json={"data": [{"id": "g", "owned_by": "llamacpp", "meta": {}}]})
        if request.url.path == "/props":
            return httpx.Response(200, json={"default_generation_settings": {"n_ctx": 8192},
                                             "modalities": {"vision": True}})
        body = "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"
        return httpx.Response(200, text=body, headers={"content-type": "text/event-stream"})

    model = fake(handler)
    assert model.server == "llama.cpp" and model.supports_vision and model.schema_style == "json_object"
    pieces: list[str] = []
    reply = model.chat([Message("user", "hi")], images=[png()], max_tokens=4, on_token=pieces.append)
    assert pieces == ["Hel", "lo"] and reply.text == "Hello"
    assert (reply.usage.prompt_tokens, reply.usage.cached_prompt_tokens) == (30, 25)


def test_unreachable_endpoint_is_an_environment_error() -> None:
    with pytest.raises(ModelEnvironmentError, match="unreachable") as err:
        EndpointModel(f"http://127.0.0.1:{free_port()}", retries=1, backoff=0.0)
    assert err.value.exit_code == 3 and "start the server" in err.value.line()


def test_garbage_answers_are_model_errors() -> None:
    def html(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text="<html>It works!</html>")

    with pytest.raises(ModelError, match="not JSON"):
        fake(html)

    def bad_stream(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/models"):
            return httpx.Response(200, json=MODELS)
        return httpx.Response(200, text="<html>oops</html>\n")

    with pytest.raises(ModelError, match="not server-sent events"):
        fake(bad_stream).chat([Message("user", "hi")], on_token=lambda s: None)

    def no_choices(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/models"):
            return httpx.Response(200, json=MODELS)
        return httpx.Response(200, json={"result": "something else"})

    with pytest.raises(ModelError, match="without choices"):
        fake(no_choices).chat([Message("user", "hi")])


def test_auth_and_client_errors_name_the_fix() -> None:
    def denied(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"error": {"message": "invalid api key"}})

    with pytest.raises(ModelError, match="HTTP 401: invalid api key") as err:
        fake(denied)
    assert "CHATDEV_API_KEY" in err.value.line()


def test_api_base() -> None:
    assert api_base("http://h:8080") == "http://h:8080/v1"
    assert api_base("http://h:8080/v1/") == "http://h:8080/v1"
    assert api_base("https://h/proxy/v1/chat/completions") == "https://h/proxy/v1"
    with pytest.raises(ModelError):
        api_base("ftp://h")


def test_a_silent_server_times_out_without_retrying() -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/models"):
            return httpx.Response(200, json=MODELS)
        calls.append(request.url.path)
        raise httpx.ReadTimeout("timed out", request=request)

    model = fake(handler, timeout=5.0)
    with pytest.raises(ModelEnvironmentError, match="did not answer within 5 s"):
        model.chat([Message("user", "hi")])
    with pytest.raises(ModelEnvironmentError, match="went silent"):
        model.chat([Message("user", "hi")], on_token=lambda s: None)
    assert len(calls) == 2


def test_url_fragment_picks_the_model() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"data": [{"id": "a", "owned_by": "ollama"}, {"id": "b", "owned_by": "ollama"}]})

    model = EndpointModel("http://fake.test:11434/v1#b", transport=httpx.MockTransport(handler))
    assert model.model_id == "b" and model.server == "ollama" and model.schema_style == "json_schema"
    assert EndpointModel("http://fake.test:11434", transport=httpx.MockTransport(handler)).model_id == "a"
    with pytest.raises(ModelError, match="does not serve model 'c' \\(it serves: a, b\\)"):
        EndpointModel("http://fake.test:11434/v1#c", transport=httpx.MockTransport(handler))
