"""Model backends: which kind of model a reference names, and what that kind can do.

A backend is a small class (``Backend``): ``accepts(ref)`` says whether a reference
(``--model``, ``--endpoint``, a role's ``model:``) is its own, ``load(request)`` makes
the ready ``ChatModel`` (importing its heavy library only then), and ``supports``
declares what it can do, so the loader can say what it ignores instead of each
backend saying it differently. The first backend in ``registered()`` that accepts a
reference loads it.

Adding a backend is one new file with one ``Backend`` subclass, named in
``BUILTIN`` or registered by a plugin package under the ``chatdev.backends``
entry-point group (``[project.entry-points."chatdev.backends"] mine = "pkg.mod:MyBackend"``).
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import ClassVar

from chatdev.errors import ModelError
from chatdev.events import EventSink, Notice, null_sink
from chatdev.models.base import ChatModel

# What a backend may declare in ``supports``.
MMPROJ = "mmproj"  # takes a separate vision projector file (--mmproj)
GPU_LAYERS = "gpu_layers"  # chatdev decides how many layers go to the GPU (--gpu-layers)
SCHEMA = "schema"  # constrains decoding to a JSON schema (else the reply is only validated)
CANDIDATES = "candidates"  # answers several candidates to one prompt at once (chat_many)
LOCAL = "local"  # the weights run in this process
FEATURES = (MMPROJ, GPU_LAYERS, SCHEMA, CANDIDATES, LOCAL)

ENTRY_POINTS = "chatdev.backends"
BUILTIN = ("chatdev.models.openai:EndpointBackend", "chatdev.models.llama:GGUFBackend")


@dataclass(frozen=True)
class LoadRequest:
    """What the user asked for, as every backend receives it."""

    ref: str
    n_ctx: int
    gpu_layers: int | None = None
    seed: int | None = None
    mmproj: str | Path | None = None
    sink: EventSink = null_sink
    parallel: int = 1  # the most candidates the run decodes at once


class Backend(ABC):
    """One kind of model: the references it takes, what it can do, how it loads."""

    name: ClassVar[str]  # one word for lists: "endpoint", "gguf"
    noun: ClassVar[str]  # for messages: "an endpoint"
    takes: ClassVar[str]  # the references it takes, for people
    supports: ClassVar[frozenset[str]] = frozenset()
    ignored_hint: ClassVar[str] = ""  # why an unsupported option does not matter here

    @classmethod
    @abstractmethod
    def accepts(cls, ref: str) -> bool:
        """Whether ``ref`` names a model of this kind (cheap: no file or network access)."""

    @classmethod
    @abstractmethod
    def load(cls, request: LoadRequest) -> ChatModel:
        """The ready model. Raises ModelError (exit 2) or ModelEnvironmentError (exit 3)."""


_registered: list[type[Backend]] = []
_plugins_read = False


def register(backend: type[Backend], *, first: bool = False) -> type[Backend]:
    """Add a backend (usable as a class decorator); ``first`` puts it ahead of the built-ins."""
    if not (isinstance(backend, type) and issubclass(backend, Backend)):
        raise TypeError(f"{backend!r} is not a Backend subclass")
    unknown = set(backend.supports) - set(FEATURES)
    if unknown:
        raise ValueError(f"{backend.__name__}.supports names unknown features: {', '.join(sorted(unknown))}")
    if backend not in _registered:
        _registered.insert(0, backend) if first else _registered.append(backend)
    return backend


def unregister(backend: type[Backend]) -> None:
    if backend in _registered:
        _registered.remove(backend)


def _load_class(spec: str, where: str) -> type[Backend]:
    module, _, attr = spec.partition(":")
    try:
        cls = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        raise ModelError(f"model backend {spec} ({where}) cannot be loaded: {exc}",
                         hint="reinstall chatdev, or uninstall the plugin that names it") from None
    return cls


def registered() -> list[type[Backend]]:
    """The backends in the order they are asked: registered ones, plugins, then the built-ins."""
    global _plugins_read
    if not _plugins_read:
        _plugins_read = True
        for ep in metadata.entry_points(group=ENTRY_POINTS):
            register(_load_class(ep.value, f"entry point {ep.name}"))
    builtin = [_load_class(spec, "built in") for spec in BUILTIN]
    return [b for b in _registered if b not in builtin] + builtin


def backend_for(ref: str) -> type[Backend]:
    for backend in registered():
        if backend.accepts(ref):
            return backend
    raise ModelError(f"{ref}: no model backend takes this reference",
                     hint="pass a registry name, a .gguf path, hf://..., ollama://NAME or an http(s):// endpoint")


def load(request: LoadRequest) -> ChatModel:
    """Load ``request.ref`` with the backend that takes it; options it does not support are named once."""
    backend = backend_for(request.ref)
    why = f": {backend.ignored_hint}" if backend.ignored_hint else ""
    if request.mmproj is not None and MMPROJ not in backend.supports:
        request.sink(Notice(level="warning", text=f"--mmproj is ignored with {backend.noun}{why}"))
    if request.gpu_layers is not None and GPU_LAYERS not in backend.supports:
        request.sink(Notice(level="warning", text=f"--gpu-layers is ignored with {backend.noun}{why}"))
    return backend.load(request)
