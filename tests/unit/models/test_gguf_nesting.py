"""Arrays of arrays in a GGUF header: real nesting is read, crafted deep nesting is an invalid file."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from gguf_files import gguf_bytes
from llmkit.errors import BackendUnavailable
from llmkit.models.gguf import read_metadata


def nested(path: Path, depth: int) -> Path:
    """A GGUF file whose one value is an array nested ``depth`` deep around an empty array of int32."""
    value = struct.pack("<IQ", 9, 1) * (depth - 1) + struct.pack("<IQ", 4, 0)
    path.write_bytes(gguf_bytes([("x.nested", 9, value)]))
    return path


def test_shallow_nesting_is_read(tmp_path: Path) -> None:
    assert read_metadata(nested(tmp_path / "ok.gguf", 3)) == {"x.nested": "<array of 1>"}


def test_deep_nesting_is_not_a_valid_gguf_file(tmp_path: Path) -> None:
    with pytest.raises(BackendUnavailable, match="not a valid GGUF file"):
        read_metadata(nested(tmp_path / "deep.gguf", 100_000))
