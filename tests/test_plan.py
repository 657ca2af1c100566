"""GPU offload and memory planning (chatdev.models.offload).

Planning is pure arithmetic over GGUF header facts, so most tests use the real
``GGUFInfo`` type with the shape of LLaVA-1.5-7B Q4_K_M; one reads the real
header of the small Qwen GGUF and checks the estimates against its tensor
table. ``nvidia-smi`` is the machine boundary: a fake executable on PATH
stands in for the GPUs this machine does not have.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from chatdev.models import offload as P
from chatdev.models.gguf_info import GGUFInfo

GiB, MiB = P.GiB, P.MiB


def llava7b(**over: object) -> GGUFInfo:
    """LLaVA-1.5-7B Q4_K_M as its GGUF header describes it."""
    fields: dict[str, object] = dict(
        path=Path("llava-v1.5-7b-Q4_K_M.gguf"), architecture="llama", name="llava 1.5 7b", n_layers=32,
        n_embd=4096, n_head=32, n_head_kv=32, n_ctx_train=4096, vocab_size=32000, file_size=4_081_004_224,
        quantization="Q4_K_M", has_chat_template=False, chat_template=None, is_vision_projector=False,
        projector_type=None, kv_bytes_per_token=32 * 32 * 256 * 2, n_tensors=291,
        tensor_bytes=4_080_000_000, gguf_version=3)
    fields.update(over)
    return GGUFInfo(**fields)  # type: ignore[arg-type]


MMPROJ = 624_434_368  # mmproj-model-f16.gguf of LLaVA-1.5-7B


def test_no_gpu_plans_the_cpu_and_says_the_slowdown() -> None:
    plan = P.plan_offload(llava7b(), n_ctx=4096, free_vram=None)
    assert plan.gpu_layers == 0 and plan.fits and plan.needed_bytes == 0
    assert "CPU" in plan.reason and "30x" in plan.reason
    assert plan.to_dict()["offloaded_layers"] == 0


def test_everything_on_a_big_gpu() -> None:
    info = llava7b()
    plan = P.plan_offload(info, n_ctx=4096, free_vram=80 * GiB)
    assert plan.gpu_layers == -1 and plan.fits and plan.offloaded_layers == 32
    assert plan.kv_bytes == info.kv_bytes_per_token * 4096 == 2 * GiB
    # weights: every layer and the head, not the input table; at most the file's tensor bytes
    assert 3.5 * GiB < plan.weights_bytes <= info.tensor_bytes
    assert plan.needed_bytes == plan.weights_bytes + plan.kv_bytes + plan.compute_bytes
    assert 5.5 * GiB < plan.needed_bytes < 7.5 * GiB  # llama.cpp itself reports ~6.1 GiB for this shape
    assert "all 32 layers" in plan.reason


def test_partial_offload_takes_the_most_layers_that_fit() -> None:
    info = llava7b()
    free = 4 * GiB
    plan = P.plan_offload(info, n_ctx=4096, free_vram=free)
    assert plan.fits and 0 < plan.gpu_layers < 32
    assert plan.needed_bytes <= free - P.DEFAULT_RESERVE
    one_more = P.needed_bytes(info, n_ctx=4096, gpu_layers=plan.gpu_layers + 1)["total"]
    assert one_more > free - P.DEFAULT_RESERVE
    assert f"{plan.gpu_layers}/32 layers" in plan.reason and "slower" in plan.reason


def test_too_little_memory_for_one_layer_runs_on_the_cpu() -> None:
    plan = P.plan_offload(llava7b(), n_ctx=4096, free_vram=700 * MiB)
    assert plan.gpu_layers == 0 and plan.fits
    assert "too little GPU memory" in plan.reason and "CPU" in plan.reason


def test_explicit_gpu_layers_are_respected_or_refused_with_numbers() -> None:
    info = llava7b()
    ok = P.plan_offload(info, n_ctx=4096, free_vram=80 * GiB, gpu_layers=10)
    assert ok.gpu_layers == 10 and ok.fits and ok.explicit and ok.offloaded_layers == 10
    bad = P.plan_offload(info, n_ctx=4096, free_vram=3 * GiB, gpu_layers=-1)
    assert not bad.fits and bad.gpu_layers == -1
    best = P.max_layers(info, n_ctx=4096, budget=3 * GiB - P.DEFAULT_RESERVE)
    assert 0 < best < 32 and f"at most {best} layers fit" in bad.reason
    line = bad.error_line()
    assert "needs" in line and "3.0 GiB is free" in line and "all 32 layers" in line
    assert P.plan_offload(info, n_ctx=4096, free_vram=3 * GiB, gpu_layers=0).fits


def test_explicit_layers_without_a_gpu_fall_back_to_the_cpu_with_a_line() -> None:
    plan = P.plan_offload(llava7b(), n_ctx=4096, free_vram=None, gpu_layers=-1)
    assert plan.fits and "no GPU is usable" in plan.reason
    assert plan.gpu_layers == -1 and plan.needed_bytes == 0  # passed on unchanged; nothing lands on a GPU


def test_the_vision_projector_is_counted_on_the_gpu() -> None:
    info = llava7b()
    text = P.plan_offload(info, n_ctx=4096, free_vram=80 * GiB)
    vision = P.plan_offload(info, n_ctx=4096, free_vram=80 * GiB, mmproj_bytes=MMPROJ)
    assert vision.mmproj_bytes >= MMPROJ
    assert vision.needed_bytes - text.needed_bytes == vision.mmproj_bytes
    tiny = P.plan_offload(info, n_ctx=4096, free_vram=P.DEFAULT_RESERVE + 300 * MiB, mmproj_bytes=MMPROJ)
    assert not tiny.fits and "vision projector" in tiny.reason


def test_context_is_lowered_to_keep_every_layer_on_the_gpu_when_allowed() -> None:
    info = llava7b(n_ctx_train=16384)
    free = 7 * GiB
    fixed = P.plan_offload(info, n_ctx=16384, free_vram=free)
    assert fixed.n_ctx == 16384 and 0 < fixed.gpu_layers < 32  # context kept: partial offload
    shrunk = P.plan_offload(info, n_ctx=16384, free_vram=free, min_ctx=2048)
    assert shrunk.gpu_layers == -1 and shrunk.n_ctx < 16384 and shrunk.needed_bytes <= free - P.DEFAULT_RESERVE
    assert "context lowered from 16384" in shrunk.reason
    floor = P.plan_offload(info, n_ctx=16384, free_vram=3 * GiB, min_ctx=8192)
    assert floor.n_ctx == 16384  # shrinking to the floor still would not fit all: keep the asked context


def test_zero_context_means_the_training_context() -> None:
    assert P.plan_offload(llava7b(), n_ctx=0, free_vram=None).n_ctx == 4096


def test_needed_bytes_grow_with_layers() -> None:
    info = llava7b()
    totals = [P.needed_bytes(info, n_ctx=2048, gpu_layers=k)["total"] for k in range(33)]
    assert totals == sorted(totals) and totals[0] == 0
    assert P.needed_bytes(info, n_ctx=2048, gpu_layers=-1)["total"] > totals[-1]  # + the output head


def test_a_company_shares_one_gpu() -> None:
    big, small = llava7b(), llava7b(n_layers=24, n_embd=2048, n_head=16, n_head_kv=16, tensor_bytes=1_100_000_000,
                                    file_size=1_100_000_000, kv_bytes_per_token=24 * 16 * 256 * 2)
    roomy = P.plan_company([(big, 4096, MMPROJ), (small, 4096, 0)], 80 * GiB)
    assert [p.gpu_layers for p in roomy] == [-1, -1] and P.company_fits(roomy, 80 * GiB)
    free = 8 * GiB
    tight = P.plan_company([(big, 4096, MMPROJ), (small, 4096, 0)], free)
    assert P.company_fits(tight, free)
    assert sum(p.needed_bytes for p in tight) <= free - P.DEFAULT_RESERVE
    assert all(p.fits for p in tight) and any(p.gpu_layers != -1 for p in tight)
    assert all("shared by 2 models" in p.reason for p in tight)
    # the small model gets all its layers: its full need is below its share
    assert tight[1].gpu_layers == -1 and 0 < tight[0].gpu_layers < 32
    pinned = P.plan_company([(big, 4096, 0, 8), (small, 4096, 0)], free)
    assert pinned[0].gpu_layers == 8 and pinned[0].explicit
    assert sum(p.needed_bytes for p in pinned) <= free - P.DEFAULT_RESERVE
    assert [p.gpu_layers for p in P.plan_company([(big, 4096, 0)], None)] == [0]


def test_estimates_against_a_real_gguf_tensor_table() -> None:
    from chatdev.models import gguf_info, registry

    try:
        path = registry.resolve("qwen2.5-coder-0.5b", download=False).model
    except Exception as exc:  # noqa: BLE001 - the carrier packages are a dev extra
        pytest.skip(f"small model not here: {exc}")
    gguf = pytest.importorskip("gguf")
    info = gguf_info.read(path)
    tensors = gguf.GGUFReader(str(path)).tensors
    blk = sum(int(t.n_bytes) for t in tensors if t.name.startswith("blk."))
    head = sum(int(t.n_bytes) for t in tensors if t.name.startswith("output"))
    per_layer, _ = P.weights_split(info)
    assert blk / info.n_layers <= per_layer <= 2 * blk / info.n_layers  # never under, not wildly over
    plan = P.plan_offload(info, n_ctx=4096, free_vram=80 * GiB)
    assert plan.gpu_layers == -1
    assert blk + head * 0.75 <= plan.weights_bytes <= info.tensor_bytes * 1.05


# ----------------------------------------------------------------------------- nvidia-smi


def fake_smi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str) -> Path:
    """A fake ``nvidia-smi`` first on PATH (the machine boundary)."""
    bindir = tmp_path / "bin"
    bindir.mkdir(exist_ok=True)
    exe = bindir / "nvidia-smi"
    exe.write_text("#!/bin/sh\n" + body)
    exe.chmod(exe.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}")
    return exe


H100 = "0, NVIDIA H100 80GB HBM3, 81559, 81000, 580.159.04, 9.0\n"


def test_gpu_devices_from_nvidia_smi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_smi(tmp_path, monkeypatch, f'case "$1" in --query-gpu=*) printf "{H100}1, NVIDIA L4, 23034, 22000, '
                                    f'580.159.04, 8.9\\n";; *) exit 2;; esac\n')
    devices = P.gpu_devices()
    assert [d.name for d in devices] == ["NVIDIA H100 80GB HBM3", "NVIDIA L4"]
    h100 = devices[0]
    assert h100.total_bytes == 81559 * MiB and h100.free_bytes == 81000 * MiB
    assert h100.driver == "580.159.04" and h100.compute_cap == "9.0" and h100.cuda_arch == "90"
    probe = P.probe_gpus()
    assert probe.present and probe.error is None and probe.free_bytes == 81000 * MiB
    assert probe.to_dict()["devices"][1]["cuda_arch"] == "89"


def test_old_driver_without_compute_cap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_smi(tmp_path, monkeypatch, 'case "$1" in *compute_cap*) echo \'Field "compute_cap" is not a valid field '
                                    'to query.\'; exit 2;; esac\necho "0, Tesla T4, 15360, 15000, 470.82.01"\n')
    (dev,) = P.gpu_devices()
    assert dev.name == "Tesla T4" and dev.compute_cap is None and dev.cuda_arch is None


def test_driver_library_mismatch_is_one_clear_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_smi(tmp_path, monkeypatch, "echo 'Failed to initialize NVML: Driver/library version mismatch'\n"
                                    "echo 'NVML library version: 580.159'\nexit 18\n")
    probe = P.probe_gpus()
    assert probe.devices == () and probe.present
    assert probe.error is not None and "\n" not in probe.error
    assert "Driver/library version mismatch" in probe.error and "reboot" in probe.error
    assert P.gpu_devices() == []


def test_no_nvidia_smi_means_no_devices(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing on it
    probe = P.probe_gpus()
    assert probe.devices == () and probe.error is None and probe.nvidia_smi is None
    assert P.gpu_devices() == []


# ----------------------------------------------------------------------------- at load time


def test_plan_for_load_on_a_cpu_build_ignores_the_gpu() -> None:
    plan = P.plan_for_load(llava7b(), n_ctx=4096, gpu_layers=None, gpu_offload=False, free_vram=80 * GiB)
    assert plan.gpu_layers == 0 and plan.fits


def test_plan_for_load_fails_before_loading_with_needed_and_free() -> None:
    from chatdev.errors import ModelEnvironmentError, ModelError

    with pytest.raises(ModelEnvironmentError) as err:
        P.plan_for_load(llava7b(), n_ctx=4096, gpu_layers=-1, gpu_offload=True, free_vram=2 * GiB)
    line = err.value.line()
    assert isinstance(err.value, ModelError) and err.value.exit_code == 3
    assert "needs" in line and "2.0 GiB free" in line and "--gpu-layers" in line and "\n" not in line
    auto = P.plan_for_load(llava7b(), n_ctx=4096, gpu_layers=None, gpu_offload=True, free_vram=2 * GiB)
    assert auto.fits and 0 < auto.gpu_layers < 32  # automatic: a partial offload instead


def test_plan_for_load_reads_free_memory_from_nvidia_smi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_smi(tmp_path, monkeypatch, "echo '0, NVIDIA GeForce RTX 3060, 12288, 3000, 550.54, 8.6'\n")
    plan = P.plan_for_load(llava7b(), n_ctx=4096, gpu_layers=None, gpu_offload=True, mmproj_bytes=MMPROJ)
    assert plan.free_bytes == 3000 * MiB and 0 < plan.gpu_layers < 32 and plan.mmproj_bytes > 0
    monkeypatch.setenv("PATH", str(tmp_path / "nothing"))
    unplanned = P.plan_for_load(llava7b(), n_ctx=4096, gpu_layers=None, gpu_offload=True)
    assert unplanned.gpu_layers == -1 and unplanned.free_bytes is None and "unplanned" in unplanned.reason


@pytest.mark.llm
def test_a_real_load_carries_its_plan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """LlamaModel plans before loading: on this CPU build, the CPU, even with a GPU on PATH."""
    pytest.importorskip("llama_cpp")
    from chatdev.models import llama, llama_backend
    from tests import tinyllava

    if llama_backend.supports_gpu_offload():
        pytest.skip("a GPU build: covered by bench/gpu/verify.py on the GPU machine")
    path = tinyllava.write_llm(tmp_path / "tiny.gguf")
    fake_smi(tmp_path, monkeypatch, f"echo '{H100.strip()}'\n")
    with llama.LlamaModel(path, n_ctx=512) as model:
        assert model.gpu_layers == 0 and model.offload.gpu_layers == 0 and model.offload.fits
        assert "CPU" in model.offload.reason
    with llama.LlamaModel(path, n_ctx=512, gpu_layers=-1) as model:  # an explicit value travels unchanged
        assert model.gpu_layers == -1 and model.offload.explicit


def test_a_program_file_that_imports_itself_is_refused() -> None:
    """The 0.5B primes tool's test_fix wrote its tests under the name main.py."""
    from chatdev.models.base import SchemaViolation
    from chatdev.replies.formats import FilesFormat

    reply = ("main.py\n```python\nfrom main import is_prime\n\n\ndef test_is_prime():\n    assert is_prime(2)\n```")
    with pytest.raises(SchemaViolation, match=r"main.py imports itself \(`from main import is_prime`\) and holds "
                                              r"tests: they belong in tests/test_main.py"):
        FilesFormat().parse(reply, known=lambda: {"main.py": "def is_prime(n):\n    return n > 1\n"})
    with pytest.raises(SchemaViolation, match="game/board.py imports itself"):
        FilesFormat().parse("game/board.py\n```python\nimport game.board\n```", expected=["game/board.py"])
    ok = FilesFormat().parse("tests/test_main.py\n```python\nfrom main import is_prime\n```",
                             expected=["tests/test_main.py"])
    assert ok == {"tests/test_main.py": "from main import is_prime\n"}  # a test imports the program
    assert FilesFormat().parse("main.py\n```python\nimport mainframe\n```", expected=["main.py"])
