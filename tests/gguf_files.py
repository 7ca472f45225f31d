"""Small GGUF files written byte by byte for tests that read headers (no tensors, no llama.cpp)."""

from __future__ import annotations

import struct
from pathlib import Path


def _str(s: str) -> bytes:
    b = s.encode()
    return struct.pack("<Q", len(b)) + b


def gguf_bytes(kv: list[tuple[str, int, bytes]], version: int = 3) -> bytes:
    """A GGUF header with the given (key, value type, packed value) entries and no tensors."""
    out = b"GGUF" + struct.pack("<IQQ", version, 0, len(kv))
    for key, vtype, value in kv:
        out += _str(key) + struct.pack("<I", vtype) + value
    return out


def write_gguf(path: Path, context: int = 4096, template: str | None = "{{ x }}") -> Path:
    kv = [
        ("general.architecture", 8, _str("llama")),
        ("llama.context_length", 4, struct.pack("<I", context)),
        ("tokenizer.ggml.tokens", 9, struct.pack("<IQ", 8, 3) + _str("a") + _str("b") + _str("<|x|>")),
        ("tokenizer.ggml.scores", 9, struct.pack("<IQ", 6, 3) + struct.pack("<3f", 0.1, 0.2, 0.3)),
        ("general.flag", 7, b"\x01"),
        ("general.ratio", 12, struct.pack("<d", 0.5)),
    ]
    if template is not None:
        kv.append(("tokenizer.chat_template", 8, _str(template)))
    path.write_bytes(gguf_bytes(kv) + b"\x00" * 64)
    return path
