"""``PostgresStore``: the ``Store`` Protocol on PostgreSQL with pgvector (HNSW, cosine) and full-text search.

Every method is one transaction on a pooled connection. ``write`` locks the collection's row, deletes
the documents it replaces (their chunks go by cascade) and COPYs the new rows in binary: all of a batch
lands, or none of it, and a killed client leaves nothing half-written. Writers to one collection take
turns on that row lock; readers never wait (MVCC). A connection broken by a server restart fails its
call with ``StoreUnavailable`` (retry) and is replaced before the next call.

Dense search orders by ``embedding::vector(dim) <=> query`` under the collection's partial HNSW index,
with ``hnsw.ef_search`` at least ``k``; with a filter, pgvector's iterative index scan keeps going until
``k`` rows pass it. Lexical search ranks ``tsv @@ to_tsquery('english', ...)`` with ``ts_rank``
(length-normalised). Fusion and explain live above the store, in ``llmkit.retrieve``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING, Any

from llmkit.errors import InputError, NotFound, StoreError
from llmkit.store.base import DocumentWrite, Filter
from llmkit.store.bulk import BulkLoads
from llmkit.store.fts import MAX_TERMS, STOPWORDS
from llmkit.store.postgres import lexical, schema
from llmkit.store.postgres.connection import import_psycopg, is_postgres_url, open_pool, redact, translated
from llmkit.store.postgres.filters import to_pg_sql
from llmkit.store.postgres.lexical import (
    QUERY_LEXEMES_SQL,
    TABLE_STATS_SQL,
    LexemeStats,
    candidate_lexemes,
    query_text,
    quote_lexeme,
    search_text,
)
from llmkit.store.records import (
    CHUNK_COLUMNS,
    COLLECTION_NAME,
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
    row_to_chunk,
    to_json,
)
from llmkit.types import Chunk, CollectionInfo, DocumentInfo, Ranked, ScoredChunk

if TYPE_CHECKING:
    import numpy as np
    import psycopg
    from psycopg_pool import ConnectionPool

_CHUNK_COPY = (
    "COPY llmkit_chunks (collection_id, doc_id, id, source, content_type, idx, text, start_char, end_char, page,"
    " heading, meta, search_text, embedding) FROM STDIN (FORMAT BINARY)"
)
_CHUNK_TYPES = ["int8", "text", "text", "text", "text", "int4", "text", "int4", "int4", "int4", "text", "jsonb", "text"]
_DOC_COPY = (
    "COPY llmkit_documents (collection_id, id, source, content_hash, content_type, title, metadata, chunk_count,"
    " updated_at) FROM STDIN"
)


def _check_ids(ids: Sequence[str], what: str) -> list[str]:
    if isinstance(ids, str) or not all(isinstance(i, str) for i in ids):
        raise InputError(f"{what} must be a list of strings", hint='pass ["id"], not "id"')
    return [i.encode("utf-8", "replace").decode("utf-8") for i in ids]


class PostgresStore:
    """The server ``Store``: PostgreSQL for rows, JSONB metadata and full-text search; pgvector for vectors.

    >>> store = PostgresStore("postgresql://app@db.internal/llm")  # doctest: +SKIP
    >>> store.create_collection("docs", embedder="all-minilm-l6-v2", dim=384)  # doctest: +SKIP

    Construction is cheap: the pool opens (and, with ``migrate=True``, the schema is brought up to
    date) on first use.
    """

    def __init__(
        self,
        url: str,
        *,
        pool_size: int = 8,
        timeout_s: float = 10.0,
        hnsw_m: int = 16,
        hnsw_ef_construction: int = 128,
        ef_search: int = 100,
        migrate: bool = True,
    ) -> None:
        if not is_postgres_url(url):
            raise InputError(f"not a PostgreSQL URL: {redact(str(url))!r}", hint="use postgresql://user@host/db")
        if not 1 <= pool_size <= 1000 or timeout_s <= 0 or not 1 <= ef_search <= 1000:
            raise InputError("pool_size must be 1-1000, timeout_s positive and ef_search 1-1000")
        self.url = url
        self.where = redact(url)
        self.pool_size = pool_size
        self.timeout_s = timeout_s
        self.hnsw = {"m": hnsw_m, "ef_construction": hnsw_ef_construction}
        self.ef_search = ef_search
        self.auto_migrate = migrate
        self._pool: ConnectionPool | None = None
        self._lock = threading.Lock()
        self._closed = False
        self._bulk = BulkLoads()  # collections inside bulk_load, with their writers
        self._stats = LexemeStats.STALE  # read on the first lexical search

    # connections ------------------------------------------------------------------------
    def migrate(self) -> tuple[int, int]:
        """Bring the schema up to date now; ``(version before, version after)``."""
        import psycopg

        import_psycopg()
        with translated(self.where), psycopg.connect(self.url, connect_timeout=max(1, round(self.timeout_s))) as c:
            return schema.migrate(c, self.where)

    def _open(self) -> ConnectionPool:
        with self._lock:
            if self._closed:
                raise StoreError(f"the store {self.where} is closed")
            if self._pool is None:
                if self.auto_migrate:
                    self.migrate()
                with translated(self.where):
                    self._pool = open_pool(self.url, min_size=1, max_size=self.pool_size, timeout_s=self.timeout_s)
                    with self._pool.connection() as conn:
                        version = schema.schema_version(conn)
                if version != schema.SCHEMA_VERSION:
                    raise StoreError(
                        f"{self.where} has llmkit schema version {version}, this llmkit needs {schema.SCHEMA_VERSION}",
                        hint="run `llmkit store migrate`" if version < schema.SCHEMA_VERSION else "upgrade llmkit",
                    )
            return self._pool

    @contextmanager
    def _conn(self) -> Iterator[psycopg.Connection]:
        """A pooled connection inside one transaction: committed on success, rolled back on error."""
        pool = self._open()
        with translated(self.where), pool.connection() as conn, conn.transaction():
            yield conn

    @contextmanager
    def _read(self) -> Iterator[psycopg.Connection]:
        """A pooled connection for a single read statement, outside any transaction (the pool's connections
        autocommit): two round trips fewer than ``_conn``, 0.3 of 0.9 ms for ``get_chunks`` on loopback."""
        pool = self._open()
        with translated(self.where), pool.connection() as conn:
            yield conn

    def _collection(self, conn: psycopg.Connection, name: str, *, lock: str = "") -> tuple[int, str, int]:
        """The collection's id, embedder and dim; ``lock``: "FOR UPDATE" or "FOR SHARE" on its row."""
        sql = f"SELECT id, embedder, dim FROM llmkit_collections WHERE name = %s {lock}"
        row = conn.execute(sql, (name,)).fetchone() if isinstance(name, str) else None
        if row is None:
            raise NotFound(f"no collection named {name!r}", hint="see list_collections(), or create it first")
        return row

    # collections ------------------------------------------------------------------------
    def create_collection(self, name: str, *, embedder: str, dim: int) -> CollectionInfo:
        check_collection(name, embedder, dim, max_dim=16_000, why=" (pgvector's limit)")
        with self._conn() as conn:
            if not COLLECTION_NAME.fullmatch(name) and not self._exists(conn, name):
                check_new_name(name)
            created = conn.execute(
                "INSERT INTO llmkit_collections (name, embedder, dim, created_at) VALUES (%s, %s, %s, %s)"
                " ON CONFLICT (name) DO NOTHING RETURNING id",
                (name, embedder, dim, time.time()),
            ).fetchone()
            cid, have_embedder, have_dim = self._collection(conn, name)
            if (have_embedder, have_dim) != (embedder, dim):
                raise InputError(
                    f"collection {name!r} exists with embedder {have_embedder!r} (dim {have_dim}),"
                    f" not {embedder!r} (dim {dim})",
                    hint="use another collection name, or delete the collection and re-ingest",
                )
            ddl = schema.create_index_sql(cid, dim, **self.hnsw)
            if created and ddl:
                conn.execute(ddl)
            return self._info(conn, cid, name, embedder, dim)

    def _exists(self, conn: psycopg.Connection, name: str) -> bool:
        return conn.execute("SELECT 1 FROM llmkit_collections WHERE name = %s", (name,)).fetchone() is not None

    def _info(self, conn: psycopg.Connection, cid: int, name: str, embedder: str, dim: int) -> CollectionInfo:
        docs = conn.execute("SELECT count(*) FROM llmkit_documents WHERE collection_id = %s", (cid,)).fetchone()
        chunks = conn.execute("SELECT count(*) FROM llmkit_chunks WHERE collection_id = %s", (cid,)).fetchone()
        return CollectionInfo(name, embedder, dim, docs[0], chunks[0])

    def get_collection(self, name: str) -> CollectionInfo:
        self._bulk.settle(name)
        with self._conn() as conn:
            cid, embedder, dim = self._collection(conn, name)
            return self._info(conn, cid, name, embedder, dim)

    def list_collections(self) -> list[CollectionInfo]:
        self._bulk.settle_all()
        with self._conn() as conn:
            rows = conn.execute("SELECT id, name, embedder, dim FROM llmkit_collections ORDER BY name").fetchall()
            return [self._info(conn, *row) for row in rows]

    def delete_collection(self, name: str) -> None:
        self._bulk.settle(name)
        with self._conn() as conn:
            cid = self._collection(conn, name, lock="FOR UPDATE")[0]
            conn.execute(f"DROP INDEX IF EXISTS {schema.index_name(cid)}")
            conn.execute("DELETE FROM llmkit_chunks WHERE collection_id = %s", (cid,))
            conn.execute("DELETE FROM llmkit_documents WHERE collection_id = %s", (cid,))
            conn.execute("DELETE FROM llmkit_collections WHERE id = %s", (cid,))

    # documents --------------------------------------------------------------------------
    def write(self, collection: str, batch: Sequence[DocumentWrite]) -> None:
        if not self._bulk.submit(collection, batch):  # in a bulk load it is queued for its connections
            self._write(collection, batch)

    def _write(self, collection: str, batch: Sequence[DocumentWrite], vectors: list | None = None) -> None:
        """One write transaction. Writers to one collection take turns on its row lock; a bulk load's writers
        (``vectors`` checked already) share it, as they never hold the same document at once (``BulkWriter``)."""
        from psycopg import errors as pg

        with self._conn() as conn:
            cid, _, dim = self._collection(conn, collection, lock="FOR UPDATE" if vectors is None else "FOR SHARE")
            if vectors is None:
                vectors = check_batch(batch, dim)
            elif any(v.shape[1] != dim for v in vectors):
                raise InputError(f"the collection's dim changed to {dim} during a bulk load")
            conn.execute(
                "DELETE FROM llmkit_documents WHERE collection_id = %s AND id = ANY(%s)", (cid, [d.id for d in batch])
            )
            try:
                self._copy(conn, cid, batch, vectors)
            except pg.UniqueViolation as e:
                detail = (e.diag.message_detail or "").replace("(collection_id, id)=", "")
                raise InputError(
                    f"a chunk id in this batch is already used by another document in {collection!r}: {detail}",
                    hint="chunk ids must be unique within a collection",
                ) from e

    def _copy(self, conn: psycopg.Connection, cid: int, batch: Sequence[DocumentWrite], vectors: list) -> None:
        from psycopg.types.json import Jsonb

        now = time.time()
        with conn.cursor().copy(_DOC_COPY) as cp:
            for d in batch:
                meta = to_json(d.metadata, f"metadata of document {d.id!r}")
                cp.write_row((cid, d.id, d.source, d.content_hash, d.content_type, d.title, meta, len(d.chunks), now))
        with conn.cursor().copy(_CHUNK_COPY) as cp:
            cp.set_types([*_CHUNK_TYPES, "vector"])
            for d, vecs in zip(batch, vectors, strict=True):
                doc_json = to_json(d.metadata, f"metadata of document {d.id!r}")
                for ch, vec in zip(d.chunks, vecs, strict=True):
                    meta = Jsonb(chunk_meta(d, ch, doc_json), dumps=str)  # already JSON text
                    cp.write_row((cid, d.id, ch.id, d.source, d.content_type, ch.index, ch.text, ch.start, ch.end,
                                  ch.page, ch.heading, meta, search_text(ch.text), vec))  # fmt: skip

    def document_hashes(self, collection: str, ids: Sequence[str]) -> dict[str, str]:
        ids = _check_ids(ids, "document ids")
        self._bulk.settle(collection, ids)
        with self._conn() as conn:
            cid = self._collection(conn, collection)[0]
            sql = "SELECT id, content_hash FROM llmkit_documents WHERE collection_id = %s AND id = ANY(%s)"
            return dict(conn.execute(sql, (cid, ids)).fetchall())

    def list_documents(self, collection: str, *, limit: int | None = None, offset: int = 0) -> list[DocumentInfo]:
        bad_limit = limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0)
        if bad_limit or isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
            raise InputError(f"limit and offset must be non-negative integers, got {limit!r}, {offset!r}")
        self._bulk.settle(collection)
        with self._conn() as conn:
            cid = self._collection(conn, collection)[0]
            rows = conn.execute(
                "SELECT id, source, content_hash, content_type, chunk_count, title, metadata, updated_at"
                ' FROM llmkit_documents WHERE collection_id = %s ORDER BY id COLLATE "C" LIMIT %s OFFSET %s',
                (cid, limit, offset),
            ).fetchall()
        return [DocumentInfo(*r[:6], metadata=r[6], updated_at=r[7]) for r in rows]

    def delete_document(self, collection: str, doc_id: str) -> bool:
        self._bulk.settle(collection, [doc_id])
        with self._conn() as conn:
            cid = self._collection(conn, collection, lock="FOR UPDATE")[0]
            sql = "DELETE FROM llmkit_documents WHERE collection_id = %s AND id = %s RETURNING id"
            return conn.execute(sql, (cid, doc_id)).fetchone() is not None

    def get_chunks(self, collection: str, ids: Sequence[str]) -> list[Chunk]:
        ids = _check_ids(ids, "chunk ids")
        self._bulk.settle(collection)
        with self._read() as conn:  # one statement; the collection is looked up on its own only when none is found
            sql = (
                f"SELECT {CHUNK_COLUMNS} FROM llmkit_chunks c WHERE c.id = ANY(%s)"
                " AND c.collection_id = (SELECT id FROM llmkit_collections WHERE name = %s)"
            )
            rows = conn.execute(sql, (ids, collection)).fetchall() if isinstance(collection, str) else []
            if not rows:
                self._collection(conn, collection)  # NotFound for a missing collection
            return chunks_in_order(rows, ids)

    def document_chunks(self, collection: str, doc_ids: Sequence[str]) -> list[DocumentWrite]:
        """The stored documents ``doc_ids`` with their chunks and vectors, ready to ``write`` elsewhere."""
        import numpy as np

        doc_ids = _check_ids(doc_ids, "document ids")
        self._bulk.settle(collection, doc_ids)
        with self._conn() as conn:
            cid = self._collection(conn, collection)[0]
            docs = conn.execute(
                "SELECT id, source, content_hash, content_type, title, metadata FROM llmkit_documents"
                " WHERE collection_id = %s AND id = ANY(%s)",
                (cid, doc_ids),
            ).fetchall()
            rows = conn.execute(
                f"SELECT {CHUNK_COLUMNS}, c.embedding FROM llmkit_chunks c WHERE c.collection_id = %s"
                " AND c.doc_id = ANY(%s) ORDER BY c.doc_id, c.idx",
                (cid, doc_ids),
            ).fetchall()
        return documents_from_rows(
            docs, rows, lambda vs: np.array([v.to_numpy() for v in vs], dtype=np.float32).reshape(len(vs), -1)
        )

    def get_vectors(self, collection: str, ids: Sequence[str]) -> np.ndarray:
        import numpy as np

        ids = _check_ids(ids, "chunk ids")
        self._bulk.settle(collection)
        with self._conn() as conn:
            cid, _, dim = self._collection(conn, collection)
            sql = "SELECT id, embedding FROM llmkit_chunks WHERE collection_id = %s AND id = ANY(%s)"
            found = {i: v.to_numpy() for i, v in conn.execute(sql, (cid, ids))}
        missing = [i for i in ids if i not in found]
        if missing:
            raise NotFound(f"{len(missing)} chunk id(s) not in {collection!r}, e.g. {missing[:3]}")
        return np.array([found[i] for i in ids], dtype=np.float32).reshape(len(ids), dim)

    # re-embedding -----------------------------------------------------------------------
    def chunk_texts(self, collection: str, *, after: str | None = None, limit: int = 256) -> list[tuple[str, str]]:
        """``(chunk id, text)`` for up to ``limit`` chunks with ids after ``after``, in id order (for paging)."""
        check_page(after, limit)
        self._bulk.settle(collection)
        with self._conn() as conn:
            cid = self._collection(conn, collection)[0]
            sql = (
                'SELECT id, text FROM llmkit_chunks WHERE collection_id = %s AND id COLLATE "C" > %s'
                ' ORDER BY id COLLATE "C" LIMIT %s'
            )
            return [tuple(r) for r in conn.execute(sql, (cid, after or "", limit))]

    def replace_vectors(
        self, collection: str, *, embedder: str, ids: Sequence[str], vectors: np.ndarray
    ) -> CollectionInfo:
        """Give every chunk a new vector from ``embedder`` and switch the collection to it, in one transaction.

        ``ids`` must name every chunk of the collection exactly once (else InputError and nothing changes).
        The old vectors and HNSW index serve readers until the commit. The index is rebuilt in the same
        transaction, or, when the dim changes, right after it (``build_index`` again if that failed).
        """
        ids, matrix = check_new_vectors(embedder, ids, vectors, max_dim=16_000)
        dim = int(matrix.shape[1])
        self._bulk.settle(collection)
        with self._conn() as conn:
            cid = self._collection(conn, collection, lock="FOR UPDATE")[0]
            conn.execute("CREATE TEMP TABLE llmkit_reembed (id text PRIMARY KEY, embedding vector) ON COMMIT DROP")
            with conn.cursor().copy("COPY llmkit_reembed (id, embedding) FROM STDIN (FORMAT BINARY)") as cp:
                cp.set_types(["text", "vector"])
                for i, vec in zip(_check_ids(ids, "chunk ids"), matrix, strict=True):
                    cp.write_row((i, vec))
            count = conn.execute("SELECT count(*) FROM llmkit_chunks WHERE collection_id = %s", (cid,)).fetchone()[0]
            conn.execute(f"DROP INDEX IF EXISTS {schema.index_name(cid)}")
            changed = conn.execute(
                "UPDATE llmkit_chunks c SET embedding = r.embedding FROM llmkit_reembed r"
                " WHERE c.collection_id = %s AND c.id = r.id",
                (cid,),
            ).rowcount
            if changed != len(ids) or count != len(ids):
                raise InputError(
                    f"collection {collection!r} has {count} chunks; {changed} of the {len(ids)} new vectors matched",
                    hint="the collection changed while re-embedding: run `llmkit collections reembed` again",
                )
            old_dim = conn.execute("SELECT dim FROM llmkit_collections WHERE id = %s", (cid,)).fetchone()[0]
            conn.execute("UPDATE llmkit_collections SET embedder = %s, dim = %s WHERE id = %s", (embedder, dim, cid))
            if dim == old_dim and (ddl := schema.create_index_sql(cid, dim, **self.hnsw)):
                conn.execute(ddl)
            info = self._info(conn, cid, collection, embedder, dim)
        if dim != old_dim:
            # Not in the same transaction: an index build also reads the replaced rows' old versions,
            # whose vectors have the old dim. Until it succeeds, dense search is exact (correct, slower).
            with suppress(InputError):
                self.build_index(collection)
        return info

    # search -----------------------------------------------------------------------------
    def search_dense(
        self, collection: str, vector: np.ndarray, k: int, *, filter: Filter | None = None
    ) -> list[ScoredChunk]:
        rows = self._dense_rows(collection, vector, k, filter, CHUNK_COLUMNS)
        return [ScoredChunk(row_to_chunk(r[1:]), 1.0 - float(r[0])) for r in rows]

    def rank_dense(self, collection: str, vector: np.ndarray, k: int, *, filter: Filter | None = None) -> list[Ranked]:
        return [Ranked(r[1], 1.0 - float(r[0])) for r in self._dense_rows(collection, vector, k, filter, "c.id")]

    def _dense_rows(
        self, collection: str, vector: np.ndarray, k: int, filter: Filter | None, columns: str
    ) -> list[tuple[Any, ...]]:
        """``(distance, *columns)`` of the ``k`` nearest chunks, nearest first."""
        check_k(k)
        where, params = to_pg_sql(filter) if filter else ("true", [])
        self._bulk.settle(collection)
        with self._conn() as conn:
            cid, _, dim = self._collection(conn, collection)
            query = check_vector(vector, dim)
            if k == 0:
                return []
            # Iterative scans continue past ef_search only when rows are still missing (a filter, or k > 1000).
            conn.execute(
                "SELECT set_config('hnsw.ef_search', %s, true),"
                " set_config('hnsw.iterative_scan', 'strict_order', true)",
                (str(min(1000, max(self.ef_search, k))),),
            )
            dist = f"c.embedding::vector({int(dim)}) <=> %s::vector({int(dim)})"
            sql = (
                f"SELECT {dist} AS distance, {columns} FROM llmkit_chunks c"
                f" WHERE c.collection_id = {int(cid)} AND {where} ORDER BY distance LIMIT %s"
            )
            return conn.execute(sql, (query, *params, k)).fetchall()

    def search_lexical(self, collection: str, query: str, k: int, *, filter: Filter | None = None) -> list[ScoredChunk]:
        rows = self._lexical_rows(collection, query, k, filter, CHUNK_COLUMNS)
        return [ScoredChunk(row_to_chunk(r[1:]), float(r[0])) for r in rows]

    def rank_lexical(self, collection: str, query: str, k: int, *, filter: Filter | None = None) -> list[Ranked]:
        return [Ranked(r[1], float(r[0])) for r in self._lexical_rows(collection, query, k, filter, "c.id")]

    def _lexical_rows(
        self, collection: str, query: str, k: int, filter: Filter | None, columns: str
    ) -> list[tuple[Any, ...]]:
        """``(score, *columns)`` of the ``k`` best chunks by ``ts_rank``, best first.

        Candidates are the rows holding the query's rarest lexemes (``candidate_lexemes``). The statistics
        behind that choice are estimates for the whole table (every collection), blind to the filter, and a
        word in no row at all (a typo) looks rarest; so when the candidates give fewer than ``k`` rows, the
        rows holding any of the query's lexemes are searched instead.
        """
        check_k(k)
        if not isinstance(query, str):
            raise InputError(f"a lexical query is text, got {type(query).__name__}")
        where, params = to_pg_sql(filter) if filter else ("true", [])
        self._bulk.settle(collection)
        with self._conn() as conn:
            cid = self._collection(conn, collection)[0]
            if k == 0:
                return []
            lexemes = [r[0] for r in conn.execute(QUERY_LEXEMES_SQL, (query_text(query), MAX_TERMS))]
            lexemes = [x for x in lexemes if x not in STOPWORDS] or lexemes
            if not lexemes:  # no words, or only words the English configuration drops
                return []
            chosen = candidate_lexemes(self._lexeme_stats(conn).of(lexemes), lexical.CANDIDATE_BUDGET)
            # All the words rank the candidates. Only the k winners' columns are read (7 % less time at 100k
            # rows than sorting whole rows).
            sql = (
                "WITH hits AS (SELECT c.pk, ts_rank(c.tsv, q, 1) AS score FROM llmkit_chunks c,"
                " to_tsquery('simple', %s) AS q, to_tsquery('simple', %s) AS cq"
                f" WHERE c.collection_id = {int(cid)} AND c.tsv @@ cq AND {where}"
                " ORDER BY score DESC, c.pk LIMIT %s)"
                f" SELECT hits.score, {columns} FROM hits JOIN llmkit_chunks c ON c.pk = hits.pk"
                " ORDER BY hits.score DESC, c.pk"
            )
            everything = " | ".join(map(quote_lexeme, lexemes))
            rows = conn.execute(sql, (everything, " | ".join(map(quote_lexeme, chosen)), *params, k)).fetchall()
            if len(rows) < k and len(chosen) < len(lexemes):
                rows = conn.execute(sql, (everything, everything, *params, k)).fetchall()
            return rows

    def _lexeme_stats(self, conn: psycopg.Connection) -> LexemeStats:
        """The table's lexeme statistics, read again when ``lexical.STATS_TTL_S`` old (replacing them is atomic)."""
        now = time.monotonic()
        if now - self._stats.fetched >= lexical.STATS_TTL_S:
            self._stats = LexemeStats.from_row(conn.execute(TABLE_STATS_SQL).fetchone(), fetched=now)
        return self._stats

    # bulk loading -----------------------------------------------------------------------
    @contextmanager
    def bulk_load(self, collection: str, *, maintenance_work_mem: str = "1GB", writers: int = 2) -> Iterator[None]:
        """Drop the collection's HNSW index while a large load runs, then build it once.

        Writes inside the block run on ``writers`` pooled connections at once (at most the pool's size less
        one), each batch one transaction, while the caller checks the next batch: the server computes the
        text search vectors, its bound, in as many processes. ``write`` returns once its batch is checked and
        queued; a failed write is raised by the next ``write`` or at the end of the block; reads through this
        store wait for the queued writes they could see (``llmkit.store.bulk``).

        Building once after loading is several times faster than updating the graph row by row. Dense
        search stays correct meanwhile (an exact scan), only slower. When the chunks table is empty at the
        start (a first load, as into a new database), its full-text GIN index goes too and is built once at
        the end (a quarter less time for load and index together than maintaining it row by row).
        If the block fails, the indexes stay dropped until ``build_index`` (``llmkit store copy`` calls it).
        """
        if isinstance(writers, bool) or not isinstance(writers, int) or writers < 1:
            raise InputError(f"writers must be a positive integer, got {writers!r}")
        self.drop_index(collection)
        with self._conn() as conn:
            dim = self._collection(conn, collection)[2]
            if conn.execute("SELECT NOT EXISTS (SELECT 1 FROM llmkit_chunks)").fetchone()[0]:
                conn.execute(f"DROP INDEX IF EXISTS {schema.TEXT_INDEX}")
        commit = (lambda prepared: self._write(*prepared), lambda: None)
        self._bulk.open(collection, dim, lambda: commit, workers=min(writers, max(1, self.pool_size - 1)))
        try:
            yield
        finally:
            self._bulk.close(collection)  # waits for the queued writes; raises the first that failed
        self.build_index(collection, maintenance_work_mem=maintenance_work_mem)

    def drop_index(self, collection: str) -> None:
        """Drop the collection's HNSW index (dense search becomes exact and slower until ``build_index``)."""
        self._bulk.settle(collection)
        with self._conn() as conn:
            cid = self._collection(conn, collection, lock="FOR UPDATE")[0]
            conn.execute(f"DROP INDEX IF EXISTS {schema.index_name(cid)}")

    def build_index(self, collection: str, *, maintenance_work_mem: str = "1GB") -> None:
        """Build the collection's HNSW index, and the full-text index, where missing (see ``bulk_load``)."""
        self._bulk.settle(collection)
        with self._conn() as conn:
            cid, _, dim = self._collection(conn, collection)
            conn.execute("SELECT set_config('maintenance_work_mem', %s, true)", (maintenance_work_mem,))
            conn.execute(schema.TEXT_INDEX_SQL)
            ddl = schema.create_index_sql(cid, dim, **self.hnsw)
            if ddl:
                conn.execute(ddl)
            conn.execute("ANALYZE llmkit_chunks")  # fresh statistics, so the planner sees the loaded rows
        self._stats = LexemeStats.STALE  # and so does lexical search, at its next query

    # lifecycle --------------------------------------------------------------------------
    def close(self) -> None:
        """Close the pool. Idempotent."""
        with self._lock:
            pool, self._pool, self._closed = self._pool, None, True
        if pool is not None:
            pool.close()

    def __enter__(self) -> PostgresStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
