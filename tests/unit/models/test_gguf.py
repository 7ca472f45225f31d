from __future__ import annotations

import struct
from pathlib import Path

import pytest

from gguf_files import gguf_bytes, write_gguf
from llmkit.errors import BackendUnavailable, NotFound
from llmkit.models.gguf import context_length, read_metadata


def test_reads_scalars_strings_and_skips_arrays(tmp_path: Path) -> None:
    meta = read_metadata(write_gguf(tmp_path / "m.gguf"))
    assert meta["general.architecture"] == "llama"
    assert meta["llama.context_length"] == 4096
    assert meta["tokenizer.ggml.tokens"] == "<array of 3>"
    assert meta["tokenizer.ggml.scores"] == "<array of 3>"
    assert meta["general.flag"] is True and meta["general.ratio"] == 0.5
    assert meta["tokenizer.chat_template"] == "{{ x }}"
    assert context_length(meta) == 4096


def test_context_length_missing_or_bad() -> None:
    assert context_length({}) is None
    assert context_length({"general.architecture": "qwen2", "qwen2.context_length": 0}) is None


def test_missing_file_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="not found"):
        read_metadata(tmp_path / "nope.gguf")


@pytest.mark.parametrize(
    "data",
    [
        b"",  # empty (mmap of an empty file fails)
        b"PK\x03\x04 a zip, not a model" * 4,
        b"GGUF" + struct.pack("<IQQ", 1, 0, 0),  # too old
        b"GGUF" + struct.pack("<IQQ", 3, 0, 5),  # promises 5 entries, has none
        gguf_bytes([("k", 8, struct.pack("<Q", 2**60))]),  # absurd string length
        gguf_bytes([("k", 99, b"")]),  # unknown type
        b"GGUF\xff\xfe",  # truncated header
    ],
)
def test_not_gguf_is_backend_unavailable(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "bad.gguf"
    path.write_bytes(data)
    with pytest.raises(BackendUnavailable, match="not a valid GGUF"):
        read_metadata(path)


def test_directory_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        read_metadata(tmp_path)
