"""A tiny random-weight LLaVA-format pair, written with the ``gguf`` package.

* ``tiny-llava.gguf`` — a llama-architecture language model: 1 layer, 64-wide,
  a SentencePiece vocabulary of the 3 specials and 256 byte tokens, F32.
* ``tiny-mmproj.gguf`` — a CLIP vision projector of projector type ``mlp``
  (LLaVA-1.5's): 2 ViT blocks, 32-wide, 28x28 images in 14x14 patches, so one
  image becomes 2 x 2 = 4 image tokens, projected to the LLM's 64.

Both load in llama.cpp / mtmd in well under a second. Nothing here is a real
model: the tests use the pair to drive the real vision path (image → CLIP →
projector → LLM → tokens), not to judge answers.

    python tests/tinyllava.py OUTDIR     # writes the pair, prints the paths
"""

from __future__ import annotations

import struct
import sys
import zlib
from pathlib import Path

import numpy as np

LLM_EMBD = 64
IMAGE_SIZE = 28
PATCH_SIZE = 14
IMAGE_TOKENS = (IMAGE_SIZE // PATCH_SIZE) ** 2


def _rand(rng: np.random.Generator, *shape: int, scale: float = 0.05) -> np.ndarray:
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def write_llm(path: Path, *, n_embd: int = LLM_EMBD, seed: int = 0) -> Path:
    import gguf

    rng = np.random.default_rng(seed)
    n_head, n_layer, n_ff = 2, 1, 128
    tokens: list[str] = ["<unk>", "<s>", "</s>"] + [f"<0x{i:02X}>" for i in range(256)]
    types = [gguf.TokenType.UNKNOWN, gguf.TokenType.CONTROL, gguf.TokenType.CONTROL] + [gguf.TokenType.BYTE] * 256
    n_vocab = len(tokens)

    w = gguf.GGUFWriter(str(path), arch="llama")
    w.add_name("tiny-llava (random weights, for tests)")
    w.add_context_length(2048)
    w.add_embedding_length(n_embd)
    w.add_block_count(n_layer)
    w.add_feed_forward_length(n_ff)
    w.add_head_count(n_head)
    w.add_head_count_kv(n_head)
    w.add_rope_dimension_count(n_embd // n_head)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_file_type(0)  # all F32
    w.add_vocab_size(n_vocab)
    w.add_tokenizer_model("llama")
    w.add_token_list(tokens)
    w.add_token_scores([0.0] * n_vocab)
    w.add_token_types(types)
    w.add_unk_token_id(0)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)

    w.add_tensor("token_embd.weight", _rand(rng, n_vocab, n_embd, scale=0.5))
    w.add_tensor("output_norm.weight", np.ones(n_embd, dtype=np.float32))
    w.add_tensor("output.weight", _rand(rng, n_vocab, n_embd, scale=0.5))
    for i in range(n_layer):
        p = f"blk.{i}"
        w.add_tensor(f"{p}.attn_norm.weight", np.ones(n_embd, dtype=np.float32))
        for name in ("attn_q", "attn_k", "attn_v", "attn_output"):
            w.add_tensor(f"{p}.{name}.weight", _rand(rng, n_embd, n_embd))
        w.add_tensor(f"{p}.ffn_norm.weight", np.ones(n_embd, dtype=np.float32))
        w.add_tensor(f"{p}.ffn_gate.weight", _rand(rng, n_ff, n_embd))
        w.add_tensor(f"{p}.ffn_up.weight", _rand(rng, n_ff, n_embd))
        w.add_tensor(f"{p}.ffn_down.weight", _rand(rng, n_embd, n_ff))
    _finish(w)
    return path


def write_mmproj(path: Path, *, projection_dim: int = LLM_EMBD, seed: int = 1,
                 header_projection_dim: int | None = None) -> Path:
    """The projector; ``header_projection_dim`` makes the header lie about the tensors (a broken file)."""
    import gguf

    rng = np.random.default_rng(seed)
    hidden, n_ff, n_head, n_layer = 32, 48, 2, 2
    n_pos = IMAGE_TOKENS + 1  # patches + the class embedding

    w = gguf.GGUFWriter(str(path), arch="clip")
    w.add_name("tiny-mmproj (random weights, for tests)")
    w.add_file_type(0)
    w.add_bool("clip.has_text_encoder", False)
    w.add_bool("clip.has_vision_encoder", True)
    w.add_bool("clip.has_llava_projector", True)
    w.add_string("clip.projector_type", "mlp")
    w.add_bool("clip.use_gelu", True)
    w.add_uint32("clip.vision.image_size", IMAGE_SIZE)
    w.add_uint32("clip.vision.patch_size", PATCH_SIZE)
    w.add_uint32("clip.vision.embedding_length", hidden)
    w.add_uint32("clip.vision.feed_forward_length", n_ff)
    w.add_uint32("clip.vision.projection_dim", header_projection_dim or projection_dim)
    w.add_uint32("clip.vision.attention.head_count", n_head)
    w.add_float32("clip.vision.attention.layer_norm_epsilon", 1e-5)
    w.add_uint32("clip.vision.block_count", n_layer)
    w.add_array("clip.vision.image_mean", [0.48145466, 0.4578275, 0.40821073])
    w.add_array("clip.vision.image_std", [0.26862954, 0.26130258, 0.27577711])

    w.add_tensor("v.class_embd", _rand(rng, hidden))
    w.add_tensor("v.patch_embd.weight", _rand(rng, hidden, 3, PATCH_SIZE, PATCH_SIZE).astype(np.float16))
    w.add_tensor("v.position_embd.weight", _rand(rng, n_pos, hidden))
    w.add_tensor("v.pre_ln.weight", np.ones(hidden, dtype=np.float32))
    w.add_tensor("v.pre_ln.bias", np.zeros(hidden, dtype=np.float32))
    for i in range(n_layer):
        p = f"v.blk.{i}"
        for name in ("attn_q", "attn_k", "attn_v", "attn_out"):
            w.add_tensor(f"{p}.{name}.weight", _rand(rng, hidden, hidden))
            w.add_tensor(f"{p}.{name}.bias", np.zeros(hidden, dtype=np.float32))
        for name in ("ln1", "ln2"):
            w.add_tensor(f"{p}.{name}.weight", np.ones(hidden, dtype=np.float32))
            w.add_tensor(f"{p}.{name}.bias", np.zeros(hidden, dtype=np.float32))
        w.add_tensor(f"{p}.ffn_up.weight", _rand(rng, n_ff, hidden))
        w.add_tensor(f"{p}.ffn_up.bias", np.zeros(n_ff, dtype=np.float32))
        w.add_tensor(f"{p}.ffn_down.weight", _rand(rng, hidden, n_ff))
        w.add_tensor(f"{p}.ffn_down.bias", np.zeros(hidden, dtype=np.float32))
    w.add_tensor("mm.0.weight", _rand(rng, projection_dim, hidden))
    w.add_tensor("mm.0.bias", np.zeros(projection_dim, dtype=np.float32))
    w.add_tensor("mm.2.weight", _rand(rng, projection_dim, projection_dim))
    w.add_tensor("mm.2.bias", np.zeros(projection_dim, dtype=np.float32))
    _finish(w)
    return path


def _finish(w: object) -> None:
    w.write_header_to_file()  # type: ignore[attr-defined]
    w.write_kv_data_to_file()  # type: ignore[attr-defined]
    w.write_tensors_to_file()  # type: ignore[attr-defined]
    w.close()  # type: ignore[attr-defined]


def write_pair(directory: Path, *, seed: int = 0) -> tuple[Path, Path]:
    """Write (model, mmproj) into ``directory``; returns their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    return (write_llm(directory / "tiny-llava.gguf", seed=seed),
            write_mmproj(directory / "tiny-mmproj.gguf", seed=seed + 1))


def png(width: int = 32, height: int = 32, rgb: tuple[int, int, int] = (200, 40, 40)) -> bytes:
    """A real PNG (solid colour with a diagonal), made without an imaging library."""
    rows = []
    for y in range(height):
        row = bytearray([0])  # filter: none
        for x in range(width):
            row += bytes((255, 255, 255)) if x == y else bytes(rgb)
        rows.append(bytes(row))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"".join(rows)))
            + chunk(b"IEND", b""))


def _main() -> None:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else ".")
    model, mmproj = write_pair(out)
    print(model)
    print(mmproj)


def small_model_path() -> Path:
    """The real Qwen2.5-Coder-0.5B GGUF, assembled from its carrier packages into the user cache."""
    from chatdev.models import registry

    return registry.resolve("qwen2.5-coder-0.5b").model


if __name__ == "__main__":
    _main()
