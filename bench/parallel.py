"""Parallel candidates: one prompt decoded as 1 sequence and as N sequences in one llama.cpp context.

    .venv/bin/python bench/parallel.py [--model qwen2.5-coder-0.5b] [--rounds 5] [--tokens 96] [--n 4] [--json]

The same prompt (a long answer: a Python module of about 80 lines, so no
sequence reaches its end before ``--tokens``) is decoded by
``llama_parallel.decode`` (what ``LlamaModel.chat_many`` runs) as 1 sequence (A)
and as ``--n`` sequences (B), each sequence with the candidate seed and
temperature ``chat_many`` gives it, alternating A B A B for ``--rounds`` rounds
so machine load drifts hit both. ``chat()`` itself (C) runs in each round too,
as the reference for one candidate today. Every run starts from an empty KV
cache, so each evaluates the whole prompt.

Reported per variant: aggregate decode tokens/s (tokens sampled after each
sequence's first, over the wall time from the first sampled token to the last),
prompt-evaluation seconds and tokens/s (kept apart from decoding), and the
ratio B/A of the medians (and the median of the per-round ratios). Target for
issue 14: B/A >= 2.0 with N = 4 on 2 CPU cores. ``--repack`` (default: what a build
with ``--candidates N`` loads) puts the Q4_K layers in llama.cpp's CPU_REPACK buffer.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from chatdev.models import llama as chat_llama
from chatdev.models import llama_backend as chat_backend
from chatdev.models import llama_parallel, registry
from chatdev.models.base import Message, candidate_seed, candidate_temperature

SYSTEM = ("You are the Programmer of a small software company. You write clear, correct Python with "
          "docstrings and type hints. You answer with code only, in one fenced block, no explanation. ")
TASK = ("Write a Python module `inventory.py` with a class Inventory that stores items with a name, a "
        "quantity and a unit price; methods add(name, qty, price), remove(name, qty), total_value(), "
        "and low_stock(threshold) returning the names below the threshold, sorted. Then a short "
        "`if __name__ == '__main__':` demo. Keep it under 80 lines.")


def _fresh(model: chat_llama.LlamaModel) -> None:
    """An empty KV cache for the next run: nothing of the prompt is reused."""
    model._llm.reset()
    if model._parallel is not None:
        model._parallel.tokens = []


def _parallel_run(model: chat_llama.LlamaModel, prompt: list[int], stops: list[str], stop_ids: set[int], n: int,
                  tokens: int, temperature: float, seed: int) -> dict[str, Any]:
    _fresh(model)
    with model._lock:
        replies = llama_parallel.decode(
            model, prompt, n, grammar=None, schema=None, max_tokens=tokens, stop=stops, stop_ids=stop_ids,
            temperatures=[candidate_temperature(temperature, i) for i in range(n)],
            seeds=[candidate_seed(seed, i) for i in range(n)], sampling=chat_llama.SAMPLING, on_token=None)
    generated = [r.usage.completion_tokens for r in replies]
    decode_s = max(r.timings.decode_s for r in replies)
    return {"prefill_s": replies[0].timings.prefill_s, "decode_s": decode_s, "generated": generated,
            "decode_tok_s": (sum(generated) - n) / decode_s if decode_s > 0 else 0.0}


def _chat_run(model: chat_llama.LlamaModel, tokens: int, temperature: float, seed: int) -> dict[str, Any]:
    _fresh(model)
    reply = model.chat([Message("system", SYSTEM), Message("user", TASK)], max_tokens=tokens,
                       temperature=temperature, seed=seed)
    decode_s = reply.timings.decode_s
    done = reply.usage.completion_tokens
    return {"prefill_s": reply.timings.prefill_s, "decode_s": decode_s, "generated": [done],
            "decode_tok_s": (done - 1) / decode_s if decode_s > 0 else 0.0}


def _summary(runs: list[dict[str, Any]], prompt_tokens: int) -> dict[str, Any]:
    med = statistics.median
    return {
        "decode_tok_s_median": round(med(r["decode_tok_s"] for r in runs), 2),
        "decode_tok_s_best": round(max(r["decode_tok_s"] for r in runs), 2),
        "prefill_s_median": round(med(r["prefill_s"] for r in runs), 3),
        "prefill_tok_s_median": round(prompt_tokens / med(r["prefill_s"] for r in runs), 1),
        "generated": [r["generated"] for r in runs],
    }


def bench(path: Path, *, n_ctx: int, rounds: int, tokens: int, n: int, threads: int, temperature: float,
          seed: int, reference: bool, repack: bool | None = None) -> dict[str, Any]:
    model = chat_llama.LlamaModel(path, n_ctx=n_ctx, n_threads=threads, seed=seed, prefix_cache_bytes=0,
                                  repack=chat_backend.repack_default(n) if repack is None else repack)
    try:
        payload = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": TASK}]
        found = model._chat_prompt(payload)
        assert found is not None, "this model's chat handler is not a plain formatter"
        prompt, stops, stop_ids = found
        # warm up: page in the weights, make the parallel context, build the graphs
        _parallel_run(model, prompt, stops, stop_ids, n, 4, temperature, seed)
        _parallel_run(model, prompt, stops, stop_ids, 1, 4, temperature, seed)
        one: list[dict[str, Any]] = []
        many: list[dict[str, Any]] = []
        chat: list[dict[str, Any]] = []
        for _ in range(rounds):
            one.append(_parallel_run(model, prompt, stops, stop_ids, 1, tokens, temperature, seed))
            many.append(_parallel_run(model, prompt, stops, stop_ids, n, tokens, temperature, seed))
            if reference:
                chat.append(_chat_run(model, tokens, temperature, seed))
        fit = model.max_candidates(len(prompt), tokens)
    finally:
        model.close()
    a, b = _summary(one, len(prompt)), _summary(many, len(prompt))
    ratios = [m["decode_tok_s"] / o["decode_tok_s"] for o, m in zip(one, many) if o["decode_tok_s"] > 0]
    result: dict[str, Any] = {
        "prompt_tokens": len(prompt), "tokens_per_sequence": tokens, "n": n, "rounds": rounds, "threads": threads,
        "temperature": temperature, "max_candidates": fit,
        "one": a, "parallel": b,
        "ratio": round(b["decode_tok_s_median"] / a["decode_tok_s_median"], 3) if a["decode_tok_s_median"] else 0.0,
        "ratio_median_of_rounds": round(statistics.median(ratios), 3) if ratios else 0.0,
    }
    if reference:
        c = _summary(chat, len(prompt))
        result["chat"] = c
        result["ratio_vs_chat"] = round(b["decode_tok_s_median"] / c["decode_tok_s_median"], 3) \
            if c["decode_tok_s_median"] else 0.0
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="qwen2.5-coder-0.5b", help="registry name or GGUF path")
    parser.add_argument("--n-ctx", type=int, default=4096)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--tokens", type=int, default=96, help="tokens generated per sequence")
    parser.add_argument("--n", type=int, default=4, help="parallel sequences of variant B")
    parser.add_argument("--temperature", type=float, default=0.2, help="candidate 0's; the others sample hotter")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=chat_backend.default_threads())
    parser.add_argument("--no-chat", action="store_true", help="skip the chat() reference runs")
    parser.add_argument("--repack", choices=("auto", "on", "off"), default="auto",
                        help="Q4_K layers in llama.cpp's CPU_REPACK buffer (auto: as a build with --candidates N)")
    parser.add_argument("--json", action="store_true", help="print only the JSON result")
    args = parser.parse_args()

    path = registry.resolve(args.model).model
    result: dict[str, Any] = {"model": args.model, "path": str(path),
                              "backend": chat_backend.backend_info()["version"], "n_ctx": args.n_ctx}
    result.update(bench(path, n_ctx=args.n_ctx, rounds=args.rounds, tokens=args.tokens, n=args.n,
                        threads=args.threads, temperature=args.temperature, seed=args.seed,
                        reference=not args.no_chat, repack={"auto": None, "on": True, "off": False}[args.repack]))
    result["repack"] = args.repack
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{args.model}: {result['prompt_tokens']}-token prompt, {args.tokens} tokens per sequence, "
          f"{args.rounds} rounds, {result['threads']} threads")
    rows = [("1 sequence", result["one"]), (f"{args.n} sequences", result["parallel"])]
    if "chat" in result:
        rows.append(("chat()", result["chat"]))
    for label, s in rows:
        print(f"  {label:<12} decode {s['decode_tok_s_median']:>7} tok/s (median, all sequences)   "
              f"prompt {s['prefill_s_median']:.3f} s ({s['prefill_tok_s_median']} tok/s)")
    print(f"  ratio {args.n}/1: {result['ratio']} (median of rounds {result['ratio_median_of_rounds']}; target >= 2.0)"
          + (f"; {args.n} sequences / chat(): {result['ratio_vs_chat']}" if "chat" in result else ""))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
