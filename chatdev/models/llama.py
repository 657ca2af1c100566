"""In-process llama.cpp (llama-cpp-python): the local model the company thinks on.

It imports ``llama_cpp`` only through ``llama_backend.load()``. One ``LlamaModel`` wraps one
``Llama``: an explicit ``n_ctx`` (never the library's 512), GPU offload when the
build has it, the GGUF's chat template (or a named format such as LLaVA-1.5's),
LLaVA vision through the mtmd handler, schema-constrained JSON through the
llama.cpp grammar, and prompt-prefix reuse across roles:

* within one conversation llama-cpp-python keeps the last prompt's tokens in
  the KV cache and evaluates only the new suffix;
* across roles (CEO, CTO, programmer ... take turns on one model) a small LRU
  of saved context states (``state_cache.py``: tokens plus ``llama_state_get_data``)
  is consulted before each call, so a role's system prompt and history are not
  re-evaluated after another role spoke. (llama-cpp-python's own
  ``LlamaRAMCache`` would copy a ``n_batch x n_vocab`` logits matrix with every
  state, 300 MB for Qwen; this cache stores the context state only.)

``Usage.cached_prompt_tokens`` is measured, not estimated: the number of prompt
tokens already in the KV cache when the prompt evaluation starts.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import json
import logging
import re
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chatdev.errors import ModelEnvironmentError, ModelError
from chatdev.models import gguf_info, llama_backend
from chatdev.models.backends import CANDIDATES, GPU_LAYERS, LOCAL, MMPROJ, SCHEMA, Backend, LoadRequest
from chatdev.models.base import (
    Accept,
    ImageInput,
    Message,
    Reply,
    Timings,
    Usage,
    candidate_seed,
    candidate_temperature,
    chat_each,
    check_reply,
    image_bytes,
    image_label,
    openai_messages,
    repeating,
)
from chatdev.models.lookup import PromptLookup
from chatdev.models.state_cache import StateCache, common_prefix

log = logging.getLogger("chatdev.llama")

DEFAULT_BATCH = 512
DEFAULT_CACHE_BYTES = 2 << 30  # saved context states kept for prefix reuse across roles
MIN_RESTORE_GAIN = 16  # restore a saved state only when it saves at least this many tokens


_live: weakref.WeakSet[LlamaModel] = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    """Close models before interpreter teardown (llama-cpp-python's finalisers print when it is late)."""
    for model in list(_live):
        with contextlib.suppress(Exception):
            model.close()


# ----------------------------------------------------------------------------- one call's measurements


@dataclass
class _CallStats:
    vision: bool = False
    prompt_tokens: int = 0
    cached: int | None = None
    generated: int = 0
    drafted: int = 0  # generated tokens that a lookup draft had proposed, evaluated before they were sampled
    last_token: int | None = None
    first_token_at: float | None = None
    last_token_at: float | None = None
    restored: int = 0


class _CountingMtmd:
    """Stands in for ``llama_cpp.mtmd_cpp`` inside the LLaVA handler and counts image tokens."""

    def __init__(self, module: Any) -> None:
        self._module = module
        self.image_tokens = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._module, name)

    def mtmd_input_chunk_get_n_tokens(self, chunk: Any) -> int:
        n = int(self._module.mtmd_input_chunk_get_n_tokens(chunk))
        self.image_tokens += n  # the handler asks only for image (and audio) chunks
        return n


# ----------------------------------------------------------------------------- LLaVA-1.5's prompt

# LLaVA-1.5's conversation format ("llava_v1"): "SYSTEM USER: <image>\nQUESTION ASSISTANT: ANSWER</s>USER: ...".
# llama-cpp-python's own template loses its newlines to trim_blocks and repeats "USER:" for
# plain-string content; this one is used for both image and text-only calls.
LLAVA15_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message.role == 'system' %}{{ message.content }}{% endif %}"
    "{% if message.role == 'user' %}{{ ' USER: ' }}"
    "{% if message.content is string %}{{ message.content }}{% else %}"
    "{% for part in message.content %}{% if part.type == 'image_url' %}"
    "{{ part.image_url.url if part.image_url is mapping else part.image_url }}{{ '\\n' }}"
    "{% endif %}{% endfor %}"
    "{% for part in message.content %}{% if part.type == 'text' %}{{ part.text }}{% endif %}{% endfor %}"
    "{% endif %}{% endif %}"
    "{% if message.role == 'assistant' and message.content is not none %}"
    "{{ ' ASSISTANT: ' }}{{ message.content }}{{ '</s>' }}{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ ' ASSISTANT:' }}{% endif %}"
)
LLAVA15_SYSTEM = ("A chat between a curious human and an artificial intelligence assistant. "
                  "The assistant gives helpful, detailed, and polite answers to the human's questions.")

# the same sampling on every path (llama-cpp-python's defaults differ between its entry points)
SAMPLING: dict[str, Any] = {"top_p": 0.95, "top_k": 40, "min_p": 0.05, "repeat_penalty": 1.0}


# ----------------------------------------------------------------------------- the model


class GGUFBackend(Backend):
    """A GGUF run here by llama.cpp: a registry name, a path, ``hf://`` or ``ollama://``."""

    name = "gguf"
    noun = "a GGUF model"
    takes = "NAME (chatdev models list), FILE.gguf, hf://OWNER/REPO/FILE.gguf, ollama://NAME[:TAG]"
    supports = frozenset({MMPROJ, GPU_LAYERS, SCHEMA, CANDIDATES, LOCAL})

    @classmethod
    def accepts(cls, ref: str) -> bool:
        return bool(ref.strip())  # the last resort: the registry says what it cannot find

    @classmethod
    def load(cls, request: LoadRequest) -> LlamaModel:
        from chatdev.models import resolve_ref

        files = resolve_ref(request.ref, mmproj=request.mmproj, sink=request.sink)
        return LlamaModel(files.model, mmproj=files.mmproj, n_ctx=request.n_ctx, gpu_layers=request.gpu_layers,
                          chat_format=files.chat_format, seed=request.seed, name=files.name,
                          repack=llama_backend.repack_default(request.parallel))


class LlamaModel:
    """A GGUF model run in this process by llama.cpp."""

    def __init__(
        self,
        path: str | Path,
        *,
        n_ctx: int,
        mmproj: str | Path | None = None,
        gpu_layers: int | None = None,
        chat_format: str | None = None,
        seed: int | None = None,
        name: str | None = None,
        n_batch: int = DEFAULT_BATCH,
        n_threads: int | None = None,
        prefix_cache_bytes: int = DEFAULT_CACHE_BYTES,
        flash_attn: bool = False,
        extra_buffers: bool | None = None,
        repack: bool | None = None,
        lookup: bool | None = None,
    ) -> None:
        if n_ctx < 64:
            raise ModelError(f"n_ctx {n_ctx} is too small", hint="use a context of at least 2048 tokens")
        self.path = Path(path).expanduser()
        self.info = gguf_info.read(self.path)  # missing / not GGUF / truncated → ModelError
        if self.info.is_vision_projector:
            raise ModelError(f"{self.path}: is a vision projector (mmproj), not a language model",
                             hint="pass it with --mmproj next to the model's --model")
        self.name = name or self.path.stem
        self.n_ctx = n_ctx
        self.seed = seed
        self.mmproj = Path(mmproj).expanduser() if mmproj is not None else None
        self.supports_vision = self.mmproj is not None
        self._lock = threading.RLock()
        self._stats: _CallStats | None = None
        self._cache = StateCache(prefix_cache_bytes) if prefix_cache_bytes > 0 else None
        self._grammar_ok: dict[str, str | None] = {}
        self._parallel: Any = None  # llama_parallel.ParallelContext, made by the first chat_many
        if lookup is None:
            lookup = llama_backend.lookup_default()
        self._lookup = PromptLookup() if lookup else None
        self._closed = False

        llama_cpp = llama_backend.load()
        # OFFLOAD-PLAN: layers from the GGUF header and the free VRAM (explicit gpu_layers kept); a
        # placement that cannot fit raises ModelEnvironmentError (needed vs free) before loading.
        from chatdev.models.offload import plan_for_load

        self.offload = plan_for_load(
            self.info, n_ctx=n_ctx, gpu_layers=gpu_layers, gpu_offload=bool(llama_cpp.llama_supports_gpu_offload()),
            mmproj_bytes=self.mmproj.stat().st_size if self.mmproj is not None and self.mmproj.is_file() else 0)
        gpu_layers = self.offload.gpu_layers
        self.gpu_layers = gpu_layers

        handler, chat_format = self._vision_handler(llama_cpp, chat_format)
        self.chat_format = chat_format
        threads = n_threads or llama_backend.default_threads()
        kwargs: dict[str, Any] = {
            "model_path": str(self.path), "n_ctx": n_ctx, "n_batch": min(n_batch, n_ctx),
            "n_gpu_layers": gpu_layers, "n_threads": threads, "n_threads_batch": threads, "verbose": False,
            "flash_attn": flash_attn, "seed": seed if seed is not None else llama_cpp.LLAMA_DEFAULT_SEED,
        }
        if handler is not None:
            kwargs["chat_handler"] = handler
        elif chat_format is not None:
            kwargs["chat_format"] = chat_format
        llama_backend.recent_errors.clear()
        extra = llama_backend.extra_buffers_default() if extra_buffers is None else extra_buffers
        if repack is None:
            repack = llama_backend.repack_default(1)
        layers = self.info.repack_layers if repack and not extra and not gpu_layers else ()
        try:
            with llama_backend.model_params(llama_cpp, extra_buffers=extra, repack=layers):
                self._llm = llama_cpp.Llama(**kwargs)
        except (ValueError, RuntimeError, OSError) as exc:
            raise self._load_error(exc) from None
        self._handler = handler
        self._text_handler = self._text_path(handler) if handler is not None else None
        self._llm.eval = self._eval_hook  # type: ignore[method-assign]
        self._llm.generate = self._generate_hook  # type: ignore[method-assign]
        _live.add(self)
        if handler is not None:
            self._init_vision(handler)

    # -- loading

    def _vision_handler(self, llama_cpp: Any, chat_format: str | None) -> tuple[Any, str | None]:
        if self.mmproj is None:
            if chat_format in ("llava-1-5", "llava-1-6"):
                return None, "vicuna"  # the LLaVA LLM without its eyes speaks Vicuna's format
            return None, chat_format
        proj = gguf_info.read(self.mmproj)
        if not proj.is_vision_projector:
            raise ModelError(f"{self.mmproj}: not a vision projector (architecture {proj.architecture})",
                             hint="--mmproj takes the mmproj/CLIP GGUF that belongs to the model")
        if proj.projection_dim and self.info.n_embd and proj.projection_dim != self.info.n_embd:
            raise ModelError(
                f"{self.mmproj}: projects images to {proj.projection_dim}-wide embeddings but {self.path.name} "
                f"takes {self.info.n_embd}: they do not belong together",
                hint="use the mmproj file published with this model")
        from llama_cpp import llama_chat_format as formats

        class Llava15(formats.Llava15ChatHandler):  # type: ignore[misc, name-defined]
            CHAT_FORMAT = LLAVA15_TEMPLATE
            DEFAULT_SYSTEM_MESSAGE = LLAVA15_SYSTEM

        if chat_format is None:
            chat_format = "mtmd" if self.info.has_chat_template else "llava-1-5"
        classes = {"llava-1-5": Llava15, "llava-1-6": formats.Llava16ChatHandler,
                   "mtmd": formats.MTMDChatHandler}
        cls = classes.get(chat_format)
        if cls is None:
            raise ModelError(f"chat format '{chat_format}' cannot take images",
                             hint=f"use one of {', '.join(classes)}")
        handler = cls(clip_model_path=str(self.mmproj), verbose=False)
        self._mtmd = _CountingMtmd(handler._mtmd_cpp)
        handler._mtmd_cpp = self._mtmd
        return handler, chat_format

    def _text_path(self, handler: Any) -> Any:
        """Text-only calls on a vision model bypass the image handler, which clears the KV cache
        on every call: the same prompt format through a plain chat formatter keeps prefix reuse."""
        from llama_cpp import llama_chat_format as formats

        llm = self._llm
        template = getattr(handler, "CHAT_FORMAT", None) if self.chat_format != "mtmd" else None
        if template is None:
            template = self.info.chat_template
        if template is None:
            return None
        eos = llm.detokenize([llm.token_eos()]).decode("utf-8", errors="ignore")
        bos = llm.detokenize([llm.token_bos()]).decode("utf-8", errors="ignore")
        formatter = formats.Jinja2ChatFormatter(template=template, eos_token=eos, bos_token=bos,
                                                stop_token_ids=[llm.token_eos()])
        return formats.chat_formatter_to_chat_completion_handler(formatter)

    def _init_vision(self, handler: Any) -> None:
        """Load the projector now (the handler would wait for the first image) so a mismatch fails here."""
        llama_backend.recent_errors.clear()
        try:
            handler._init_mtmd_context(self._llm)
        except (ValueError, RuntimeError) as exc:
            why = llama_backend.last_error() or str(exc)
            self.close()
            raise ModelError(f"{self.mmproj}: the vision projector does not load with {self.path.name}: {why}",
                             hint="use the mmproj file published with this model") from None

    def _load_error(self, exc: Exception) -> ModelError:
        why = llama_backend.last_error() or str(exc)
        if "context" in str(exc).lower():
            return ModelEnvironmentError(
                f"{self.path.name}: cannot create a {self.n_ctx}-token context ({why})",
                hint="lower --n-ctx or --gpu-layers; `chatdev doctor` shows what fits")
        return ModelError(f"{self.path}: llama.cpp cannot load it ({why})",
                          hint="is it a complete GGUF for a supported architecture? try fewer --gpu-layers")

    # -- hooks into Llama (measurement and cross-role prefix reuse)

    def _eval_hook(self, tokens: Sequence[int]) -> None:
        stats = self._stats
        if stats is not None and stats.cached is None and not stats.vision and stats.prompt_tokens:
            stats.cached = self._llm.n_tokens  # tokens already in the KV cache when the prompt is evaluated
        if stats is not None and stats.first_token_at is not None and len(tokens) > 1:
            self._eval_draft(tokens)
            return
        type(self._llm).eval(self._llm, tokens)

    def _eval_draft(self, tokens: Sequence[int]) -> None:
        """The token just sampled and a draft (``lookup.PromptLookup``) in one batch, with logits at every
        position: ``Llama.generate`` samples at each in turn and drops the draft where it disagrees.
        (``Llama(draft_model=...)`` would keep every prompt token's logits too, a window of vocab-wide rows.)"""
        llm = self._llm
        n_past = llm.n_tokens
        llm._ctx.kv_cache_seq_rm(-1, n_past, -1)
        llm._batch.set_batch(batch=tokens, n_past=n_past, logits_all=True)
        llm._ctx.decode(llm._batch)
        llm.input_ids[n_past:n_past + len(tokens)] = tokens
        llm.n_tokens = n_past + len(tokens)
        llm._requires_eval = False

    def _generate_hook(self, tokens: Sequence[int], **kwargs: Any) -> Iterator[int]:
        llm = self._llm
        stats = self._stats
        if stats is not None:
            stats.prompt_tokens = len(tokens)
            if not stats.vision:
                self._maybe_restore(tokens, stats)
        gen = type(llm).generate(llm, tokens, **kwargs)
        for token in gen:
            if stats is not None:
                at = stats.prompt_tokens + stats.generated  # this token's position
                if not stats.vision and at < llm.n_tokens and int(llm.input_ids[at]) == token:
                    stats.drafted += 1  # the draft held it before it was sampled
                now = time.perf_counter()
                if stats.first_token_at is None:
                    stats.first_token_at = now
                    if stats.cached is None:
                        stats.cached = len(tokens) if not stats.vision else 0
                stats.last_token_at = now
                stats.generated += 1
                stats.last_token = token
            yield token

    def _maybe_restore(self, tokens: Sequence[int], stats: _CallStats) -> None:
        if self._cache is None or not self._cache.slots:
            return
        llm = self._llm
        live = common_prefix(llm._input_ids.tolist(), tokens) if llm.n_tokens else 0
        slot, n = self._cache.best(tokens)
        if slot is None or n < live + MIN_RESTORE_GAIN:
            return
        llama_cpp = llama_backend.load()
        buf = (ctypes.c_uint8 * len(slot.state)).from_buffer_copy(slot.state)
        if llama_cpp.llama_state_set_data(llm._ctx.ctx, buf, len(slot.state)) != len(slot.state):
            llm.reset()  # a state that does not fit: start clean rather than half-restored
            return
        n_saved = len(slot.tokens)
        llm.input_ids[:n_saved] = slot.tokens
        llm.n_tokens = n_saved
        llm._requires_eval = True
        stats.restored = n

    def _save_state(self) -> None:
        if self._cache is None:
            return
        llm = self._llm
        n = llm.n_tokens
        if n <= 0:
            return
        llama_cpp = llama_backend.load()
        size = llama_cpp.llama_state_get_size(llm._ctx.ctx)
        if size > self._cache.capacity:
            return
        buf = (ctypes.c_uint8 * size)()
        written = llama_cpp.llama_state_get_data(llm._ctx.ctx, buf, size)
        self._cache.put(tuple(int(t) for t in llm.input_ids[:n]), bytes(memoryview(buf)[:written]))

    # -- the surface

    def count_tokens(self, text: str) -> int:
        if self._closed:
            raise ModelError(f"{self.name}: the model was closed", hint="load it again")
        if not text:
            return 0
        return len(self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))

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
        if self._closed:
            raise ModelError(f"{self.name}: the model was closed", hint="load it again")
        if images and not self.supports_vision:
            raise ModelError(f"{self.name} cannot see images: it has no vision projector",
                             hint="use llava-1.5-7b, or pass the model's --mmproj file")
        payload = openai_messages(messages, images)  # images: read and checked here
        max_tokens = max(1, max_tokens)  # llama-cpp-python reads 0 or less as "until the context is full"
        response_format = None
        if schema is not None:
            self._check_schema(schema)
            response_format = {"type": "json_object", "schema": schema}
        with self._lock:
            if images:
                self._check_decodable(images)
            stats = _CallStats(vision=bool(images))
            if images:
                self._mtmd.image_tokens = 0
            self._stats = stats
            drafter = self._lookup if not images else None  # image positions hold no token ids to look up
            if drafter is not None:
                drafter.reset()
            self._llm.draft_model = drafter
            pieces: list[str] = []
            finish = "stop"
            started = time.perf_counter()
            try:
                call = dict(messages=payload, max_tokens=max_tokens, stop=list(stop) or None,
                            temperature=temperature, seed=seed if seed is not None else self.seed,
                            response_format=response_format, stream=True, **SAMPLING)
                if images or self._text_handler is None:
                    stream = self._llm.create_chat_completion(**call)
                else:
                    if getattr(self._handler, "DEFAULT_SYSTEM_MESSAGE", None) and \
                            not any(m["role"] == "system" for m in payload):
                        payload.insert(0, {"role": "system", "content": self._handler.DEFAULT_SYSTEM_MESSAGE})
                    stream = self._text_handler(llama=self._llm, **call)
                for chunk in stream:
                    choice = chunk["choices"][0]
                    piece = choice.get("delta", {}).get("content")
                    if piece:
                        pieces.append(piece)
                        if on_token is not None:
                            on_token(piece)
                        if "\n" in piece and repeating("".join(pieces)):
                            finish = "length"  # what the limit would have cut, minutes sooner
                            getattr(stream, "close", lambda: None)()  # llama.cpp stops decoding now
                            break
                    if choice.get("finish_reason"):
                        finish = choice["finish_reason"]
            except (ValueError, RuntimeError) as exc:  # llama-cpp-python's overflow / decode failures
                raise self._call_error(exc, max_tokens) from None
            finally:
                self._stats = None
            ended = stats.last_token_at or time.perf_counter()
            if images:
                self._llm.reset()  # image positions hold no real token ids: never prefix-match them
            else:
                self._save_state()
        text = "".join(pieces)
        completion = stats.generated
        if completion and stats.last_token is not None and self._is_eog(stats.last_token):
            completion -= 1
        first = stats.first_token_at or ended
        usage = Usage(
            prompt_tokens=stats.prompt_tokens,
            completion_tokens=completion,
            cached_prompt_tokens=0 if stats.vision else min(stats.cached or 0, stats.prompt_tokens),
            image_tokens=self._mtmd.image_tokens if images else 0,
            drafted_tokens=min(stats.drafted, completion),
        )
        reply = Reply(text=text, usage=usage, timings=Timings(prefill_s=first - started, decode_s=ended - first),
                      finish_reason="length" if finish == "length" else "stop")
        if schema is not None:
            parsed, error = check_reply(text, schema)
            if error and finish == "length":
                error = f"the reply was cut at max_tokens={max_tokens} ({error})"
            reply = Reply(text=reply.text, usage=reply.usage, timings=reply.timings,
                          finish_reason=reply.finish_reason, parsed=parsed, schema_error=error)
        return reply

    # -- several candidates at once (llama_parallel.py)

    def max_candidates(self, prompt_tokens: int, max_tokens: int) -> int:
        """The most candidates ``chat_many`` decodes together after a prompt of ``prompt_tokens``, each
        up to ``max_tokens`` long: 0 when the prompt does not fit ``n_ctx``, else at least 1."""
        from chatdev.models import llama_parallel

        return llama_parallel.max_sequences(self, prompt_tokens, max_tokens)

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
        images: Sequence[ImageInput] = (),
        accept: Accept | None = None,
    ) -> list[Reply]:
        """``n`` candidate replies to one prompt, decoded as parallel sequences of one llama.cpp context.

        The prompt is the one ``chat()`` builds and is evaluated once; candidate ``i`` samples with
        ``candidate_seed(seed or self.seed, i)`` and ``candidate_temperature(temperature, i)``, and
        ``on_token(i, piece)`` streams it; ``accept`` (``models.base.chat_many``) may stop the
        candidates still running when one ends. More candidates than ``max_candidates`` allows: ModelError
        before anything is decoded. With images, one candidate, a recurrent model or a chat handler
        that is not a plain prompt formatter, the candidates are ``chat()`` calls one after another.
        """
        if self._closed:
            raise ModelError(f"{self.name}: the model was closed", hint="load it again")
        if n < 1:
            raise ValueError(f"n must be at least 1, got {n}")
        base = seed if seed is not None else self.seed
        seeds = [seed if seed is not None else candidate_seed(base, 0)] + [candidate_seed(base, i) for i in range(1, n)]
        temperatures = [candidate_temperature(temperature, i) for i in range(n)]
        llm = self._llm
        if images or n == 1 or llm._is_recurrent or llm._is_hybrid:
            return chat_each(self, messages, [seed, *seeds[1:]], temperatures, images=images, schema=schema,
                             max_tokens=max_tokens, stop=stop, on_token=on_token, accept=accept)
        payload = openai_messages(messages)
        max_tokens = max(1, max_tokens)
        grammar = None
        if schema is not None:
            self._check_schema(schema)
            from llama_cpp.llama_grammar import json_schema_to_gbnf

            grammar = json_schema_to_gbnf(json.dumps(schema))
        with self._lock:
            prompt = self._chat_prompt(payload)
            if prompt is None:
                return chat_each(self, messages, [seed, *seeds[1:]], temperatures, images=images, schema=schema,
                                 max_tokens=max_tokens, stop=stop, on_token=on_token, accept=accept)
            tokens, extra_stops, stop_ids = prompt
            from chatdev.models import llama_parallel

            try:
                return llama_parallel.decode(self, tokens, n, grammar=grammar, schema=schema, max_tokens=max_tokens,
                                             stop=[*stop, *extra_stops], stop_ids=stop_ids,
                                             temperatures=temperatures, seeds=seeds, sampling=SAMPLING,
                                             on_token=on_token, accept=accept)
            except (ValueError, RuntimeError) as exc:
                raise self._call_error(exc, max_tokens) from None

    def _chat_prompt(self, payload: list[dict[str, Any]]) -> tuple[list[int], list[str], set[int]] | None:
        """The prompt tokens, extra stop strings and stop token ids ``chat()`` uses for a text-only
        ``payload``: the same handler, its prompt formatter and its tokenisation. None when the
        handler is not a plain formatter (a vision handler without a text template)."""
        import inspect

        from llama_cpp import llama_chat_format as formats

        llm = self._llm
        if self._text_handler is not None:
            handler = self._text_handler
            if getattr(self._handler, "DEFAULT_SYSTEM_MESSAGE", None) and \
                    not any(m["role"] == "system" for m in payload):
                payload = [{"role": "system", "content": self._handler.DEFAULT_SYSTEM_MESSAGE}, *payload]
        elif self._handler is not None:
            return None
        else:
            handler = llm.chat_handler or llm._chat_handlers.get(llm.chat_format) or \
                formats.get_chat_completion_handler(llm.chat_format)
        formatter = inspect.getclosurevars(handler).nonlocals.get("chat_formatter") \
            if inspect.isfunction(handler) else None
        if formatter is None:
            return None
        result = formatter(messages=payload)
        tokens = llm.tokenize(result.prompt.encode("utf-8"), add_bos=not result.added_special, special=True)
        stops = [result.stop] if isinstance(result.stop, str) else list(result.stop or [])
        return list(tokens), stops, set(getattr(formatter, "stop_token_ids", None) or ())

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        llm = getattr(self, "_llm", None)
        if llm is not None:
            with self._lock:
                if self._parallel is not None:  # before the weights it runs on
                    self._parallel.close()
                    self._parallel = None
                llm.close()
        if self._cache is not None:
            self._cache.slots.clear()

    def __enter__(self) -> LlamaModel:  # noqa: PYI034
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"LlamaModel({self.name!r}, n_ctx={self.n_ctx}, gpu_layers={self.gpu_layers}, vision={self.supports_vision})"

    # -- helpers

    def _is_eog(self, token: int) -> bool:
        llama_cpp = llama_backend.load()
        return bool(llama_cpp.llama_vocab_is_eog(self._llm._model.vocab, token))

    def _check_schema(self, schema: dict[str, Any]) -> None:
        """The grammar converter must take the schema: llama-cpp-python would silently fall back to any JSON."""
        key = json.dumps(schema, sort_keys=True)
        if key not in self._grammar_ok:
            from llama_cpp.llama_grammar import json_schema_to_gbnf

            try:
                json_schema_to_gbnf(json.dumps(schema))
                self._grammar_ok[key] = None
            except Exception as exc:  # noqa: BLE001 - the converter raises AssertionError, KeyError, ...
                self._grammar_ok[key] = (str(exc).splitlines() or [type(exc).__name__])[0][:200]
        error = self._grammar_ok[key]
        if error is not None:
            raise ModelError(f"the JSON schema cannot become a llama.cpp grammar: {error}",
                             hint="simplify the schema (types, properties, required, enum, items)")

    def _check_decodable(self, images: Sequence[ImageInput]) -> None:
        handler = self._handler
        for image in images:
            data, _ = image_bytes(image)
            try:
                bitmap = handler._create_bitmap_from_bytes(data)
            except ValueError:
                raise ModelError(f"image {image_label(image)}: cannot be decoded",
                                 hint="pass a complete PNG or JPEG file") from None
            self._mtmd.mtmd_bitmap_free(bitmap)

    def _call_error(self, exc: Exception, max_tokens: int) -> ModelError:
        text = str(exc)
        m = re.search(r"Requested tokens \((\d+)\) exceed context window of (\d+)", text) or \
            re.search(r"Prompt exceeds n_ctx: (\d+) > (\d+)", text)
        if m:
            need, have = int(m.group(1)), int(m.group(2))
            return ModelError(f"{self.name}: the prompt needs {need} tokens but the context holds {have} "
                              f"(with max_tokens={max_tokens} to answer)",
                              hint="shorten the history or load the model with a larger --n-ctx")
        why = llama_backend.last_error() or text
        return ModelError(f"{self.name}: llama.cpp failed: {why}", hint="see `chatdev doctor`")
