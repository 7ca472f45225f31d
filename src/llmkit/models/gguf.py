"""Read a GGUF file's header metadata (scalars and strings) in pure Python, without llama.cpp.

Used to size the context before loading (``<arch>.context_length``), to find the chat template, and
to reject a file that is not GGUF with a clear message instead of a native crash.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

from llmkit.errors import BackendUnavailable, NotFound

_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
_STRING, _ARRAY = 8, 9
_MAX_NESTING = 8  # arrays of arrays: real files nest one or two deep; a crafted one could exhaust the stack


def read_metadata(path: str | Path) -> dict[str, Any]:
    """The header key/values of a GGUF file; arrays (e.g. the vocabulary) are reported by length only.

    Raises ``NotFound`` for a missing file and ``BackendUnavailable`` for one that is not GGUF.
    """
    path = Path(path)
    if not path.is_file():
        raise NotFound(f"model file not found: {path}", hint="check model.name or run `llmkit models pull NAME`")
    try:
        size = path.stat().st_size
        want = min(size, 4 << 20)
        with path.open("rb") as f:
            while True:  # the header is usually a few MB (mostly the vocabulary): read more only if needed
                f.seek(0)
                data = f.read(want)
                try:
                    return _parse(data)
                except _Truncated:
                    if want >= size:
                        raise ValueError("the file ends inside its header") from None
                    want = min(size, want * 4)
    except (ValueError, struct.error, UnicodeDecodeError, OSError) as e:
        raise BackendUnavailable(f"{path}: not a valid GGUF file ({e})", hint="use a .gguf model file") from None


class _Truncated(Exception):
    """The bytes read so far end inside the header."""


def context_length(meta: dict[str, Any]) -> int | None:
    """The context the model was trained with (``<arch>.context_length``).

    >>> context_length({"general.architecture": "llama", "llama.context_length": 8192})
    8192
    """
    value = meta.get(f"{meta.get('general.architecture', '')}.context_length")
    return int(value) if isinstance(value, int) and value > 0 else None


def _parse(view: bytes) -> dict[str, Any]:
    if len(view) < 24:
        raise ValueError("too short for a GGUF header")
    if view[:4] != b"GGUF":
        raise ValueError("missing the GGUF magic bytes")
    version, _n_tensors, n_kv = struct.unpack_from("<IQQ", view, 4)
    if version < 2:
        raise ValueError(f"GGUF version {version} is too old (need 2 or later)")
    pos, meta = 24, {}
    for _ in range(n_kv):
        key, pos = _string(view, pos)
        (vtype,) = _unpack("<I", view, pos)
        meta[key], pos = _value(view, pos + 4, vtype)
    return meta


def _unpack(fmt: str, view: bytes, pos: int) -> tuple[Any, ...]:
    if pos + struct.calcsize(fmt) > len(view):
        raise _Truncated
    return struct.unpack_from(fmt, view, pos)


def _string(view: bytes, pos: int) -> tuple[str, int]:
    (n,) = _unpack("<Q", view, pos)
    if n > 1 << 30:
        raise ValueError(f"implausible string length {n}")
    end = pos + 8 + n
    if end > len(view):
        raise _Truncated
    return view[pos + 8 : end].decode("utf-8"), end


def _value(view: bytes, pos: int, vtype: int, depth: int = 0) -> tuple[Any, int]:
    if vtype in _SCALARS:
        fmt = _SCALARS[vtype]
        return _unpack(fmt, view, pos)[0], pos + struct.calcsize(fmt)
    if vtype == _STRING:
        return _string(view, pos)
    if vtype == _ARRAY:
        item_type, n = _unpack("<IQ", view, pos)
        pos += 12
        if item_type in _SCALARS:
            return f"<array of {n}>", pos + n * struct.calcsize(_SCALARS[item_type])
        if item_type == _STRING:  # the vocabulary: skip without decoding
            unpack, size = struct.Struct("<Q").unpack_from, len(view)
            for _ in range(n):
                if pos + 8 > size:
                    raise _Truncated
                pos += 8 + unpack(view, pos)[0]
            if pos > size:
                raise _Truncated
            return f"<array of {n}>", pos
        if item_type == _ARRAY and depth >= _MAX_NESTING:
            raise ValueError(f"arrays nested more than {_MAX_NESTING} deep")
        for _ in range(n):
            _, pos = _value(view, pos, item_type, depth + 1)
        return f"<array of {n}>", pos
    raise ValueError(f"unknown GGUF value type {vtype}")
