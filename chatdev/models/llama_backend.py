"""The llama.cpp library itself: loading it, its log, what the build can do, process defaults.

The only module that imports ``llama_cpp`` (``load()``). A load that fails says
why in one line: not installed, or a CUDA build on a machine without the NVIDIA
driver or with a CUDA runtime the driver is too old for.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from chatdev.errors import ModelEnvironmentError

log = logging.getLogger("chatdev.llama")

INSTALL_HINT = "pip install llama-cpp-python (for a GPU build: CMAKE_ARGS='-DGGML_CUDA=on' pip install llama-cpp-python)"
CPU_REINSTALL = "pip install --force-reinstall --no-cache-dir llama-cpp-python"

recent_errors: deque[str] = deque(maxlen=20)  # llama.cpp's recent warnings and errors, for error lines
_log_callback: Any = None  # keep the ctypes callback alive


def load() -> Any:
    """``import llama_cpp`` with its log routed to ``chatdev.llama``; a failure is one clear line."""
    try:
        import llama_cpp
    except ImportError as exc:
        raise ModelEnvironmentError(f"llama-cpp-python is not installed ({exc})", hint=INSTALL_HINT) from None
    except (OSError, RuntimeError) as exc:  # its shared library would not load
        raise _load_error(exc) from None
    _quiet_logs(llama_cpp)
    return llama_cpp


def _load_error(exc: BaseException) -> ModelEnvironmentError:
    text = " ".join(str(exc).split())
    missing = next((lib for lib in ("libcuda.so", "libcudart.so", "libcublas") if lib in text), None)
    if missing == "libcuda.so":
        return ModelEnvironmentError(
            "llama-cpp-python was built with CUDA, but this machine has no NVIDIA driver (libcuda.so.1 "
            "is missing)", hint="install the NVIDIA driver; a container needs --gpus all; "
            f"or go back to a CPU build: {CPU_REINSTALL}; see docs/GPU.md")
    if missing is not None:
        return ModelEnvironmentError(
            f"llama-cpp-python was built with CUDA, but the CUDA runtime it was built against is missing "
            f"({text[-160:]})", hint="install that CUDA version's runtime libraries or add them to "
            f"LD_LIBRARY_PATH; or go back to a CPU build: {CPU_REINSTALL}; see docs/GPU.md")
    return ModelEnvironmentError(f"llama-cpp-python is installed but its library would not load: {text[-240:]}",
                                 hint=f"reinstall it: {CPU_REINSTALL}")


def _quiet_logs(llama_cpp: Any) -> None:
    """Route llama.cpp's (and mtmd's) stderr logging to the ``chatdev.llama`` logger.

    Warnings and errors are remembered so a failed load can say why.
    """
    global _log_callback
    if _log_callback is not None:
        return

    @llama_cpp.llama_log_callback  # type: ignore[misc]
    def callback(level: int, text: bytes, user_data: ctypes.c_void_p) -> None:
        line = text.decode("utf-8", errors="replace").strip()
        if not line:
            return
        if level in (3, 4):  # GGML_LOG_LEVEL_WARN, GGML_LOG_LEVEL_ERROR
            recent_errors.append(line)
        log.debug("%s", line)

    _log_callback = callback
    llama_cpp.llama_log_set(callback, ctypes.c_void_p(0))
    try:
        from llama_cpp import mtmd_cpp

        mtmd_cpp.mtmd_log_set(callback, ctypes.c_void_p(0))
        mtmd_cpp.mtmd_helper_log_set(callback, ctypes.c_void_p(0))
    except (ImportError, AttributeError, OSError):  # a build without the multimodal library
        pass


def last_error() -> str:
    for line in reversed(recent_errors):
        if "error" in line.lower() or "fail" in line.lower() or "mismatch" in line.lower():
            return " ".join(line.split())
    return " ".join(recent_errors[-1].split()) if recent_errors else ""


def backend_info() -> dict[str, Any]:
    """What this llama.cpp build can do (for ``chatdev doctor``)."""
    llama_cpp = load()
    return {
        "version": getattr(llama_cpp, "__version__", "unknown"),
        "system_info": llama_cpp.llama_print_system_info().decode("utf-8", errors="replace").strip(),
        "gpu_offload": bool(llama_cpp.llama_supports_gpu_offload()),
        "max_devices": int(llama_cpp.llama_max_devices()),
        "mmap": bool(llama_cpp.llama_supports_mmap()),
    }


def supports_gpu_offload() -> bool:
    return bool(load().llama_supports_gpu_offload())


def _cpu_has_amx() -> bool:
    try:
        return "amx_int8" in Path("/proc/cpuinfo").read_text()
    except OSError:
        return False


def extra_buffers_default() -> bool:
    """Whether llama.cpp may repack weights into its extra CPU buffer types (AMX, REPACK).

    Off on CPUs with AMX: this llama.cpp's AMX path crashes in ``llama_decode``
    on such machines (seen on virtual machines that advertise AMX). Set
    ``CHATDEV_LLAMA_EXTRA_BUFFERS=1`` to turn it back on.
    """
    env = os.environ.get("CHATDEV_LLAMA_EXTRA_BUFFERS")
    if env is not None:
        return env.strip().lower() not in ("", "0", "false", "no", "off")
    return not _cpu_has_amx()


_params_lock = threading.Lock()


def lookup_default() -> bool:
    """Whether one reply at a time drafts tokens looked up in its context (``lookup.PromptLookup``).
    On unless ``CHATDEV_LLAMA_LOOKUP=0``."""
    env = os.environ.get("CHATDEV_LLAMA_LOOKUP")
    return env is None or env.strip().lower() not in ("0", "false", "no", "off")


def repack_default(parallel: int) -> bool:
    """Whether a CPU model's Q4_K layer weights go to llama.cpp's ``CPU_REPACK`` buffer where the
    extra buffers are off (AMX): on when the run decodes candidates together.

    Measured 2026-12-03 on 2 cores, the 1.5B (`bench/parallel.py --rounds 3 --no-chat`): 4
    sequences 21.3 -> 34.1 aggregate tok/s, 1 sequence 12.1 -> 14.9; but a 942-token prompt
    is evaluated in 10.3 s instead of 7.3 s. One reply at a time gains less than it loses
    on long prompts, so it stays off for N = 1. ``CHATDEV_LLAMA_REPACK=1`` / ``0`` decides.
    """
    env = os.environ.get("CHATDEV_LLAMA_REPACK")
    if env is not None and env.strip():
        return env.strip().lower() not in ("0", "false", "no", "off")
    return parallel > 1

class _BuftOverride(ctypes.Structure):  # struct llama_model_tensor_buft_override
    _fields_ = [("pattern", ctypes.c_char_p), ("buft", ctypes.c_void_p)]


_overrides: Any = None  # kept alive: llama.cpp reads the array while it loads


def repack_buffer_type(llama_cpp: Any) -> int | None:
    """llama.cpp's ``CPU_REPACK`` buffer type, looked up the way llama.cpp does (the CPU device's
    ``ggml_backend_dev_get_extra_bufts``); None when this build has none."""
    try:
        from llama_cpp import _ggml

        lib = _ggml.libggml
        lib.ggml_backend_dev_by_type.restype = ctypes.c_void_p
        lib.ggml_backend_dev_by_type.argtypes = [ctypes.c_int]
        lib.ggml_backend_dev_backend_reg.restype = ctypes.c_void_p
        lib.ggml_backend_dev_backend_reg.argtypes = [ctypes.c_void_p]
        lib.ggml_backend_reg_get_proc_address.restype = ctypes.c_void_p
        lib.ggml_backend_reg_get_proc_address.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
        lib.ggml_backend_buft_name.restype = ctypes.c_char_p
        lib.ggml_backend_buft_name.argtypes = [ctypes.c_void_p]
        dev = lib.ggml_backend_dev_by_type(0)  # GGML_BACKEND_DEVICE_TYPE_CPU
        if not dev:
            return None
        address = lib.ggml_backend_reg_get_proc_address(lib.ggml_backend_dev_backend_reg(dev),
                                                        b"ggml_backend_dev_get_extra_bufts")
        if not address:
            return None
        get_extra = ctypes.CFUNCTYPE(ctypes.POINTER(ctypes.c_void_p), ctypes.c_void_p)(address)
        bufts = get_extra(dev)
        i = 0
        while bufts and bufts[i]:
            if lib.ggml_backend_buft_name(bufts[i]) == b"CPU_REPACK":
                return int(bufts[i])
            i += 1
    except (AttributeError, OSError, ImportError):
        return None
    return None


def repack_patterns(layers: Sequence[tuple[str, Sequence[int]]]) -> list[bytes]:
    """One llama.cpp tensor-name pattern per kind of weight: ``^blk\\.(0|2|5)\\.attn_v\\.weight$``."""
    return [f"^blk\\.({'|'.join(str(n) for n in numbers)})\\.{kind}\\.weight$".encode()
            for kind, numbers in layers if numbers]


def _without_extra_buffers(original: Callable[[], Any], repack: int | None = None,
                           patterns: Sequence[bytes] = ()) -> Callable[[], Any]:
    def params() -> Any:
        value = original()
        value.use_extra_bufts = False
        if repack is not None and patterns:
            global _overrides
            entries = [_BuftOverride(p, repack) for p in patterns] + [_BuftOverride(None, None)]
            _overrides = (_BuftOverride * len(entries))(*entries)
            value.tensor_buft_overrides = ctypes.cast(_overrides, ctypes.c_void_p)
        return value

    return params


@contextlib.contextmanager
def model_params(llama_cpp: Any, *, extra_buffers: bool,
                 repack: Sequence[tuple[str, Sequence[int]]] = ()) -> Iterator[None]:
    """While a Llama is constructed, its model params get ``use_extra_bufts = extra_buffers``;
    with extra buffers off, the ``repack`` layers' weights (``GGUFInfo.repack_layers``) still go
    to ``CPU_REPACK``: its Q4_K kernels without the AMX buffer that crashes.

    llama-cpp-python has no argument for either, so its default-params function is
    wrapped for the duration (under a lock: two loads at once see the same).
    """
    if extra_buffers:
        yield
        return
    module = llama_cpp.llama_cpp
    buft = repack_buffer_type(llama_cpp) if repack else None
    with _params_lock:
        original = module.llama_model_default_params
        module.llama_model_default_params = _without_extra_buffers(original, buft, repack_patterns(repack))
        try:
            yield
        finally:
            module.llama_model_default_params = original


def patch_process_defaults() -> None:
    """For a process that only runs llama-cpp-python (e.g. ``llama_cpp.server``): the same safe defaults."""
    llama_cpp = load()
    if not extra_buffers_default():
        module = llama_cpp.llama_cpp
        module.llama_model_default_params = _without_extra_buffers(module.llama_model_default_params)


def default_threads() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS
        return max(1, os.cpu_count() or 1)
