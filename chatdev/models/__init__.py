"""Models: one ``ChatModel`` surface, several backends (``backends.py``).

``load_model(ref, n_ctx=...)`` turns what a user wrote (``--model``,
``--endpoint``, a role's ``model:``) into a ready model; the built-in backends take:

* ``http(s)://...``            → ``EndpointModel`` (an OpenAI-compatible server)
* a registry name              → ``LlamaModel`` on the files found (chatdev's cache, the Hugging
                                 Face cache) or assembled / downloaded once
* ``hf://owner/repo/file.gguf`` → the Hugging Face cache (downloaded into it once), then ``LlamaModel``
* ``ollama://NAME[:TAG]``       → ``LlamaModel`` on the GGUF blob in Ollama's store (no copy)
* a path to a ``.gguf``         → ``LlamaModel``

Heavy backends are imported only when chosen.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from chatdev.errors import ModelError
from chatdev.events import EventSink, null_sink
from chatdev.models.base import ChatModel, ImageInput, Message, Reply, SchemaViolation, Timings, Usage

if TYPE_CHECKING:
    from chatdev.models.registry import ModelFiles

__all__ = [
    "ChatModel",
    "ImageInput",
    "Message",
    "Reply",
    "SchemaViolation",
    "Timings",
    "Usage",
    "load_model",
    "resolve_ref",
]


def resolve_ref(ref: str, *, mmproj: str | Path | None = None, sink: EventSink = null_sink) -> ModelFiles:
    """The files behind a model reference (name, path, hf:// or ollama://), fetched if needed."""
    from chatdev.models import registry

    files = registry.resolve(ref, sink=sink)
    if mmproj is not None:
        mref = str(mmproj)
        mpath = registry.resolve(mref, sink=sink).model if mref.startswith("hf://") else Path(mref).expanduser()
        if not mpath.is_file():
            raise ModelError(f"{mpath}: no such vision projector file", hint="check the --mmproj path")
        files = type(files)(model=files.model, mmproj=mpath, name=files.name,
                            chat_format=files.chat_format)
    return files


def load_model(
    ref: str,
    *,
    n_ctx: int,
    gpu_layers: int | None = None,
    seed: int | None = None,
    mmproj: str | Path | None = None,
    sink: EventSink = null_sink,
    parallel: int = 1,
) -> ChatModel:
    """A ready ChatModel for a registry name, GGUF path, ``hf://`` / ``ollama://`` reference or endpoint URL.

    The backend that takes the reference loads it (``backends.backend_for``). Raises
    ModelError (exit 2) for a missing, unknown or corrupt model and
    ModelEnvironmentError (exit 3) when the machine or the server cannot run it.
    """
    from chatdev.models import backends

    ref = str(ref).strip()
    if not ref:
        raise ModelError("no model given", hint="pass --model NAME|FILE.gguf or --endpoint URL")
    return backends.load(backends.LoadRequest(ref=ref, n_ctx=n_ctx, gpu_layers=gpu_layers, seed=seed,
                                              mmproj=mmproj, sink=sink, parallel=parallel))
