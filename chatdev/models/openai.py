"""An OpenAI-compatible chat endpoint: llama-server, vLLM, Ollama, llama_cpp.server.

The same company runs against a server (or a cluster behind one URL) by
changing ``--endpoint`` (``http://host:8000/v1``; ``...#model-name`` picks one
model of a server that serves several). Requests go through httpx with timeouts; 429 and 5xx
answers and dropped connections are retried with exponential backoff (honouring
``Retry-After``) as long as no token has been streamed yet. A server that is
down is a ``ModelEnvironmentError`` (exit 3), one that answers garbage a
``ModelError``.

Structured output uses the ``response_format`` shape the server enforces:
llama.cpp's servers (llama-server, llama_cpp.server) take
``{"type": "json_object", "schema": ...}`` — llama-cpp-python silently ignores
the OpenAI ``json_schema`` shape — while vLLM, Ollama and OpenAI take
``{"type": "json_schema", "json_schema": {...}}``. The kind of server is told
by its ``/v1/models`` answer.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

from chatdev.errors import ModelEnvironmentError, ModelError
from chatdev.events import Notice
from chatdev.models.backends import CANDIDATES, SCHEMA, Backend, LoadRequest
from chatdev.models.base import (
    Accept,
    ImageInput,
    Message,
    Reply,
    Timings,
    Usage,
    candidate_seed,
    candidate_temperature,
    check_reply,
    openai_messages,
)

SchemaStyle = Literal["json_object", "json_schema"]
RETRY_STATUS = {429, 500, 502, 503, 504}
PROBE_TIMEOUT = 5.0  # seconds for the first GET /v1/models: a server that is up answers it at once


def _httpx() -> Any:
    try:
        import httpx
    except ImportError:  # pragma: no cover - a declared dependency
        raise ModelEnvironmentError("httpx is not installed", hint="pip install httpx") from None
    return httpx


def api_base(url: str) -> str:
    """``http://host:8080``, ``.../v1`` or ``.../v1/chat/completions`` → ``http://host:8080/v1``."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ModelError(f"endpoint '{url}' is not an http(s) URL", hint="e.g. --endpoint http://127.0.0.1:8080/v1")
    path = parts.path.rstrip("/")
    path = re.sub(r"/chat/completions$", "", path)
    if not path.endswith("/v1"):
        path = f"{path}/v1"
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


class EndpointBackend(Backend):
    """``http(s)://...``: an OpenAI-compatible server (llama-server, vLLM, Ollama's /v1, ...)."""

    name = "endpoint"
    noun = "an endpoint"
    takes = "http://HOST:PORT/v1[#model] (an OpenAI-compatible server)"
    supports = frozenset({SCHEMA, CANDIDATES})
    ignored_hint = "the server loads its own model"

    @classmethod
    def accepts(cls, ref: str) -> bool:
        return ref.strip().lower().startswith(("http://", "https://"))

    @classmethod
    def load(cls, request: LoadRequest) -> EndpointModel:
        request.sink(Notice(level="info", text=f"asking {request.ref} which models it serves "
                                               f"(waiting up to {PROBE_TIMEOUT:.0f} s)"))
        return EndpointModel(request.ref, n_ctx=request.n_ctx)


class EndpointModel:
    """A ChatModel served over HTTP by an OpenAI-compatible server."""

    def __init__(
        self,
        url: str,
        *,
        model: str | None = None,
        n_ctx: int = 4096,
        api_key: str | None = None,
        timeout: float = 300.0,
        connect_timeout: float = 10.0,
        probe_timeout: float = PROBE_TIMEOUT,
        retries: int = 3,
        backoff: float = 0.5,
        supports_vision: bool | None = None,
        schema_style: SchemaStyle | None = None,
        name: str | None = None,
        transport: Any = None,
    ) -> None:
        httpx = _httpx()
        self.url = url
        self.base = api_base(url)
        fragment = urlsplit(url.strip()).fragment
        model = model or (fragment or None)  # http://host:8000/v1#model-name picks a model
        self.n_ctx = n_ctx
        self.retries = max(0, retries)
        self.backoff = backoff
        key = api_key or os.environ.get("CHATDEV_API_KEY") or os.environ.get("OPENAI_API_KEY")
        headers = {"User-Agent": "chatdev"}
        if key:
            headers["Authorization"] = f"Bearer {key}"
        self._client = httpx.Client(timeout=httpx.Timeout(timeout, connect=connect_timeout), headers=headers,
                                    transport=transport)
        self._lock = threading.Lock()  # the token cache, shared by chat_many's threads
        self._token_cache: OrderedDict[str, int] = OrderedDict()
        self._tokenize_route: str | None | bool = None  # None: not probed; False: none works
        self.server = "unknown"
        self.model_id = model
        self.probe_timeout = probe_timeout
        self._probe(model)
        self.schema_style: SchemaStyle = schema_style or (
            "json_object" if self.server in ("llama-cpp-python", "llama.cpp") else "json_schema")
        self.supports_vision = bool(supports_vision) if supports_vision is not None else self._vision_default
        self.name = name or f"{self.model_id or 'model'}@{urlsplit(self.base).netloc}"

    # -- discovery

    def _probe(self, model: str | None) -> None:
        """GET /v1/models: is it up, which model, what kind of server, how much context."""
        self._vision_default = False
        data = self._json("GET", "/models", attempts=1 + self.retries, timeout=self.probe_timeout)
        models = data.get("data") if isinstance(data, dict) else None
        if not isinstance(models, list):
            raise ModelError(f"endpoint {self.base} answered /models without a model list",
                             hint="is it an OpenAI-compatible server? the URL usually ends in /v1")
        entries = [m for m in models if isinstance(m, dict) and isinstance(m.get("id"), str)]
        if model is None:
            if not entries:
                raise ModelError(f"endpoint {self.base} serves no model", hint="load a model on the server")
            entry = entries[0]
            self.model_id = entry["id"]
        else:
            entry = next((m for m in entries if m["id"] == model), {})
            if entries and not entry:
                served = ", ".join(m["id"] for m in entries[:5])
                raise ModelError(f"endpoint {self.base} does not serve model '{model}' (it serves: {served})",
                                 hint="pick one of those after '#' in the URL")
        owner = str(entry.get("owned_by", "")).lower()
        if owner == "me":
            self.server = "llama-cpp-python"
        elif owner == "llamacpp" or "meta" in entry:
            self.server = "llama.cpp"
        elif owner == "vllm" or "max_model_len" in entry:
            self.server = "vllm"
        elif owner in ("library", "ollama"):
            self.server = "ollama"
        limit = entry.get("max_model_len") or (entry.get("meta") or {}).get("n_ctx_train")
        if self.server == "llama.cpp":
            self._read_llama_server_props()
        if isinstance(limit, int) and 0 < limit < self.n_ctx and self.server == "vllm":
            self.n_ctx = limit

    def _read_llama_server_props(self) -> None:
        try:
            props = self._json("GET", "/props", attempts=1, root=True, timeout=self.probe_timeout)
        except ModelError:
            return
        if isinstance(props, dict):
            n_ctx = (props.get("default_generation_settings") or {}).get("n_ctx")
            if isinstance(n_ctx, int) and 0 < n_ctx < self.n_ctx:
                self.n_ctx = n_ctx
            modalities = props.get("modalities") or {}
            self._vision_default = bool(modalities.get("vision"))

    # -- HTTP with retries

    def _url(self, path: str, *, root: bool = False) -> str:
        base = self.base[: -len("/v1")] if root else self.base
        return f"{base}{path}"

    def _sleep(self, attempt: int, response: Any = None) -> None:
        delay = self.backoff * (2 ** attempt)
        if response is not None:
            after = response.headers.get("retry-after", "")
            if after.replace(".", "", 1).isdigit():
                delay = float(after)
        time.sleep(min(delay, 60.0))

    def _json(self, method: str, path: str, *, body: Any = None, attempts: int | None = None,
              root: bool = False, timeout: float | None = None) -> Any:
        """One JSON request with retries; ``timeout`` (seconds) replaces the client's for a quick probe."""
        httpx = _httpx()
        attempts = attempts or 1 + self.retries
        url = self._url(path, root=root)
        last = ""
        extra = {"timeout": httpx.Timeout(timeout)} if timeout is not None else {}
        for attempt in range(attempts):
            if attempt:
                self._sleep(attempt - 1)
            try:
                resp = self._client.request(method, url, json=body, **extra)
            except (httpx.ReadTimeout, httpx.WriteTimeout):
                if timeout is not None:
                    raise ModelEnvironmentError(
                        f"endpoint {url} accepted the connection but did not answer within {timeout:.0f} s",
                        hint="is the server still loading its model, or not an HTTP server? "
                             "check it answers: curl " + url) from None
                raise ModelEnvironmentError(f"endpoint {url} did not answer within {self._client.timeout.read:.0f} s",
                                            hint="the server is overloaded or the reply too long; "
                                                 "raise the timeout or lower max_tokens") from None
            except httpx.TransportError as exc:
                last = _reason(exc)
                continue
            if resp.status_code in RETRY_STATUS and attempt + 1 < attempts:
                last = f"HTTP {resp.status_code}"
                self._sleep(attempt, resp)
                continue
            if resp.status_code >= 400:
                raise self._http_error(resp)
            try:
                return resp.json()
            except ValueError:
                raise ModelError(f"endpoint {url} answered {_body_summary(resp)}, not JSON",
                                 hint="is it an OpenAI-compatible server? the URL usually ends in /v1") from None
        raise ModelEnvironmentError(f"endpoint {url} is unreachable ({last})",
                                    hint="start the server, or check the URL and the network")

    def _http_error(self, resp: Any) -> ModelError:
        message = _error_message(resp)
        url = str(resp.request.url) if resp.request is not None else self.base
        if resp.status_code in (401, 403):
            return ModelError(f"endpoint {url} refused the request (HTTP {resp.status_code}: {message})",
                              hint="set CHATDEV_API_KEY (or OPENAI_API_KEY) to the server's key")
        if resp.status_code == 404:
            return ModelError(f"endpoint {url}: not found (HTTP 404: {message})",
                              hint="the URL usually ends in /v1; check the model name")
        if "context" in message.lower() or "too long" in message.lower():
            return ModelError(f"{self.model_id}: the prompt does not fit the server's context ({message})",
                              hint="shorten the history, or run the server with a larger context")
        if resp.status_code in RETRY_STATUS:
            return ModelEnvironmentError(f"endpoint {url} kept failing (HTTP {resp.status_code}: {message})",
                                         hint="the server is overloaded or broken; try again later")
        return ModelError(f"endpoint {url} rejected the request (HTTP {resp.status_code}: {message})",
                          hint="the server may not support this request (images, response_format)")

    # -- the surface

    def count_tokens(self, text: str) -> int:
        if not text:
            return 0
        with self._lock:
            cached = self._token_cache.get(text)
            if cached is not None:
                self._token_cache.move_to_end(text)
                return cached
        n = self._server_count(text)
        if n is None:
            n = max(1, (len(text) + 2) // 3)  # conservative: code and prose average 3.5-4 chars a token
        with self._lock:
            self._token_cache[text] = n
            while len(self._token_cache) > 4096:
                self._token_cache.popitem(last=False)
        return n

    def _server_count(self, text: str) -> int | None:
        if self._tokenize_route is False:
            return None
        routes = [self._tokenize_route] if isinstance(self._tokenize_route, str) else \
            ["/extras/tokenize/count", "/tokenize"]
        for route in routes:
            body = {"input": text} if route.startswith("/extras") else \
                {"content": text, "prompt": text, "model": self.model_id, "add_special": False}
            try:
                resp = self._client.post(self._url(route, root=True), json=body, timeout=30.0)
                data = resp.json() if resp.status_code == 200 else None
            except Exception:  # noqa: BLE001 - any failure means: no tokenizer route here
                data = None
            if isinstance(data, dict):
                count = data.get("count")
                if not isinstance(count, int) and isinstance(data.get("tokens"), list):
                    count = len(data["tokens"])
                if isinstance(count, int):
                    self._tokenize_route = route
                    return count
        self._tokenize_route = False
        return None

    def response_format(self, schema: dict[str, Any]) -> dict[str, Any]:
        if self.schema_style == "json_object":
            return {"type": "json_object", "schema": schema}
        return {"type": "json_schema", "json_schema": {"name": "reply", "schema": schema, "strict": True}}

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
        cancel: threading.Event | None = None,
    ) -> Reply:
        """One reply. ``cancel``, when set while the reply streams, ends it where it is
        (``finish_reason="cancelled"``; the connection is closed, so the server stops decoding)."""
        if images and not self.supports_vision:
            raise ModelError(f"{self.name} is not known to see images",
                             hint="serve a vision model (e.g. llama-server --mmproj) and pass supports_vision")
        body: dict[str, Any] = {
            "model": self.model_id, "messages": openai_messages(messages, images),
            "max_tokens": max(1, max_tokens), "temperature": temperature,
        }
        if stop:
            body["stop"] = list(stop)
        if seed is not None:
            body["seed"] = seed
        if schema is not None:
            body["response_format"] = self.response_format(schema)
        started = time.perf_counter()
        if on_token is None and cancel is None:
            data = self._json("POST", "/chat/completions", body=body)
            text, finish, usage_raw, first = self._parse_completion(data), _finish(data), data, None
        else:
            body["stream"] = True
            body["stream_options"] = {"include_usage": True}
            text, finish, usage_raw, first = self._stream(body, on_token or _ignore, cancel)
        ended = time.perf_counter()
        usage = self._usage(usage_raw, messages, text)
        first = first or ended
        reason = finish if finish in ("length", "cancelled") else "stop"
        reply = Reply(text=text, usage=usage, timings=Timings(prefill_s=first - started, decode_s=ended - first),
                      finish_reason=reason)
        if schema is not None:
            parsed, error = check_reply(text, schema)
            if error and reply.finish_reason == "length":
                error = f"the reply was cut at max_tokens={max_tokens} ({error})"
            reply = Reply(text=text, usage=usage, timings=reply.timings, finish_reason=reply.finish_reason,
                          parsed=parsed, schema_error=error)
        return reply

    def chat_many(
        self,
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
        """``n`` candidate replies as ``n`` concurrent requests (a server with parallel slots, such as
        ``llama-server --parallel N`` or vLLM, decodes them together; others queue them).

        Candidate ``i`` is sent with ``candidate_seed(seed, i)`` (candidate 0 with ``seed``) and
        ``candidate_temperature(temperature, i)``. ``on_token(i, piece)`` is called from the request
        threads, one call at a time. ``accept(i, reply)`` (``base.chat_many``'s contract) is called
        with each candidate that ends while another is still open, one call at a time; when it
        returns True the open requests are closed where they are (``finish_reason="cancelled"``;
        llama-server frees the slot when its client goes). The first candidate's error, if any, is
        raised once all have ended.
        """
        if n < 1:
            raise ValueError(f"n must be at least 1, got {n}")
        from concurrent.futures import ThreadPoolExecutor

        streaming = threading.Lock()

        def stream(i: int) -> Callable[[str], None] | None:
            if on_token is None:
                return None
            callback = on_token

            def piece(text: str) -> None:
                with streaming:
                    callback(i, text)

            return piece

        cancel = threading.Event() if accept is not None else None
        judging = threading.Lock()  # one accept at a time: each writes its candidate on trial
        still_open = [n]

        def one(i: int) -> Reply:
            try:
                reply = self.chat(messages, schema=schema, max_tokens=max_tokens, stop=stop,
                                  temperature=candidate_temperature(temperature, i),
                                  seed=candidate_seed(seed, i) if i else seed, on_token=stream(i), cancel=cancel)
            except BaseException:
                with judging:
                    still_open[0] -= 1
                raise
            if accept is None or cancel is None:
                return reply
            with judging:
                still_open[0] -= 1
                if reply.finish_reason != "cancelled" and not cancel.is_set() and still_open[0] > 0 \
                        and accept(i, reply):
                    cancel.set()
            return reply

        with ThreadPoolExecutor(max_workers=n, thread_name_prefix="chatdev-candidate") as pool:
            futures = [pool.submit(one, i) for i in range(n)]
        return [f.result() for f in futures]

    def _parse_completion(self, data: Any) -> str:
        try:
            content = data["choices"][0]["message"].get("content")
        except (KeyError, IndexError, TypeError, AttributeError):
            raise ModelError(f"endpoint {self.base} answered without choices[0].message: {_snippet(json.dumps(data))}",
                             hint="is it an OpenAI-compatible chat server?") from None
        return content if isinstance(content, str) else ""

    def _stream(self, body: dict[str, Any], on_token: Callable[[str], None],
                cancel: threading.Event | None = None) -> tuple[str, str, Any, float | None]:
        httpx = _httpx()
        url = self._url("/chat/completions")
        last = ""
        for attempt in range(1 + self.retries):
            if attempt:
                self._sleep(attempt - 1)
            if cancel is not None and cancel.is_set():
                return "", "cancelled", {}, None
            pieces: list[str] = []
            finish = ""
            usage: dict[str, Any] = {}
            first: float | None = None
            try:
                with self._client.stream("POST", url, json=body) as resp:
                    if resp.status_code in RETRY_STATUS and attempt < self.retries:
                        last = f"HTTP {resp.status_code}"
                        resp.read()
                        self._sleep(attempt, resp)
                        continue
                    if resp.status_code >= 400:
                        resp.read()
                        raise self._http_error(resp)
                    for event in _sse(resp.iter_lines(), url):
                        if cancel is not None and cancel.is_set():  # leaving closes the connection
                            return "".join(pieces), "cancelled", usage, first
                        if "usage" in event and isinstance(event["usage"], dict):
                            usage = {"usage": event["usage"], "timings": event.get("timings")}
                        elif "timings" in event:
                            usage["timings"] = event["timings"]
                        choices = event.get("choices") or []
                        if not choices:
                            continue
                        choice = choices[0]
                        piece = (choice.get("delta") or {}).get("content")
                        if piece:
                            if first is None:
                                first = time.perf_counter()
                            pieces.append(piece)
                            on_token(piece)
                        finish = choice.get("finish_reason") or finish
                return "".join(pieces), finish, usage, first
            except httpx.TransportError as exc:
                if isinstance(exc, (httpx.ReadTimeout, httpx.WriteTimeout)):
                    raise ModelEnvironmentError(
                        f"endpoint {url} went silent for {self._client.timeout.read:.0f} s",
                        hint="the server is overloaded; raise the timeout or lower max_tokens") from None
                if pieces:  # text already shown: a retry would repeat it
                    raise ModelEnvironmentError(f"endpoint {url} dropped the connection mid-reply ({_reason(exc)})",
                                                hint="check the server; the phase can be resumed") from None
                last = _reason(exc)
                continue
        raise ModelEnvironmentError(f"endpoint {url} is unreachable ({last})",
                                    hint="start the server, or check the URL and the network")

    def _usage(self, raw: Any, messages: Sequence[Message], text: str) -> Usage:
        usage = raw.get("usage") if isinstance(raw, dict) else None
        timings = raw.get("timings") if isinstance(raw, dict) else None
        if not isinstance(usage, dict):  # the server does not report usage while streaming: count
            prompt = sum(self.count_tokens(m.content) + 4 for m in messages)
            return Usage(prompt_tokens=prompt, completion_tokens=self.count_tokens(text))
        cached = 0
        details = usage.get("prompt_tokens_details")
        if isinstance(details, dict) and isinstance(details.get("cached_tokens"), int):
            cached = details["cached_tokens"]
        elif isinstance(timings, dict) and isinstance(timings.get("cache_n"), int):
            cached = timings["cache_n"]
        return Usage(prompt_tokens=int(usage.get("prompt_tokens") or 0),
                     completion_tokens=int(usage.get("completion_tokens") or 0),
                     cached_prompt_tokens=cached)

    def close(self) -> None:
        self._client.close()

    def __repr__(self) -> str:
        return f"EndpointModel({self.base!r}, model={self.model_id!r}, server={self.server})"


def _ignore(piece: str) -> None:
    """A reply streamed only so that it can be cancelled: its pieces go nowhere."""


def _sse(lines: Iterator[str], url: str) -> Iterator[dict[str, Any]]:
    """Server-sent events of an OpenAI stream: one JSON object per ``data:`` line until ``[DONE]``."""
    for line in lines:
        line = line.strip()
        if not line or line.startswith((":", "event:")):
            continue
        if not line.startswith("data:"):
            raise ModelError(f"endpoint {url} streamed something that is not server-sent events: {_snippet(line)}",
                             hint="is it an OpenAI-compatible server?")
        payload = line[5:].strip()
        if payload == "[DONE]":
            return
        try:
            event = json.loads(payload)
        except ValueError:
            raise ModelError(f"endpoint {url} streamed an event that is not JSON: {_snippet(payload)}",
                             hint="is it an OpenAI-compatible server?") from None
        if isinstance(event, dict) and "error" in event:
            raise ModelError(f"endpoint {url} failed mid-reply: {_snippet(json.dumps(event['error']))}",
                             hint="see the server's log")
        if isinstance(event, dict):
            yield event


def _finish(data: Any) -> str:
    try:
        return str(data["choices"][0].get("finish_reason") or "stop")
    except (KeyError, IndexError, TypeError, AttributeError):
        return "stop"


def _error_message(resp: Any) -> str:
    try:
        data = resp.json()
    except ValueError:
        return _snippet(resp.text)
    if isinstance(data, dict):
        err = data.get("error", data.get("detail", data))
        if isinstance(err, dict):
            return _snippet(str(err.get("message") or err))
        return _snippet(str(err))
    return _snippet(str(data))


def _body_summary(resp: Any) -> str:
    """What a non-JSON answer was, in a few words: an HTML page and its title, an empty body, a snippet."""
    text = resp.text or ""
    ctype = str(resp.headers.get("content-type", "")).split(";")[0].strip()
    if not text.strip():
        return f"HTTP {resp.status_code} with an empty body" + (f" ({ctype})" if ctype else "")
    if "html" in ctype or text.lstrip()[:9].lower().startswith(("<!doctype", "<html")):
        title = re.search(r"<title[^>]*>(.*?)</title>", text, re.IGNORECASE | re.DOTALL)
        name = _snippet(title.group(1), 80) if title else ""
        return f"an HTML page ({name!r})" if name else "an HTML page"
    return repr(_snippet(text))


def _snippet(text: str, n: int = 160) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[: n - 1] + "…"


def _reason(exc: Exception) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:160]
