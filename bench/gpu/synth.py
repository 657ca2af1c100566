"""Write a random-weight LLaMA-architecture GGUF of a chosen shape (Q4_K), fast.

The default shape is LLaVA-1.5-7B's language model (4096 hidden, 32 layers,
32 heads, 11008 FFN, 32000 vocab): a ~3.8 GB file that llama.cpp loads and runs
exactly like the real one, so decode and prefill speed are the real model's
(speed does not depend on the values, only on shapes and the quantization).

Weights are random Q4_K blocks (the body of the real Q4_K_M file) with small
fixed block scales (finite activations, never zeros, which can run faster than
real data). All tensors are views of
one random pool, so writing the 7B file needs ~200 MB of memory. The vocabulary
is a synthetic SentencePiece one (byte tokens, letters, 2- and 3-letter
pieces); the output row of ``</s>`` has scale 0, so greedy decoding never
stops early and every run decodes the tokens it asks for.

    python bench/gpu/synth.py OUT.gguf [--small]
"""

from __future__ import annotations

import argparse
import itertools
import string
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

# Q4_K (the body of a Q4_K_M file): 256 weights per 144-byte block: fp16 d, fp16 dmin,
# 12 bytes of 6-bit sub-block scales and mins, 128 bytes of nibbles. Weight =
# d * scale * q - dmin * min. Q5_0 and Q4_0 are there for comparisons. (On CPUs with
# AMX here, llama.cpp's AMX matmul for Q4_0/Q4_K/... rows of a multiple of 256
# crashed in ggml_backend_amx_mul_mat; chatdev's model layer turns llama.cpp's extra
# CPU buffer types off on such CPUs, and verify.py does the same for the raw runs.)
QTYPES = {"Q4_K": (256, 144), "Q5_0": (32, 22), "Q4_0": (32, 18)}

CHAT_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}"
    "{% if m['role'] == 'system' %}{{ m['content'] }}\n\n"
    "{% elif m['role'] == 'user' %}USER: {{ m['content'] }}\n"
    "{% else %}ASSISTANT: {{ m['content'] }}{{ eos_token }}\n{% endif %}"
    "{% endfor %}{% if add_generation_prompt %}ASSISTANT:{% endif %}"
)


@dataclass(frozen=True)
class Shape:
    n_embd: int
    n_layers: int
    n_head: int
    n_head_kv: int
    n_ff: int
    vocab: int
    n_ctx: int
    name: str

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


LLAVA_7B = Shape(n_embd=4096, n_layers=32, n_head=32, n_head_kv=32, n_ff=11008, vocab=32000, n_ctx=4096,
                 name="llava-1.5-7b-shaped (random weights)")
SMALL = Shape(n_embd=256, n_layers=4, n_head=4, n_head_kv=4, n_ff=768, vocab=32000, n_ctx=2048,
              name="small llama-shaped (random weights)")


def vocabulary(size: int) -> tuple[list[str], list[float], list[int]]:
    """A SentencePiece vocabulary: <unk> <s> </s>, 256 byte tokens, then pieces."""
    tokens = ["<unk>", "<s>", "</s>"] + [f"<0x{i:02X}>" for i in range(256)]
    types = [2, 3, 3] + [6] * 256  # UNKNOWN, CONTROL, CONTROL, BYTE
    seen = set(tokens)
    letters = string.ascii_lowercase
    singles = list(string.ascii_letters + string.digits + string.punctuation)

    def pieces():  # shortest first: single characters, then 2- and 3-letter pieces
        yield "▁"
        for c in singles:
            yield c
            yield "▁" + c
        for n in (2, 3):
            for combo in itertools.product(letters, repeat=n):
                piece = "".join(combo)
                yield piece
                yield "▁" + piece

    for piece in pieces():
        if len(tokens) >= size:
            break
        if piece not in seen:
            seen.add(piece)
            tokens.append(piece)
            types.append(1)
    while len(tokens) < size:  # only for a vocabulary bigger than the pieces above
        tokens.append(f"<extra_{len(tokens)}>")
        types.append(4)  # USER_DEFINED
    scores = [0.0, 0.0, 0.0] + [0.0] * 256 + [-float(i) for i in range(size - 259)]
    return tokens, scores, types


class Pool:
    """One buffer of random quantized blocks; tensors are views into it at varying offsets."""

    def __init__(self, n_bytes: int, *, qtype: str, n_in: int, seed: int = 0) -> None:
        self.qk, self.block = QTYPES[qtype]
        rng = np.random.default_rng(seed)
        n_blocks = n_bytes // self.block + 1
        blocks = rng.integers(0, 256, size=(n_blocks, self.block), dtype=np.uint8)
        std = 1.0 / np.sqrt(n_in)  # the weight spread that keeps activations near 1
        if qtype == "Q4_K":
            d = std / (31.5 * 4.6)  # sub-block scales ~U(0,63), nibbles ~U(0,15)
            blocks[:, 0:2] = np.frombuffer(np.float16(d).tobytes(), dtype=np.uint8)
            blocks[:, 2:4] = np.frombuffer(np.float16(7.5 * d).tobytes(), dtype=np.uint8)  # dmin: zero mean
        else:  # Q5_0: (q - 16) * d with q ~U(0,31); Q4_0: (q - 8) * d with q ~U(0,15)
            spread = 9.2 if qtype == "Q5_0" else 4.6
            blocks[:, 0:2] = np.frombuffer(np.float16(std / spread).tobytes(), dtype=np.uint8)
        self.flat = blocks.reshape(-1)
        self.rng = rng

    def take(self, rows: int, cols: int) -> np.ndarray:
        """A (rows, cols/qk*block) uint8 view: a quantized tensor of numpy shape (rows, cols)."""
        if cols % self.qk:
            raise ValueError(f"rows of {cols} weights do not split into blocks of {self.qk}")
        row_bytes = cols // self.qk * self.block
        need = rows * row_bytes
        start_block = int(self.rng.integers(0, (self.flat.size - need) // self.block + 1))
        start = start_block * self.block
        return self.flat[start:start + need].reshape(rows, row_bytes)


def write(path: Path, shape: Shape = LLAVA_7B, *, qtype: str = "Q4_K", seed: int = 0) -> dict[str, object]:
    """Write the GGUF; returns what was written (shape, bytes, seconds)."""
    import gguf

    t0 = time.perf_counter()
    path.parent.mkdir(parents=True, exist_ok=True)
    head_dim = shape.n_embd // shape.n_head
    n_embd_kv = head_dim * shape.n_head_kv
    qk, block = QTYPES[qtype]
    biggest = max(shape.vocab * shape.n_embd, shape.n_ff * shape.n_embd) // qk * block
    pool = Pool(2 * biggest, qtype=qtype, n_in=shape.n_embd, seed=seed)
    q4 = gguf.GGMLQuantizationType[qtype]

    w = gguf.GGUFWriter(str(path), "llama")
    w.add_name(shape.name)
    w.add_context_length(shape.n_ctx)
    w.add_embedding_length(shape.n_embd)
    w.add_block_count(shape.n_layers)
    w.add_feed_forward_length(shape.n_ff)
    w.add_rope_dimension_count(head_dim)
    w.add_head_count(shape.n_head)
    w.add_head_count_kv(shape.n_head_kv)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_rope_freq_base(10000.0)
    w.add_file_type({"Q4_K": gguf.LlamaFileType.MOSTLY_Q4_K_S, "Q5_0": gguf.LlamaFileType.MOSTLY_Q5_0,
                     "Q4_0": gguf.LlamaFileType.MOSTLY_Q4_0}[qtype])
    tokens, scores, types = vocabulary(shape.vocab)
    w.add_tokenizer_model("llama")
    w.add_token_list(tokens)
    w.add_token_scores(scores)
    w.add_token_types(types)
    w.add_unk_token_id(0)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_add_bos_token(True)
    w.add_add_eos_token(False)
    w.add_chat_template(CHAT_TEMPLATE)

    ones = np.ones(shape.n_embd, dtype=np.float32)
    w.add_tensor("token_embd.weight", pool.take(shape.vocab, shape.n_embd), raw_dtype=q4)
    for i in range(shape.n_layers):
        p = f"blk.{i}."
        w.add_tensor(p + "attn_norm.weight", ones)
        w.add_tensor(p + "attn_q.weight", pool.take(shape.n_embd, shape.n_embd), raw_dtype=q4)
        w.add_tensor(p + "attn_k.weight", pool.take(n_embd_kv, shape.n_embd), raw_dtype=q4)
        w.add_tensor(p + "attn_v.weight", pool.take(n_embd_kv, shape.n_embd), raw_dtype=q4)
        w.add_tensor(p + "attn_output.weight", pool.take(shape.n_embd, shape.n_embd), raw_dtype=q4)
        w.add_tensor(p + "ffn_norm.weight", ones)
        w.add_tensor(p + "ffn_gate.weight", pool.take(shape.n_ff, shape.n_embd), raw_dtype=q4)
        w.add_tensor(p + "ffn_up.weight", pool.take(shape.n_ff, shape.n_embd), raw_dtype=q4)
        w.add_tensor(p + "ffn_down.weight", pool.take(shape.n_embd, shape.n_ff), raw_dtype=q4)
    w.add_tensor("output_norm.weight", ones)
    out = pool.take(shape.vocab, shape.n_embd).copy()
    out[2, :] = 0  # </s>: scales 0 -> logit 0, never the greedy pick
    w.add_tensor("output.weight", out, raw_dtype=q4)

    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file(progress=False)
    w.close()
    return {"path": str(path), "shape": shape.to_dict(), "quantization": qtype,
            "bytes": path.stat().st_size, "write_s": round(time.perf_counter() - t0, 2)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--small", action="store_true", help="a tiny shape for CPU checks")
    ap.add_argument("--qtype", choices=sorted(QTYPES), default="Q4_K")
    args = ap.parse_args(argv)
    info = write(args.out, SMALL if args.small else LLAVA_7B, qtype=args.qtype)
    print(info)
    return 0


if __name__ == "__main__":
    sys.exit(main())
