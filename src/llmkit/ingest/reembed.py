"""Re-embedding a collection when its embedder changes: stage new vectors, then switch in one transaction.

New vectors go to a staging file (SQLite, one per collection) in batches, keyed by chunk id and the
sha256 of the chunk's text. The store keeps serving the old vectors meanwhile; a crash loses at most
the batch in flight, and running again skips what is staged (``resumable``). When every chunk has a
vector, ``Store.replace_vectors`` swaps them all, the collection's embedder and dim, and rebuilds the
dense index, in one transaction. Then the staging file is deleted.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from llmkit.errors import InputError

if TYPE_CHECKING:
    import numpy as np

    from llmkit.embeddings.base import Embedder
    from llmkit.store.base import Store
    from llmkit.types import CollectionInfo

#: ``progress(done_chunks, total_chunks)``
Progress = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class ReembedReport:
    """What ``Reembedder.run`` did: chunks embedded now, chunks reused from an earlier run, the result."""

    collection: CollectionInfo
    previous_embedder: str
    embedded: int
    resumed: int
    seconds: float


class Reembedder:
    """Re-embed every chunk of a collection with ``embedder``; ``staging_dir`` holds the resumable work.

    >>> Reembedder(store, embedder, Path(".llmkit/reembed")).run("docs")  # doctest: +SKIP
    """

    def __init__(self, store: Store, embedder: Embedder, staging_dir: Path, *, batch_size: int = 64) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise InputError(f"batch_size must be a positive integer, got {batch_size!r}")
        self.store = store
        self.embedder = embedder
        self.staging_dir = Path(staging_dir)
        self.batch_size = batch_size

    def run(self, collection: str, *, progress: Progress | None = None) -> ReembedReport:
        """Stage a vector for every chunk (skipping those staged before), then switch the collection."""
        import time

        start = time.perf_counter()
        before = self.store.get_collection(collection)  # NotFound for an unknown collection
        path = self.staging_path(collection)
        with closing(_open_staging(path, self.embedder.name)) as db:
            embedded, resumed, ids = self._stage_all(db, collection, before.chunks, progress)
            vectors = _staged_vectors(db, ids, self.embedder.dim)
        info = self.store.replace_vectors(collection, embedder=self.embedder.name, ids=ids, vectors=vectors)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return ReembedReport(info, before.embedder, embedded, resumed, time.perf_counter() - start)

    def staging_path(self, collection: str) -> Path:
        """The staging file of ``collection``: a readable slug plus a hash, so any name maps to one safe file."""
        slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", collection)[:40]
        digest = hashlib.sha256(collection.encode("utf-8", "replace")).hexdigest()[:12]
        return self.staging_dir / f"{slug}-{digest}.sqlite"

    def _stage_all(
        self, db: sqlite3.Connection, collection: str, total: int, progress: Progress | None
    ) -> tuple[int, int, list[str]]:
        embedded = resumed = 0
        ids: list[str] = []
        after: str | None = None
        while page := self.store.chunk_texts(collection, after=after, limit=self.batch_size):
            after = page[-1][0]
            staged = _staged_hashes(db, [i for i, _ in page])
            todo = [(i, t, h) for i, t in page if staged.get(i) != (h := _text_hash(t))]
            if todo:
                vectors = self.embedder.embed([t for _, t, _ in todo])
                rows = [(i, h, v.astype("<f4").tobytes()) for (i, _, h), v in zip(todo, vectors, strict=True)]
                with db:  # one transaction a batch: a crash keeps every batch before it
                    db.executemany("INSERT OR REPLACE INTO staged (id, text_hash, vector) VALUES (?, ?, ?)", rows)
            embedded += len(todo)
            resumed += len(page) - len(todo)
            ids += [i for i, _ in page]
            if progress:
                progress(len(ids), max(total, len(ids)))
        return embedded, resumed, ids


def _text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()


def _open_staging(path: Path, embedder: str) -> sqlite3.Connection:
    """The staging database for ``embedder``; work staged for another embedder is thrown away."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    db.execute("CREATE TABLE IF NOT EXISTS staged (id TEXT PRIMARY KEY, text_hash TEXT NOT NULL, vector BLOB NOT NULL)")
    row = db.execute("SELECT value FROM meta WHERE key = 'embedder'").fetchone()
    with db:
        if row is None or row[0] != embedder:
            db.execute("DELETE FROM staged")
            db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('embedder', ?)", (embedder,))
    return db


def _staged_hashes(db: sqlite3.Connection, ids: list[str]) -> dict[str, str]:
    sql = "SELECT id, text_hash FROM staged WHERE id IN (SELECT value FROM json_each(?))"
    return dict(db.execute(sql, (_json(ids),)).fetchall())


def _staged_vectors(db: sqlite3.Connection, ids: list[str], dim: int) -> np.ndarray:
    """The staged vectors of ``ids``, row i for ids[i]."""
    import numpy as np

    out = np.empty((len(ids), dim), dtype=np.float32)
    for start in range(0, len(ids), 10_000):
        part = ids[start : start + 10_000]
        found = dict(db.execute(
            "SELECT id, vector FROM staged WHERE id IN (SELECT value FROM json_each(?))", (_json(part),)
        ).fetchall())  # fmt: skip
        for row, i in enumerate(part, start):
            out[row] = np.frombuffer(found[i], dtype="<f4")
    return out


def _json(ids: list[str]) -> str:
    return json.dumps(ids, ensure_ascii=False).encode("utf-8", "replace").decode("utf-8")
