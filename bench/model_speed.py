"""Model layer speed: chatdev's LlamaModel against raw llama-cpp-python, and the prefix cache.

    .venv/bin/python bench/model_speed.py [--model qwen2.5-coder-0.5b] [--reps 3] [--tokens 64] [--json]

1. Prefill and decode tokens/s of ``LlamaModel.chat`` and of a bare
   ``Llama.create_chat_completion(stream=True)`` on the same GGUF, prompt,
   context and threads, measured the same way from outside (first streamed
   text → prefill; first → last streamed text → decode). Runs alternate
   raw/ours so machine load drifts hit both; the best run of each (the one least
   disturbed by other load, as timeit reports) and the median are given.
   Both start from an empty KV cache each run. Target: ours/raw >= 0.95.
2. The share of prompt tokens served from the prefix cache over a scripted
   10-turn conversation between two roles (a CEO and a CTO, each with its own
   system prompt, taking turns on one model), with chatdev's cross-role state
   cache and without it (llama-cpp-python's single live KV prefix only).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from chatdev.models import llama as chat_llama
from chatdev.models import llama_backend as chat_backend
from chatdev.models import registry
from chatdev.models.base import Message

SYSTEM = ("You are the Programmer of a small software company. You write clear, correct Python with "
          "docstrings and type hints. You answer with code only, in one fenced block, no explanation. ") * 4
TASK = ("Write a Python module `inventory.py` with a class Inventory that stores items with a name, a "
        "quantity and a unit price; methods add(name, qty, price), remove(name, qty), total_value(), "
        "and low_stock(threshold) returning the names below the threshold, sorted. Then a short "
        "`if __name__ == '__main__':` demo. Keep it under 80 lines.")


def _messages() -> list[Message]:
    return [Message("system", SYSTEM), Message("user", TASK)]


def _raw_run(llm: Any, tokens: int) -> tuple[float, float, str]:
    llm.reset()
    payload = [{"role": m.role, "content": m.content} for m in _messages()]
    started = time.perf_counter()
    first = last = None
    pieces: list[str] = []
    for chunk in llm.create_chat_completion(messages=payload, max_tokens=tokens, temperature=0.0, stream=True,
                                            **chat_llama.SAMPLING):
        piece = chunk["choices"][0].get("delta", {}).get("content")
        if piece:
            now = time.perf_counter()
            first = first or now
            last = now
            pieces.append(piece)
    assert first is not None and last is not None
    return first - started, last - first, "".join(pieces)


def _ours_run(model: chat_llama.LlamaModel, tokens: int) -> tuple[float, float, str, int, int]:
    model._llm.reset()  # same start as raw: an empty KV cache
    stamps: list[float] = []
    started = time.perf_counter()
    reply = model.chat(_messages(), max_tokens=tokens, temperature=0.0,
                       on_token=lambda _: stamps.append(time.perf_counter()))
    return (stamps[0] - started, stamps[-1] - stamps[0], reply.text, reply.usage.prompt_tokens,
            reply.usage.completion_tokens)


def speed(path: Path, *, n_ctx: int, reps: int, tokens: int, threads: int) -> dict[str, Any]:
    llama_cpp = chat_backend.load()
    extra = chat_backend.extra_buffers_default()
    gpu_layers = -1 if llama_cpp.llama_supports_gpu_offload() else 0
    with chat_backend.model_params(llama_cpp, extra_buffers=extra):
        raw = llama_cpp.Llama(model_path=str(path), n_ctx=n_ctx, n_batch=512, n_threads=threads,
                              n_threads_batch=threads, n_gpu_layers=gpu_layers, verbose=False)
    ours = chat_llama.LlamaModel(path, n_ctx=n_ctx, n_batch=512, n_threads=threads, gpu_layers=gpu_layers,
                                 prefix_cache_bytes=0, extra_buffers=extra)
    # warm both (page in the weights, build the graphs)
    _raw_run(raw, 4)
    _ours_run(ours, 4)
    raw_pre, raw_dec, our_pre, our_dec = [], [], [], []
    prompt_tokens = completion = 0
    same_text = True
    for _ in range(reps):
        rp, rd, rtext = _raw_run(raw, tokens)
        op, od, otext, prompt_tokens, completion = _ours_run(ours, tokens)
        same_text &= rtext == otext
        raw_pre.append(prompt_tokens / rp)
        our_pre.append(prompt_tokens / op)
        raw_dec.append((completion - 1) / rd)
        our_dec.append((completion - 1) / od)
    raw.close()
    ours.close()
    med = statistics.median
    return {
        "prompt_tokens": prompt_tokens, "completion_tokens": completion, "reps": reps, "threads": threads,
        "gpu_layers": gpu_layers, "extra_buffers": extra, "same_text": same_text,
        # best of the runs (least disturbed by other load; what timeit reports) and the median
        "raw": {"prefill_tok_s": round(max(raw_pre), 1), "decode_tok_s": round(max(raw_dec), 2),
                "prefill_median": round(med(raw_pre), 1), "decode_median": round(med(raw_dec), 2)},
        "chatdev": {"prefill_tok_s": round(max(our_pre), 1), "decode_tok_s": round(max(our_dec), 2),
                    "prefill_median": round(med(our_pre), 1), "decode_median": round(med(our_dec), 2)},
        "prefill_ratio": round(max(our_pre) / max(raw_pre), 3),
        "decode_ratio": round(max(our_dec) / max(raw_dec), 3),
        "prefill_ratio_median": round(med(our_pre) / med(raw_pre), 3),
        "decode_ratio_median": round(med(our_dec) / med(raw_dec), 3),
    }


CEO = ("You are the CEO of ChatDev, a software company. You talk with the CTO to decide how to build "
       "what the customer asked for. Be brief: two sentences per turn. ") * 3
CTO = ("You are the CTO of ChatDev. You decide the programming language, the libraries and the file "
       "layout, and you answer the CEO's questions. Be brief: two sentences per turn. ") * 3
OPENING = "The customer wants a terminal snake game with a score and a pause key. What do we build first?"


def conversation(path: Path, *, n_ctx: int, turns: int, tokens: int, threads: int,
                 cache: bool) -> dict[str, Any]:
    model = chat_llama.LlamaModel(path, n_ctx=n_ctx, n_threads=threads, seed=0,
                                  prefix_cache_bytes=chat_llama.DEFAULT_CACHE_BYTES if cache else 0)
    said: list[str] = [OPENING]  # the conversation so far; the CEO opened
    prompt = cached = 0
    per_turn = []
    started = time.perf_counter()
    for turn in range(turns):
        speaker_is_cto = turn % 2 == 0  # the CTO answers the CEO's opening first
        system = CTO if speaker_is_cto else CEO
        msgs = [Message("system", system)]
        for i, text in enumerate(said):
            own = (i % 2 == 1) if speaker_is_cto else (i % 2 == 0)
            msgs.append(Message("assistant" if own else "user", text))
        if msgs[1].role == "assistant":  # the CEO's own opening: keep a user turn first
            msgs.insert(1, Message("user", "Start the meeting."))
        reply = model.chat(msgs, max_tokens=tokens, temperature=0.0)
        said.append(reply.text.strip() or "(no answer)")
        prompt += reply.usage.prompt_tokens
        cached += reply.usage.cached_prompt_tokens
        per_turn.append([reply.usage.prompt_tokens, reply.usage.cached_prompt_tokens])
    seconds = time.perf_counter() - started
    model.close()
    return {"turns": turns, "prompt_tokens": prompt, "cached_prompt_tokens": cached,
            "cached_share": round(cached / prompt, 3) if prompt else 0.0, "seconds": round(seconds, 1),
            "per_turn": per_turn}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="qwen2.5-coder-0.5b", help="registry name or GGUF path")
    parser.add_argument("--n-ctx", type=int, default=4096)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--tokens", type=int, default=64, help="tokens generated per speed run")
    parser.add_argument("--turns", type=int, default=10)
    parser.add_argument("--turn-tokens", type=int, default=40)
    parser.add_argument("--threads", type=int, default=chat_backend.default_threads())
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--skip-conversation", action="store_true")
    parser.add_argument("--json", action="store_true", help="print only the JSON result")
    args = parser.parse_args()

    path = registry.resolve(args.model).model
    result: dict[str, Any] = {"model": args.model, "path": str(path), "backend": chat_backend.backend_info()["version"],
                              "n_ctx": args.n_ctx}
    if not args.skip_speed:
        result["speed"] = speed(path, n_ctx=args.n_ctx, reps=args.reps, tokens=args.tokens, threads=args.threads)
    if not args.skip_conversation:
        for key, cache in (("prefix_cache", True), ("prefix_cache_off", False)):
            result[key] = conversation(path, n_ctx=args.n_ctx, turns=args.turns, tokens=args.turn_tokens,
                                       threads=args.threads, cache=cache)
    if args.json:
        print(json.dumps(result, indent=2))
        return
    if "speed" in result:
        s = result["speed"]
        print(f"{args.model}: {s['prompt_tokens']}-token prompt, {s['completion_tokens']} tokens out, "
              f"{s['reps']} runs, {s['threads']} threads, gpu_layers={s['gpu_layers']}")
        for kind in ("prefill", "decode"):
            print(f"  {kind:<7} tok/s (best)  raw {s['raw'][kind + '_tok_s']:>7}  chatdev {s['chatdev'][kind + '_tok_s']:>7}"
                  f"  ratio {s[kind + '_ratio']}  (median ratio {s[kind + '_ratio_median']})")
    for key, label in (("prefix_cache", "with cross-role state cache"), ("prefix_cache_off", "live KV prefix only")):
        if key not in result:
            continue
        c = result[key]
        print(f"  {c['turns']}-turn two-role conversation, {label}: {c['cached_prompt_tokens']}/"
              f"{c['prompt_tokens']} prompt tokens from cache ({c['cached_share']:.0%}), {c['seconds']} s")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
