"""Copying collections between stores (SQLite ⇄ PostgreSQL) with their vectors: no re-embedding, resumable.

    from llmkit.store.transfer import copy_collection
    report = copy_collection(SQLiteStore(".llmkit/store.db"), PostgresStore(url), "docs")

Documents are copied in pages, each page one ``write`` (one transaction) on the destination. A document
already there with the same content hash is skipped, so a copy that was killed or failed simply runs
again and carries on where it stopped. Into a new collection of many chunks, the copy runs in the
destination's ``bulk_load``: PostgreSQL builds its HNSW index, SQLite its FTS5 index, once at the end.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from llmkit.errors import InputError
from llmkit.store.base import DocumentWrite, Store

#: From this many chunks on, a copy into an empty collection runs in the destination's ``bulk_load``.
BULK_CHUNKS = 10_000
Progress = Callable[[int, int], None]


@runtime_checkable
class Exportable(Protocol):
    """A store that can hand back whole documents (both built-in stores can)."""

    def document_chunks(self, collection: str, doc_ids: Sequence[str]) -> list[DocumentWrite]: ...


@dataclass(frozen=True)
class CopyReport:
    collection: str
    copied: int  # documents written to the destination
    skipped: int  # documents already there with the same content hash
    chunks: int  # chunks written


def copy_collection(
    src: Store,
    dst: Store,
    name: str,
    *,
    dst_name: str | None = None,
    page: int = 200,
    progress: Callable[[int, int], None] | None = None,
) -> CopyReport:
    """Copy collection ``name`` from ``src`` to ``dst`` (as ``dst_name``); ``progress(done, total)`` per page."""
    if not isinstance(src, Exportable):
        raise InputError(f"{type(src).__name__} cannot export documents", hint="copy from a SQLite or PostgreSQL store")
    if not 1 <= page <= 100_000:
        raise InputError(f"page must be from 1 to 100000 documents, got {page}")
    info = src.get_collection(name)
    target = dst_name or name
    fresh = dst.create_collection(target, embedder=info.embedder, dim=info.dim).chunks == 0  # InputError if it differs
    # Into a new collection, let the destination build its indexes once at the end (PostgreSQL's HNSW graph,
    # SQLite's FTS5 table): much faster than row by row.
    bulk = fresh and info.chunks >= BULK_CHUNKS and hasattr(dst, "bulk_load")
    with dst.bulk_load(target) if bulk else nullcontext():
        counts = _copy_pages(src, dst, name, target, page, info.documents, progress)
    if not bulk and hasattr(dst, "build_index"):
        dst.build_index(target)  # also after a copy that an earlier, interrupted run left without its index
    return CopyReport(target, *counts)


def _copy_pages(
    src: Store, dst: Store, name: str, target: str, page: int, total: int, progress: Progress | None
) -> tuple[int, int, int]:
    """Copy every document page by page, one ``write`` a page; (copied, skipped, chunks)."""
    copied = skipped = chunks = done = 0
    while True:
        docs = src.list_documents(name, limit=page, offset=done)
        if not docs:
            return copied, skipped, chunks
        have = dst.document_hashes(target, [d.id for d in docs])
        todo = [d.id for d in docs if have.get(d.id) != d.content_hash]
        batch = src.document_chunks(name, todo) if todo else []  # type: ignore[attr-defined]  # Exportable
        if batch:
            dst.write(target, batch)
        copied += len(batch)
        skipped += len(docs) - len(todo)
        chunks += sum(len(d.chunks) for d in batch)
        done += len(docs)
        if progress:
            progress(done, total)
