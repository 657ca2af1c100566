"""Models pulled with Ollama, loaded in-process from Ollama's own store, with no copy.

``ollama://NAME[:TAG]`` (``ollama://llama3.2``, ``ollama://llava:7b``,
``ollama://user/model:tag``) is looked up in the store: ``$OLLAMA_MODELS``,
else ``~/.ollama/models`` (and ``/usr/share/ollama/.ollama/models``, where
Ollama's Linux service keeps them). The manifest
``manifests/registry.ollama.ai/library/NAME/TAG`` names the layers; the one of
media type ``application/vnd.ollama.image.model`` is the GGUF, at
``blobs/sha256-<hex>``, and a vision model's
``application/vnd.ollama.image.projector`` layer is its mmproj. Nothing here
talks to the Ollama server: for that, ``--endpoint http://localhost:11434/v1``.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chatdev.errors import ModelError

REGISTRY = "registry.ollama.ai"
NAMESPACE = "library"
TAG = "latest"
MODEL_LAYER = "application/vnd.ollama.image.model"
PROJECTOR_LAYER = "application/vnd.ollama.image.projector"
_PART = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_NAME_HINT = "write it as ollama://NAME[:TAG], e.g. ollama://llama3.2:3b"


@dataclass(frozen=True)
class Pulled:
    """One model in Ollama's store: its manifest and the blobs it names."""

    ref: str  # ollama://NAME:TAG, as short as it can be written
    manifest: Path
    model: Path
    projector: Path | None
    size: int | None  # the model layer's size, from the manifest

    @property
    def pull_name(self) -> str:
        return self.ref.removeprefix("ollama://")


def stores() -> list[Path]:
    """Where Ollama keeps models: ``$OLLAMA_MODELS``, else the user's and the Linux service's folder."""
    env = os.environ.get("OLLAMA_MODELS")
    if env:
        return [Path(env).expanduser()]
    return [Path.home() / ".ollama" / "models", Path("/usr/share/ollama/.ollama/models")]


def store() -> Path:
    """The store in use: the first that exists (else the first, to name in messages)."""
    found = [s for s in stores() if (s / "manifests").is_dir()]
    return (found or stores())[0]


def parse(ref: str) -> tuple[str, str, str, str]:
    """``ollama://[[HOST/]NAMESPACE/]NAME[:TAG]`` → (host, namespace, name, tag)."""
    body = ref.strip().removeprefix("ollama://").strip("/")
    path, _, tag = body.partition(":")
    tag = tag or TAG
    parts = path.split("/") if path else []
    if len(parts) == 1:
        parts = [REGISTRY, NAMESPACE, *parts]
    elif len(parts) == 2:
        parts = [REGISTRY, *parts]
    if len(parts) != 3 or not all(_PART.fullmatch(p) for p in [*parts, tag]) or ".." in body:
        raise ModelError(f"'{ref}' is not an Ollama model name", hint=_NAME_HINT)
    host, namespace, name = parts
    return host, namespace, name, tag


def short(host: str, namespace: str, name: str, tag: str) -> str:
    """The name as ``ollama pull`` takes it."""
    if host == REGISTRY and namespace == NAMESPACE:
        return f"{name}:{tag}"
    if host == REGISTRY:
        return f"{namespace}/{name}:{tag}"
    return f"{host}/{namespace}/{name}:{tag}"


def find(ref: str) -> Pulled:
    """The pulled model behind ``ref``; ModelError (one line, exit 2) when it is not pulled or broken."""
    host, namespace, name, tag = parse(ref)
    pull = short(host, namespace, name, tag)
    for root in stores():
        manifest = root / "manifests" / host / namespace / name / tag
        if manifest.is_file():
            return _read(root, manifest, f"ollama://{pull}", pull)
    tags = sorted({p.name for root in stores() for p in (root / "manifests" / host / namespace / name).glob("*")
                   if p.is_file()})
    also = f"; pulled: {', '.join(f'{name}:{t}' for t in tags)}" if tags else ""
    raise ModelError(f"ollama://{pull}: not pulled with Ollama (no manifest in {store() / 'manifests'})",
                     hint=f"ollama pull {pull}, or `chatdev models list` for the models here{also}")


def resolve(ref: str) -> Pulled:
    """``find`` and check the model blob is a whole GGUF (Ollama's own check is the pull's)."""
    pulled = find(ref)
    from chatdev.models import gguf_info

    actual = pulled.model.stat().st_size
    if pulled.size is not None and actual != pulled.size:
        raise ModelError(f"{pulled.ref}: Ollama's model blob {pulled.model} has {actual:,} bytes, its manifest "
                         f"says {pulled.size:,}", hint=f"ollama pull {pulled.pull_name} again")
    for path, what in ((pulled.model, "model"), (pulled.projector, "projector")):
        if path is None:
            continue
        try:
            gguf_info.read(path)
        except ModelError as exc:
            why = str(exc).removeprefix(f"{path}: ")
            raise ModelError(f"{pulled.ref}: Ollama's {what} blob {path} is not a usable GGUF ({why})",
                             hint=f"ollama pull {pulled.pull_name} again with a current Ollama, or let Ollama "
                                  "serve it: --endpoint http://localhost:11434/v1") from None
    return pulled


def pulled() -> list[Pulled]:
    """Every model in the stores whose manifest and model blob are readable (first store wins a name)."""
    found: dict[str, Pulled] = {}
    for root in stores():
        for manifest in sorted((root / "manifests").glob("*/*/*/*")):
            if not manifest.is_file():
                continue
            host, namespace, name = manifest.parts[-4:-1]
            pull = short(host, namespace, name, manifest.name)
            try:
                item = _read(root, manifest, f"ollama://{pull}", pull)
            except ModelError:
                continue
            found.setdefault(item.ref, item)
    return list(found.values())


def _read(root: Path, manifest: Path, ref: str, pull: str) -> Pulled:
    again = f"ollama pull {pull} again"
    try:
        data: Any = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        why = getattr(exc, "strerror", None) or str(exc).splitlines()[0][:120]
        raise ModelError(f"{ref}: Ollama's manifest {manifest} is unreadable ({why})", hint=again) from None
    layers = data.get("layers") if isinstance(data, dict) else None
    layers = [lay for lay in layers if isinstance(lay, dict)] if isinstance(layers, list) else []
    model = next((lay for lay in layers if lay.get("mediaType") == MODEL_LAYER), None)
    if model is None:
        raise ModelError(f"{ref}: Ollama's manifest names no model layer ({MODEL_LAYER})",
                         hint="a cloud or remote Ollama model has no weights here: "
                              "use --endpoint http://localhost:11434/v1")
    projector = next((lay for lay in layers if lay.get("mediaType") == PROJECTOR_LAYER), None)
    size = model.get("size")
    return Pulled(ref=ref, manifest=manifest, model=_blob(root, model, ref, again),
                  projector=_blob(root, projector, ref, again) if projector else None,
                  size=size if isinstance(size, int) and not isinstance(size, bool) else None)


def _blob(root: Path, layer: dict[str, Any], ref: str, again: str) -> Path:
    digest = str(layer.get("digest", ""))
    m = re.fullmatch(r"sha256[:-]([0-9a-f]{64})", digest)
    if not m:
        raise ModelError(f"{ref}: Ollama's manifest has a layer digest that is not sha256 ({digest[:80]!r})",
                         hint=again)
    for name in (f"sha256-{m.group(1)}", f"sha256:{m.group(1)}"):  # older Ollama wrote the colon
        path = root / "blobs" / name
        if path.is_file():
            return path
    missing = root / "blobs" / f"sha256-{m.group(1)}"
    raise ModelError(f"{ref}: the blob its Ollama manifest names is missing ({missing})", hint=again)
