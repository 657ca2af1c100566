"""Several candidates of one prompt decoded together: parallel sequences in one llama.cpp context.

``LlamaModel.chat_many`` runs here. The ``Llama`` object's own context holds one
sequence, and ``chat()``'s prefix reuse lives in it, so this module makes a second
context on the same loaded weights (``ParallelContext``): ``n_seq_max`` sequences
over one *unified* KV cache (``kv_unified``), so the prompt's cells are stored once
and tagged with every sequence (``llama_memory_seq_cp``); a split cache would copy
them into each sequence's own stream. It is made when first needed, kept while
later calls fit in it, and freed by ``LlamaModel.close()``.

One call (``decode``):

1. the longest prompt prefix already computed is kept: what this context's
   sequence 0 holds from the previous call, or what the main context holds
   (copied over with ``llama_state_seq_get_data`` / ``set_data``); the main
   context is only read, never changed;
2. the rest of the prompt is evaluated once, on sequence 0, which is then
   copied to sequences 1..n-1;
3. every step samples one token for each running sequence (each with its own
   sampler chain: the JSON grammar, then ``SAMPLING``'s top-k, top-p, min-p, the
   candidate's temperature and a seeded dist, the chain ``chat()`` builds) and
   decodes all of them in one ``llama_decode`` batch. A sequence ends at an
   end-of-generation token, a stop string (the text is cut there, as
   ``chat()`` does) or its ``max_tokens``.

A step costs about what a single-sequence step costs while decoding is bound by
reading the weights, so n candidates take far less than n times one.
"""

from __future__ import annotations

import codecs
import contextlib
import ctypes
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from chatdev.errors import ModelEnvironmentError, ModelError
from chatdev.models import llama_backend
from chatdev.models.base import Accept, Reply, Timings, Usage, check_reply, repeating
from chatdev.models.offload import DEFAULT_RESERVE, compute_bytes, fmt_bytes
from chatdev.models.state_cache import common_prefix

if TYPE_CHECKING:
    from chatdev.models.gguf_info import GGUFInfo
    from chatdev.models.offload import OffloadPlan

CELL_PAD = 256  # llama.cpp pads a KV cache to this many cells
MIN_MAIN_GAIN = 16  # copy the main context's prefix only when it saves at least this many tokens
HOST_SHARE = 0.5  # on the CPU a parallel context may take this share of the available memory


class ParallelHost(Protocol):
    """What this module reads and keeps on the model it decodes for (``LlamaModel``)."""

    name: str
    n_ctx: int
    gpu_layers: int
    info: GGUFInfo
    offload: OffloadPlan
    _llm: Any  # the loaded llama_cpp.Llama
    _parallel: ParallelContext | None  # made by the first chat_many, freed by close()


def answer_tokens(n_ctx: int, prompt_tokens: int, max_tokens: int) -> int:
    """Tokens one sequence may generate: ``max_tokens``, cut to the model's window as ``chat()`` cuts it."""
    return max(0, min(max(1, max_tokens), n_ctx - prompt_tokens))


def cells_needed(prompt_tokens: int, n: int, answer: int) -> int:
    """KV cells of a prompt shared by ``n`` sequences of ``answer`` tokens each, padded as llama.cpp pads."""
    cells = prompt_tokens + n * answer
    return -(-cells // CELL_PAD) * CELL_PAD


def _mem_available() -> int:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 4 << 30


class ParallelContext:
    """A second llama.cpp context on a loaded model: ``n_seq`` sequences, one unified KV cache of ``n_ctx`` cells."""

    def __init__(self, llm: Any, *, n_seq: int, n_ctx: int, bytes_estimate: int) -> None:
        lc = llama_backend.load()
        params = lc.llama_context_params.from_buffer_copy(llm.context_params)  # threads, flash attention, KV types
        params.n_ctx = n_ctx
        params.n_seq_max = n_seq
        params.kv_unified = True  # the prompt is stored once and shared by every sequence
        params.n_batch = max(int(llm.context_params.n_batch), n_seq)
        params.n_ubatch = min(int(llm.context_params.n_ubatch), params.n_batch)
        llama_backend.recent_errors.clear()
        ctx = lc.llama_init_from_model(llm._model.model, params)
        if not ctx:
            why = llama_backend.last_error() or "llama_init_from_model failed"
            raise ModelEnvironmentError(
                f"cannot create a context for {n_seq} parallel sequences of {n_ctx} KV cells ({why})",
                hint="ask for fewer candidates or a lower max_tokens")
        self._llm = llm  # the weights must outlive this context
        self.ctx = ctx
        self.n_seq = n_seq
        self.n_ctx = int(lc.llama_n_ctx(ctx))
        self.n_batch = int(params.n_batch)
        self.bytes_estimate = bytes_estimate
        self.tokens: list[int] = []  # what sequence 0 holds in the KV cache
        # runs before Llama's own finaliser frees the model, even when both are collected in one cycle
        self._free = weakref.finalize(self, lc.llama_free, ctx)

    def fits(self, n: int, cells: int) -> bool:
        return n <= self.n_seq and cells <= self.n_ctx

    def close(self) -> None:
        self._free()
        self.tokens = []

    def prepare(self, tokens: Sequence[int], main_ctx: Any, main_tokens: Sequence[int]) -> int:
        """Keep the longest already-computed prefix of ``tokens`` on sequence 0 (every other sequence is
        dropped); the number of prompt tokens kept. At least the last prompt token is left to evaluate."""
        lc = llama_backend.load()
        mem = lc.llama_get_memory(self.ctx)
        for seq in range(1, self.n_seq):
            lc.llama_memory_seq_rm(mem, seq, -1, -1)
        limit = len(tokens) - 1  # its logits are what the first token is sampled from
        own = min(common_prefix(self.tokens, tokens), limit)
        main = min(common_prefix(main_tokens, tokens), limit)
        keep = own
        if main >= own + MIN_MAIN_GAIN and self._copy_from(main_ctx, len(main_tokens)):
            keep = main
        if not lc.llama_memory_seq_rm(mem, 0, keep, -1):
            lc.llama_memory_clear(mem, False)
            keep = 0
        self.tokens = list(tokens[:keep])
        return keep

    def _copy_from(self, main_ctx: Any, n_main: int) -> bool:
        """Sequence 0 of the main context into sequence 0 here (it must fit whole before it is trimmed)."""
        lc = llama_backend.load()
        mem = lc.llama_get_memory(self.ctx)
        main_mem = lc.llama_get_memory(main_ctx)
        if max(n_main, int(lc.llama_memory_seq_pos_max(main_mem, 0)) + 1) > self.n_ctx:
            return False
        size = int(lc.llama_state_seq_get_size(main_ctx, 0))
        buf = (ctypes.c_uint8 * size)()
        written = int(lc.llama_state_seq_get_data(main_ctx, buf, size, 0))
        lc.llama_memory_clear(mem, False)
        self.tokens = []
        if not written or int(lc.llama_state_seq_set_data(self.ctx, buf, written, 0)) != written:
            lc.llama_memory_clear(mem, False)
            return False
        return True


# ----------------------------------------------------------------------------- how many fit


def budget_bytes(model: ParallelHost) -> tuple[int, str]:
    """Memory a parallel context may take, and where it comes from (for error lines)."""
    plan = model.offload
    if model.gpu_layers != 0 and plan.free_bytes is not None:
        left = plan.free_bytes - plan.needed_bytes - DEFAULT_RESERVE
        return max(0, left), f"{fmt_bytes(max(0, left))} of GPU memory left after loading"
    held = model._parallel.bytes_estimate if model._parallel is not None else 0  # freed before a bigger one
    budget = int((_mem_available() + held) * HOST_SHARE)
    return budget, f"half the available memory, {fmt_bytes(budget)}"


def bytes_needed(model: ParallelHost, n: int, cells: int) -> int:
    """KV cache, compute buffer and the n rows of logits of a parallel context."""
    info = model.info
    return info.kv_bytes_per_token * cells + compute_bytes(info, cells) + 4 * n * max(info.vocab_size, 1)


def max_sequences(model: ParallelHost, prompt_tokens: int, max_tokens: int) -> int:
    """The most candidates decoded together for this prompt: 0 when the prompt does not fit the
    window, at least 1 otherwise (one candidate is a plain ``chat()`` on the loaded context)."""
    answer = answer_tokens(model.n_ctx, prompt_tokens, max_tokens)
    if prompt_tokens >= model.n_ctx or answer < 1:
        return 0
    limit = int(llama_backend.load().llama_max_parallel_sequences())
    budget, _ = budget_bytes(model)
    best = 1
    for n in range(2, limit + 1):
        if bytes_needed(model, n, cells_needed(prompt_tokens, n, answer)) > budget:
            break
        best = n
    return best


def context_for(model: ParallelHost, n: int, prompt_tokens: int, answer: int) -> ParallelContext:
    """The model's parallel context, made (or made bigger) when this call does not fit the one it has."""
    cells = cells_needed(prompt_tokens, n, answer)
    current = model._parallel
    if current is not None and current.fits(n, cells):
        return current
    fit = max_sequences(model, prompt_tokens, answer)
    if n > fit:
        _, where = budget_bytes(model)
        limit = int(llama_backend.load().llama_max_parallel_sequences())
        why = f"llama.cpp takes at most {limit} sequences" if n > limit else \
            f"they need {fmt_bytes(bytes_needed(model, n, cells))} and the limit is {where}"
        raise ModelError(
            f"{model.name}: {n} candidates of up to {answer} tokens after a {prompt_tokens}-token prompt "
            f"need {cells} KV cells; at most {fit} fit ({why})",
            hint=f"ask for at most {fit} candidates or lower max_tokens")
    if current is not None:
        current.close()
        model._parallel = None
    model._parallel = ParallelContext(model._llm, n_seq=n, n_ctx=cells,
                                      bytes_estimate=bytes_needed(model, n, cells))
    return model._parallel


# ----------------------------------------------------------------------------- one call


@dataclass
class _Candidate:
    index: int
    sampler: Any
    pos: int  # position of the next token fed to this sequence
    decoder: Any = field(default_factory=lambda: codecs.getincrementaldecoder("utf-8")(errors="ignore"))
    text: str = ""
    sent: int = 0  # characters streamed so far
    generated: int = 0  # tokens sampled, an end-of-generation token not counted
    finish: str | None = None
    first_at: float | None = None
    last_at: float | None = None
    row: int = -1  # this sequence's row of logits in the last batch


def _sampler(lc: Any, vocab: Any, *, grammar: str | None, temperature: float, seed: int,
             sampling: dict[str, Any]) -> Any:
    """The chain llama-cpp-python builds for ``chat()`` (``Llama._init_sampler``), with this candidate's seed."""
    chain = lc.llama_sampler_chain_init(lc.llama_sampler_chain_default_params())
    try:
        if sampling.get("repeat_penalty", 1.0) != 1.0:
            lc.llama_sampler_chain_add(chain, lc.llama_sampler_init_penalties(
                int(lc.llama_vocab_n_tokens(vocab)), 64, float(sampling["repeat_penalty"]), 0.0, 0.0))
        if grammar is not None:
            g = lc.llama_sampler_init_grammar(vocab, grammar.encode("utf-8"), b"root")
            if not g:
                raise ModelError("the JSON schema's grammar does not parse in llama.cpp",
                                 hint="simplify the schema (types, properties, required, enum, items)")
            lc.llama_sampler_chain_add(chain, g)
        if temperature < 0:
            lc.llama_sampler_chain_add(chain, lc.llama_sampler_init_dist(seed))
        elif temperature == 0:
            lc.llama_sampler_chain_add(chain, lc.llama_sampler_init_greedy())
        else:
            lc.llama_sampler_chain_add(chain, lc.llama_sampler_init_top_k(int(sampling["top_k"])))
            lc.llama_sampler_chain_add(chain, lc.llama_sampler_init_top_p(float(sampling["top_p"]), 1))
            lc.llama_sampler_chain_add(chain, lc.llama_sampler_init_min_p(float(sampling["min_p"]), 1))
            lc.llama_sampler_chain_add(chain, lc.llama_sampler_init_temp(float(temperature)))
            lc.llama_sampler_chain_add(chain, lc.llama_sampler_init_dist(seed))
    except BaseException:
        lc.llama_sampler_free(chain)
        raise
    return chain


class _Batch:
    """A ``llama_batch`` filled one token at a time (one sequence id per token)."""

    def __init__(self, lc: Any, size: int) -> None:
        self._lc = lc
        self.size = size
        self.batch = lc.llama_batch_init(size, 0, 1)

    def fill(self, items: Sequence[tuple[int, int, int, bool]]) -> None:
        b = self.batch
        for k, (token, pos, seq, logits) in enumerate(items):
            b.token[k] = token
            b.pos[k] = pos
            b.n_seq_id[k] = 1
            b.seq_id[k][0] = seq
            b.logits[k] = 1 if logits else 0
        b.n_tokens = len(items)

    def free(self) -> None:
        self._lc.llama_batch_free(self.batch)


def decode(
    model: ParallelHost,
    tokens: Sequence[int],
    n: int,
    *,
    grammar: str | None,
    schema: dict[str, Any] | None,
    max_tokens: int,
    stop: Sequence[str],
    stop_ids: set[int],
    temperatures: Sequence[float],
    seeds: Sequence[int],
    sampling: dict[str, Any],
    on_token: Callable[[int, str], None] | None,
    accept: Accept | None = None,
) -> list[Reply]:
    """``n`` replies to the prompt ``tokens``, decoded as parallel sequences (the caller holds the model's lock).

    ``accept(i, reply)`` is called with each sequence as it ends while others still run, in
    index order within a step; when it returns True the others are stopped there and come back
    ``cancelled`` with what they wrote (no further ``llama_decode`` is spent on them)."""
    lc = llama_backend.load()
    llm = model._llm
    started = time.perf_counter()
    prompt_tokens = len(tokens)
    if prompt_tokens >= model.n_ctx:
        raise ModelError(f"{model.name}: the prompt needs {prompt_tokens} tokens but the context holds "
                         f"{model.n_ctx} (with max_tokens={max_tokens} to answer)",
                         hint="shorten the history or load the model with a larger --n-ctx")
    answer = answer_tokens(model.n_ctx, prompt_tokens, max_tokens)
    par = context_for(model, n, prompt_tokens, answer)
    vocab = llm._model.vocab
    stops = [s for s in stop if s]
    longest_stop = max((len(s) for s in stops), default=0)
    piece_buf = ctypes.create_string_buffer(256)

    def piece_of(token: int) -> bytes:
        size = int(lc.llama_token_to_piece(vocab, token, piece_buf, len(piece_buf), 0, False))
        if size < 0:  # a longer piece than the buffer: ask again with room for it
            big = ctypes.create_string_buffer(-size)
            size = int(lc.llama_token_to_piece(vocab, token, big, len(big), 0, False))
            return big.raw[:size]
        return piece_buf.raw[:size]

    def emit(c: _Candidate, *, final: bool) -> None:
        if final:
            c.text += c.decoder.decode(b"", final=True)
        cut = min((i for i in (c.text.find(s, c.sent) for s in stops) if i >= 0), default=-1)
        if cut >= 0:
            c.text = c.text[:cut]
            c.finish = "stop"
            final = True
        hold = 0
        if not final:  # keep back a tail that may be the start of a stop string
            tail = c.text[-longest_stop:] if longest_stop else ""
            hold = next((k for k in range(len(tail), 0, -1) if any(s.startswith(tail[-k:]) for s in stops)), 0)
        upto = len(c.text) - hold
        if upto > c.sent:
            piece = c.text[c.sent:upto]
            c.sent = upto
            if on_token is not None:
                on_token(c.index, piece)

    def reply_of(c: _Candidate) -> Reply:
        first = min((k.first_at for k in candidates if k.first_at is not None), default=time.perf_counter())
        cached = reused if c.index == 0 else prompt_tokens  # the others share sequence 0's prompt whole
        usage = Usage(prompt_tokens=prompt_tokens, completion_tokens=c.generated, cached_prompt_tokens=cached)
        ended = c.last_at or first
        finish = c.finish if c.finish in ("length", "cancelled") else "stop"
        reply = Reply(text=c.text, usage=usage, timings=Timings(prefill_s=first - started, decode_s=ended - first),
                      finish_reason=finish)
        if schema is not None and finish != "cancelled":
            parsed, error = check_reply(c.text, schema)
            if error and finish == "length":
                error = f"the reply was cut at max_tokens={max_tokens} ({error})"
            reply = Reply(text=reply.text, usage=reply.usage, timings=reply.timings,
                          finish_reason=reply.finish_reason, parsed=parsed, schema_error=error)
        return reply

    main_tokens = llm._input_ids.tolist() if llm.n_tokens else []
    candidates: list[_Candidate] = []
    reused = 0
    batch = _Batch(lc, max(par.n_batch, n))
    seq0 = par.tokens
    try:
        reused = par.prepare(tokens, llm._ctx.ctx, main_tokens)
        seq0 = par.tokens
        ctx = par.ctx
        mem = lc.llama_get_memory(ctx)
        pos = reused
        while pos < prompt_tokens:  # the rest of the prompt, once, on sequence 0
            chunk = tokens[pos:pos + par.n_batch]
            batch.fill([(t, pos + k, 0, pos + k == prompt_tokens - 1) for k, t in enumerate(chunk)])
            _decode(lc, ctx, batch, model.name)
            seq0.extend(chunk)
            pos += len(chunk)
        for seq in range(1, n):
            lc.llama_memory_seq_cp(mem, 0, seq, -1, -1)
        for i in range(n):
            candidates.append(_Candidate(i, _sampler(lc, vocab, grammar=grammar, temperature=temperatures[i],
                                                     seed=seeds[i], sampling=sampling), prompt_tokens))
        running = list(candidates)
        while running:
            feed: list[tuple[int, int, int, bool]] = []
            ended: list[_Candidate] = []
            for c in running:
                token = int(lc.llama_sampler_sample(c.sampler, ctx, c.row))
                now = time.perf_counter()
                c.first_at = c.first_at or now
                c.last_at = now
                if lc.llama_vocab_is_eog(vocab, token) or token in stop_ids:
                    c.finish = "stop"
                    emit(c, final=True)
                    ended.append(c)
                    continue
                c.generated += 1
                piece = c.decoder.decode(piece_of(token))
                c.text += piece
                emit(c, final=False)
                if c.finish is None and (c.generated >= answer or ("\n" in piece and repeating(c.text))):
                    c.finish = "length"  # its limit, or a loop that would have gone on to it
                    emit(c, final=True)
                if c.finish is None:
                    c.row = len(feed)
                    feed.append((token, c.pos, c.index, True))
                    c.pos += 1
                else:
                    ended.append(c)
            running = [c for c in running if c.finish is None]
            if accept is not None and running and any(accept(c.index, reply_of(c)) for c in ended):
                for c in running:
                    c.finish = "cancelled"
                    emit(c, final=True)
                running, feed = [], []
            if feed:  # one llama_decode for every sequence still running
                batch.fill(feed)
                _decode(lc, ctx, batch, model.name)
                if feed[0][2] == 0:
                    seq0.append(feed[0][0])
    except BaseException:
        with contextlib.suppress(Exception):
            lc.llama_memory_clear(lc.llama_get_memory(par.ctx), False)
        par.tokens = []
        raise
    finally:
        for c in candidates:
            lc.llama_sampler_free(c.sampler)
        batch.free()
    par.tokens = seq0
    return [reply_of(c) for c in candidates]


def _decode(lc: Any, ctx: Any, batch: _Batch, name: str) -> None:
    llama_backend.recent_errors.clear()
    rc = int(lc.llama_decode(ctx, batch.batch))
    if rc != 0:
        why = llama_backend.last_error() or f"llama_decode returned {rc}"
        raise ModelError(f"{name}: llama.cpp failed decoding parallel sequences: {why}", hint="see `chatdev doctor`")
