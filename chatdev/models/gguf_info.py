"""Facts from a GGUF header, read without loading the model.

``read(path)`` parses the GGUF metadata and tensor table (a few milliseconds,
nothing is loaded into memory beyond the header) and checks that the file is
as long as its tensor table says, so a half-downloaded or cut file is refused
before llama.cpp sees it. Used by ``chatdev models info``, the GPU offload
planner and the registry.
"""

from __future__ import annotations

import mmap
import struct
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from chatdev.errors import ModelError

GGUF_MAGIC = b"GGUF"

# GGUF metadata value types
_UINT8, _INT8, _UINT16, _INT16, _UINT32, _INT32, _FLOAT32, _BOOL, _STRING, _ARRAY, _UINT64, _INT64, _FLOAT64 = range(13)
_SCALAR_FMT: dict[int, str] = {
    _UINT8: "<B", _INT8: "<b", _UINT16: "<H", _INT16: "<h", _UINT32: "<I", _INT32: "<i",
    _FLOAT32: "<f", _BOOL: "<?", _UINT64: "<Q", _INT64: "<q", _FLOAT64: "<d",
}

# ggml tensor types: id -> (name, elements per block, bytes per block)
GGML_TYPES: dict[int, tuple[str, int, int]] = {
    0: ("F32", 1, 4), 1: ("F16", 1, 2), 2: ("Q4_0", 32, 18), 3: ("Q4_1", 32, 20),
    6: ("Q5_0", 32, 22), 7: ("Q5_1", 32, 24), 8: ("Q8_0", 32, 34), 9: ("Q8_1", 32, 36),
    10: ("Q2_K", 256, 84), 11: ("Q3_K", 256, 110), 12: ("Q4_K", 256, 144), 13: ("Q5_K", 256, 176),
    14: ("Q6_K", 256, 210), 15: ("Q8_K", 256, 292), 16: ("IQ2_XXS", 256, 66), 17: ("IQ2_XS", 256, 74),
    18: ("IQ3_XXS", 256, 98), 19: ("IQ1_S", 256, 50), 20: ("IQ4_NL", 32, 18), 21: ("IQ3_S", 256, 110),
    22: ("IQ2_S", 256, 82), 23: ("IQ4_XS", 256, 136), 24: ("I8", 1, 1), 25: ("I16", 1, 2),
    26: ("I32", 1, 4), 27: ("I64", 1, 8), 28: ("F64", 1, 8), 29: ("IQ1_M", 256, 56),
    30: ("BF16", 1, 2), 34: ("TQ1_0", 256, 54), 35: ("TQ2_0", 256, 66), 39: ("MXFP4", 32, 17),
}

# general.file_type (llama_ftype) -> the name people use for the quantization
FILE_TYPES: dict[int, str] = {
    0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1", 10: "Q2_K",
    11: "Q3_K_S", 12: "Q3_K_M", 13: "Q3_K_L", 14: "Q4_K_S", 15: "Q4_K_M", 16: "Q5_K_S",
    17: "Q5_K_M", 18: "Q6_K", 19: "IQ2_XXS", 20: "IQ2_XS", 21: "Q2_K_S", 22: "IQ3_XS",
    23: "IQ3_XXS", 24: "IQ1_S", 25: "IQ4_NL", 26: "IQ3_S", 27: "IQ3_M", 28: "IQ2_S", 29: "IQ2_M",
    30: "IQ4_XS", 31: "IQ1_M", 32: "BF16", 36: "TQ1_0", 37: "TQ2_0", 38: "MXFP4_MOE",
}

_BAD_HINT = "pass a .gguf model file, or `chatdev models list` for names"
_TRUNC_HINT = "the file is incomplete: delete it and fetch it again (`chatdev models pull NAME`)"


@dataclass(frozen=True)
class GGUFInfo:
    """What a GGUF header says about a model (or a vision projector)."""

    path: Path
    architecture: str  # "llama", "qwen2", ... or "clip" for a vision projector
    name: str | None  # general.name
    n_layers: int
    n_embd: int
    n_head: int
    n_head_kv: int
    n_ctx_train: int
    vocab_size: int
    file_size: int
    quantization: str  # "Q4_K_M", "F16", ...
    has_chat_template: bool
    chat_template: str | None
    is_vision_projector: bool
    projector_type: str | None  # clip.projector_type ("mlp", ...) for a projector
    kv_bytes_per_token: int  # f16 K and V cache bytes for one token, all layers
    n_tensors: int
    tensor_bytes: int  # bytes of tensor data (the weights)
    gguf_version: int
    # vision projectors only: the embedding size it feeds the LLM, and its image geometry
    projection_dim: int | None = None
    image_size: int | None = None
    patch_size: int | None = None

    @property
    def image_tokens(self) -> int | None:
        """Tokens one image becomes with an MLP (LLaVA-1.5) projector: (image_size / patch_size)^2."""
        if not self.is_vision_projector or not self.image_size or not self.patch_size:
            return None
        return (self.image_size // self.patch_size) ** 2

    @property
    def size_gib(self) -> float:
        return self.file_size / 2**30

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["path"] = str(self.path)
        return data


class _Cursor:
    """Little-endian reads over a memory map; running off the end means truncated."""

    def __init__(self, buf: mmap.mmap | bytes) -> None:
        self.buf = buf
        self.pos = 0
        self.size = len(buf)

    def _need(self, n: int) -> None:
        if self.pos + n > self.size:
            raise _Truncated

    def unpack(self, fmt: str) -> Any:
        n = struct.calcsize(fmt)
        self._need(n)
        (value,) = struct.unpack_from(fmt, self.buf, self.pos)
        self.pos += n
        return value

    def u32(self) -> int:
        return int(self.unpack("<I"))

    def u64(self) -> int:
        return int(self.unpack("<Q"))

    def string(self) -> str:
        n = self.u64()
        if n > 1 << 31:
            raise _Corrupt(f"string of {n} bytes")
        self._need(n)
        raw = self.buf[self.pos:self.pos + n]
        self.pos += n
        return bytes(raw).decode("utf-8", errors="replace")

    def skip_strings(self, count: int) -> None:
        buf, pos = self.buf, self.pos
        for _ in range(count):
            if pos + 8 > self.size:
                raise _Truncated
            (n,) = struct.unpack_from("<Q", buf, pos)
            pos += 8 + n
        if pos > self.size:
            raise _Truncated
        self.pos = pos

    def value(self, vtype: int, *, keep_arrays: bool) -> Any:
        if vtype in _SCALAR_FMT:
            return self.unpack(_SCALAR_FMT[vtype])
        if vtype == _STRING:
            return self.string()
        if vtype == _ARRAY:
            itype = self.u32()
            count = self.u64()
            if itype == _STRING:
                if keep_arrays:
                    return [self.string() for _ in range(count)]
                self.skip_strings(count)
                return _ArrayLen(count)
            if itype in _SCALAR_FMT:
                width = struct.calcsize(_SCALAR_FMT[itype])
                self._need(width * count)
                if keep_arrays:
                    items = [struct.unpack_from(_SCALAR_FMT[itype], self.buf, self.pos + i * width)[0]
                             for i in range(count)]
                else:
                    items = _ArrayLen(count)
                self.pos += width * count
                return items
            if itype == _ARRAY:  # arrays of arrays are legal but unused by llama.cpp metadata
                return [self.value(_ARRAY, keep_arrays=keep_arrays) for _ in range(count)]
            raise _Corrupt(f"array of unknown type {itype}")
        raise _Corrupt(f"unknown metadata type {vtype}")


class _ArrayLen(int):
    """A skipped array: only its length is kept."""


class _Truncated(Exception):
    pass


class _Corrupt(Exception):
    pass


# arrays small enough to keep in full (per-layer head counts, ...)
def _keep(key: str) -> bool:
    return not key.startswith("tokenizer.ggml.")


def _parse(path: Path, buf: mmap.mmap | bytes, file_size: int) -> GGUFInfo:
    cur = _Cursor(buf)
    if file_size < 4:
        raise _Truncated
    magic = bytes(buf[:4])
    if magic != GGUF_MAGIC:
        raise ModelError(f"{path}: not a GGUF file (it starts with {magic!r})", hint=_BAD_HINT)
    cur.pos = 4
    version = cur.u32()
    if version not in (2, 3):
        raise ModelError(f"{path}: GGUF version {version} is not supported (2 or 3 expected)",
                         hint="convert the model again with a current llama.cpp")
    n_tensors = cur.u64()
    n_kv = cur.u64()
    if n_tensors > 1 << 24 or n_kv > 1 << 24:
        raise _Corrupt(f"{n_tensors} tensors, {n_kv} keys")
    meta: dict[str, Any] = {}
    for _ in range(n_kv):
        key = cur.string()
        vtype = cur.u32()
        meta[key] = cur.value(vtype, keep_arrays=_keep(key))

    tensor_types: Counter[int] = Counter()
    data_end = 0  # relative to the start of the data section
    sizes_known = True
    for _ in range(n_tensors):
        cur.string()  # tensor name
        n_dims = cur.u32()
        if n_dims > 8:
            raise _Corrupt(f"tensor with {n_dims} dimensions")
        n_elems = 1
        for _ in range(n_dims):
            n_elems *= cur.u64()
        ttype = cur.u32()
        offset = cur.u64()
        info = GGML_TYPES.get(ttype)
        if info is None:
            sizes_known = False
            data_end = max(data_end, offset)
            continue
        _, block, block_bytes = info
        tensor_types[ttype] += n_elems
        data_end = max(data_end, offset + (n_elems // block) * block_bytes)
    alignment = int(meta.get("general.alignment", 32)) or 32
    data_start = -(-cur.pos // alignment) * alignment
    expected = data_start + data_end
    if n_tensors and (expected > file_size or (sizes_known and data_start + data_end > file_size)):
        raise ModelError(f"{path}: truncated GGUF: its tensor table needs {expected:,} bytes, "
                         f"the file has {file_size:,}", hint=_TRUNC_HINT)
    return _summarise(path, meta, version, n_tensors, tensor_types, data_end, file_size)


def _int(meta: dict[str, Any], key: str, default: int = 0) -> int:
    value = meta.get(key, default)
    if isinstance(value, list):  # per-layer values (e.g. head_count_kv): the largest
        value = max((int(v) for v in value), default=default)
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _summarise(path: Path, meta: dict[str, Any], version: int, n_tensors: int,
               tensor_types: Counter[int], tensor_bytes: int, file_size: int) -> GGUFInfo:
    arch = str(meta.get("general.architecture", "unknown"))
    is_projector = arch == "clip" or "clip.projector_type" in meta or "clip.has_vision_encoder" in meta
    if is_projector:
        prefix = "clip.vision"
        n_layers = _int(meta, f"{prefix}.block_count")
        n_embd = _int(meta, f"{prefix}.embedding_length")
        n_head = _int(meta, f"{prefix}.attention.head_count")
        n_head_kv = n_head
        n_ctx_train = 0
        vocab = 0
        kv_bytes = 0
        projection_dim = _int(meta, f"{prefix}.projection_dim") or None
        image_size = _int(meta, f"{prefix}.image_size") or None
        patch_size = _int(meta, f"{prefix}.patch_size") or None
        projector_type = meta.get("clip.projector_type")
        if projector_type is None and meta.get("clip.has_llava_projector"):
            projector_type = "mlp"
    else:
        n_layers = _int(meta, f"{arch}.block_count")
        n_embd = _int(meta, f"{arch}.embedding_length")
        n_head = _int(meta, f"{arch}.attention.head_count")
        n_head_kv = _int(meta, f"{arch}.attention.head_count_kv", n_head) or n_head
        n_ctx_train = _int(meta, f"{arch}.context_length")
        tokens = meta.get("tokenizer.ggml.tokens")
        vocab = _int(meta, f"{arch}.vocab_size") or (int(tokens) if tokens is not None else 0)
        head_dim = n_embd // n_head if n_head else 0
        k_len = _int(meta, f"{arch}.attention.key_length", head_dim)
        v_len = _int(meta, f"{arch}.attention.value_length", head_dim)
        kv_bytes = n_layers * n_head_kv * (k_len + v_len) * 2  # f16: 2 bytes per value
        projector_type = None
        projection_dim = image_size = patch_size = None
    template = meta.get("tokenizer.chat_template")
    template = template if isinstance(template, str) and template.strip() else None
    return GGUFInfo(
        path=path,
        architecture=arch,
        name=meta.get("general.name") if isinstance(meta.get("general.name"), str) else None,
        n_layers=n_layers,
        n_embd=n_embd,
        n_head=n_head,
        n_head_kv=n_head_kv,
        n_ctx_train=n_ctx_train,
        vocab_size=vocab,
        file_size=file_size,
        quantization=_quantization(meta, tensor_types),
        has_chat_template=template is not None,
        chat_template=template,
        is_vision_projector=is_projector,
        projector_type=str(projector_type) if projector_type is not None else None,
        kv_bytes_per_token=kv_bytes,
        n_tensors=n_tensors,
        tensor_bytes=tensor_bytes,
        gguf_version=version,
        projection_dim=projection_dim,
        image_size=image_size,
        patch_size=patch_size,
    )


def _quantization(meta: dict[str, Any], tensor_types: Counter[int]) -> str:
    ftype = meta.get("general.file_type")
    if isinstance(ftype, int) and ftype in FILE_TYPES:
        return FILE_TYPES[ftype]
    if tensor_types:  # no file_type: name the type holding most of the weights
        ttype, _ = tensor_types.most_common(1)[0]
        return GGML_TYPES[ttype][0]
    return "unknown"


def read(path_or_name: str | Path) -> GGUFInfo:
    """Read the GGUF header of a file (or of an installed registry model, by name).

    Raises ModelError (one line) for a missing file, a file that is not GGUF, or
    a truncated one.
    """
    path = Path(path_or_name).expanduser()
    if not path.exists() and isinstance(path_or_name, str) and "/" not in path_or_name \
            and not path_or_name.endswith(".gguf"):
        from chatdev.models import registry

        path = registry.resolve(path_or_name, download=False).model
    if not path.exists():
        raise ModelError(f"{path}: no such model file", hint=_BAD_HINT)
    if path.is_dir():
        raise ModelError(f"{path}: is a folder, not a GGUF file", hint=_BAD_HINT)
    try:
        file_size = path.stat().st_size
        with path.open("rb") as fh:
            if file_size == 0:
                raise ModelError(f"{path}: empty file, not a GGUF model", hint=_TRUNC_HINT)
            with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as buf:
                return _parse(path, buf, file_size)
    except _Truncated:
        raise ModelError(f"{path}: truncated GGUF: the header ends early ({file_size:,} bytes)",
                         hint=_TRUNC_HINT) from None
    except _Corrupt as exc:
        raise ModelError(f"{path}: corrupt GGUF header ({exc})", hint=_TRUNC_HINT) from None
    except OSError as exc:
        raise ModelError(f"{path}: cannot read: {exc.strerror or exc}", hint=_BAD_HINT) from None
