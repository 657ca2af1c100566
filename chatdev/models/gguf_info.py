"""Facts from a GGUF header, read without loading the model.

``read(path)`` reads the metadata and the tensor table with the ``gguf``
package's ``GGUFReader`` (a memory map: nothing beyond the header is touched),
through a thin subclass that refuses to read past the end of the file, reads
big arrays (the tokenizer's 150k strings) in one step instead of one element at
a time, and records the tensor table instead of mapping the weights. It checks
that the file is as long as its tensor table says, so a half-downloaded or cut
file is refused before llama.cpp sees it. Used by ``chatdev models info``, the
GPU offload planner and the registry.
"""

from __future__ import annotations

import dataclasses
import re
import struct
import sys
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from chatdev.errors import ModelError

GGUF_MAGIC = b"GGUF"
_MAX_COUNT = 1 << 24  # more tensors or keys than this is a corrupt header, not a model
_BIG_ARRAY = 1024  # string arrays longer than this keep only their length (tokenizer vocabularies)

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
    # the layers' weight matrices llama.cpp's CPU_REPACK buffer can take: (kind, layer numbers)
    repack_layers: tuple[tuple[str, tuple[int, ...]], ...] = ()

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


class _ArrayLen(int):
    """A big string array that was skipped: only its length is kept."""


class _Truncated(Exception):
    pass


class _Corrupt(Exception):
    pass


def _reader_class() -> Any:
    """``GGUFReader`` made strict about the end of the file and quick on big arrays (built once)."""
    global _READER
    if _READER is not None:
        return _READER
    import numpy as np
    from gguf import GGUFReader, GGUFValueType

    class Reader(GGUFReader):  # type: ignore[misc]
        tensor_table: list[tuple[int, int, int, str, tuple[int, ...]]]  # (type id, elements, offset, name, dims)

        def _get(self, offset: int, dtype: Any, count: int = 1, override_order: Any = None) -> Any:
            if int(offset) + np.dtype(dtype).itemsize * int(count) > len(self.data):
                raise _Truncated
            return super()._get(offset, dtype, count, override_order)

        def _get_str(self, offset: int) -> tuple[Any, Any]:
            n = int(self._get(offset, np.uint64)[0])
            if n > 1 << 31:  # no key, name or template is 2 GiB long: the length itself is garbage
                raise _Corrupt(f"string of {n} bytes")
            return super()._get_str(offset)  # type: ignore[no-any-return]

        def _get_field_parts(self, orig_offs: int, raw_type: int) -> tuple[int, list[Any], list[int], list[Any]]:
            try:
                kind = GGUFValueType(int(raw_type))
            except ValueError:
                raise _Corrupt(f"unknown metadata type {int(raw_type)}") from None
            if kind != GGUFValueType.ARRAY:
                return super()._get_field_parts(orig_offs, raw_type)  # type: ignore[no-any-return]
            raw_itype = self._get(orig_offs, np.uint32)
            alen = self._get(orig_offs + 4, np.uint64)
            offs, count = orig_offs + 12, int(alen[0])
            try:
                itype = GGUFValueType(int(raw_itype[0]))
            except ValueError:
                raise _Corrupt(f"array of unknown type {int(raw_itype[0])}") from None
            nptype = self.gguf_scalar_to_np.get(itype)
            if nptype is not None:  # all the numbers in one read
                values = self._get(offs, nptype, count)
                return offs + values.nbytes - orig_offs, [raw_itype, alen, values], [2], [GGUFValueType.ARRAY, itype]
            if itype == GGUFValueType.STRING and count > _BIG_ARRAY:  # skip over the strings, keep the count
                end = _skip_strings(self.data, offs, count, ">" if self._big_endian() else "<")
                return end - orig_offs, [raw_itype, alen], [], [GGUFValueType.ARRAY, itype]
            return super()._get_field_parts(orig_offs, raw_type)  # type: ignore[no-any-return]

        def _big_endian(self) -> bool:
            return (self.byte_order == "S") == (sys.byteorder == "little")

        def _build_tensors(self, start_offs: int, fields: list[Any]) -> None:
            self.tensor_table = []
            for field in fields:
                _name_len, name, _n_dims, dims, raw_dtype, offset_tensor = field.parts
                shape = tuple(int(d) for d in dims.tolist())
                n_elems = 1
                for d in shape:
                    n_elems *= d
                label = bytes(name).decode("utf-8", errors="replace")
                self.tensor_table.append((int(raw_dtype[0]), n_elems, int(offset_tensor[0]), label, shape))

    _READER = Reader
    return Reader


_READER: Any = None


def _skip_strings(buf: Any, pos: int, count: int, order: str) -> int:
    size = len(buf)
    fmt = order + "Q"
    for _ in range(count):
        if pos + 8 > size:
            raise _Truncated
        (n,) = struct.unpack_from(fmt, buf, pos)
        if n > 1 << 31:
            raise _Corrupt(f"string of {n} bytes")
        pos += 8 + n
    if pos > size:
        raise _Truncated
    return pos


def _preamble(path: Path, head: bytes) -> int:
    """Magic, version and counts (the first 24 bytes), with today's messages; the GGUF version."""
    if head[:4] != GGUF_MAGIC:
        raise ModelError(f"{path}: not a GGUF file (it starts with {head[:4]!r})", hint=_BAD_HINT)
    if len(head) < 24:
        raise _Truncated
    order = "<"
    (version,) = struct.unpack_from("<I", head, 4)
    if version & 0xFFFF == 0:  # written on a big-endian machine
        order = ">"
        (version,) = struct.unpack_from(">I", head, 4)
    if version not in (2, 3):
        raise ModelError(f"{path}: GGUF version {version} is not supported (2 or 3 expected)",
                         hint="convert the model again with a current llama.cpp")
    n_tensors, n_kv = struct.unpack_from(order + "QQ", head, 8)
    if n_tensors > _MAX_COUNT or n_kv > _MAX_COUNT:
        raise _Corrupt(f"{n_tensors} tensors, {n_kv} keys")
    return int(version)


def _metadata(reader: Any) -> dict[str, Any]:
    from gguf import GGUFValueType

    meta: dict[str, Any] = {}
    for key, field in reader.fields.items():
        if key.startswith("GGUF."):
            continue
        kind = field.types[0] if field.types else None
        if kind == GGUFValueType.STRING:
            meta[key] = bytes(field.parts[-1]).decode("utf-8", errors="replace")
        elif kind == GGUFValueType.ARRAY:  # parts: key length, key, type, item type, count, items...
            sub = field.types[-1] if len(field.types) > 1 else None
            if sub == GGUFValueType.STRING:
                if field.data:
                    meta[key] = [bytes(field.parts[i]).decode("utf-8", errors="replace") for i in field.data]
                else:
                    meta[key] = _ArrayLen(int(field.parts[4][0]))
            elif sub == GGUFValueType.ARRAY:  # arrays of arrays: legal, unused by llama.cpp metadata
                meta[key] = _ArrayLen(int(field.parts[4][0]))
            else:
                meta[key] = field.contents()
        else:
            meta[key] = field.contents()
    return meta


# Weight matrices of the layers (read only by MUL_MAT) in the one type whose repacking this
# llama.cpp does safely on x86: Q4_K (8x8). Q6_K and Q5_0 tensors crash or are refused when
# forced into CPU_REPACK (seen 2026-12-03, llama-cpp-python 0.3.36), so they stay where they are.
REPACK_NAME = re.compile(r"^blk\.([0-9]+)\.(attn_q|attn_k|attn_v|attn_output|ffn_gate|ffn_up|ffn_down)\.weight$")
REPACK_TYPES = frozenset({"Q4_K"})


def _parse(path: Path, file_size: int) -> GGUFInfo:
    with path.open("rb") as fh:
        version = _preamble(path, fh.read(24))
    from gguf import GGML_QUANT_SIZES, GGMLQuantizationType

    try:
        reader = _reader_class()(path)
    except (_Truncated, _Corrupt, ModelError):
        raise
    except (ValueError, KeyError, IndexError, OverflowError) as exc:  # the reader's own refusals
        raise _Corrupt(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__) from None
    try:
        meta = _metadata(reader)
        data_start = int(reader.data_offset)
        table = list(reader.tensor_table)
    finally:
        del reader  # unmaps the file

    tensor_types: Counter[str] = Counter()
    data_end = 0  # relative to the start of the data section
    repack: dict[str, list[int]] = {}
    for ttype, n_elems, offset, name, shape in table:
        try:
            qtype = GGMLQuantizationType(ttype)
            block, block_bytes = GGML_QUANT_SIZES[qtype]
        except (ValueError, KeyError):  # a type newer than this gguf package: its size is unknown
            data_end = max(data_end, offset)
            continue
        tensor_types[qtype.name] += n_elems
        layer = REPACK_NAME.match(name)
        if layer and qtype.name in REPACK_TYPES and len(shape) == 2 and shape[1] % 8 == 0:
            repack.setdefault(layer.group(2), []).append(int(layer.group(1)))
        data_end = max(data_end, offset + (n_elems // block) * block_bytes)
    expected = data_start + data_end
    if table and expected > file_size:
        raise ModelError(f"{path}: truncated GGUF: its tensor table needs {expected:,} bytes, "
                         f"the file has {file_size:,}", hint=_TRUNC_HINT)
    info = _summarise(path, meta, version, len(table), tensor_types, data_end, file_size)
    return dataclasses.replace(info, repack_layers=tuple((k, tuple(sorted(v))) for k, v in sorted(repack.items())))


def _int(meta: dict[str, Any], key: str, default: int = 0) -> int:
    value = meta.get(key, default)
    if isinstance(value, list):  # per-layer values (e.g. head_count_kv): the largest
        value = max((int(v) for v in value), default=default)
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _summarise(path: Path, meta: dict[str, Any], version: int, n_tensors: int,
               tensor_types: Counter[str], tensor_bytes: int, file_size: int) -> GGUFInfo:
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
        n_tokens = len(tokens) if isinstance(tokens, list) else int(tokens) if isinstance(tokens, int) else 0
        vocab = _int(meta, f"{arch}.vocab_size") or n_tokens
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


def _quantization(meta: dict[str, Any], tensor_types: Counter[str]) -> str:
    """general.file_type by the gguf package's names (MOSTLY_Q4_K_M → Q4_K_M), else the commonest tensor type."""
    from gguf import LlamaFileType

    ftype = meta.get("general.file_type")
    if isinstance(ftype, int) and not isinstance(ftype, bool):
        try:
            name = LlamaFileType(ftype).name
        except ValueError:
            name = "GUESSED"
        if name != "GUESSED":
            return name.removeprefix("MOSTLY_").removeprefix("ALL_")
    if tensor_types:
        return tensor_types.most_common(1)[0][0]
    return "unknown"


def read(path: str | Path) -> GGUFInfo:
    """Read the GGUF header of a file (``registry.info`` takes a model name, ``hf://`` or ``ollama://``).

    Raises ModelError (one line) for a missing file, a file that is not GGUF, or
    a truncated one.
    """
    path = Path(path).expanduser()
    if not path.exists():
        raise ModelError(f"{path}: no such model file", hint=_BAD_HINT)
    if path.is_dir():
        raise ModelError(f"{path}: is a folder, not a GGUF file", hint=_BAD_HINT)
    file_size = 0
    try:
        file_size = path.stat().st_size
        if file_size == 0:
            raise ModelError(f"{path}: empty file, not a GGUF model", hint=_TRUNC_HINT)
        return _parse(path, file_size)
    except _Truncated:
        raise ModelError(f"{path}: truncated GGUF: the header ends early ({file_size:,} bytes)",
                         hint=_TRUNC_HINT) from None
    except _Corrupt as exc:
        raise ModelError(f"{path}: corrupt GGUF header ({exc})", hint=_TRUNC_HINT) from None
    except OSError as exc:
        raise ModelError(f"{path}: cannot read: {exc.strerror or exc}", hint=_BAD_HINT) from None
