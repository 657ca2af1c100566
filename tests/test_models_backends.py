"""Model backends are classes found by the reference they accept (chatdev/models/backends.py)."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

import pytest

from chatdev import events as ev
from chatdev.errors import ModelError
from chatdev.models import Message, backends, load_model
from chatdev.models.llama import GGUFBackend
from chatdev.models.openai import EndpointBackend
from chatdev.models.scripted import ScriptedModel


class EchoBackend(backends.Backend):
    """A plugin's backend: ``echo://WORD`` answers WORD."""

    name = "echo"
    noun = "an echo model"
    takes = "echo://WORD"
    supports = frozenset({backends.SCHEMA})
    ignored_hint = "it has no weights"

    @classmethod
    def accepts(cls, ref: str) -> bool:
        return ref.startswith("echo://")

    @classmethod
    def load(cls, request: backends.LoadRequest) -> ScriptedModel:
        word = request.ref.removeprefix("echo://")
        return ScriptedModel(lambda messages: word, n_ctx=request.n_ctx, name=f"echo-{word}")


@pytest.fixture
def fresh(monkeypatch: pytest.MonkeyPatch) -> list[metadata.EntryPoint]:
    """An empty registry whose plugins are the entry points the test puts in the returned list."""
    points: list[metadata.EntryPoint] = []
    monkeypatch.setattr(backends, "_registered", [])
    monkeypatch.setattr(backends, "_plugins_read", False)
    monkeypatch.setattr(backends.metadata, "entry_points",
                        lambda group: [p for p in points if p.group == group])
    return points


@pytest.mark.parametrize(("ref", "backend"), [
    ("http://127.0.0.1:8080/v1", EndpointBackend),
    ("HTTPS://example.org/v1#qwen", EndpointBackend),
    ("qwen2.5-coder-0.5b", GGUFBackend),
    ("~/models/m.gguf", GGUFBackend),
    ("hf://owner/repo/file.gguf", GGUFBackend),
    ("ollama://llama3:8b", GGUFBackend),
])
def test_a_reference_finds_its_backend(fresh: list[metadata.EntryPoint], ref: str,
                                       backend: type[backends.Backend]) -> None:
    assert backends.backend_for(ref) is backend
    assert [b.name for b in backends.registered()] == ["endpoint", "gguf"]


def test_each_builtin_declares_what_it_supports() -> None:
    assert backends.MMPROJ not in EndpointBackend.supports and backends.GPU_LAYERS not in EndpointBackend.supports
    assert {backends.MMPROJ, backends.GPU_LAYERS, backends.LOCAL, backends.CANDIDATES} <= GGUFBackend.supports
    for backend in (EndpointBackend, GGUFBackend):
        assert set(backend.supports) <= set(backends.FEATURES) and backend.takes and backend.noun


def test_a_registered_backend_loads_through_load_model(fresh: list[metadata.EntryPoint]) -> None:
    backends.register(EchoBackend)
    model = load_model("echo://hello", n_ctx=2048)
    assert model.name == "echo-hello" and model.n_ctx == 2048
    assert model.chat([Message("user", "hi")]).text == "hello"
    assert backends.backend_for("qwen2.5-coder-0.5b") is GGUFBackend  # the built-ins still answer the rest


def test_options_a_backend_does_not_support_are_named_once(fresh: list[metadata.EntryPoint]) -> None:
    backends.register(EchoBackend)
    notices: list[ev.Event] = []
    load_model("echo://x", n_ctx=512, mmproj="/tmp/p.gguf", gpu_layers=10, sink=notices.append)
    texts = [n.text for n in notices if isinstance(n, ev.Notice)]
    assert texts == ["--mmproj is ignored with an echo model: it has no weights",
                     "--gpu-layers is ignored with an echo model: it has no weights"]


def test_a_plugin_entry_point_is_a_backend(fresh: list[metadata.EntryPoint]) -> None:
    fresh.append(metadata.EntryPoint(name="echo", value=f"{__name__}:EchoBackend", group=backends.ENTRY_POINTS))
    assert backends.registered()[0] is EchoBackend
    assert backends.backend_for("echo://a") is EchoBackend


def test_a_broken_plugin_is_one_line(fresh: list[metadata.EntryPoint]) -> None:
    fresh.append(metadata.EntryPoint(name="gone", value="no_such_module_xyz:Backend", group=backends.ENTRY_POINTS))
    with pytest.raises(ModelError) as err:
        backends.registered()
    assert "model backend no_such_module_xyz:Backend (entry point gone) cannot be loaded" in str(err.value)
    assert "\n" not in str(err.value)


def test_register_refuses_what_is_not_a_backend(fresh: list[metadata.EntryPoint]) -> None:
    with pytest.raises(TypeError):
        backends.register(ScriptedModel)  # type: ignore[arg-type]

    class Odd(EchoBackend):
        supports = frozenset({"telepathy"})

    with pytest.raises(ValueError, match="telepathy"):
        backends.register(Odd)


def test_no_model_and_unknown_names_are_model_errors(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="no model given"):
        load_model("  ", n_ctx=512)
    with pytest.raises(ModelError):
        load_model(str(tmp_path / "missing.gguf"), n_ctx=512)
