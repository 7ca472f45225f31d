"""``SQLiteStore``: the embedded store. One SQLite file (WAL) holds everything; HNSW files are caches.

Crash safety: every change is one transaction that also bumps the collection's ``generation``. The
database runs in WAL mode with ``synchronous=NORMAL``: a killed process never loses or tears a committed
transaction, and a power cut can at worst drop the last few commits, never corrupt the file. Ingestion is
incremental by content hash, so re-running it restores those; FULL would fsync on every batch for no
gain in consistency. Index files next to the database (``<db>.collection-<id>.usearch``) are trusted only
when their stamp matches the collection's generation and their checksum; otherwise they are rebuilt.

Threads: each thread gets its own connection (readers never wait for each other in WAL mode); the dense
index cache is shared under a lock. Other processes may use the same file at the same time.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmkit.errors import InputError, NotFound, StoreError
from llmkit.store.base import DocumentWrite, Filter
from llmkit.store.bulk import BulkLoads
from llmkit.store.over_fetch import LIMIT as OVER_FETCH_LIMIT
from llmkit.store.over_fetch import over_fetch
from llmkit.store.records import (
    CHUNK_COLUMNS,
    check_batch,
    check_collection,
    check_k,
    check_new_name,
    check_new_vectors,
    check_page,
    check_vector,
    chunk_meta,
    chunks_in_order,
    documents_from_rows,
    to_json,
)
from llmkit.store.schema import create_fts, fts_table, migrate
from llmkit.store.sqlite_dense import SQLiteDense
from llmkit.store.sqlite_lexical import CATCH_UP_ROWS, SQLiteLexical, catch_up_fts, defer_fts, fts_pending
from llmkit.store.sqlite_rows import IDS as _IDS
from llmkit.store.sqlite_rows import CompiledFilter, Results, ranked, scored
from llmkit.store.sqlite_rows import ids_param as _ids_param
from llmkit.store.vector_index import HnswIndex
from llmkit.types import Chunk, CollectionInfo, DocumentInfo, Ranked, ScoredChunk

if TYPE_CHECKING:
    import numpy as np


def _lists(found: tuple[np.ndarray, np.ndarray]) -> tuple[list[int], list[float]]:
    return found[0].tolist(), found[1].tolist()


def _same_dim(vectors: list[np.ndarray], dim: int) -> list[np.ndarray]:
    """Vectors checked before a bulk load's write: the collection's dim cannot have changed since, but say so."""
    if any(v.shape[1] != dim for v in vectors):
        raise InputError(f"the collection's dim changed to {dim} during a bulk load")
    return vectors


@contextmanager
def _translated(path: Path) -> Iterator[None]:
    """Turn sqlite3's errors into StoreError with a hint."""
    try:
        yield
    except sqlite3.OperationalError as e:
        if "locked" in str(e) or "busy" in str(e):
            raise StoreError(
                f"the store {path} stayed locked by another writer", hint="retry, or let the other process finish"
            ) from e
        raise StoreError(f"the store {path} failed: {e}", hint="check the file's permissions and free disk") from e
    except (sqlite3.ProgrammingError, sqlite3.InterfaceError):
        raise  # a bug in llmkit, not a problem with the file
    except sqlite3.DatabaseError as e:
        raise StoreError(
            f"{path} is not a readable llmkit store: {e}", hint="restore it from a backup, or delete it and re-ingest"
        ) from e


class SQLiteStore:
    """The embedded ``Store``: SQLite for rows, vectors and FTS5; numpy or usearch for dense search.

    >>> store = SQLiteStore(tmp / "llmkit.db")  # doctest: +SKIP
    >>> store.create_collection("docs", embedder="hash-64", dim=64)  # doctest: +SKIP
    """

    def __init__(
        self,
        path: str | Path,
        *,
        hnsw_threshold: int = 20_000,
        text_index_threshold: int = 20_000,
        busy_timeout_s: float = 30.0,
        bm25_memory: tuple[int, int] = (1_000, 100_000),
        bm25_warmup: int = 3,
    ) -> None:
        """Lexical search, first match wins: a filter naming a few documents goes to FTS5 over their chunks;
        a collection of ``text_index_threshold`` chunks or more to its tantivy index (the ``scale`` extra);
        one of ``bm25_memory`` (min, max) chunks to BM25 in memory (``lexical_index``, FTS5's exact scores),
        built in the background after ``bm25_warmup`` lexical searches (0: by the first one); anything else,
        and a filter too rare for an index's best 4,096 candidates (on which filters are checked,
        ``over_fetch``), to FTS5 (see ``sqlite_lexical``). Dense search uses the HNSW graph from
        ``hnsw_threshold`` chunks, with filters checked the same way."""
        if str(path) in ("", ":memory:") or str(path).startswith("file:"):
            raise InputError("SQLiteStore needs a file path", hint="use a temporary file for a throwaway store")
        self.path = Path(path)
        self.busy_timeout_s = busy_timeout_s
        self._local = threading.local()
        self._conns: list[sqlite3.Connection] = []
        self._lock = threading.RLock()  # guards _conns
        self._dense = SQLiteDense(self.path, hnsw_threshold)
        self._bulk = BulkLoads()  # collections inside bulk_load, with their writers
        self._closed = False
        self._lexical = SQLiteLexical(
            self.path,
            self._tx,
            text_index_threshold=text_index_threshold,
            bm25_memory=bm25_memory,
            bm25_warmup=bm25_warmup,
        )
        with _translated(self.path):
            self.path.parent.mkdir(parents=True, exist_ok=True)
            migrate(self._conn(), str(self.path))

    # connections and transactions -------------------------------------------------------
    def _conn(self) -> sqlite3.Connection:
        if self._closed:
            raise StoreError(f"the store {self.path} is closed")
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._connect()
            with self._lock:
                self._conns.append(conn)
        return conn

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=self.busy_timeout_s, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        return conn

    @contextmanager
    def _tx(self, mode: str = "IMMEDIATE", conn: sqlite3.Connection | None = None) -> Iterator[sqlite3.Connection]:
        """One transaction: IMMEDIATE for writes (takes the write lock up front), DEFERRED for a read snapshot."""
        with _translated(self.path):
            conn = conn or self._conn()
            conn.execute(f"BEGIN {mode}")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    def _collection(self, conn: sqlite3.Connection, name: str) -> tuple[int, str, int, int]:
        row = conn.execute("SELECT id, embedder, dim, generation FROM collections WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise NotFound(f"no collection named {name!r}", hint="see list_collections(), or create it first")
        return row

    # collections ------------------------------------------------------------------------
    def create_collection(self, name: str, *, embedder: str, dim: int) -> CollectionInfo:
        check_collection(name, embedder, dim, max_dim=65_536)
        with self._tx() as conn:
            row = conn.execute("SELECT embedder, dim FROM collections WHERE name = ?", (name,)).fetchone()
            if row is None:
                check_new_name(name)
                cur = conn.execute(
                    "INSERT INTO collections (name, embedder, dim, created_at) VALUES (?, ?, ?, ?)",
                    (name, embedder, dim, time.time()),
                )
                create_fts(conn, cur.lastrowid)
            elif tuple(row) != (embedder, dim):
                raise InputError(
                    f"collection {name!r} exists with embedder {row[0]!r} (dim {row[1]}), not {embedder!r} (dim {dim})",
                    hint="use another collection name, or delete the collection and re-ingest",
                )
            return self._info(conn, name)

    def _info(self, conn: sqlite3.Connection, name: str) -> CollectionInfo:
        cid, embedder, dim, _ = self._collection(conn, name)
        docs = conn.execute("SELECT count(*) FROM documents WHERE collection_id = ?", (cid,)).fetchone()[0]
        chunks = conn.execute("SELECT count(*) FROM chunks WHERE collection_id = ?", (cid,)).fetchone()[0]
        return CollectionInfo(name, embedder, dim, docs, chunks)

    def get_collection(self, name: str) -> CollectionInfo:
        self._bulk.settle(name)
        with self._tx("DEFERRED") as conn:
            return self._info(conn, name)

    def list_collections(self) -> list[CollectionInfo]:
        self._bulk.settle_all()
        with self._tx("DEFERRED") as conn:
            names = [r[0] for r in conn.execute("SELECT name FROM collections ORDER BY name")]
            return [self._info(conn, n) for n in names]

    def delete_collection(self, name: str) -> None:
        self._bulk.settle(name)
        with self._tx() as conn:
            cid = self._collection(conn, name)[0]
            conn.execute(f"DROP TABLE {fts_table(cid)}")
            for table in ("chunks", "documents"):
                conn.execute(f"DELETE FROM {table} WHERE collection_id = ?", (cid,))
            conn.execute("DELETE FROM collections WHERE id = ?", (cid,))
        self._dense.forget(cid)
        self._lexical.drop(cid)

    # documents --------------------------------------------------------------------------
    def write(self, collection: str, batch: Sequence[DocumentWrite]) -> None:
        if not self._bulk.submit(collection, batch):  # in a bulk load it is queued for its writer thread
            self._write(collection, batch)

    def _write(
        self,
        collection: str,
        batch: Sequence[DocumentWrite],
        vectors: list[np.ndarray] | None = None,
        conn: sqlite3.Connection | None = None,
    ) -> None:
        """One write transaction; with ``conn`` (a bulk load's), the chunks are left out of FTS5."""
        import numpy as np

        removed: list[int] = []
        bulk = conn is not None
        with self._tx(conn=conn) as conn:
            cid, _, dim, generation = self._collection(conn, collection)
            vectors = check_batch(batch, dim) if vectors is None else _same_dim(vectors, dim)
            for doc in batch:
                removed += self._delete_doc(conn, cid, doc.id)[1]
            if not bulk:
                catch_up_fts(conn, cid)  # what an earlier bulk load left out, so the FTS5 table is whole again
            added = self._insert_docs(conn, cid, batch, vectors, not bulk)
            conn.execute("UPDATE collections SET generation = generation + 1 WHERE id = ?", (cid,))
        matrix = np.concatenate(vectors) if vectors else np.zeros((0, dim), dtype=np.float32)
        self._dense.after_write(cid, generation, removed, np.asarray(added, dtype=np.int64), matrix)
        self._lexical.after_write(
            cid, generation, removed, zip(added, (c.text for d in batch for c in d.chunks), strict=True)
        )

    @contextmanager
    def bulk_load(self, collection: str) -> Iterator[None]:
        """Writes to ``collection`` through this store, inside the block, leave their chunks out of the
        FTS5 index; it takes them all at the end (``build_index``), 50,000 chunks a transaction.

        Every write is still one transaction, run by a background thread (``sqlite_bulk``) while the caller
        checks and prepares the next batch: ``write`` returns once its batch is checked and queued, a failed
        write is raised by the next ``write`` or at the end of the block, and reads through this store wait
        for the queued writes they could see. If the block fails or the process dies, the FTS5 index
        catches up before anything reads it next (a lexical search, the next write outside a bulk load).

        >>> with store.bulk_load("docs"):  # doctest: +SKIP
        ...     for batch in batches:
        ...         store.write("docs", batch)
        """
        dim = self.get_collection(collection).dim  # NotFound before anything starts
        self._bulk.open(collection, dim, self._bulk_writer)
        try:
            yield
        finally:
            self._bulk.close(collection)  # waits for the queued writes; raises the first that failed
        self.build_index(collection)

    def _bulk_writer(self) -> tuple[Callable[[Any], None], Callable[[], None]]:
        """A bulk load's writes, on a connection of its own with ``synchronous=OFF``: a killed process loses
        nothing it committed (the data is in the operating system's cache); only a power cut during the load
        could damage the file. At the end, ``synchronous=NORMAL`` and a FULL checkpoint sync the log and the
        database file: from then on the store is as safe as after ordinary writes."""
        conn = self._connect()
        conn.execute("PRAGMA synchronous=OFF")

        def finish() -> None:
            with suppress(sqlite3.Error):
                conn.execute("PRAGMA synchronous=NORMAL")
                conn.execute("PRAGMA wal_checkpoint(FULL)")
            conn.close()

        return lambda prepared: self._write(*prepared, conn=conn), finish

    def build_index(self, collection: str) -> int:
        """Add the chunks a bulk load left out to the collection's FTS5 index; how many were added.

        The dense (HNSW) and tantivy indexes need no call: they are built on the first query that uses them.
        """
        self._bulk.settle(collection)
        added = 0
        while True:  # one transaction a step
            with self._tx() as conn:
                step = catch_up_fts(conn, self._collection(conn, collection)[0], CATCH_UP_ROWS)
            added += step
            if step < CATCH_UP_ROWS:
                return added

    def _insert_docs(
        self, conn: sqlite3.Connection, cid: int, batch: Sequence[DocumentWrite], vectors: list[np.ndarray], fts: bool
    ) -> list[int]:
        """Insert a checked batch with one ``executemany`` per table; the new chunks' rowids.

        Rowids are assigned here, from the current maxima: the write lock (``BEGIN IMMEDIATE``) is held,
        so no other writer can take them, and SQLite would pick the same numbers itself. Knowing them up
        front lets the chunk and FTS rows go in as whole-batch ``executemany`` calls instead of one
        ``execute`` a row (the difference is most of the ingest time for precomputed vectors).
        """
        first_doc = conn.execute("SELECT coalesce(max(rowid), 0) + 1 FROM documents").fetchone()[0]
        first_chunk = conn.execute("SELECT coalesce(max(rowid), 0) + 1 FROM chunks").fetchone()[0]
        now = time.time()
        metas = [to_json(d.metadata, f"metadata of document {d.id!r}") for d in batch]
        conn.executemany(
            "INSERT INTO documents (rowid, collection_id, id, source, content_hash, content_type, title, metadata,"
            " chunk_count, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(first_doc + i, cid, d.id, d.source, d.content_hash, d.content_type, d.title, metas[i], len(d.chunks), now)
             for i, d in enumerate(batch)],
        )  # fmt: skip
        rows = [
            (cid, first_doc + i, ch.id, d.id, d.source, d.content_type, ch.index, ch.text, ch.start, ch.end,
             ch.page, ch.heading, chunk_meta(d, ch, metas[i]), vec.tobytes())
            for i, (d, vecs) in enumerate(zip(batch, vectors, strict=True))
            for ch, vec in zip(d.chunks, vecs.astype("<f4", copy=False), strict=True)
        ]  # fmt: skip
        rowids = list(range(first_chunk, first_chunk + len(rows)))
        try:
            conn.executemany(
                "INSERT INTO chunks (rowid, collection_id, doc_rowid, id, doc_id, source, content_type, idx, text,"
                " start_char, end_char, page, heading, meta, vector) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                [(r, *row) for r, row in zip(rowids, rows, strict=True)],
            )
        except sqlite3.IntegrityError as e:
            ids = _ids_param([row[2] for row in rows], "chunk ids")
            sql = f"SELECT id FROM chunks WHERE collection_id = ? AND doc_rowid < ? AND id IN {_IDS} LIMIT 1"
            taken = conn.execute(sql, (cid, first_doc, ids)).fetchone()
            name = repr(taken[0]) if taken else "in this batch"
            raise InputError(f"chunk id {name} is already used by another document in this collection") from e
        if not fts:
            defer_fts(conn, cid, first_chunk)
        elif rows:
            conn.executemany(
                f"INSERT INTO {fts_table(cid)} (rowid, text) VALUES (?, ?)",
                zip(rowids, (row[7] for row in rows), strict=True),
            )
        return rowids

    def _delete_doc(self, conn: sqlite3.Connection, cid: int, doc_id: str) -> tuple[bool, list[int]]:
        """Delete one document with its chunks; whether it existed, and its chunks' rowids."""
        row = conn.execute("SELECT rowid FROM documents WHERE collection_id = ? AND id = ?", (cid, doc_id)).fetchone()
        if row is None:
            return False, []
        rowids = [r[0] for r in conn.execute("SELECT rowid FROM chunks WHERE doc_rowid = ?", row)]
        conn.execute(f"DELETE FROM {fts_table(cid)} WHERE rowid IN (SELECT rowid FROM chunks WHERE doc_rowid = ?)", row)
        conn.execute("DELETE FROM chunks WHERE doc_rowid = ?", row)
        conn.execute("DELETE FROM documents WHERE rowid = ?", row)
        return True, rowids

    def document_hashes(self, collection: str, ids: Sequence[str]) -> dict[str, str]:
        param = _ids_param(ids, "document ids")
        self._bulk.settle(collection, ids)
        with self._tx("DEFERRED") as conn:
            cid = self._collection(conn, collection)[0]
            sql = f"SELECT id, content_hash FROM documents WHERE collection_id = ? AND id IN {_IDS}"
            return dict(conn.execute(sql, (cid, param)).fetchall())

    def list_documents(self, collection: str, *, limit: int | None = None, offset: int = 0) -> list[DocumentInfo]:
        if (
            (limit is not None and (not isinstance(limit, int) or limit < 0))
            or not isinstance(offset, int)
            or offset < 0
        ):
            raise InputError(f"limit and offset must be non-negative integers, got {limit!r}, {offset!r}")
        self._bulk.settle(collection)
        with self._tx("DEFERRED") as conn:
            cid = self._collection(conn, collection)[0]
            rows = conn.execute(
                "SELECT id, source, content_hash, content_type, chunk_count, title, metadata, updated_at"
                " FROM documents WHERE collection_id = ? ORDER BY id LIMIT ? OFFSET ?",
                (cid, -1 if limit is None else limit, offset),
            ).fetchall()
        return [DocumentInfo(*r[:6], metadata=json.loads(r[6]), updated_at=r[7]) for r in rows]

    def delete_document(self, collection: str, doc_id: str) -> bool:
        self._bulk.settle(collection, [doc_id])
        with self._tx() as conn:
            cid, _, dim, generation = self._collection(conn, collection)
            existed, removed = self._delete_doc(conn, cid, doc_id)
            if not existed:
                return False
            conn.execute("UPDATE collections SET generation = generation + 1 WHERE id = ?", (cid,))
        import numpy as np

        no_rows = np.zeros(0, dtype=np.int64)
        self._dense.after_write(cid, generation, removed, no_rows, np.zeros((0, dim), dtype=np.float32))
        self._lexical.after_write(cid, generation, removed, ())
        return True

    def get_chunks(self, collection: str, ids: Sequence[str]) -> list[Chunk]:
        param = _ids_param(ids, "chunk ids")
        self._bulk.settle(collection)
        with self._tx("DEFERRED") as conn:
            cid = self._collection(conn, collection)[0]
            sql = f"SELECT {CHUNK_COLUMNS} FROM chunks c WHERE c.collection_id = ? AND c.id IN {_IDS}"
            return chunks_in_order(conn.execute(sql, (cid, param)), ids)

    def document_chunks(self, collection: str, doc_ids: Sequence[str]) -> list[DocumentWrite]:
        """The stored documents ``doc_ids`` with their chunks and vectors, ready to ``write`` elsewhere."""
        import numpy as np

        param = _ids_param(doc_ids, "document ids")
        self._bulk.settle(collection, doc_ids)
        with self._tx("DEFERRED") as conn:
            cid, _, dim, _ = self._collection(conn, collection)
            docs = conn.execute(
                "SELECT id, source, content_hash, content_type, title, metadata FROM documents"
                f" WHERE collection_id = ? AND id IN {_IDS}",
                (cid, param),
            ).fetchall()
            # Through the documents' rows and chunks_doc: "chunks WHERE doc_id IN (...)" has no index and read
            # the whole collection (3.8 s a call at 1M chunks, against 1.5 ms).
            sql = (
                f"SELECT {CHUNK_COLUMNS}, c.vector FROM documents d CROSS JOIN chunks c ON c.doc_rowid = d.rowid"
                f" WHERE d.collection_id = ? AND d.id IN {_IDS}"
            )
            rows = conn.execute(f"{sql} ORDER BY c.doc_id, c.idx", (cid, param)).fetchall()

        def matrix(blobs: list[bytes]) -> np.ndarray:
            return np.frombuffer(b"".join(blobs), dtype="<f4").astype(np.float32).reshape(len(blobs), dim)

        return documents_from_rows(docs, rows, matrix)

    def get_vectors(self, collection: str, ids: Sequence[str]) -> np.ndarray:
        import numpy as np

        param = _ids_param(ids, "chunk ids")
        self._bulk.settle(collection)
        with self._tx("DEFERRED") as conn:
            cid, _, dim, _ = self._collection(conn, collection)
            sql = f"SELECT id, vector FROM chunks WHERE collection_id = ? AND id IN {_IDS}"
            found = dict(conn.execute(sql, (cid, param)).fetchall())
        missing = [i for i in ids if i not in found]
        if missing:
            raise NotFound(f"{len(missing)} chunk id(s) not in {collection!r}, e.g. {missing[:3]}")
        blob = b"".join(found[i] for i in ids)
        return np.frombuffer(blob, dtype="<f4").astype(np.float32).reshape(len(ids), dim)

    # re-embedding -----------------------------------------------------------------------
    def chunk_texts(self, collection: str, *, after: str | None = None, limit: int = 256) -> list[tuple[str, str]]:
        """``(chunk id, text)`` for up to ``limit`` chunks with ids after ``after``, in id order (for paging)."""
        check_page(after, limit)
        self._bulk.settle(collection)
        with self._tx("DEFERRED") as conn:
            cid = self._collection(conn, collection)[0]
            sql = "SELECT id, text FROM chunks WHERE collection_id = ? AND id > ? ORDER BY id LIMIT ?"
            return [tuple(r) for r in conn.execute(sql, (cid, after or "", limit))]

    def replace_vectors(
        self, collection: str, *, embedder: str, ids: Sequence[str], vectors: np.ndarray
    ) -> CollectionInfo:
        """Give every chunk a new vector from ``embedder`` and switch the collection to it, in one transaction.

        ``ids`` must name every chunk of the collection exactly once (else InputError and nothing changes).
        The old vectors stay valid until the commit; the dense index is rebuilt from the new ones.
        """
        ids, matrix = check_new_vectors(embedder, ids, vectors, max_dim=65_536)
        self._bulk.settle(collection)
        with self._tx() as conn:
            cid = self._collection(conn, collection)[0]
            count = conn.execute("SELECT count(*) FROM chunks WHERE collection_id = ?", (cid,)).fetchone()[0]
            rows = ((vec.astype("<f4").tobytes(), cid, i) for i, vec in zip(ids, matrix, strict=True))
            changed = conn.executemany("UPDATE chunks SET vector = ? WHERE collection_id = ? AND id = ?", rows).rowcount
            if changed != len(ids) or count != len(ids):
                raise InputError(
                    f"collection {collection!r} has {count} chunks; {changed} of the {len(ids)} new vectors matched",
                    hint="the collection changed while re-embedding: run `llmkit collections reembed` again",
                )
            conn.execute(
                "UPDATE collections SET embedder = ?, dim = ?, generation = generation + 1 WHERE id = ?",
                (embedder, int(matrix.shape[1]), cid),
            )
            info = self._info(conn, collection)
        self._dense.forget(cid)  # stamped with the old generation: it would be rebuilt anyway
        return info

    # search -----------------------------------------------------------------------------
    def search_dense(
        self, collection: str, vector: np.ndarray, k: int, *, filter: Filter | None = None
    ) -> list[ScoredChunk]:
        return self._search_dense(collection, vector, k, filter, scored)

    def rank_dense(self, collection: str, vector: np.ndarray, k: int, *, filter: Filter | None = None) -> list[Ranked]:
        return self._search_dense(collection, vector, k, filter, ranked)

    def _search_dense(
        self, collection: str, vector: np.ndarray, k: int, filter: Filter | None, results: Results
    ) -> list:

        check_k(k)
        compiled = CompiledFilter.of(filter) if filter else None
        self._bulk.settle(collection)
        with self._tx("DEFERRED") as conn:
            cid, _, dim, generation = self._collection(conn, collection)
            query = check_vector(vector, dim)
            if k == 0:
                return []
            index = self._dense.index(conn, cid, dim, generation)
            allowed = None
            if compiled is not None:
                # the filter checked on the graph's best candidates first, unless it names a few documents:
                # then reading their chunks is cheaper than any search of the graph
                if isinstance(index, HnswIndex) and not compiled.names_few_chunks(conn, cid, OVER_FETCH_LIMIT):
                    found = over_fetch(lambda n: _lists(index.search(query, n)), compiled.passing(conn, cid), k)
                    if found is not None:
                        return results(conn, *found)
                allowed = compiled.allowed_rowids(conn, cid)
            keys, scores = index.search(query, k, allowed)
            return results(conn, keys.tolist(), scores.tolist(), lambda: index.chunk_ids(keys))

    def build_lexical_index(self, collection: str) -> bool:
        """Build the collection's in-memory BM25 index now (searches otherwise build it after a few
        queries, in the background); False when its size is outside ``bm25_memory``."""
        self._bulk.settle(collection)
        with self._tx("DEFERRED") as conn:
            cid = self._collection(conn, collection)[0]
            behind = fts_pending(conn, cid) is not None
        if behind:
            self.build_index(collection)
        return self._lexical.build_memory(cid)

    def search_lexical(self, collection: str, query: str, k: int, *, filter: Filter | None = None) -> list[ScoredChunk]:
        return self._search_lexical(collection, query, k, filter, scored)

    def rank_lexical(self, collection: str, query: str, k: int, *, filter: Filter | None = None) -> list[Ranked]:
        return self._search_lexical(collection, query, k, filter, ranked)

    def _search_lexical(self, collection: str, query: str, k: int, filter: Filter | None, results: Results) -> list:
        check_k(k)
        if not isinstance(query, str):
            raise InputError(f"a lexical query is text, got {type(query).__name__}")
        compiled = CompiledFilter.of(filter) if filter else None  # a bad filter fails before anything else
        self._bulk.settle(collection)
        while True:
            with self._tx("DEFERRED") as conn:
                cid, _, _, generation = self._collection(conn, collection)
                if fts_pending(conn, cid) is None:
                    return results(conn, *self._lexical.search(conn, cid, generation, query, k, compiled))
            self.build_index(collection)  # a bulk load that did not finish left chunks out of FTS5

    def close(self) -> None:
        """Save HNSW indexes changed since they were loaded, then close every connection. Idempotent."""
        self._lexical.close()  # first, and outside the lock: a running build still needs its connection
        with self._lock:
            if self._closed:
                return
            self._dense.close()
            self._closed = True
            for conn in self._conns:
                with suppress(sqlite3.Error):
                    conn.close()
            self._conns.clear()

    def __enter__(self) -> SQLiteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
