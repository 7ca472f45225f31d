"""Checking what goes into a store and turning rows back into ``Chunk`` values (shared by SQL stores)."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from llmkit.errors import InputError
from llmkit.store.base import DocumentWrite
from llmkit.types import Chunk

if TYPE_CHECKING:
    import numpy as np


#: NUL (``\\x00``) is refused in stored text and metadata, by every store alike: PostgreSQL cannot keep it.
_NUL_HINT = "remove NUL characters (\\x00) from the text, e.g. text.replace('\\x00', '')"
_NUL_ESCAPE = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")  # JSON's escape of NUL, not an escaped backslash before "u0000"


def to_json(value: Mapping[str, Any], what: str) -> str:
    """``value`` as a JSON object, or InputError naming ``what`` (NaN, sets, bytes … are refused)."""
    if not isinstance(value, Mapping):
        raise InputError(f"{what} must be a mapping, got {type(value).__name__}")
    try:
        out = json.dumps(dict(value), ensure_ascii=False, allow_nan=False, sort_keys=True).encode("utf-8").decode()
    except (TypeError, ValueError, UnicodeEncodeError) as e:
        raise InputError(f"{what} is not JSON-serialisable: {e}", hint="use strings, numbers, booleans, lists") from e
    if "\\u0000" in out and _NUL_ESCAPE.search(out):
        raise InputError(f"{what} holds a NUL character (\\x00)", hint=_NUL_HINT)
    return out


def check_collection(name: Any, embedder: Any, dim: Any, *, max_dim: int, why: str = "") -> None:
    """What every store asks of a new collection: a printable name, an embedder's name, a sane ``dim``.

    >>> check_collection("docs", "minilm", 0, max_dim=10)
    Traceback (most recent call last):
    ...
    llmkit.errors.InputError: dim must be an integer from 1 to 10, got 0
    """
    if not isinstance(name, str) or not name.strip() or len(name) > 200 or not name.isprintable():
        raise InputError(f"a collection name must be 1-200 printable characters, got {name!r}")
    if not isinstance(embedder, str) or not embedder:
        raise InputError("a collection needs the name of its embedder")
    if isinstance(dim, bool) or not isinstance(dim, int) or not 1 <= dim <= max_dim:
        raise InputError(f"dim must be an integer from 1 to {max_dim}{why}, got {dim!r}")


#: What a new collection may be called: a name the HTTP API can carry in a path and a query (the same
#: pattern as ``llmkit.server``'s). Collections named otherwise by an older llmkit stay usable.
COLLECTION_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def check_new_name(name: str) -> None:
    """What a collection about to be created must be called (``COLLECTION_NAME``), or InputError.

    >>> [bool(COLLECTION_NAME.fullmatch(n)) for n in ("docs-2024_v1.0", "my docs", "x/y", ".hidden", "x" * 65)]
    [True, False, False, False, False]
    """
    if not COLLECTION_NAME.fullmatch(name):
        raise InputError(
            "a new collection name must be 1-64 letters, digits, '_', '.' or '-', starting with a letter or digit,"
            f" got {name!r}",
            hint="for example docs, support-2024 or manuals_v2",
        )


def check_text(value: Any, what: str, *, optional: bool = False) -> None:
    if value is None and optional:
        return
    if not isinstance(value, str):
        raise InputError(f"{what} must be a string, got {type(value).__name__}")
    if "\x00" in value:
        raise InputError(f"{what} holds a NUL character (\\x00)", hint=_NUL_HINT)
    if value.isascii():
        return
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InputError(
            f"{what} is not valid Unicode (it holds lone surrogates)", hint="decode files as UTF-8"
        ) from None


def check_vector(vector: Any, dim: int) -> np.ndarray:
    """A query vector as a unit float32 array of shape ``(dim,)``, or InputError."""
    import numpy as np

    try:
        v = np.asarray(vector, dtype=np.float32).reshape(-1)
    except (TypeError, ValueError) as e:
        raise InputError(f"the query vector is not numeric: {e}") from e
    if v.shape != (dim,):
        raise InputError(f"the query vector has {v.size} values but the collection's dim is {dim}")
    norm = float(np.linalg.norm(v))
    if not math.isfinite(norm) or norm == 0.0:
        raise InputError("the query vector must be finite and non-zero")
    return v / norm


def check_vectors(doc: DocumentWrite, dim: int) -> np.ndarray:
    """The document's vectors as unit float32 rows, one per chunk, or InputError."""
    import numpy as np

    try:
        m = np.asarray(doc.vectors, dtype=np.float32)
    except (TypeError, ValueError) as e:
        raise InputError(f"document {doc.id!r}: vectors are not numeric: {e}") from e
    if m.size == 0 and not doc.chunks:
        return np.zeros((0, dim), dtype=np.float32)
    if m.ndim != 2 or m.shape != (len(doc.chunks), dim):
        raise InputError(
            f"document {doc.id!r}: vectors have shape {m.shape}, expected ({len(doc.chunks)}, {dim})",
            hint="embed each chunk with the collection's embedder, one row per chunk",
        )
    norms = np.linalg.norm(m, axis=1, keepdims=True)
    if not np.all(np.isfinite(norms)) or np.any(norms == 0):
        raise InputError(f"document {doc.id!r}: vectors must be finite and non-zero")
    return np.ascontiguousarray(m / norms, dtype=np.float32)


def check_batch(batch: Sequence[DocumentWrite], dim: int) -> list[np.ndarray]:
    """Check a whole batch before anything is written; return each document's unit vectors."""
    if isinstance(batch, DocumentWrite) or not isinstance(batch, Sequence):
        raise InputError("write() takes a sequence of DocumentWrite", hint="wrap a single document in a list")
    seen_docs: set[str] = set()
    seen_chunks: set[str] = set()
    for doc in batch:
        if not isinstance(doc, DocumentWrite):
            raise InputError(f"write() takes DocumentWrite items, got {type(doc).__name__}")
        for what in ("id", "source", "content_hash", "content_type"):
            check_text(getattr(doc, what), f"document {what}")
        check_text(doc.title, "document title", optional=True)
        if not doc.id:
            raise InputError("a document id must not be empty")
        if doc.id in seen_docs:
            raise InputError(f"document {doc.id!r} appears twice in one batch")
        seen_docs.add(doc.id)
        to_json(doc.metadata, f"metadata of document {doc.id!r}")
        for chunk in doc.chunks:
            _check_chunk(doc, chunk, seen_chunks)
    return _unit_vectors(batch, dim)


def _unit_vectors(batch: Sequence[DocumentWrite], dim: int) -> list[np.ndarray]:
    """``check_vectors`` for every document, normalised in one numpy pass when all is well (the common case:
    per-document numpy calls were a fifth of ingest's Python time); a bad document is named by ``check_vectors``.
    """
    import numpy as np

    try:
        mats = [np.asarray(d.vectors, dtype=np.float32) for d in batch]
    except (TypeError, ValueError):
        mats = []
    shapes_ok = len(mats) == len(batch) and all(
        m.shape == (len(d.chunks), dim) for m, d in zip(mats, batch, strict=True)
    )
    if not shapes_ok or not mats:
        return [check_vectors(d, dim) for d in batch]
    matrix = np.concatenate(mats)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    if not np.all(np.isfinite(norms)) or np.any(norms == 0):
        return [check_vectors(d, dim) for d in batch]  # raises, naming the document
    unit = np.ascontiguousarray(matrix / norms, dtype=np.float32)
    return np.split(unit, np.cumsum([len(d.chunks) for d in batch])[:-1])


def _ascii(value: Any) -> bool:
    """A plain ASCII ``str``: valid text with no further check. The common case: skipping the full checks
    and their messages took ``check_batch`` from 6.8 to 4.0 µs a chunk on ``bench/scale.py``'s batches.

    >>> _ascii("chunk 1"), _ascii("café"), _ascii(None)
    (True, False, False)
    """
    return type(value) is str and value.isascii()


def _check_chunk(doc: DocumentWrite, chunk: Chunk, seen: set[str]) -> None:
    if not isinstance(chunk, Chunk):
        raise InputError(f"document {doc.id!r}: chunks must be Chunk values, got {type(chunk).__name__}")
    if chunk.doc_id != doc.id or chunk.source != doc.source:
        raise InputError(
            f"chunk {chunk.id!r} says doc_id={chunk.doc_id!r}, source={chunk.source!r}; "
            f"its document is {doc.id!r} from {doc.source!r}"
        )
    cid, text, heading = chunk.id, chunk.text, chunk.heading
    if not (_ascii(cid) and _ascii(text) and (heading is None or _ascii(heading))) or "\x00" in text:  # full checks
        check_text(cid, "chunk id")
        check_text(text, f"text of chunk {cid!r}")
        check_text(heading, f"heading of chunk {cid!r}", optional=True)
    if not cid or cid in seen:
        raise InputError(f"chunk id {cid!r} is empty or used twice in one batch")
    seen.add(cid)
    if not (type(chunk.index) is int and type(chunk.start) is int and type(chunk.end) is int):
        for name in ("index", "start", "end"):
            if isinstance(getattr(chunk, name), bool) or not isinstance(getattr(chunk, name), int):
                raise InputError(f"chunk {cid!r}: {name} must be an integer")
    if chunk.page is not None and (isinstance(chunk.page, bool) or not isinstance(chunk.page, int)):
        raise InputError(f"chunk {chunk.id!r}: page must be an integer or None")
    if chunk.metadata != {}:  # most chunks have none: skip the JSON round trip (a third of ingest's Python time)
        to_json(chunk.metadata, f"metadata of chunk {chunk.id!r}")


def chunk_meta(doc: DocumentWrite, chunk: Chunk, doc_json: str | None = None) -> str:
    """The JSON kept with a chunk: the document's metadata, overridden by the chunk's own.

    ``doc_json`` (the document's metadata already as JSON) is reused for chunks without metadata.

    >>> chunk_meta(DocumentWrite("d", "d.md", "h", "text/plain", [], [], metadata={"b": 1}),
    ...            Chunk("d:0", "d", "d.md", "t", 0, 0, 1, metadata={"a": 2}))
    '{"a": 2, "b": 1}'
    """
    if doc_json is not None and chunk.metadata == {}:
        return doc_json
    return to_json({**doc.metadata, **chunk.metadata}, f"metadata of chunk {chunk.id!r}")


#: The chunk columns ``row_to_chunk`` reads, in order.
CHUNK_COLUMNS = "c.id, c.doc_id, c.source, c.text, c.idx, c.start_char, c.end_char, c.page, c.heading, c.meta"


def row_to_chunk(row: Sequence[Any]) -> Chunk:
    """A ``Chunk`` from a row of ``CHUNK_COLUMNS``; ``meta`` is JSON text (SQLite) or already a dict (JSONB)."""
    cid, doc_id, source, text, idx, start, end, page, heading, meta = row[:10]
    metadata = ({} if meta == "{}" else json.loads(meta)) if isinstance(meta, str) else meta
    return Chunk(cid, doc_id, source, text, idx, start, end, page, heading, metadata)


def chunks_in_order(rows: Iterable[Sequence[Any]], ids: Sequence[str]) -> list[Chunk]:
    """The chunks of ``rows`` (``CHUNK_COLUMNS``) in the order of ``ids``; ids without a row are left out.

    >>> row = ("a", "d", "d.md", "text", 0, 0, 4, None, None, "{}")
    >>> [c.id for c in chunks_in_order([row], ["x", "a"])]
    ['a']
    """
    found = {row[0]: row_to_chunk(row) for row in rows}
    return [found[i] for i in ids if i in found]


def documents_from_rows(
    docs: Iterable[Sequence[Any]], rows: Iterable[Sequence[Any]], vectors: Callable[[list[Any]], np.ndarray]
) -> list[DocumentWrite]:
    """Stored documents back as ``DocumentWrite`` values, ready to ``write`` into another store.

    ``docs`` are ``(id, source, content_hash, content_type, title, metadata)`` rows; ``rows`` are chunk rows
    (``CHUNK_COLUMNS`` then the stored vector) ordered by document and index; ``vectors`` turns one
    document's stored vectors into its matrix. Chunks keep only their own metadata (``own_metadata``).
    """
    by_doc: dict[str, list[Sequence[Any]]] = {}
    for row in rows:
        by_doc.setdefault(row[1], []).append(row)
    out = []
    for doc_id, source, content_hash, content_type, title, meta in docs:
        metadata = json.loads(meta) if isinstance(meta, str) else meta
        mine = by_doc.get(doc_id, [])
        chunks = [own_metadata(row_to_chunk(r), metadata) for r in mine]
        matrix = vectors([r[10] for r in mine])
        out.append(DocumentWrite(doc_id, source, content_hash, content_type, chunks, matrix, title, metadata))
    return out


def check_k(k: Any) -> None:
    """What every search asks of ``k``: a non-negative integer."""
    if isinstance(k, bool) or not isinstance(k, int) or k < 0:
        raise InputError(f"k must be a non-negative integer, got {k!r}")


def own_metadata(chunk: Chunk, doc_metadata: Mapping[str, Any]) -> Chunk:
    """``chunk`` with only its own metadata: stored chunks carry their document's merged in.

    Writing the result back with the same document metadata stores the same merged metadata.

    >>> c = Chunk("d:0", "d", "d.md", "t", 0, 0, 1, metadata={"lang": "en", "part": "intro"})
    >>> own_metadata(c, {"lang": "en"}).metadata
    {'part': 'intro'}
    """
    import dataclasses

    own = {k: v for k, v in chunk.metadata.items() if k not in doc_metadata or doc_metadata[k] != v}
    return dataclasses.replace(chunk, metadata=own)


def check_page(after: Any, limit: Any) -> None:
    """What ``chunk_texts`` asks: ``after`` a chunk id or None, ``limit`` a positive integer."""
    if after is not None and not isinstance(after, str):
        raise InputError(f"after must be a chunk id (a string) or None, got {type(after).__name__}")
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise InputError(f"limit must be a positive integer, got {limit!r}")


def check_new_vectors(embedder: Any, ids: Any, vectors: Any, *, max_dim: int) -> tuple[list[str], np.ndarray]:
    """What ``replace_vectors`` asks: distinct chunk ids, one finite non-zero row each; rows made unit length.

    >>> ids, m = check_new_vectors("e", ["a", "b"], [[3.0, 4.0], [0.0, 2.0]], max_dim=8)
    >>> ids, m.tolist()
    (['a', 'b'], [[0.6000000238418579, 0.800000011920929], [0.0, 1.0]])
    """
    import numpy as np

    if not isinstance(embedder, str) or not embedder:
        raise InputError("replace_vectors needs the name of the new embedder")
    if isinstance(ids, str) or not all(isinstance(i, str) for i in ids):
        raise InputError("chunk ids must be a list of strings", hint='pass ["id"], not "id"')
    ids = list(ids)
    if len(set(ids)) != len(ids):
        raise InputError("a chunk id appears twice in replace_vectors")
    try:
        m = np.asarray(vectors, dtype=np.float32)
    except (TypeError, ValueError) as e:
        raise InputError(f"the new vectors are not numeric: {e}") from e
    if m.ndim != 2 or m.shape[0] != len(ids) or not 1 <= m.shape[1] <= max_dim:
        raise InputError(f"vectors have shape {m.shape}, expected ({len(ids)}, dim) with dim from 1 to {max_dim}")
    norms = np.linalg.norm(m, axis=1, keepdims=True)
    if not np.all(np.isfinite(norms)) or np.any(norms == 0):
        raise InputError("the new vectors must be finite and non-zero")
    return ids, np.ascontiguousarray(m / norms, dtype=np.float32)
