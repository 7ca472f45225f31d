"""The dataset card (``card.json``): what went in, what came out, and hashes that name the dataset.

``sha256`` hashes ``train.jsonl`` then ``val.jsonl``: the same records, split and seed give the same
hash on every machine, so a trained model's lineage can point at its data. ``created_at`` is the only
field that changes between identical runs.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llmkit.errors import InputError, NotFound
from llmkit.finetune.tokens import TokenStats

FORMAT = "llmkit.finetune.chat/1"
FILES = ("train.jsonl", "val.jsonl", "rejected.jsonl", "card.json")


@dataclass(frozen=True, slots=True)
class SourceInfo:
    """One input: its path (or ``traces:PATH``), the sha256 of what was read, and its record counts."""

    path: str
    sha256: str
    records: int
    kept: int = 0


@dataclass(frozen=True, slots=True)
class PiiFlag:
    """A kept record that holds PII: where it ended up, where it came from, and which types were found."""

    split: str
    index: int
    source: str
    line: int
    types: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DatasetCard:
    """Counts, token statistics, PII flags, sources and hashes of a prepared dataset."""

    base: str
    base_sha256: str | None
    max_tokens: int
    seed: int
    val_fraction: float
    near_dup_threshold: float
    sources: tuple[SourceInfo, ...]
    records_in: int
    kept: int
    train: int
    val: int
    rejected: int
    rejected_by_reason: Mapping[str, int]
    exact_duplicates: int
    near_duplicates: int
    pii_flagged: int
    pii_by_type: Mapping[str, int]
    pii_records: tuple[PiiFlag, ...]
    redacted: bool
    tokens: TokenStats | None
    tokens_train: TokenStats | None
    tokens_val: TokenStats | None
    sha256: str
    files: Mapping[str, str]
    created_at: str
    llmkit_version: str
    format: str = FORMAT
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> DatasetCard:
        """The card read back from ``card.json`` (``InputError`` when it is not one)."""
        if d.get("format") != FORMAT:
            raise InputError(f"not a llmkit dataset card (format {d.get('format')!r}, expected {FORMAT!r})")
        stats = {k: TokenStats(**d[k]) if d.get(k) else None for k in ("tokens", "tokens_train", "tokens_val")}
        try:
            return cls(**{
                **d, **stats,
                "sources": tuple(SourceInfo(**s) for s in d["sources"]),
                "pii_records": tuple(PiiFlag(**{**p, "types": tuple(p["types"])}) for p in d["pii_records"]),
            })  # fmt: skip
        except (KeyError, TypeError) as e:
            raise InputError(f"the dataset card is incomplete or damaged: {e}") from None


def load_card(folder: str | Path) -> DatasetCard:
    """The card of a prepared dataset folder (or of ``card.json`` itself).

    ``NotFound`` when there is none: run ``llmkit finetune prepare`` first.
    """
    path = Path(folder)
    path = path / "card.json" if path.is_dir() else path
    if not path.is_file():
        raise NotFound(f"no dataset card at {path}", hint="make one with `llmkit finetune prepare DATA --out DIR`")
    try:
        return DatasetCard.from_dict(json.loads(path.read_text("utf-8")))
    except (ValueError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: not valid JSON ({e})") from None


def sha256_bytes(*parts: bytes) -> str:
    """SHA-256 of the parts, each prefixed with its length so that no two splits of the bytes collide.

    >>> sha256_bytes(b"ab", b"c") == sha256_bytes(b"a", b"bc")
    False
    """
    h = hashlib.sha256()
    for p in parts:
        h.update(len(p).to_bytes(8, "big"))
        h.update(p)
    return h.hexdigest()


def jsonl(rows: list[dict[str, Any]]) -> bytes:
    """Rows as JSONL bytes, written the same way every time (UTF-8, no ASCII escapes, one row a line).

    >>> jsonl([{"a": "é"}, {"b": 1}])
    b'{"a": "\\xc3\\xa9"}\\n{"b": 1}\\n'
    """
    return "".join(json.dumps(r, ensure_ascii=False, default=str) + "\n" for r in rows).encode("utf-8")


def write_folder(out: Path, files: Mapping[str, bytes], *, overwrite: bool = False) -> None:
    """Write ``files`` (name -> bytes) into a temporary sibling folder, then rename it to ``out``.

    A crash leaves either no folder or the previous one, never half a dataset. With ``overwrite``, an
    existing ``out`` is moved aside, replaced in one rename, then deleted.
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        for name, data in files.items():
            (tmp / name).write_bytes(data)
        if out.exists() and overwrite:
            old = out.parent / f".{out.name}.old-{os.getpid()}"
            os.replace(out, old)
            os.replace(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
