"""GPU offload and memory planning: how many layers, how much context, what fits.

Pure functions over GGUF header facts (``gguf_info.GGUFInfo``) and a free-VRAM
figure, plus ``gpu_devices()`` which asks ``nvidia-smi`` (the one place this
module touches the machine). Nothing here imports llama.cpp.

The memory model (what llama.cpp puts on the GPU for a model with L repeating
layers when ``n_gpu_layers = k``):

* weights of the k offloaded layers; with every layer offloaded (k > L, which
  is what ``-1`` means) also the output head. The input embedding table always
  stays in host memory;
* the KV cache of the offloaded layers: ``kv_bytes_per_token * n_ctx * k / L``;
* a compute buffer, roughly ``4 * n_ubatch * (vocab + 4 n_embd + n_head n_ctx)``
  bytes (logits, activations, attention scores without flash attention);
* with a vision projector (mmproj), the whole CLIP model and its small
  compute buffer: llama.cpp's multimodal library always runs it on the GPU
  of a CUDA build;
* ``reserve`` bytes for the CUDA context, cuBLAS workspace and fragmentation,
  counted once per GPU.

The figures are upper estimates: planning must fail before loading, never a
CUDA allocation mid-run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol

MiB = 1024 * 1024
GiB = 1024 * MiB
DEFAULT_RESERVE = 512 * MiB
N_UBATCH = 512  # llama.cpp's default physical batch
MIN_CTX = 2048  # the smallest context the automatic plan shrinks to
CPU_SLOWDOWN = "about 30x slower decode than on the GPU"

# nominal bits per weight of the common quantizations (for the output-head estimate)
_BITS_PER_WEIGHT: dict[str, float] = {
    "F32": 32, "F16": 16, "BF16": 16, "Q8_0": 8.5, "Q6_K": 6.56, "Q5_K_M": 5.69, "Q5_K_S": 5.54,
    "Q5_0": 5.5, "Q5_1": 6.0, "Q4_K_M": 4.89, "Q4_K_S": 4.58, "Q4_0": 4.5, "Q4_1": 5.0,
    "IQ4_XS": 4.25, "IQ4_NL": 4.5, "Q3_K_L": 4.27, "Q3_K_M": 3.91, "Q3_K_S": 3.5, "Q2_K": 3.35,
}


class ModelFacts(Protocol):
    """The fields of ``gguf_info.GGUFInfo`` the planner reads (read-only)."""

    @property
    def n_layers(self) -> int: ...
    @property
    def n_embd(self) -> int: ...
    @property
    def n_head(self) -> int: ...
    @property
    def n_ctx_train(self) -> int: ...
    @property
    def vocab_size(self) -> int: ...
    @property
    def file_size(self) -> int: ...
    @property
    def quantization(self) -> str: ...
    @property
    def kv_bytes_per_token(self) -> int: ...


def fmt_bytes(n: float) -> str:
    """1536 MiB -> '1.5 GiB'; small figures in MiB."""
    if abs(n) >= GiB:
        return f"{n / GiB:.1f} GiB"
    return f"{n / MiB:.0f} MiB"


@dataclass(frozen=True)
class OffloadPlan:
    """Where one model goes. ``gpu_layers`` is the value to pass to llama.cpp."""

    gpu_layers: int  # -1: everything (all layers and the output head); 0: CPU only; k: k layers
    n_layers: int
    n_ctx: int
    weights_bytes: int  # model weights placed on the GPU
    kv_bytes: int  # KV cache on the GPU
    compute_bytes: int  # compute buffer on the GPU
    mmproj_bytes: int  # vision projector (weights + compute) on the GPU
    needed_bytes: int  # all of the above (the reserve is not in it)
    free_bytes: int | None  # free VRAM the plan was made against (None: no GPU)
    fits: bool
    reason: str  # one line for the user
    full_needed_bytes: int = 0  # what a full offload at this n_ctx would need
    explicit: bool = False  # gpu_layers came from the user

    @property
    def offloaded_layers(self) -> int:
        return self.n_layers if self.gpu_layers < 0 else min(self.gpu_layers, self.n_layers)

    @property
    def on_gpu(self) -> bool:
        return self.gpu_layers != 0 or self.mmproj_bytes > 0

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["offloaded_layers"] = self.offloaded_layers
        return data

    def error_line(self) -> str:
        """The ModelError message for a plan that does not fit (needed vs free)."""
        free = fmt_bytes(self.free_bytes or 0)
        return (f"the model needs {fmt_bytes(self.needed_bytes)} of GPU memory for "
                f"{self._layers_text()} at n_ctx={self.n_ctx}, but only {free} is free")

    def _layers_text(self) -> str:
        if self.gpu_layers < 0 or self.gpu_layers > self.n_layers:
            return f"all {self.n_layers} layers"
        return f"{self.gpu_layers}/{self.n_layers} layers"


# ----------------------------------------------------------------------------- sizes


def output_bytes(info: ModelFacts) -> int:
    """Estimated bytes of the output head (vocab x n_embd at the file's quantization)."""
    exact = getattr(info, "output_bytes", None)
    if isinstance(exact, int) and exact > 0:
        return exact
    bits = _BITS_PER_WEIGHT.get(info.quantization.upper(), 8.5)
    # output heads are often kept at higher precision than the body (Q6_K in Q4_K_M files)
    bits = max(bits, 6.56) if bits < 8 else bits
    return int(info.vocab_size * info.n_embd * bits / 8)


def weights_split(info: ModelFacts) -> tuple[int, int]:
    """(bytes of one repeating layer, bytes of the output head).

    Uses the GGUF tensor table's figures when ``info`` has them (``layer_bytes``,
    the sum of ``blk.*`` tensors; ``output_bytes``); else estimates from the
    tensor bytes less the head and the input table at nominal bits per weight,
    which over-estimates a layer (the head and table are often stored at higher
    precision than the body), never under-estimates it by much.
    """
    n_layers = max(info.n_layers, 1)
    out = output_bytes(info)
    layers_total = getattr(info, "layer_bytes", None)
    if not (isinstance(layers_total, int) and layers_total > 0):
        weights = getattr(info, "tensor_bytes", 0) or info.file_size
        bits = _BITS_PER_WEIGHT.get(info.quantization.upper(), 8.5)
        embd = int(info.vocab_size * info.n_embd * bits / 8)  # the input table, kept in host memory
        layers_total = max(weights - out - embd, weights // 2)
    return -(-layers_total // n_layers), out


def compute_bytes(info: ModelFacts, n_ctx: int, *, n_ubatch: int = N_UBATCH) -> int:
    """Upper estimate of llama.cpp's GPU compute buffer for one context."""
    ub = min(n_ubatch, max(n_ctx, 1))
    per_row = info.vocab_size + 4 * info.n_embd + max(info.n_head, 1) * n_ctx
    return 4 * ub * per_row + 32 * MiB


def projector_bytes(mmproj_bytes: int) -> int:
    """A CLIP projector on the GPU: its weights plus a compute buffer."""
    if mmproj_bytes <= 0:
        return 0
    return int(mmproj_bytes * 1.1) + 64 * MiB


def effective_ctx(info: ModelFacts, n_ctx: int) -> int:
    """llama.cpp's n_ctx: 0 means the training context; nothing beyond it is planned."""
    if n_ctx <= 0:
        return info.n_ctx_train or 4096
    return n_ctx


def needed_bytes(info: ModelFacts, *, n_ctx: int, gpu_layers: int, mmproj_bytes: int = 0) -> dict[str, int]:
    """The GPU bytes of one placement, itemised (weights, kv, compute, mmproj, total)."""
    n_layers = max(info.n_layers, 1)
    per_layer, out = weights_split(info)
    full = gpu_layers < 0 or gpu_layers > n_layers
    k = n_layers if full else max(gpu_layers, 0)
    weights = per_layer * k + (out if full else 0)
    kv = info.kv_bytes_per_token * n_ctx * k // n_layers
    compute = compute_bytes(info, n_ctx) if k > 0 else 0
    proj = projector_bytes(mmproj_bytes)
    return {"weights": weights, "kv": kv, "compute": compute, "mmproj": proj,
            "total": weights + kv + compute + proj}


# ----------------------------------------------------------------------------- planning


def _plan(info: ModelFacts, *, n_ctx: int, gpu_layers: int, free: int | None, mmproj_bytes: int,
          reason: str, fits: bool, explicit: bool) -> OffloadPlan:
    placed = gpu_layers if free is not None else 0  # without a GPU nothing is placed on one
    need = needed_bytes(info, n_ctx=n_ctx, gpu_layers=placed, mmproj_bytes=mmproj_bytes)
    full = needed_bytes(info, n_ctx=n_ctx, gpu_layers=-1, mmproj_bytes=mmproj_bytes)
    return OffloadPlan(
        gpu_layers=gpu_layers, n_layers=info.n_layers, n_ctx=n_ctx,
        weights_bytes=need["weights"], kv_bytes=need["kv"], compute_bytes=need["compute"],
        mmproj_bytes=need["mmproj"], needed_bytes=need["total"], free_bytes=free, fits=fits,
        reason=reason, full_needed_bytes=full["total"], explicit=explicit)


def max_layers(info: ModelFacts, *, n_ctx: int, budget: int, mmproj_bytes: int = 0) -> int:
    """The most layers that fit in ``budget`` bytes (-1: all of them and the output head)."""
    n_layers = info.n_layers
    if needed_bytes(info, n_ctx=n_ctx, gpu_layers=-1, mmproj_bytes=mmproj_bytes)["total"] <= budget:
        return -1
    best = 0
    lo, hi = 1, n_layers
    while lo <= hi:  # needed bytes grow with k: binary search
        mid = (lo + hi) // 2
        if needed_bytes(info, n_ctx=n_ctx, gpu_layers=mid, mmproj_bytes=mmproj_bytes)["total"] <= budget:
            best, lo = mid, mid + 1
        else:
            hi = mid - 1
    return best


def plan_offload(
    info: ModelFacts,
    *,
    n_ctx: int,
    free_vram: int | None,
    gpu_layers: int | None = None,
    mmproj_bytes: int = 0,
    reserve: int = DEFAULT_RESERVE,
    min_ctx: int | None = None,
) -> OffloadPlan:
    """Choose the GPU layers (and, with ``min_ctx``, the context) for one model.

    * ``free_vram`` None: no usable GPU (or a CPU-only build): a CPU plan.
    * ``gpu_layers`` given (``--gpu-layers``): respected as is; ``fits`` says
      whether it fits, and ``reason`` names the most layers that would.
    * automatic: everything on the GPU if it fits; else, when ``min_ctx`` is
      given, the context is halved (not below ``min_ctx``) to keep every layer
      on the GPU; else as many layers as fit (a partial offload, slower); with
      too little memory for one layer, the CPU. An mmproj is always counted on
      the GPU (llama.cpp runs it there); if even the projector does not fit,
      the plan does not fit.
    """
    n_ctx = effective_ctx(info, n_ctx)
    explicit = gpu_layers is not None
    if free_vram is None:
        layers = 0 if gpu_layers is None else gpu_layers
        if layers != 0:
            return _plan(info, n_ctx=n_ctx, gpu_layers=layers, free=None, mmproj_bytes=0, fits=True,
                         explicit=True, reason=f"--gpu-layers {layers} asked, but no GPU is usable: "
                                               f"running on the CPU ({CPU_SLOWDOWN})")
        return _plan(info, n_ctx=n_ctx, gpu_layers=0, free=None, mmproj_bytes=0, fits=True,
                     explicit=explicit, reason=f"no GPU: running on the CPU ({CPU_SLOWDOWN})")

    budget = free_vram - reserve
    free_txt = f"{fmt_bytes(free_vram)} free, {fmt_bytes(reserve)} kept for the CUDA context"

    if explicit:
        assert gpu_layers is not None
        need = needed_bytes(info, n_ctx=n_ctx, gpu_layers=gpu_layers, mmproj_bytes=mmproj_bytes)["total"]
        if need <= budget:
            what = "CPU only, as asked" if gpu_layers == 0 else f"--gpu-layers {gpu_layers} as asked"
            return _plan(info, n_ctx=n_ctx, gpu_layers=gpu_layers, free=free_vram, mmproj_bytes=mmproj_bytes,
                         fits=True, explicit=True,
                         reason=f"{what}: {fmt_bytes(need)} on the GPU ({free_txt})")
        best = max_layers(info, n_ctx=n_ctx, budget=budget, mmproj_bytes=mmproj_bytes)
        hint = "all layers fit" if best < 0 else f"at most {best} layers fit"
        return _plan(info, n_ctx=n_ctx, gpu_layers=gpu_layers, free=free_vram, mmproj_bytes=mmproj_bytes,
                     fits=False, explicit=True,
                     reason=f"--gpu-layers {gpu_layers} needs {fmt_bytes(need)} of GPU memory, {free_txt} "
                            f"({hint} at n_ctx={n_ctx}): lower --gpu-layers or --n-ctx")

    proj = projector_bytes(mmproj_bytes)
    if proj and proj > budget:
        return _plan(info, n_ctx=n_ctx, gpu_layers=0, free=free_vram, mmproj_bytes=mmproj_bytes, fits=False,
                     explicit=False,
                     reason=f"the vision projector alone needs {fmt_bytes(proj)} of GPU memory, {free_txt}: "
                            "free GPU memory, or run without images on the CPU (--gpu-layers 0)")

    ctx = n_ctx
    best = max_layers(info, n_ctx=ctx, budget=budget, mmproj_bytes=mmproj_bytes)
    if best >= 0 and min_ctx is not None:
        while best >= 0 and ctx // 2 >= max(min_ctx, 1):
            ctx //= 2
            best = max_layers(info, n_ctx=ctx, budget=budget, mmproj_bytes=mmproj_bytes)
        if best >= 0:  # nothing shrinking could win: keep the asked context
            ctx = n_ctx
            best = max_layers(info, n_ctx=ctx, budget=budget, mmproj_bytes=mmproj_bytes)
    if best < 0:
        note = f" (context lowered from {n_ctx} to fit)" if ctx != n_ctx else ""
        need = needed_bytes(info, n_ctx=ctx, gpu_layers=-1, mmproj_bytes=mmproj_bytes)["total"]
        return _plan(info, n_ctx=ctx, gpu_layers=-1, free=free_vram, mmproj_bytes=mmproj_bytes, fits=True,
                     explicit=False,
                     reason=f"all {info.n_layers} layers on the GPU{note}: {fmt_bytes(need)} ({free_txt})")
    full = needed_bytes(info, n_ctx=ctx, gpu_layers=-1, mmproj_bytes=mmproj_bytes)["total"]
    if best == 0:
        return _plan(info, n_ctx=ctx, gpu_layers=0, free=free_vram, mmproj_bytes=mmproj_bytes, fits=True,
                     explicit=False,
                     reason=f"too little GPU memory for even one layer ({fmt_bytes(full)} needed for all, "
                            f"{free_txt}): running on the CPU ({CPU_SLOWDOWN})")
    return _plan(info, n_ctx=ctx, gpu_layers=best, free=free_vram, mmproj_bytes=mmproj_bytes, fits=True,
                 explicit=False,
                 reason=f"{best}/{info.n_layers} layers on the GPU, the rest on the CPU: all would need "
                        f"{fmt_bytes(full)}, {free_txt}; expect a slower decode (free GPU memory or "
                        "lower --n-ctx for a full offload)")


CompanyModel = tuple[ModelFacts, int, int] | tuple[ModelFacts, int, int, int | None]


def plan_company(models: Sequence[CompanyModel], free_vram: int | None, *,
                 reserve: int = DEFAULT_RESERVE, min_ctx: int | None = None) -> list[OffloadPlan]:
    """Plans for several models sharing one GPU (each distinct model loaded once).

    ``models``: ``(info, n_ctx, mmproj_bytes)`` or ``(info, n_ctx, mmproj_bytes,
    gpu_layers)``. Explicit ``gpu_layers`` take their memory first. Then whole
    models go on the GPU, smallest first (a fully offloaded model is many times
    faster than a split one, so as many as possible are kept whole); the models
    left share the rest in proportion to what each would need in full. The
    CUDA reserve is counted once. Plans come back in the order given.
    """
    items = [(m[0], m[1], m[2], m[3] if len(m) > 3 else None) for m in models]  # type: ignore[misc]
    if free_vram is None:
        return [plan_offload(info, n_ctx=ctx, free_vram=None, gpu_layers=gl, mmproj_bytes=mm)
                for info, ctx, mm, gl in items]

    budget = free_vram - reserve
    plans: dict[int, OffloadPlan] = {}
    # explicit placements take their memory first
    for i, (info, ctx, mm, gl) in enumerate(items):
        if gl is not None:
            plan = plan_offload(info, n_ctx=ctx, free_vram=budget + reserve, gpu_layers=gl, mmproj_bytes=mm,
                                reserve=reserve)
            plans[i] = plan
            budget -= plan.needed_bytes
    auto = [i for i in range(len(items)) if i not in plans]
    need = {i: needed_bytes(items[i][0], n_ctx=effective_ctx(items[i][0], items[i][1]), gpu_layers=-1,
                            mmproj_bytes=items[i][2])["total"] for i in auto}
    shares: dict[int, int] = {}
    left = max(budget, 0)
    pending = sorted(auto, key=lambda i: need[i])
    while pending and need[pending[0]] <= left:  # whole models first, smallest first
        i = pending.pop(0)
        shares[i] = need[i]
        left -= need[i]
    total = sum(need[i] for i in pending) or 1
    for i in pending:  # the rest share what is left, in proportion to their needs
        shares[i] = left * need[i] // total
    for i in auto:
        info, ctx, mm, _ = items[i]
        plan = plan_offload(info, n_ctx=ctx, free_vram=shares[i] + reserve, mmproj_bytes=mm, reserve=reserve,
                            min_ctx=min_ctx)
        shared = len(items) > 1
        reason = plan.reason + (f" [GPU shared by {len(items)} models: {fmt_bytes(free_vram)} free in all]"
                                if shared else "")
        plans[i] = OffloadPlan(**{**asdict(plan), "free_bytes": free_vram, "reason": reason})
    return [plans[i] for i in range(len(items))]


def company_fits(plans: Sequence[OffloadPlan], free_vram: int | None, *, reserve: int = DEFAULT_RESERVE) -> bool:
    """Whether the plans together fit on the GPU (and each one fits)."""
    if free_vram is None:
        return all(p.fits for p in plans)
    return all(p.fits for p in plans) and sum(p.needed_bytes for p in plans) <= free_vram - reserve


# ----------------------------------------------------------------------------- devices


@dataclass(frozen=True)
class GpuDevice:
    """One NVIDIA GPU as ``nvidia-smi`` reports it."""

    index: int
    name: str
    total_bytes: int
    free_bytes: int
    driver: str
    compute_cap: str | None  # "9.0" (None when the driver is too old to say)

    @property
    def cuda_arch(self) -> str | None:
        """The CMAKE_CUDA_ARCHITECTURES value for this GPU ("9.0" -> "90")."""
        return self.compute_cap.replace(".", "") if self.compute_cap else None

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "cuda_arch": self.cuda_arch}


@dataclass(frozen=True)
class GpuProbe:
    """What ``nvidia-smi`` said: the devices, or one line saying why none."""

    devices: tuple[GpuDevice, ...]
    error: str | None  # "nvidia-smi: Failed to initialize NVML: Driver/library version mismatch"
    nvidia_smi: str | None  # its path, None when not installed

    @property
    def present(self) -> bool:
        """An NVIDIA GPU (or at least its driver tooling) is on this machine."""
        return bool(self.devices) or self.nvidia_smi is not None or os.path.isdir("/proc/driver/nvidia/gpus")

    @property
    def free_bytes(self) -> int | None:
        """Free memory of the first device (llama.cpp's main GPU), None when none."""
        return self.devices[0].free_bytes if self.devices else None

    def to_dict(self) -> dict[str, Any]:
        return {"devices": [d.to_dict() for d in self.devices], "error": self.error,
                "nvidia_smi": self.nvidia_smi, "present": self.present}


_QUERY = "index,name,memory.total,memory.free,driver_version,compute_cap"


def _smi_error(text: str, code: int) -> str:
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), f"exit status {code}")
    low = text.lower()
    if "mismatch" in low:
        return (f"nvidia-smi: {line} — the NVIDIA kernel driver and its user-space library differ "
                "(usually after a driver update): reboot, or reinstall one driver version")
    if "couldn't communicate" in low or "no devices were found" in low:
        return f"nvidia-smi: {line} — the NVIDIA driver is not loaded or sees no GPU"
    return f"nvidia-smi: {line}"


def probe_gpus(*, timeout: float = 10.0) -> GpuProbe:
    """Ask ``nvidia-smi`` for the GPUs and their free memory (no GPU: an empty probe)."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return GpuProbe(devices=(), error=None, nvidia_smi=None)
    fields = _QUERY
    for _attempt in range(2):
        try:
            proc = subprocess.run([exe, f"--query-gpu={fields}", "--format=csv,noheader,nounits"],
                                  capture_output=True, text=True, timeout=timeout, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return GpuProbe(devices=(), error=f"nvidia-smi did not answer: {exc}", nvidia_smi=exe)
        if proc.returncode == 0:
            return GpuProbe(devices=tuple(_parse_smi(proc.stdout)), error=None, nvidia_smi=exe)
        out = (proc.stdout + "\n" + proc.stderr).strip()
        if "compute_cap" in fields and ("not a valid field" in out.lower() or "invalid" in out.lower()):
            fields = _QUERY.rsplit(",", 1)[0]  # an old driver without compute_cap: ask without it
            continue
        return GpuProbe(devices=(), error=_smi_error(out, proc.returncode), nvidia_smi=exe)
    return GpuProbe(devices=(), error="nvidia-smi: could not query the GPUs", nvidia_smi=exe)


def _mib(text: str) -> int:
    try:
        return int(float(text) * MiB)
    except ValueError:
        return 0


def _parse_smi(text: str) -> list[GpuDevice]:
    devices: list[GpuDevice] = []
    for line in text.splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) < 5 or not parts[0].isdigit():
            continue
        cap = parts[5] if len(parts) > 5 and parts[5] not in ("", "[N/A]", "N/A") else None
        devices.append(GpuDevice(index=int(parts[0]), name=parts[1], total_bytes=_mib(parts[2]),
                                 free_bytes=_mib(parts[3]), driver=parts[4], compute_cap=cap))
    return devices


def gpu_devices() -> list[GpuDevice]:
    """The NVIDIA GPUs ``nvidia-smi`` lists (empty when there is none or it fails)."""
    return list(probe_gpus().devices)


# ----------------------------------------------------------------------------- at load time


def plan_for_load(
    info: ModelFacts,
    *,
    n_ctx: int,
    gpu_layers: int | None,
    gpu_offload: bool,
    mmproj_bytes: int = 0,
    free_vram: int | None = None,
    probe: GpuProbe | None = None,
) -> OffloadPlan:
    """The plan a model load uses (``LlamaModel`` calls this before llama.cpp sees the file).

    * a CPU-only build: a CPU plan (``--gpu-layers`` has no effect there);
    * free VRAM from ``free_vram``, else from ``nvidia-smi`` now (so models
      already loaded by other roles are counted: they hold their memory);
    * no NVIDIA figure (another GPU backend, nvidia-smi missing): the asked
      layers, or all of them, as llama.cpp would do unplanned;
    * a placement that cannot fit raises ``ModelEnvironmentError`` with the
      needed and free figures, before loading.
    """
    from chatdev.errors import ModelEnvironmentError

    n_ctx = effective_ctx(info, n_ctx)
    if not gpu_offload:
        return plan_offload(info, n_ctx=n_ctx, free_vram=None, gpu_layers=0 if gpu_layers is None else gpu_layers)
    if free_vram is None:
        probe = probe if probe is not None else probe_gpus(timeout=5.0)
        free_vram = probe.free_bytes
    if free_vram is None:
        layers = -1 if gpu_layers is None else gpu_layers
        need = needed_bytes(info, n_ctx=n_ctx, gpu_layers=layers, mmproj_bytes=mmproj_bytes)
        return OffloadPlan(gpu_layers=layers, n_layers=info.n_layers, n_ctx=n_ctx, weights_bytes=need["weights"],
                           kv_bytes=need["kv"], compute_bytes=need["compute"], mmproj_bytes=need["mmproj"],
                           needed_bytes=need["total"], free_bytes=None, fits=True, full_needed_bytes=need["total"],
                           explicit=gpu_layers is not None,
                           reason="GPU offload without a free-memory figure (no nvidia-smi): "
                                  f"{'all' if layers < 0 else layers} layers, unplanned")
    plan = plan_offload(info, n_ctx=n_ctx, free_vram=free_vram, gpu_layers=gpu_layers, mmproj_bytes=mmproj_bytes)
    if not plan.fits:  # the reason names needed and free memory, and the way out
        raise ModelEnvironmentError(f"{getattr(info, 'path', 'the model')}: {plan.reason}")
    return plan
