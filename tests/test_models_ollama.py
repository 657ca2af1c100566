"""Models pulled with Ollama: found in a tiny fake Ollama store (OLLAMA_MODELS), used in place."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from chatdev.errors import ModelError
from chatdev.models import gguf_info, ollama, registry

sys.path.insert(0, str(Path(__file__).parent))
from tinyllava import write_pair

REPO = Path(__file__).resolve().parent.parent


def _blob(store: Path, data: bytes) -> str:
    digest = hashlib.sha256(data).hexdigest()
    (store / "blobs").mkdir(parents=True, exist_ok=True)
    (store / "blobs" / f"sha256-{digest}").write_bytes(data)
    return f"sha256:{digest}"


def pull(store: Path, name: str, model: bytes, *, projector: bytes | None = None,
         host: str = ollama.REGISTRY, namespace: str = ollama.NAMESPACE) -> Path:
    """What `ollama pull` leaves: a manifest naming blobs (model, template, params, projector)."""
    base, _, tag = name.partition(":")
    layers = [{"mediaType": ollama.MODEL_LAYER, "digest": _blob(store, model), "size": len(model)},
              {"mediaType": "application/vnd.ollama.image.template", "digest": _blob(store, b"{{ .Prompt }}"),
               "size": 13}]
    if projector is not None:
        layers.append({"mediaType": ollama.PROJECTOR_LAYER, "digest": _blob(store, projector),
                       "size": len(projector)})
    manifest = store / "manifests" / host / namespace / base / (tag or "latest")
    manifest.parent.mkdir(parents=True, exist_ok=True)
    manifest.write_text(json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                   "digest": _blob(store, b"{}"), "size": 2},
        "layers": layers}))
    return manifest


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, bytes]:
    llm, proj = write_pair(tmp_path_factory.mktemp("tiny"))
    return llm.read_bytes(), proj.read_bytes()


@pytest.fixture()
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pair: tuple[bytes, bytes]) -> Path:
    root = tmp_path / "ollama" / "models"
    pull(root, "tiny", pair[0])
    pull(root, "tiny:q8", pair[0])
    pull(root, "tinyvision:1b", pair[0], projector=pair[1])
    pull(root, "custom:v2", pair[0], namespace="someone")
    pull(root, "Llama-GGUF:Q4_K_M", pair[0], host="hf.co", namespace="bartowski")
    monkeypatch.setenv("OLLAMA_MODELS", str(root))
    monkeypatch.setenv("CHATDEV_CACHE", str(tmp_path / "cache"))
    return root


def test_a_pulled_model_is_used_in_place(store: Path, pair: tuple[bytes, bytes]) -> None:
    files = registry.resolve("ollama://tiny")
    digest = hashlib.sha256(pair[0]).hexdigest()
    assert files.model == store / "blobs" / f"sha256-{digest}"  # Ollama's blob itself: no copy
    assert files.mmproj is None and files.name == "ollama://tiny:latest" and files.chat_format is None
    assert registry.resolve("ollama://tiny:latest").model == files.model
    assert registry.resolve("ollama://library/tiny:q8").model == files.model
    assert not (store.parent.parent / "cache").exists()
    assert registry.info("ollama://tiny").architecture == "llama"


def test_names_with_a_namespace_or_a_host(store: Path) -> None:
    assert registry.resolve("ollama://someone/custom:v2").name == "ollama://someone/custom:v2"
    assert registry.resolve("ollama://hf.co/bartowski/Llama-GGUF:Q4_K_M").model.is_file()


def test_a_vision_model_brings_its_projector(store: Path, pair: tuple[bytes, bytes]) -> None:
    files = registry.resolve("ollama://tinyvision:1b")
    assert files.mmproj == store / "blobs" / f"sha256-{hashlib.sha256(pair[1]).hexdigest()}"
    assert gguf_info.read(files.mmproj).is_vision_projector


def test_models_list_shows_what_ollama_pulled(store: Path) -> None:
    entries = {e.name: e for e in registry.list_models()}
    assert {"ollama://tiny:latest", "ollama://tiny:q8", "ollama://tinyvision:1b", "ollama://someone/custom:v2",
            "ollama://hf.co/bartowski/Llama-GGUF:Q4_K_M"} <= set(entries)
    vision = entries["ollama://tinyvision:1b"]
    assert vision.present and vision.vision and vision.where == "ollama" and vision.mmproj is not None
    assert vision.path is not None and str(vision.path).startswith(str(store / "blobs"))
    assert vision.to_dict()["sources"] == [f"ollama: {store}"]
    assert not entries["ollama://tiny:latest"].vision
    assert "llava-1.5-7b" in entries  # the registry is still there


def test_a_name_that_is_not_pulled(store: Path) -> None:
    with pytest.raises(ModelError, match="ollama://nothere:latest: not pulled with Ollama") as err:
        registry.resolve("ollama://nothere")
    assert "ollama pull nothere:latest" in err.value.line() and err.value.exit_code == 2
    with pytest.raises(ModelError, match="not pulled") as err:
        registry.resolve("ollama://tiny:70b")
    assert "pulled: tiny:latest, tiny:q8" in err.value.line()


@pytest.mark.parametrize("ref", ["ollama://", "ollama://../etc:x", "ollama://a/b/c/d", "ollama://tiny:"
                                 "bad tag"])
def test_a_name_that_is_not_a_name(store: Path, ref: str) -> None:
    with pytest.raises(ModelError, match="is not an Ollama model name"):
        registry.resolve(ref)


def test_a_blob_that_is_not_gguf(store: Path) -> None:
    pull(store, "ggml:old", b"lmgg" + b"\0" * 4096)  # a pre-GGUF (GGML) model
    with pytest.raises(ModelError, match="ollama://ggml:old: Ollama's model blob .* is not a usable GGUF") as err:
        registry.resolve("ollama://ggml:old")
    assert "not a GGUF file" in err.value.line() and "\n" not in err.value.line() and err.value.exit_code == 2


def test_a_cut_blob_a_missing_blob_and_a_broken_manifest(store: Path, pair: tuple[bytes, bytes]) -> None:
    manifest = pull(store, "cut", pair[0][:-1000])
    data = json.loads(manifest.read_text())
    data["layers"][0]["size"] = len(pair[0])
    manifest.write_text(json.dumps(data))
    with pytest.raises(ModelError, match="its manifest says"):
        registry.resolve("ollama://cut")
    manifest = pull(store, "gone", b"GGUF-not-here")
    os.remove(store / "blobs" / f"sha256-{hashlib.sha256(b'GGUF-not-here').hexdigest()}")
    with pytest.raises(ModelError, match="blob its Ollama manifest names is missing") as err:
        registry.resolve("ollama://gone")
    assert "ollama pull gone:latest again" in err.value.line()
    (store / "manifests" / ollama.REGISTRY / "library" / "broken").mkdir()
    (store / "manifests" / ollama.REGISTRY / "library" / "broken" / "latest").write_text("{not json")
    with pytest.raises(ModelError, match="manifest .* is unreadable"):
        registry.resolve("ollama://broken")
    assert "ollama://broken:latest" not in {e.name for e in registry.list_models()}


def test_the_store_follows_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("OLLAMA_MODELS", str(tmp_path / "m"))
    assert ollama.stores() == [tmp_path / "m"]
    monkeypatch.delenv("OLLAMA_MODELS")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert ollama.stores()[0] == tmp_path / ".ollama" / "models"


def test_the_command_line(store: Path, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO), "NO_COLOR": "1", "COLUMNS": "200"}

    def chatdev(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "chatdev", *args], env=env, cwd=tmp_path, text=True,
                              capture_output=True, timeout=120)

    listed = chatdev("models", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert any(e["name"] == "ollama://tinyvision:1b" and e["where"] == "ollama" for e in json.loads(listed.stdout))
    info = chatdev("models", "info", "ollama://tiny", "--json")
    assert info.returncode == 0 and json.loads(info.stdout)["architecture"] == "llama", info.stderr
    missing = chatdev("models", "pull", "ollama://nothere")
    assert missing.returncode == 2 and "Traceback" not in missing.stderr
    assert missing.stderr.startswith("chatdev: error: ollama://nothere:latest: not pulled")
    assert missing.stderr.count("\n") == 1


def test_a_pulled_vision_model_loads_in_process(store: Path) -> None:
    pytest.importorskip("llama_cpp")
    from chatdev.models import load_model

    model = load_model("ollama://tinyvision:1b", n_ctx=512, seed=0)
    try:
        assert model.supports_vision and model.n_ctx == 512
    finally:
        model.close()
