"""The PostgreSQL store's schema: versioned, append-only migrations, and each collection's HNSW index.

Migrations are a tuple of SQL scripts; script i takes the schema from version i to i + 1. They are never
edited once released, only appended to. ``llmkit_migrations`` records which ran; an advisory lock makes
concurrent migrators (several app servers starting at once) take turns.

All tables start with ``llmkit_`` so the store can share a database (or a schema picked with
``?options=-csearch_path%3Dmyschema`` in the URL) with other applications.

One table holds the chunks of every collection. Each collection gets its own partial HNSW index over
``embedding::vector(dim)``, so collections of different dimensions live side by side and a query, which
names its collection's id as a literal, uses only its own graph.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from llmkit.errors import StoreError

if TYPE_CHECKING:
    import psycopg

_V1 = """
CREATE EXTENSION IF NOT EXISTS vector;
CREATE TABLE llmkit_collections (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL UNIQUE,
    embedder text NOT NULL,
    dim integer NOT NULL,
    created_at double precision NOT NULL
);
CREATE TABLE llmkit_documents (
    collection_id bigint NOT NULL REFERENCES llmkit_collections (id) ON DELETE CASCADE,
    id text NOT NULL,
    source text NOT NULL,
    content_hash text NOT NULL,
    content_type text NOT NULL,
    title text,
    metadata jsonb NOT NULL,
    chunk_count integer NOT NULL,
    updated_at double precision NOT NULL,
    PRIMARY KEY (collection_id, id)
);
CREATE TABLE llmkit_chunks (
    pk bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    collection_id bigint NOT NULL,
    doc_id text NOT NULL,
    id text NOT NULL,
    source text NOT NULL,
    content_type text NOT NULL,
    idx integer NOT NULL,
    text text NOT NULL,
    start_char integer NOT NULL,
    end_char integer NOT NULL,
    page integer,
    heading text,
    meta jsonb NOT NULL,              -- document metadata merged with chunk metadata
    search_text text,                 -- the text with accents folded, only where that changes it
    tsv tsvector GENERATED ALWAYS AS (to_tsvector('english'::regconfig, coalesce(search_text, text))) STORED,
    embedding vector NOT NULL,        -- unit length; the collection's dim
    UNIQUE (collection_id, id),
    FOREIGN KEY (collection_id, doc_id) REFERENCES llmkit_documents (collection_id, id) ON DELETE CASCADE
);
CREATE INDEX llmkit_chunks_doc ON llmkit_chunks (collection_id, doc_id, idx);
CREATE INDEX llmkit_chunks_tsv ON llmkit_chunks USING gin (tsv);
"""

#: ``lexical.fold`` recomposes (NFC) what it leaves after dropping accents: rows folded before keep
#: decomposed kana (a voicing mark split "データ" in two), which the same NFC brings in line.
_V2 = """
UPDATE llmkit_chunks SET search_text = nullif(normalize(search_text, NFC), text)
WHERE search_text IS NOT NFC NORMALIZED;
"""

#: Migration i takes the schema from version i to version i + 1. Append only.
MIGRATIONS: tuple[str, ...] = (_V1, _V2)
SCHEMA_VERSION = len(MIGRATIONS)
_LOCK_KEY = 0x6C6C6D6B6974  # "llmkit": the advisory lock migrators take turns on

#: pgvector's HNSW index takes ``vector`` columns of at most this many dimensions.
HNSW_MAX_DIM = 2000


def schema_version(conn: psycopg.Connection) -> int:
    """The version of the schema in the database (0 when llmkit has never migrated it)."""
    exists = conn.execute("SELECT to_regclass('llmkit_migrations') IS NOT NULL").fetchone()
    if not exists or not exists[0]:
        return 0
    row = conn.execute("SELECT coalesce(max(version), 0) FROM llmkit_migrations").fetchone()
    return int(row[0]) if row else 0


def migrate(conn: psycopg.Connection, where: str) -> tuple[int, int]:
    """Bring the schema to ``SCHEMA_VERSION`` in one transaction; ``(before, after)``. Refuses a newer schema."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        conn.execute(
            "CREATE TABLE IF NOT EXISTS llmkit_migrations (version integer PRIMARY KEY,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        before = schema_version(conn)
        if before > SCHEMA_VERSION:
            raise StoreError(
                f"{where} has llmkit schema version {before}, newer than this llmkit understands ({SCHEMA_VERSION})",
                hint="upgrade llmkit (pip install -U 'llmkit[postgres]')",
            )
        for version in range(before, SCHEMA_VERSION):
            conn.execute(MIGRATIONS[version])
            conn.execute("INSERT INTO llmkit_migrations (version) VALUES (%s)", (version + 1,))
    return before, SCHEMA_VERSION


#: The full-text index of the whole chunks table (created by ``_V1``). A first load into an empty table
#: drops it and builds it once at the end (``PostgresStore.bulk_load``); ``TEXT_INDEX_SQL`` brings it back.
TEXT_INDEX = "llmkit_chunks_tsv"
TEXT_INDEX_SQL = f"CREATE INDEX IF NOT EXISTS {TEXT_INDEX} ON llmkit_chunks USING gin (tsv)"


def index_name(collection_id: int) -> str:
    return f"llmkit_chunks_hnsw_{int(collection_id)}"


def create_index_sql(collection_id: int, dim: int, *, m: int, ef_construction: int) -> str | None:
    """DDL for one collection's HNSW index (cosine), or None when ``dim`` is too large for HNSW.

    >>> create_index_sql(3, 384, m=16, ef_construction=64)[:64]
    'CREATE INDEX IF NOT EXISTS llmkit_chunks_hnsw_3 ON llmkit_chunks'
    """
    if dim > HNSW_MAX_DIM:
        return None
    return (
        f"CREATE INDEX IF NOT EXISTS {index_name(collection_id)} ON llmkit_chunks USING hnsw"
        f" ((embedding::vector({int(dim)})) vector_cosine_ops)"
        f" WITH (m = {int(m)}, ef_construction = {int(ef_construction)})"
        f" WHERE collection_id = {int(collection_id)}"
    )
