"""``chatdev doctor`` and the GPU warning at the start of a build.

The llama.cpp build probed here is the real one installed (a CPU build on this
machine), the Docker engine and the model registry are the real ones. The only
stand-in is ``nvidia-smi``: a fake executable first on PATH plays an NVIDIA GPU
(or a broken driver), because that is where this machine ends.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable
from pathlib import Path
from subprocess import CompletedProcess

import pytest

from chatdev.models.offload import GpuProbe
from chatdev.tools import doctor

H100 = "0, NVIDIA H100 80GB HBM3, 81559, 81000, 580.159.04, 9.0"
MISMATCH = "echo 'Failed to initialize NVML: Driver/library version mismatch'\necho 'NVML library version: 580.159'\nexit 18\n"


def fake_smi(tmp_path: Path, body: str) -> Path:
    """A folder holding a fake ``nvidia-smi``; returns the folder (prepend it to PATH)."""
    bindir = tmp_path / "bin"
    bindir.mkdir(exist_ok=True)
    exe = bindir / "nvidia-smi"
    exe.write_text("#!/bin/sh\n" + body)
    exe.chmod(exe.stat().st_mode | stat.S_IEXEC)
    return bindir


@pytest.fixture
def gpu_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    bindir = fake_smi(tmp_path, f"echo '{H100}'\n")
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    return bindir


@pytest.fixture
def no_gpu_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """PATH without any nvidia-smi (this machine has none; make sure of it)."""
    dirs = [d for d in os.environ["PATH"].split(os.pathsep) if not (Path(d) / "nvidia-smi").exists()]
    monkeypatch.setenv("PATH", os.pathsep.join(dirs))


def cpu_build() -> doctor.LlamaBuild:
    build = doctor.llama_build()
    if build.error is not None:
        pytest.skip(f"llama-cpp-python not usable: {build.error}")
    if build.gpu_offload:
        pytest.skip("this llama-cpp-python build has GPU offload: the CPU-only warning cannot show")
    return build


def test_parse_backends() -> None:
    info = ("CPU : SSE3 = 1 | AVX2 = 1 | LLAMAFILE = 1 | CUDA : ARCHS = 900 | USE_GRAPHS = 1 | "
            "PEER_MAX_BATCH_SIZE = 128 | FA_ALL_QUANTS = 0 |")
    assert doctor.parse_backends(info) == ["CPU", "CUDA"]
    assert doctor.parse_backends("Metal : EMBED_LIBRARY = 1 | CPU : NEON = 1 | ARM_FMA = 1 |") == ["Metal", "CPU"]
    assert doctor.parse_backends("") == []


def test_no_gpu_for_real(no_gpu_path: None) -> None:
    build = cpu_build()
    assert build.version and "CPU" in build.backends and build.system_info
    report = doctor.diagnose()
    data = report.to_dict()
    assert data["gpus"] == [] and data["gpu_error"] is None
    assert data["llama_cpp"]["gpu_offload"] is False and data["llama_cpp"]["backends"][0] == "CPU"
    assert any(n.startswith("no GPU: models run on the CPU") and "30x" in n for n in report.notes)
    assert not any("NVIDIA" in w for w in report.warnings)
    assert doctor.gpu_warning() is None
    # every section is there, and the whole report is JSON
    for key in ("ok", "warnings", "notes", "llama_cpp", "gpus", "docker", "docker_error", "models",
                "build_model", "build_model_error", "offload"):
        assert key in data
    assert json.loads(json.dumps(data)) == data
    assert {m["name"] for m in data["models"]} >= {"qwen2.5-coder-0.5b"}
    if data["build_model"]:  # the model a build would use, and where it would run
        assert data["offload"] is None or data["offload"]["gpu_layers"] == 0
    assert (data["docker"] is not None) != (data["docker_error"] is not None)


def test_gpu_present_but_cpu_only_build_is_loud(gpu_path: Path) -> None:
    cpu_build()
    report = doctor.diagnose(docker=False, models=False)
    assert [d.name for d in report.gpus.devices] == ["NVIDIA H100 80GB HBM3"]
    assert not report.ok
    (loud,) = [w for w in report.warnings if "CPU-only" in w]
    assert "NVIDIA GPU present (NVIDIA H100 80GB HBM3)" in loud
    assert "-DGGML_CUDA=on" in loud and "-DCMAKE_CUDA_ARCHITECTURES=90" in loud
    assert "--force-reinstall --no-cache-dir --no-binary llama-cpp-python" in loud and "30x" in loud
    assert "docs/GPU.md" in loud
    assert doctor.gpu_warning() == loud
    # with no free-memory figure a CPU build plans nothing on the GPU
    assert doctor.gpu_free_bytes(report.llama, report.gpus) is None


def test_driver_mismatch_is_one_clear_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cpu_build()
    bindir = fake_smi(tmp_path, MISMATCH)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    report = doctor.diagnose(docker=False, models=False)
    assert report.gpus.devices == ()
    mismatch = [w for w in report.warnings if "mismatch" in w]
    assert len(mismatch) == 1 and "\n" not in mismatch[0] and mismatch[0].startswith("nvidia-smi:")
    # the GPU is still there: the CPU-only build is still worth saying
    assert any("CPU-only" in w for w in report.warnings)


def test_cuda_build_that_sees_no_device_is_reported() -> None:
    cuda = doctor.LlamaBuild(version="0.3.36", backends=["CPU", "CUDA"], gpu_offload=True,
                             system_info="CPU : AVX2 = 1 | CUDA : ARCHS = 900 |",
                             devices=[{"name": "CPU", "type": "cpu"}])
    from chatdev.models.offload import GpuDevice

    probe = GpuProbe(devices=(GpuDevice(0, "NVIDIA H100 80GB HBM3", 80 << 30, 79 << 30, "535.54", "9.0"),),
                     error=None, nvidia_smi="/usr/bin/nvidia-smi")
    warnings, _ = doctor.gpu_lines(cuda, probe)
    assert len(warnings) == 1 and "finds no CUDA device" in warnings[0] and "driver 535.54" in warnings[0]
    assert doctor.gpu_free_bytes(cuda, probe) is None
    seen = doctor.LlamaBuild(version="0.3.36", backends=["CPU", "CUDA"], gpu_offload=True, system_info="",
                             devices=[{"name": "CUDA0", "type": "gpu", "free_bytes": 70 << 30}])
    assert doctor.gpu_lines(seen, probe) == ([], [])
    assert doctor.gpu_free_bytes(seen, probe) == 70 << 30


def test_cli_doctor_json_with_a_gpu(gpu_path: Path, cli: Callable[..., CompletedProcess[str]]) -> None:
    cpu_build()
    proc = cli("doctor", "--json", env={"PATH": os.environ["PATH"]}, timeout=120)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["gpus"][0]["cuda_arch"] == "90" and data["gpus"][0]["free_bytes"] == 81000 * 2**20
    assert any("CPU-only" in w for w in data["warnings"]) and data["ok"] is False


def test_cli_doctor_text_says_it_loudly(gpu_path: Path, cli: Callable[..., CompletedProcess[str]]) -> None:
    cpu_build()
    proc = cli("doctor", env={"PATH": os.environ["PATH"]}, timeout=120)
    assert proc.returncode == 0, proc.stderr
    flat = " ".join(proc.stdout.split())
    assert "CPU-only" in flat and "NVIDIA H100" in flat


# What llama-cpp-python raises when its CUDA build meets a machine without the NVIDIA driver
# (seen with a CUDA 13 build of this version on a machine with no libcuda.so.1).
NO_DRIVER = ("Failed to load shared library '/venv/lib/python3.11/site-packages/llama_cpp/lib/libllama.so': "
             "libcuda.so.1: cannot open shared object file: No such file or directory")
BROKEN_IMPORT = f'''
import importlib.abc, sys
class _Broken(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "llama_cpp":
            raise RuntimeError({NO_DRIVER!r})
        return None
sys.meta_path.insert(0, _Broken())
'''


@pytest.fixture
def cuda_build_without_driver(tmp_path: Path) -> dict[str, str]:
    """An environment whose ``import llama_cpp`` fails as a CUDA build without the driver does."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(BROKEN_IMPORT)
    return {"PYTHONPATH": f"{site}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}


def test_cuda_build_without_the_driver_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.abc
    import sys

    from chatdev.errors import ModelEnvironmentError
    from chatdev.models import llama_backend

    class Broken(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):  # type: ignore[no-untyped-def]
            if name == "llama_cpp":
                raise RuntimeError(NO_DRIVER)
            return None

    monkeypatch.delitem(sys.modules, "llama_cpp", raising=False)
    monkeypatch.setattr(sys, "meta_path", [Broken(), *sys.meta_path])
    with pytest.raises(ModelEnvironmentError) as err:
        llama_backend.load()
    assert "built with CUDA" in str(err.value) and "no NVIDIA driver" in str(err.value)
    assert err.value.exit_code == 3 and "--force-reinstall" in (err.value.hint or "")
    build = doctor.llama_build()
    assert build.error is not None and "NVIDIA driver" in build.error and build.gpu_offload is False


def test_cli_with_a_cuda_build_and_no_driver(cuda_build_without_driver: dict[str, str], tmp_path: Path,
                                             cli: Callable[..., CompletedProcess[str]]) -> None:
    proc = cli("doctor", env=cuda_build_without_driver, timeout=120)
    assert proc.returncode == 0 and "no NVIDIA driver" in " ".join(proc.stdout.split()), proc.stdout + proc.stderr
    out = tmp_path / "out"
    pytest.importorskip("gguf")
    from tests.tinyllava import write_llm

    gguf = write_llm(tmp_path / "model.gguf")
    proc = cli("build", "a dice roller", "--model", str(gguf), "--out", str(out), "--plain", "--no-run",
               env=cuda_build_without_driver, timeout=120)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert "Traceback" not in proc.stderr and any("no NVIDIA driver" in ln for ln in lines), proc.stderr
    assert not out.exists() or not any(out.iterdir())  # nothing half-written
