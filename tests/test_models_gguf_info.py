"""GGUF header facts, and refusing what is not a whole GGUF."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from chatdev.errors import ModelError
from chatdev.models import gguf_info, registry

sys.path.insert(0, str(Path(__file__).parent))
from tinyllava import IMAGE_TOKENS, LLM_EMBD, small_model_path, write_pair


@pytest.fixture(scope="module")
def qwen() -> Path:
    return small_model_path()


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return write_pair(tmp_path_factory.mktemp("tiny"))


def test_real_qwen_header(qwen: Path) -> None:
    info = gguf_info.read(qwen)
    assert info.architecture == "qwen2"
    assert (info.n_layers, info.n_embd, info.n_head, info.n_head_kv) == (24, 896, 14, 2)
    assert info.n_ctx_train == 32768
    assert info.vocab_size == 151936
    assert info.quantization == "Q4_K_M"
    assert info.file_size == 491_400_064
    assert info.has_chat_template and "<|im_start|>" in (info.chat_template or "")
    assert not info.is_vision_projector and info.projector_type is None
    # f16 K and V: 24 layers x 2 KV heads x 64 dims x 2 (K, V) x 2 bytes
    assert info.kv_bytes_per_token == 24 * 2 * 64 * 2 * 2
    assert 0 < info.tensor_bytes < info.file_size
    data = info.to_dict()
    assert data["path"] == str(qwen) and json.dumps(data)


def test_reads_by_registry_name(qwen: Path) -> None:
    assert registry.info("qwen2.5-coder-0.5b").path == qwen


def test_tiny_llava_pair(pair: tuple[Path, Path]) -> None:
    llm, proj = (gguf_info.read(p) for p in pair)
    assert (llm.architecture, llm.n_layers, llm.n_embd, llm.vocab_size) == ("llama", 1, LLM_EMBD, 259)
    assert llm.quantization == "F32" and not llm.has_chat_template and not llm.is_vision_projector
    assert proj.is_vision_projector and proj.architecture == "clip" and proj.projector_type == "mlp"
    assert proj.projection_dim == LLM_EMBD and proj.image_tokens == IMAGE_TOKENS
    assert proj.kv_bytes_per_token == 0


def test_missing_file() -> None:
    with pytest.raises(ModelError, match="no such model file"):
        gguf_info.read("/nonexistent/model.gguf")


def test_not_gguf(tmp_path: Path) -> None:
    bad = tmp_path / "model.gguf"
    bad.write_text("<html>this is a login page</html>")
    with pytest.raises(ModelError, match="not a GGUF file") as err:
        gguf_info.read(bad)
    assert "\n" not in err.value.line()
    empty = tmp_path / "empty.gguf"
    empty.write_bytes(b"")
    with pytest.raises(ModelError, match="empty file"):
        gguf_info.read(empty)
    with pytest.raises(ModelError, match="is a folder"):
        gguf_info.read(tmp_path)


def test_truncated_in_the_header_and_in_the_weights(tmp_path: Path, pair: tuple[Path, Path]) -> None:
    data = pair[0].read_bytes()
    head = tmp_path / "head.gguf"
    head.write_bytes(data[:200])
    with pytest.raises(ModelError, match="truncated GGUF: the header ends early"):
        gguf_info.read(head)
    body = tmp_path / "body.gguf"
    body.write_bytes(data[:-1000])
    with pytest.raises(ModelError, match="truncated GGUF: its tensor table needs") as err:
        gguf_info.read(body)
    assert "fetch it again" in err.value.line()


def test_truncated_real_model(tmp_path: Path, qwen: Path) -> None:
    cut = tmp_path / "cut.gguf"
    with qwen.open("rb") as src:
        cut.write_bytes(src.read(20_000_000))
    with pytest.raises(ModelError, match=f"needs {491_400_064:,} bytes"):
        gguf_info.read(cut)


def test_the_facts_agree_with_the_gguf_packages_own_reader(pair: tuple[Path, Path]) -> None:
    import gguf

    for path in pair:
        info, reader = gguf_info.read(path), gguf.GGUFReader(path)
        assert info.n_tensors == len(reader.tensors)
        assert info.tensor_bytes == max(t.data_offset - reader.data_offset + int(t.n_bytes) for t in reader.tensors)
        assert info.architecture == reader.fields["general.architecture"].contents()


def test_big_and_small_arrays(tmp_path: Path) -> None:
    """A 5,000-token vocabulary is skipped over in one step (only its length kept); small arrays are read."""
    import gguf
    import numpy as np

    path = tmp_path / "vocab.gguf"
    w = gguf.GGUFWriter(str(path), arch="llama")
    w.add_block_count(1)
    w.add_head_count(1)
    w.add_embedding_length(8)
    w.add_head_count_kv([1])  # a per-layer array
    w.add_token_list([f"t{i}" for i in range(5000)])
    w.add_array("general.tags", ["a", "b"])
    w.add_tensor("x", np.zeros((4, 8), dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    info = gguf_info.read(path)
    assert info.vocab_size == 5000 and info.n_head_kv == 1 and info.quantization == "F32"
    assert info.tensor_bytes == 4 * 8 * 4


def test_corrupt_and_unsupported_headers(tmp_path: Path, pair: tuple[Path, Path]) -> None:
    import struct

    data = bytearray(pair[0].read_bytes())
    v2 = tmp_path / "v9.gguf"
    v2.write_bytes(bytes(data[:4] + struct.pack("<I", 9) + data[8:]))
    with pytest.raises(ModelError, match="GGUF version 9 is not supported"):
        gguf_info.read(v2)
    # the first key's value type (after magic, version, 2 counts, the key's length and name) made nonsense
    (key_len,) = struct.unpack_from("<Q", data, 24)
    bad = bytearray(data)
    struct.pack_into("<I", bad, 32 + key_len, 99)
    corrupt = tmp_path / "corrupt.gguf"
    corrupt.write_bytes(bytes(bad))
    with pytest.raises(ModelError, match=r"corrupt GGUF header \(unknown metadata type 99\)") as err:
        gguf_info.read(corrupt)
    assert "\n" not in err.value.line()
    huge = bytearray(data)
    struct.pack_into("<Q", huge, 16, 1 << 40)  # a key count no file has
    (tmp_path / "huge.gguf").write_bytes(bytes(huge))
    with pytest.raises(ModelError, match="corrupt GGUF header"):
        gguf_info.read(tmp_path / "huge.gguf")
