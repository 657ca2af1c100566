"""Decoding with drafts looked up in the context (``models/lookup.py``) against plain decoding.

    .venv/bin/python bench/lookup.py [--model qwen2.5-coder-1.5b] [--rounds 2] [--tokens 1400] [--json]

One loaded model, two replies a round, plain then drafted then plain ... (A B A B), each from
an empty KV cache so the prompt costs the same:

* ``rewrite``: the programmer's fix of a 136-line pygame snake (``bench/data/snake_main.py``)
  that dies at start because it never calls ``pygame.init()``, answered with the whole file:
  what the 1.5B does in most fixes;
* ``fresh``: a new 80-line module, where little of the reply is in the prompt: what drafting
  costs when its drafts are refused.

Per reply: completion tokens, decode tokens/s (first to last streamed text), the tokens taken
from drafts, and whether the text equals the plain reply's (the sampler draws from the same
distribution either way; batched logits may differ in the last bits, so the text can too).
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

from chatdev.models import load_model
from chatdev.models.base import Message
from chatdev.models.lookup import PromptLookup

SNAKE = (Path(__file__).resolve().parent / "data" / "snake_main.py").read_text()
SYSTEM = ("You are the Programmer of a small software company. You write clear, correct Python. "
          "You answer with code only, in fenced blocks headed by the file name, no explanation.")
REWRITE = ("The program fails when it starts:\n\n```\nTraceback (most recent call last):\n"
           "  File \"/project/main.py\", line 136, in <module>\n    Game().run()\n"
           "  File \"/project/main.py\", line 89, in __init__\n    self.font = pygame.font.SysFont(None, 32)\n"
           "pygame.error: font not initialized\n```\n\nmain.py:\n```python\n" + SNAKE + "```\n\n"
           "Fix it. Reply with the whole corrected main.py in one ```python block.")
FRESH = ("Write a Python module `inventory.py` with a class Inventory that stores items with a name, a "
         "quantity and a unit price; methods add(name, qty, price), remove(name, qty), total_value(), "
         "and low_stock(threshold) returning the names below the threshold, sorted. Then a short "
         "`if __name__ == '__main__':` demo. Keep it under 80 lines.")
PROMPTS = {"rewrite": REWRITE, "fresh": FRESH}


def _one(model: Any, prompt: str, *, drafting: bool, tokens: int, seed: int) -> dict[str, Any]:
    model._lookup = PromptLookup() if drafting else None
    model._llm.reset()
    if model._cache is not None:
        model._cache.slots.clear()
    started = time.perf_counter()
    reply = model.chat([Message("system", SYSTEM), Message("user", prompt)], max_tokens=tokens,
                       temperature=0.2, seed=seed)
    wall = time.perf_counter() - started
    u, t = reply.usage, reply.timings
    return {"drafting": drafting, "completion_tokens": u.completion_tokens, "drafted_tokens": u.drafted_tokens,
            "prefill_s": round(t.prefill_s, 2), "decode_s": round(t.decode_s, 2), "wall_s": round(wall, 2),
            "decode_tps": round(u.completion_tokens / t.decode_s, 2) if t.decode_s else None,
            "finish": reply.finish_reason, "text": reply.text}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="qwen2.5-coder-1.5b")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--tokens", type=int, default=1400)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--only", choices=sorted(PROMPTS), action="append")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    model = load_model(args.model, n_ctx=4096)
    results: dict[str, list[dict[str, Any]]] = {}
    try:
        for name in args.only or list(PROMPTS):
            runs = results.setdefault(name, [])
            for _ in range(args.rounds):
                for drafting in (False, True):
                    run = _one(model, PROMPTS[name], drafting=drafting, tokens=args.tokens, seed=args.seed)
                    runs.append(run)
                    if not args.json:
                        print(f"{name:8} {'drafted' if drafting else 'plain  '} {run['completion_tokens']:5} tokens "
                              f"{run['decode_s']:7.1f} s decode {run['decode_tps'] or 0:6.2f} tok/s "
                              f"drafted {run['drafted_tokens']:5}  wall {run['wall_s']:.1f} s", flush=True)
    finally:
        model.close()
    summary = {}
    for name, runs in results.items():
        plain = [r for r in runs if not r["drafting"]]
        drafted = [r for r in runs if r["drafting"]]
        med = {k: statistics.median(r["decode_s"] for r in v) for k, v in (("plain", plain), ("drafted", drafted))}
        same = sum(d["text"] == p["text"] for p, d in zip(plain, drafted))
        summary[name] = {
            "plain_decode_tps": statistics.median(r["decode_tps"] for r in plain),
            "drafted_decode_tps": statistics.median(r["decode_tps"] for r in drafted),
            "plain_decode_s": med["plain"], "drafted_decode_s": med["drafted"],
            "speedup": round(med["plain"] / med["drafted"], 2) if med["drafted"] else None,
            "drafted_share": round(sum(r["drafted_tokens"] for r in drafted)
                                   / max(1, sum(r["completion_tokens"] for r in drafted)), 3),
            "same_text": f"{same}/{len(drafted)}",
        }
    if args.json:
        print(json.dumps({"model": args.model, "rounds": args.rounds, "runs": results, "summary": summary}, indent=2))
    else:
        for name, s in summary.items():
            print(f"{name}: decode {s['plain_decode_tps']} -> {s['drafted_decode_tps']} tok/s, "
                  f"x{s['speedup']} on decode time; {s['drafted_share']:.0%} of drafted replies' tokens "
                  f"came from drafts; same text {s['same_text']}")


if __name__ == "__main__":
    main()
