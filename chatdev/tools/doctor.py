"""``chatdev doctor``: one screen that says what this machine can do.

``diagnose()`` gathers the llama.cpp build (version, backends, GPU offload), the
NVIDIA GPUs and their free memory, the Docker sandbox, the models here and the
one a build would use, with its offload plan; ``warnings`` says loudly what
costs the user speed or a failed build, above all an NVIDIA GPU next to a
CPU-only llama.cpp build (a silent ~30x loss). ``gpu_warning()`` is the cheap
part of that check, for the start of ``chatdev build``.

Each probe is independent: a failing one fills its ``*_error`` field and a
warning, never the whole report. Library code: nothing here prints.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
from dataclasses import dataclass, field, replace
from typing import Any

from chatdev import __version__
from chatdev.models.offload import CPU_SLOWDOWN, GpuProbe, OffloadPlan, plan_offload, probe_gpus

GPU_DOC = "docs/GPU.md"
CUDA_REINSTALL = ('CMAKE_ARGS="-DGGML_CUDA=on -DCMAKE_CUDA_ARCHITECTURES={arch}" pip install --force-reinstall '
                  "--no-cache-dir --no-binary llama-cpp-python llama-cpp-python")


@dataclass(frozen=True)
class LlamaBuild:
    """The llama.cpp that llama-cpp-python carries."""

    version: str | None
    backends: list[str]  # "CPU", "CUDA", "Metal", ... parsed from llama_print_system_info
    gpu_offload: bool
    system_info: str | None
    devices: list[dict[str, Any]] = field(default_factory=list)  # from the ggml backend, when llama.py gives them
    error: str | None = None  # not installed / fails to load

    @property
    def has_cuda(self) -> bool:
        return "CUDA" in self.backends

    def to_dict(self) -> dict[str, Any]:
        return {"version": self.version, "backends": list(self.backends), "gpu_offload": self.gpu_offload,
                "system_info": self.system_info, "devices": list(self.devices), "error": self.error}


@dataclass(frozen=True)
class DoctorReport:
    """Everything ``chatdev doctor`` shows; ``to_dict()`` is its ``--json``."""

    chatdev: str
    python: str
    llama: LlamaBuild
    gpus: GpuProbe
    docker: dict[str, Any] | None  # chatdev.sandbox.container.check().to_dict()
    docker_error: str | None
    models: list[dict[str, Any]]  # chatdev.models.registry.list_models(), as dicts
    models_error: str | None
    build_model: str | None  # the model `chatdev build` would use
    build_model_error: str | None  # why there is none, or why it is not the company's own model
    offload: OffloadPlan | None  # how that model would be placed on this machine
    warnings: list[str]  # loud: what costs speed or a failed build
    notes: list[str]  # quiet facts (no GPU: CPU run, ...)

    @property
    def ok(self) -> bool:
        return not self.warnings

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "warnings": list(self.warnings),
            "notes": list(self.notes),
            "chatdev": self.chatdev,
            "python": self.python,
            "llama_cpp": self.llama.to_dict(),
            "gpus": [d.to_dict() for d in self.gpus.devices],
            "gpu_error": self.gpus.error,
            "docker": self.docker,
            "docker_error": self.docker_error,
            "models": list(self.models),
            "models_error": self.models_error,
            "build_model": self.build_model,
            "build_model_error": self.build_model_error,
            "offload": self.offload.to_dict() if self.offload else None,
        }


# ----------------------------------------------------------------------------- probes


def parse_backends(system_info: str) -> list[str]:
    """Backend names in ``llama_print_system_info()``: 'CPU : AVX = 1 | CUDA : ARCHS = 900 |' -> [CPU, CUDA]."""
    names: list[str] = []
    for match in re.finditer(r"(?:^|\|)\s*([A-Za-z][\w\- ]*?)\s+:\s", system_info):
        name = match.group(1).strip()
        if name and name not in names:
            names.append(name)
    return names


def llama_build() -> LlamaBuild:
    """The llama.cpp build, through ``chatdev.models.llama_backend.backend_info()`` (the only llama_cpp importer)."""
    try:
        from chatdev.models import llama_backend

        info = llama_backend.backend_info()
    except Exception as exc:  # noqa: BLE001 - not installed, a broken shared library
        return LlamaBuild(version=None, backends=[], gpu_offload=False, system_info=None,
                          error=_error_line(exc))
    system_info = str(info.get("system_info") or "")
    devices = info.get("devices")
    return LlamaBuild(
        version=info.get("version"),
        backends=parse_backends(system_info),
        gpu_offload=bool(info.get("gpu_offload")),
        system_info=system_info or None,
        devices=list(devices) if isinstance(devices, list) else [],
    )


def _error_line(exc: BaseException) -> str:
    line = getattr(exc, "line", None)
    if callable(line):
        return str(line())
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


def _gpu_names(probe: GpuProbe) -> str:
    names = sorted({d.name for d in probe.devices})
    return ", ".join(names) if names else "an NVIDIA GPU"


def _arch(probe: GpuProbe) -> str:
    archs = sorted({d.cuda_arch for d in probe.devices if d.cuda_arch})
    return ";".join(archs) if archs else "native"


def gpu_lines(llama: LlamaBuild, probe: GpuProbe) -> tuple[list[str], list[str]]:
    """(warnings, notes) about the GPU: one clear line per problem."""
    warnings: list[str] = []
    notes: list[str] = []
    if llama.error is not None:
        warnings.append(f"llama-cpp-python is not usable ({llama.error}): in-process models cannot run "
                        "(pip install llama-cpp-python, or use --endpoint URL)")
        return warnings, notes
    if probe.error:
        warnings.append(probe.error)
    if probe.present and not llama.gpu_offload:
        warnings.append(
            f"NVIDIA GPU present ({_gpu_names(probe)}) but this llama-cpp-python build is CPU-only: "
            f"reinstall it with CUDA ({GPU_DOC}: {CUDA_REINSTALL.format(arch=_arch(probe))}) "
            "for ~30x faster decode")
    elif llama.has_cuda and probe.devices and llama.devices and not _backend_gpus(llama):
        warnings.append(
            f"llama.cpp is built with CUDA but finds no CUDA device while nvidia-smi lists {len(probe.devices)} "
            f"(driver {probe.devices[0].driver}): the CUDA runtime of this build is likely newer than the driver; "
            f"update the NVIDIA driver or rebuild llama-cpp-python against the installed CUDA ({GPU_DOC}); "
            f"meanwhile models run on the CPU ({CPU_SLOWDOWN})")
    elif llama.has_cuda and not probe.present:
        notes.append(f"llama.cpp is built with CUDA but no NVIDIA GPU was found: models run on the CPU "
                     f"({CPU_SLOWDOWN})")
    elif not probe.present and not llama.gpu_offload:
        notes.append("no GPU: models run on the CPU (an NVIDIA GPU with a CUDA build of llama.cpp decodes "
                     "about 30x faster)")
    return warnings, notes


def _backend_gpus(llama: LlamaBuild) -> list[dict[str, Any]]:
    return [d for d in llama.devices if str(d.get("type", "")).lower() in ("gpu", "igpu")
            or "cuda" in str(d.get("name", "")).lower()]


def gpu_free_bytes(llama: LlamaBuild, probe: GpuProbe) -> int | None:
    """Free VRAM the planner may use: None without a GPU a llama.cpp build can offload to."""
    if not llama.gpu_offload:
        return None
    gpus = _backend_gpus(llama)
    for dev in gpus:  # the backend's own figure, when llama.py reports devices
        free = dev.get("free_bytes")
        if isinstance(free, int) and free > 0:
            return free
    if llama.devices and not gpus:
        return None  # the backend sees no GPU (driver/runtime mismatch)
    return probe.free_bytes


def gpu_warning() -> str | None:
    """The loud line for the start of ``chatdev build`` (None when all is well). Cheap.

    Runs ``nvidia-smi`` only when it or the NVIDIA driver is on this machine.
    """
    if shutil.which("nvidia-smi") is None and not os.path.isdir("/proc/driver/nvidia/gpus"):
        return None
    probe = probe_gpus(timeout=5.0)
    warnings, _ = gpu_lines(llama_build(), probe)
    return warnings[0] if warnings else None


def _docker() -> tuple[dict[str, Any] | None, str | None]:
    try:
        from chatdev.sandbox import container

        status = container.check()
        data = status.to_dict() if hasattr(status, "to_dict") else dict(vars(status))
        return data, None
    except Exception as exc:  # noqa: BLE001 - SandboxError, docker not installed, a broken engine
        return None, _error_line(exc)


def _models() -> tuple[list[dict[str, Any]], str | None, str | None, str | None]:
    """(entries, registry error, the model a build would use, why none or why a fallback)."""
    try:
        from chatdev.models import registry

        entries = [e.to_dict() for e in registry.list_models()]
    except Exception as exc:  # noqa: BLE001 - the report shows any failure as one line
        return [], _error_line(exc), None, None
    try:
        from chatdev.company.config import load_company
        from chatdev.events import Notice, Recorder

        company_model = load_company(None).spec.model
        heard = Recorder()
        chosen = registry.default_model(company_model, sink=heard)
        fallback = "; ".join(n.text for n in heard.of(Notice)) or None
        return entries, None, chosen, fallback
    except Exception as exc:  # noqa: BLE001 - a broken company folder, an unreachable hub
        return entries, None, None, _error_line(exc)


def _plan_for(model: str | None, free: int | None) -> tuple[OffloadPlan | None, str | None]:
    if not model or model.startswith(("http://", "https://")):
        return None, None
    try:
        from chatdev.company.config import load_company
        from chatdev.models import gguf_info, registry

        files = registry.resolve(model, download=False)
        info = gguf_info.read(files.model)
        mmproj = files.mmproj.stat().st_size if files.mmproj and files.mmproj.exists() else 0
        n_ctx = load_company(None).spec.n_ctx
        return plan_offload(info, n_ctx=n_ctx, free_vram=free, mmproj_bytes=mmproj), None
    except Exception as exc:  # noqa: BLE001 - not downloaded yet: no plan, not an error of the machine
        return None, _error_line(exc)


def diagnose(*, docker: bool = True, models: bool = True) -> DoctorReport:
    """Probe this machine. ``docker=False`` / ``models=False`` skip those (slow) parts."""
    llama = llama_build()
    probe = probe_gpus()
    warnings, notes = gpu_lines(llama, probe)

    docker_data, docker_error = _docker() if docker else (None, "not checked")
    if docker and docker_error:
        warnings.append(f"Docker sandbox not usable ({docker_error}): generated programs cannot be run or tested "
                        "(chatdev sandbox check)")
    elif docker_data is not None and docker_data.get("ok") is False:
        reason = (docker_data.get("problem") or docker_data.get("reason") or docker_data.get("error")
                  or "see chatdev sandbox check")
        warnings.append(f"Docker sandbox not ready: {reason}")

    entries: list[dict[str, Any]] = []
    models_error = build_model = build_error = None
    plan: OffloadPlan | None = None
    if models:
        entries, models_error, build_model, build_error = _models()
        if models_error:
            warnings.append(f"model registry failed: {models_error}")
        elif build_model is None and build_error:
            warnings.append(f"no model for a build: {build_error}")
        elif build_model is not None:
            notes.append(f"a build would use {build_model}" + (f" ({build_error})" if build_error else ""))
        plan, _why = _plan_for(build_model, gpu_free_bytes(llama, probe))
        if plan is not None and probe.present and not llama.gpu_offload:
            plan = replace(plan, reason=f"this llama.cpp build is CPU-only: running on the CPU ({CPU_SLOWDOWN})")
        if plan is not None and not plan.fits:
            warnings.append(f"{build_model}: {plan.reason}")
        elif plan is not None and llama.gpu_offload and probe.devices:
            notes.append(f"{build_model}: {plan.reason}")
    return DoctorReport(
        chatdev=__version__, python=platform.python_version(), llama=llama, gpus=probe,
        docker=docker_data, docker_error=docker_error, models=entries, models_error=models_error,
        build_model=build_model, build_model_error=build_error, offload=plan,
        warnings=warnings, notes=notes)
