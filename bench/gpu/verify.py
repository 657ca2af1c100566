"""Verify chatdev's GPU path on the machine it runs on, and measure it.

    python bench/gpu/verify.py [--small] [--out DIR] [--model FILE.gguf] [--workdir DIR]

Sections, each timed, each failing on its own (its error is recorded and the
rest still run); the JSON is rewritten after every section, so a run cut short
still leaves what it measured:

  build      the llama.cpp build (version, backends, GPU offload) and the GPUs
  model      a random-weight LLaVA-1.5-7B-shaped Q4_K GGUF (4096 hidden, 32 layers,
             32 heads, 11008 FFN, 32000 vocab), or a small shape with --small
  plan       chatdev's offload plan for it against the free VRAM, and the buffers
             llama.cpp really allocated (its log) and the VRAM it really took
  speed      prefill and decode tokens/s through chatdev's model layer
             (``LlamaModel.chat``) and through raw llama-cpp-python
             (``Llama.create_chat_completion``) on the same file, same settings,
             alternating rounds; the ratios (the goal: >= 0.95)
  prefix     the prefix-cache share of a 10-turn two-role conversation on one model
  vision     the tiny LLaVA pair (tests/tinyllava.py) through the vision path, and
             where mtmd put the projector (its log: CUDA or CPU)
  doctor     ``chatdev doctor --json``, and its text screen

Timing method (the same for both paths): each model is loaded fresh per round
(rounds alternate raw/chatdev first), a warm-up call, then per repetition one
streamed call with ``max_tokens=N``: prefill tokens/s = prompt tokens evaluated
(llama.cpp's counter) / time to the first streamed piece; decode tokens/s =
(pieces - 1) / time from the first to the last piece; ``after_s`` = time from
the last piece until the call returns (chatdev saves the context state for
prefix reuse there). ``engine_*`` are llama.cpp's own compute-only rates.
Every prompt starts with a fresh nonce, so no prefix is reused. Medians.

Writes DIR/verify.json and DIR/verify.txt; prints the text last. Exit 0 when
every section ran, 1 otherwise (the checks' pass/fail are in the JSON).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import platform
import re
import statistics
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
for p in (str(ROOT), str(HERE)):
    if p not in sys.path:
        sys.path.insert(0, p)

import synth  # bench/gpu/synth.py, importable through the path set above

MiB = 1 << 20
WORDS = ("the company builds a small program with a clear design tests and documents every module "  # noqa: SIM905
         "player score window snake food grid speed level pause restart menu keyboard event loop "
         "render frame state update collision wall timer sound file save load config option").split()


class Run:
    """The results, written after each section."""

    def __init__(self, out: Path, args: argparse.Namespace) -> None:
        self.out = out
        self.data: dict[str, Any] = {"args": {k: str(v) for k, v in vars(args).items()},
                                     "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                                     "host": {"python": platform.python_version(), "machine": platform.machine(),
                                              "cpus": os.cpu_count()},
                                     "errors": {}, "seconds": {}, "checks": {}}
        out.mkdir(parents=True, exist_ok=True)

    @contextlib.contextmanager
    def section(self, name: str) -> Iterator[dict[str, Any]]:
        result: dict[str, Any] = {}
        self.data[name] = result
        t0 = time.perf_counter()
        try:
            yield result
        except Exception as exc:  # noqa: BLE001 - one section failing must not stop the others
            self.data["errors"][name] = f"{type(exc).__name__}: {exc}"
            result["traceback"] = traceback.format_exc(limit=6)
        finally:
            self.data["seconds"][name] = round(time.perf_counter() - t0, 2)
            self.save()

    def check(self, name: str, ok: bool, detail: str) -> None:
        self.data["checks"][name] = {"pass": bool(ok), "detail": detail}

    def save(self) -> None:
        (self.out / "verify.json").write_text(json.dumps(self.data, indent=2, default=str))


# ----------------------------------------------------------------------------- helpers


class LogTap(logging.Handler):
    """Collects llama.cpp / mtmd log lines (chatdev.models.llama routes them to a logger)."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())

    @contextlib.contextmanager
    def tapping(self) -> Iterator[LogTap]:
        logger = logging.getLogger("chatdev.llama")
        old = logger.level
        logger.setLevel(logging.DEBUG)
        logger.addHandler(self)
        try:
            yield self
        finally:
            logger.removeHandler(self)
            logger.setLevel(old)


BUFFER_RE = re.compile(r"(\S+)\s+(model|KV|compute) buffer size\s*=\s*([\d.]+) MiB")


def buffers(lines: list[str]) -> dict[str, float]:
    """{"CUDA0 model": MiB, "CUDA0 KV": MiB, "CPU_Mapped model": MiB, ...} from llama.cpp's load log."""
    found: dict[str, float] = {}
    for line in lines:
        for dev, kind, mib in BUFFER_RE.findall(line):
            key = f"{dev} {kind}"
            found[key] = found.get(key, 0.0) + float(mib)
    return found


def free_vram() -> int | None:
    from chatdev.models.offload import probe_gpus

    return probe_gpus(timeout=10).free_bytes


def prompt_text(n_words: int, nonce: str) -> list[dict[str, str]]:
    words = [WORDS[(i * 7 + len(nonce)) % len(WORDS)] for i in range(n_words)]
    body = " ".join(words)
    return [{"role": "system", "content": f"Session {nonce}. You are the CTO of a small software company."},
            {"role": "user", "content": f"{nonce} {body}. Answer briefly."}]


_nonce_counter = 0


def nonce() -> str:
    global _nonce_counter
    _nonce_counter += 1
    letters = "qwxzjkvb"
    n, out = _nonce_counter * 7919 + 104729, ""
    while n:
        n, r = divmod(n, len(letters))
        out += letters[r]
    return out


class Timing:
    """One streamed call: wall-clock marks and llama.cpp's own counters."""

    def __init__(self) -> None:
        self.t0 = time.perf_counter()
        self.first: float | None = None
        self.last: float | None = None
        self.pieces = 0
        self.end = 0.0
        self.perf: dict[str, float] = {}

    def piece(self, text: str) -> None:
        if not text:
            return
        now = time.perf_counter()
        if self.first is None:
            self.first = now
        self.last = now
        self.pieces += 1

    def row(self) -> dict[str, float | None]:
        first = self.first or self.end
        last = self.last or self.end
        n_prompt = self.perf.get("n_p_eval", 0)
        return {
            "prompt_evaluated": n_prompt, "pieces": self.pieces,
            "prefill_s": first - self.t0, "decode_s": last - first, "after_s": self.end - last,
            "prefill_tps": n_prompt / (first - self.t0) if first > self.t0 and n_prompt else None,
            "decode_tps": (self.pieces - 1) / (last - first) if self.pieces > 1 and last > first else None,
            "engine_prefill_tps": (n_prompt / self.perf["t_p_eval_ms"] * 1000) if self.perf.get("t_p_eval_ms") else None,
            "engine_decode_tps": (self.perf["n_eval"] / self.perf["t_eval_ms"] * 1000) if self.perf.get("t_eval_ms") else None,
        }


def _perf_reset(llm: Any) -> None:
    import llama_cpp

    llama_cpp.llama_perf_context_reset(llm.ctx)


def _perf(llm: Any) -> dict[str, float]:
    import llama_cpp

    d = llama_cpp.llama_perf_context(llm.ctx)
    return {"t_p_eval_ms": d.t_p_eval_ms, "t_eval_ms": d.t_eval_ms, "n_p_eval": d.n_p_eval, "n_eval": d.n_eval}


Caller = Callable[[list[dict[str, str]], int], Timing]


def measure(call: Caller, *, words: int, decode: int, reps: int) -> dict[str, Any]:
    """Prefill and decode tokens/s of one loaded model, streamed (see the module doc)."""
    call(prompt_text(8, nonce()), 4)  # warm-up: graph build, first CUDA kernels
    rows = [call(prompt_text(words, nonce()), decode).row() for _ in range(reps)]

    def med(key: str) -> float | None:
        vals = [r[key] for r in rows if r[key] is not None]
        return statistics.median(vals) if vals else None

    return {"prefill_tps": med("prefill_tps"), "decode_tps": med("decode_tps"), "after_s": med("after_s"),
            "engine_prefill_tps": med("engine_prefill_tps"), "engine_decode_tps": med("engine_decode_tps"),
            "runs": [{k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items()} for r in rows]}


# ----------------------------------------------------------------------------- the two paths


def chatdev_model(path: Path, *, n_ctx: int, gpu_layers: int | None = None, mmproj: Path | None = None) -> Any:
    from chatdev.models.llama import LlamaModel

    return LlamaModel(path, n_ctx=n_ctx, gpu_layers=gpu_layers, mmproj=mmproj)


def chatdev_caller(model: Any) -> Caller:
    from chatdev.models.base import Message

    def call(messages: list[dict[str, str]], max_tokens: int) -> Timing:
        msgs = [Message(role=m["role"], content=m["content"]) for m in messages]  # type: ignore[arg-type]
        _perf_reset(model._llm)
        t = Timing()
        model.chat(msgs, max_tokens=max_tokens, temperature=0.0, seed=1, on_token=t.piece)
        t.end = time.perf_counter()
        t.perf = _perf(model._llm)
        return t

    return call


_patched = False


def raw_llama(path: Path, *, like: Any) -> Any:
    """A plain llama_cpp.Llama with the settings chatdev's model used (layers, context, batch, threads)."""
    import llama_cpp

    from chatdev.models import llama_backend as cl

    global _patched
    src = like._llm
    if not cl.extra_buffers_default() and not _patched:  # the same weight layout as chatdev's (AMX CPUs)
        cl.patch_process_defaults()
        _patched = True
    return llama_cpp.Llama(
        model_path=str(path), n_ctx=like.n_ctx, n_batch=src.n_batch, n_gpu_layers=like.gpu_layers,
        n_threads=src.context_params.n_threads, n_threads_batch=src.context_params.n_threads_batch,
        flash_attn=False, seed=1, verbose=False)


def raw_caller(llm: Any) -> Caller:
    from chatdev.models.llama import SAMPLING

    def call(messages: list[dict[str, str]], max_tokens: int) -> Timing:
        _perf_reset(llm)
        t = Timing()
        for chunk in llm.create_chat_completion(messages=messages, max_tokens=max_tokens, temperature=0.0, seed=1,
                                                stream=True, **SAMPLING):
            t.piece(chunk["choices"][0].get("delta", {}).get("content") or "")
        t.end = time.perf_counter()
        t.perf = _perf(llm)
        return t

    return call


# ----------------------------------------------------------------------------- sections


def ggml_devices() -> list[dict[str, Any]]:
    """The devices llama.cpp's ggml backend registry sees (name, type, free/total memory)."""
    import ctypes

    import llama_cpp
    from llama_cpp._ggml import libggml as g

    llama_cpp.llama_backend_init()
    g.ggml_backend_dev_count.restype = ctypes.c_size_t
    g.ggml_backend_dev_get.argtypes = [ctypes.c_size_t]
    g.ggml_backend_dev_get.restype = ctypes.c_void_p
    for fn in (g.ggml_backend_dev_name, g.ggml_backend_dev_description):
        fn.argtypes = [ctypes.c_void_p]
        fn.restype = ctypes.c_char_p
    g.ggml_backend_dev_type.argtypes = [ctypes.c_void_p]
    g.ggml_backend_dev_type.restype = ctypes.c_int
    g.ggml_backend_dev_memory.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_size_t),
                                          ctypes.POINTER(ctypes.c_size_t)]
    g.ggml_backend_dev_memory.restype = None
    kinds = {0: "cpu", 1: "gpu", 2: "igpu", 3: "accel", 4: "meta"}
    devices = []
    for i in range(g.ggml_backend_dev_count()):
        dev = g.ggml_backend_dev_get(i)
        free, total = ctypes.c_size_t(0), ctypes.c_size_t(0)
        g.ggml_backend_dev_memory(dev, ctypes.byref(free), ctypes.byref(total))
        devices.append({"name": g.ggml_backend_dev_name(dev).decode(),
                        "description": g.ggml_backend_dev_description(dev).decode(),
                        "type": kinds.get(g.ggml_backend_dev_type(dev), "other"),
                        "free_bytes": free.value, "total_bytes": total.value})
    return devices


def section_build(run: Run) -> None:
    from chatdev.models.offload import probe_gpus
    from chatdev.tools import doctor

    with run.section("build") as r:
        build = doctor.llama_build()
        probe = probe_gpus()
        r.update(llama_cpp=build.to_dict(), gpus=probe.to_dict())
        try:
            r["ggml_devices"] = ggml_devices()
        except Exception as exc:  # noqa: BLE001 - an older llama-cpp-python without these symbols
            r["ggml_devices"] = f"{type(exc).__name__}: {exc}"
        run.data["on_gpu"] = bool(build.gpu_offload and probe.devices)


def section_model(run: Run, args: argparse.Namespace) -> Path:
    path = Path(args.model) if args.model else Path(args.workdir) / ("small.gguf" if args.small else "llava7b-q4k.gguf")
    with run.section("model") as r:
        if args.model:
            r["written"] = None
        else:
            r["written"] = synth.write(path, synth.SMALL if args.small else synth.LLAVA_7B)
        from chatdev.models import gguf_info

        info = gguf_info.read(path)
        r["gguf"] = {k: v for k, v in info.to_dict().items() if k != "chat_template"}
    return path


def section_plan_and_speed(run: Run, path: Path, args: argparse.Namespace) -> None:
    from chatdev.models import gguf_info
    from chatdev.models.offload import plan_offload

    n_ctx = args.n_ctx or (2048 if args.small else 4096)
    rounds = args.rounds or (1 if args.small else 2)
    reps = args.reps or (2 if args.small else 5)
    words = args.words or (60 if args.small else 300)
    decode = args.decode or (24 if args.small else 128)
    with run.section("plan") as r:
        info = gguf_info.read(path)
        before = free_vram()
        plan = plan_offload(info, n_ctx=n_ctx, free_vram=before)
        r["plan"] = plan.to_dict()
        tap = LogTap()
        with tap.tapping():
            model = chatdev_model(path, n_ctx=n_ctx)
        try:
            chatdev_caller(model)(prompt_text(8, nonce()), 2)  # the compute buffers exist after a first call
            after = free_vram()
            r["chatdev_gpu_layers"] = model.gpu_layers
            r["load_plan"] = getattr(model, "offload", None).to_dict() if getattr(model, "offload", None) else None
            r["llama_buffers_mib"] = buffers(tap.lines)
            r["offload_log"] = [ln for ln in tap.lines if "offload" in ln.lower()][:4]
            gpu_mib = sum(v for k, v in r["llama_buffers_mib"].items() if re.match(r"CUDA\d", k))  # not CUDA_Host
            r["gpu_buffers_bytes"] = int(gpu_mib * MiB)
            if before is not None and after is not None:
                used = before - after
                r["vram_used_bytes"] = used
                r["estimate_over_used"] = round(plan.needed_bytes / used, 3) if used > 0 else None
                run.check("plan_is_conservative", plan.needed_bytes >= r["gpu_buffers_bytes"],
                          f"planned {plan.needed_bytes / MiB:.0f} MiB, llama.cpp buffers {gpu_mib:.0f} MiB, "
                          f"VRAM taken {used / MiB:.0f} MiB (with the CUDA context)")
        finally:
            model.close()

    with run.section("speed") as r:
        results: dict[str, list[dict[str, Any]]] = {"raw": [], "chatdev": []}
        for rnd in range(rounds):
            for kind in ("raw", "chatdev") if rnd % 2 == 0 else ("chatdev", "raw"):
                model = chatdev_model(path, n_ctx=n_ctx)
                try:
                    if kind == "chatdev":
                        m = measure(chatdev_caller(model), words=words, decode=decode, reps=reps)
                    else:
                        llm = raw_llama(path, like=model)
                        model.close()
                        try:
                            m = measure(raw_caller(llm), words=words, decode=decode, reps=reps)
                        finally:
                            llm.close()
                    m["gpu_layers"] = model.gpu_layers
                finally:
                    model.close()
                results[kind].append(m)
                run.save()
        r["rounds"] = results
        summary: dict[str, Any] = {}
        for kind, ms in results.items():
            summary[kind] = {}
            for key in ("prefill_tps", "decode_tps", "engine_prefill_tps", "engine_decode_tps", "after_s"):
                vals = [m[key] for m in ms if m.get(key) is not None]
                summary[kind][key] = round(statistics.median(vals), 4 if key == "after_s" else 1) if vals else None
        ratio = {k: round(summary["chatdev"][f"{k}_tps"] / summary["raw"][f"{k}_tps"], 3)
                 for k in ("prefill", "decode")}
        r.update(summary=summary, ratio=ratio, n_ctx=n_ctx, prompt_words=words, decode_tokens=decode, reps=reps)
        for k in ("decode", "prefill"):
            run.check(f"{k}_ratio", ratio[k] >= 0.95,
                      f"chatdev {summary['chatdev'][f'{k}_tps']} vs raw {summary['raw'][f'{k}_tps']} tokens/s")


def section_prefix(run: Run, path: Path, args: argparse.Namespace) -> None:
    from chatdev.models.base import Message

    n_ctx = args.n_ctx or (2048 if args.small else 4096)
    max_tokens = 24 if args.small else 48
    with run.section("prefix") as r:
        model = chatdev_model(path, n_ctx=n_ctx)
        try:
            roles = {
                "CTO": "You are the CTO. You turn the CEO's wish into a design: modules, data, tests. " * 4,
                "Programmer": "You are the programmer. You write complete, runnable Python files. " * 4,
            }
            history: dict[str, list[Message]] = {name: [Message("system", text)] for name, text in roles.items()}
            last = "Build a snake game with a score, a pause key and a high-score file."
            turns = []
            prev: dict[str, int] = {}
            for turn in range(10):
                name = "CTO" if turn % 2 == 0 else "Programmer"
                history[name].append(Message("user", last))
                t0 = time.perf_counter()
                reply = model.chat(history[name], max_tokens=max_tokens, temperature=0.0, seed=turn)
                wall = time.perf_counter() - t0
                history[name].append(Message("assistant", reply.text))
                u = reply.usage
                reusable = min(prev.get(name, 0), u.prompt_tokens)
                prev[name] = u.prompt_tokens + u.completion_tokens
                turns.append({"turn": turn + 1, "role": name, "prompt": u.prompt_tokens,
                              "cached": u.cached_prompt_tokens, "completion": u.completion_tokens,
                              "reusable": reusable, "wall_s": round(wall, 3)})
                last = reply.text or "Go on."
            prompt = sum(t["prompt"] for t in turns)
            cached = sum(t["cached"] for t in turns)
            reusable = sum(t["reusable"] for t in turns)
            r.update(turns=turns, prompt_tokens=prompt, cached_tokens=cached,
                     share=round(cached / prompt, 3) if prompt else None,
                     reusable_share=round(reusable / prompt, 3) if prompt else None)
            run.check("prefix_cache", cached >= 0.9 * reusable and cached > 0,
                      f"{cached}/{prompt} prompt tokens from the cache; {reusable} reusable at most")
        finally:
            model.close()


def section_vision(run: Run, args: argparse.Namespace) -> None:
    with run.section("vision") as r:
        from chatdev.models.base import Message
        from tests import tinyllava

        llm_path, mmproj_path = tinyllava.write_pair(Path(args.workdir) / "tinyllava")
        tap = LogTap()
        with tap.tapping():
            model = chatdev_model(llm_path, n_ctx=2048, mmproj=mmproj_path)
            try:
                t0 = time.perf_counter()
                reply = model.chat([Message("user", "What is in this picture?")], images=[tinyllava.png()],
                                   max_tokens=8, temperature=0.0, seed=1)
                wall = time.perf_counter() - t0
                gpu_layers = model.gpu_layers
            finally:
                model.close()
        clip = [ln for ln in tap.lines if re.search(r"clip|mtmd|vision", ln, re.IGNORECASE)
                and re.search(r"CUDA|CPU|GPU|backend", ln)]
        on_cuda = any("CUDA" in ln for ln in clip)
        r.update(ok=True, image_tokens=reply.usage.image_tokens, expected_image_tokens=tinyllava.IMAGE_TOKENS,
                 prompt_tokens=reply.usage.prompt_tokens, completion_tokens=reply.usage.completion_tokens,
                 wall_s=round(wall, 3), gpu_layers=gpu_layers, projector_on_cuda=on_cuda, clip_log=clip[:6],
                 llama_buffers_mib=buffers(tap.lines))
        want_gpu = bool(run.data.get("on_gpu"))
        run.check("vision", reply.usage.image_tokens == tinyllava.IMAGE_TOKENS and (on_cuda or not want_gpu),
                  f"{reply.usage.image_tokens} image tokens, projector on {'CUDA' if on_cuda else 'CPU'}")


def section_doctor(run: Run) -> None:
    with run.section("doctor") as r:
        env = {**os.environ, "COLUMNS": "120", "PYTHONPATH": os.pathsep.join(
            [str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])}
        proc = subprocess.run([sys.executable, "-m", "chatdev", "doctor", "--json"], capture_output=True, text=True,
                              timeout=120, env=env, cwd=str(ROOT), check=False)
        r["exit_code"] = proc.returncode
        r["json"] = json.loads(proc.stdout) if proc.stdout.strip().startswith("{") else None
        if r["json"] is None:
            r["stdout"], r["stderr"] = proc.stdout[-2000:], proc.stderr[-2000:]
        text = subprocess.run([sys.executable, "-m", "chatdev", "doctor"], capture_output=True, text=True,
                              timeout=120, env=env, cwd=str(ROOT), check=False)
        r["text"] = text.stdout[-6000:]
        (run.out / "doctor.txt").write_text(text.stdout + text.stderr)
        data = r["json"] or {}
        cpu_only = any("CPU-only" in w for w in data.get("warnings", []))
        run.check("doctor", proc.returncode == 0 and not (run.data.get("on_gpu") and cpu_only),
                  "; ".join(data.get("warnings", [])) or "no warnings")


# ----------------------------------------------------------------------------- report


def text_report(data: dict[str, Any]) -> str:
    lines = ["chatdev GPU verification", ""]
    build = data.get("build", {}).get("llama_cpp", {})
    gpus = data.get("build", {}).get("gpus", {}).get("devices", [])
    lines.append(f"llama-cpp-python {build.get('version')}  backends {','.join(build.get('backends') or [])}  "
                 f"gpu_offload {build.get('gpu_offload')}")
    devs = data.get("build", {}).get("ggml_devices")
    if isinstance(devs, list):
        lines.append("llama.cpp devices: " + ", ".join(
            f"{d['name']} ({d['type']}, {d['free_bytes'] / 2**30:.1f} GiB free)" for d in devs))
    for g in gpus:
        lines.append(f"GPU {g['index']}: {g['name']}  {g['free_bytes'] / 2**30:.1f} GiB free of "
                     f"{g['total_bytes'] / 2**30:.1f} GiB  driver {g['driver']}  cc {g['compute_cap']}")
    model = data.get("model", {}).get("gguf", {})
    if model:
        lines.append(f"model: {model.get('name')}  {model.get('quantization')}  "
                     f"{model.get('file_size', 0) / 2**30:.2f} GiB  {model.get('n_layers')} layers")
    plan = data.get("plan", {})
    if plan.get("plan"):
        p = plan["plan"]
        lines.append(f"plan: gpu_layers {p['gpu_layers']}  needs {p['needed_bytes'] / MiB:.0f} MiB  "
                     f"(llama.cpp GPU buffers {plan.get('gpu_buffers_bytes', 0) / MiB:.0f} MiB, "
                     f"VRAM taken {(plan.get('vram_used_bytes') or 0) / MiB:.0f} MiB)")
    speed = data.get("speed", {})
    if speed.get("summary"):
        s, ratio = speed["summary"], speed["ratio"]
        lines += ["", f"{'tokens/s':<10}{'raw':>10}{'chatdev':>10}{'ratio':>8}{'engine raw':>12}{'engine chatdev':>16}"]
        for k in ("prefill", "decode"):
            lines.append(f"{k:<10}{s['raw'][f'{k}_tps']:>10}{s['chatdev'][f'{k}_tps']:>10}{ratio[k]:>8}"
                         f"{s['raw'][f'engine_{k}_tps']!s:>12}{s['chatdev'][f'engine_{k}_tps']!s:>16}")
        lines.append(f"after the last token: raw {s['raw']['after_s']} s, chatdev {s['chatdev']['after_s']} s per call")
    prefix = data.get("prefix", {})
    if "share" in prefix:
        lines.append(f"prefix cache: {prefix['cached_tokens']}/{prefix['prompt_tokens']} prompt tokens cached "
                     f"(share {prefix['share']}, reusable {prefix['reusable_share']}) over 10 turns, 2 roles")
    vision = data.get("vision", {})
    if vision.get("ok"):
        lines.append(f"vision: {vision['image_tokens']} image tokens, projector on "
                     f"{'CUDA' if vision['projector_on_cuda'] else 'CPU'}, {vision['wall_s']} s")
    doc = data.get("doctor", {}).get("json") or {}
    if doc:
        lines.append(f"doctor: ok={doc.get('ok')}  warnings: {'; '.join(doc.get('warnings', [])) or 'none'}")
    lines.append("")
    for name, c in data.get("checks", {}).items():
        lines.append(f"{'PASS' if c['pass'] else 'FAIL'}  {name}: {c['detail']}")
    for name, err in data.get("errors", {}).items():
        lines.append(f"ERROR {name}: {err}")
    lines.append("seconds: " + ", ".join(f"{k} {v}" for k, v in data.get("seconds", {}).items()))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="chatdev GPU verification (see bench/gpu/README.md)")
    ap.add_argument("--small", action="store_true", help="a small model shape: the CPU check of this script")
    ap.add_argument("--out", type=Path, default=Path(os.environ.get("OUT") or HERE / "out"))
    ap.add_argument("--workdir", default=os.environ.get("TMPDIR", "/tmp") + "/chatdev-gpu")
    ap.add_argument("--model", help="an existing GGUF instead of the synthetic one")
    ap.add_argument("--n-ctx", type=int, default=0)
    ap.add_argument("--rounds", type=int, default=0)
    ap.add_argument("--reps", type=int, default=0)
    ap.add_argument("--words", type=int, default=0, help="words in a timing prompt")
    ap.add_argument("--decode", type=int, default=0, help="tokens decoded per timing call")
    ap.add_argument("--skip", default="", help="comma-separated sections to skip: speed,prefix,vision,doctor")
    args = ap.parse_args(argv)
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}

    run = Run(args.out, args)
    section_build(run)
    path = section_model(run, args)
    if "speed" not in skip:
        section_plan_and_speed(run, path, args)
    if "prefix" not in skip:
        section_prefix(run, path, args)
    if "vision" not in skip:
        section_vision(run, args)
    if "doctor" not in skip:
        section_doctor(run)
    run.data["finished"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    run.save()
    text = text_report(run.data)
    (args.out / "verify.txt").write_text(text + "\n")
    print(text, flush=True)
    return 1 if run.data["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
