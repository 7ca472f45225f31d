"""The dense indexes of ``SQLiteStore``: one per collection, cached in memory and (HNSW) in a file, never trusted.

A collection under ``hnsw_threshold`` chunks is searched exactly (``ExactIndex``); a larger one through
usearch's HNSW graph, saved next to the database as ``<db>.collection-<id>.usearch`` with a stamp of the
collection's generation. The SQLite rows are the source of truth: an index whose stamp or checksum does not
match is rebuilt from them.
"""

from __future__ import annotations

import sqlite3
import threading
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING

from llmkit.store.vector_index import ExactIndex, HnswIndex, Stamp

if TYPE_CHECKING:
    import numpy as np

#: Rows a page when reading a collection's vectors.
READ_PAGE = 20_000


def read_vectors(
    conn: sqlite3.Connection, cid: int, dim: int, count: int, *, ids: bool = False
) -> tuple[np.ndarray, np.ndarray, list[str] | None]:
    """The collection's rowids and vectors, read in pages into one preallocated matrix, and (``ids``) the
    chunk ids in the same order.

    At 1M chunks of dim 384 this peaks at the matrix (1.5 GB) plus a page, where fetching every row at once
    and joining the blobs held three copies.
    """
    import numpy as np

    keys = np.empty(count, dtype=np.int64)
    matrix = np.empty((count, dim), dtype=np.float32)
    chunk_ids: list[str] | None = [] if ids else None
    columns = "rowid, vector, id" if ids else "rowid, vector"
    rows = conn.execute(f"SELECT {columns} FROM chunks WHERE collection_id = ? ORDER BY rowid", (cid,))
    n = 0
    while page := rows.fetchmany(READ_PAGE):
        cols = list(zip(*page, strict=True))
        keys[n : n + len(page)] = cols[0]
        matrix[n : n + len(page)] = np.frombuffer(b"".join(cols[1]), dtype="<f4").reshape(len(page), dim)
        if chunk_ids is not None:
            chunk_ids.extend(cols[2])
        n += len(page)
    if n != count:  # the caller counted in the same read transaction, so this is a bug
        raise RuntimeError(f"collection {cid}: counted {count} chunks, read {n}")
    return keys, matrix, chunk_ids


class SQLiteDense:
    """The dense index cache of one SQLite store (thread-safe)."""

    def __init__(self, path: Path, hnsw_threshold: int) -> None:
        self.path = path
        self.hnsw_threshold = hnsw_threshold
        self._lock = threading.Lock()
        self._indexes: dict[int, ExactIndex | HnswIndex] = {}

    def file(self, cid: int) -> Path:
        return Path(f"{self.path}.collection-{cid}.usearch")

    def index(self, conn: sqlite3.Connection, cid: int, dim: int, generation: int) -> ExactIndex | HnswIndex:
        """The collection's index at ``generation``, from cache, from its file, or rebuilt from SQLite."""
        with self._lock:
            index = self._indexes.get(cid)
            if index is None or index.generation != generation:
                index = self._indexes[cid] = self._load(conn, cid, dim, generation)
            return index

    def _load(self, conn: sqlite3.Connection, cid: int, dim: int, generation: int) -> ExactIndex | HnswIndex:

        count = conn.execute("SELECT count(*) FROM chunks WHERE collection_id = ?", (cid,)).fetchone()[0]
        hnsw = count >= max(self.hnsw_threshold, 1)
        stamp = Stamp(cid, generation, dim, count)
        index = HnswIndex.load(self.file(cid), stamp) if hnsw else None
        if index is not None:
            return index
        keys, matrix, ids = read_vectors(conn, cid, dim, count, ids=not hnsw)
        if not hnsw:
            return ExactIndex(keys, matrix, generation, ids)
        index = HnswIndex.build(keys, matrix, stamp)
        index.save(self.file(cid))
        return index

    def after_write(self, cid: int, old: int, removed: list[int], added: np.ndarray, vectors: np.ndarray) -> None:
        """Keep a cached HNSW index in step with a committed write; drop anything else that is now stale."""
        with self._lock:
            index = self._indexes.get(cid)
            if isinstance(index, HnswIndex) and index.generation == old:
                import numpy as np

                index.apply(np.asarray(removed, dtype=np.int64), added, vectors, old + 1)
            else:
                self._indexes.pop(cid, None)

    def forget(self, cid: int) -> None:
        """Drop the collection's index and its file (the collection was deleted, or all its vectors replaced)."""
        with self._lock:
            self._indexes.pop(cid, None)
        for suffix in ("", ".json"):
            with suppress(OSError):
                Path(f"{self.file(cid)}{suffix}").unlink()

    def close(self) -> None:
        """Save HNSW indexes changed since they were loaded, and forget them all."""
        with self._lock:
            for cid, index in self._indexes.items():
                if isinstance(index, HnswIndex) and index.dirty:
                    with suppress(OSError):
                        index.save(self.file(cid))
            self._indexes.clear()
