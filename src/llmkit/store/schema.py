"""The SQLite store's schema and its versioned migrations (``PRAGMA user_version``).

Each collection has its own FTS5 table, ``fts_<collection id>``, so BM25 statistics never mix collections.
Collection ids come from AUTOINCREMENT and are never reused, so a stale index file can never pass for a
new collection's.
"""

from __future__ import annotations

import sqlite3

from llmkit.errors import StoreError

_V1 = """
CREATE TABLE collections (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    embedder TEXT NOT NULL,
    dim INTEGER NOT NULL,
    generation INTEGER NOT NULL DEFAULT 0,  -- bumped in the same transaction as every change
    created_at REAL NOT NULL
);
CREATE TABLE documents (
    rowid INTEGER PRIMARY KEY,
    collection_id INTEGER NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
    id TEXT NOT NULL,
    source TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    content_type TEXT NOT NULL,
    title TEXT,
    metadata TEXT NOT NULL,  -- JSON object
    chunk_count INTEGER NOT NULL,
    updated_at REAL NOT NULL,
    UNIQUE (collection_id, id)
);
CREATE TABLE chunks (
    rowid INTEGER PRIMARY KEY,
    collection_id INTEGER NOT NULL REFERENCES collections(id) ON DELETE CASCADE,
    doc_rowid INTEGER NOT NULL REFERENCES documents(rowid) ON DELETE CASCADE,
    id TEXT NOT NULL,
    doc_id TEXT NOT NULL,
    source TEXT NOT NULL,
    content_type TEXT NOT NULL,
    idx INTEGER NOT NULL,
    text TEXT NOT NULL,
    start_char INTEGER NOT NULL,
    end_char INTEGER NOT NULL,
    page INTEGER,
    heading TEXT,
    meta TEXT NOT NULL,  -- JSON object: document metadata merged with chunk metadata
    vector BLOB NOT NULL,  -- float32, little-endian, dim values
    UNIQUE (collection_id, id)
);
CREATE INDEX chunks_doc ON chunks (doc_rowid, idx);
"""

#: A bulk load leaves its chunks out of the FTS5 table and indexes them all at once at the end. NULL: the
#: collection's FTS5 table holds every chunk; a number: chunks with this rowid or higher are not in it yet.
_V2 = """
ALTER TABLE collections ADD COLUMN fts_pending INTEGER;
"""

#: Filters naming documents by ``source`` find them through this index (they scanned the collection's
#: documents: 4.3 ms of a SciFact search within two sources, more at scale).
_V3 = """
CREATE INDEX documents_source ON documents (collection_id, source);
"""

#: Migration i takes the schema from version i to version i + 1.
MIGRATIONS: tuple[str, ...] = (_V1, _V2, _V3)
SCHEMA_VERSION = len(MIGRATIONS)


def fts_table(collection_id: int) -> str:
    """The FTS5 table of one collection (an integer id, so the name is safe to put in SQL text)."""
    return f"fts_{int(collection_id)}"


def create_fts(conn: sqlite3.Connection, collection_id: int) -> None:
    conn.execute(f"CREATE VIRTUAL TABLE {fts_table(collection_id)} USING fts5(text, tokenize='porter unicode61')")


def migrate(conn: sqlite3.Connection, path: str) -> None:
    """Bring the schema up to ``SCHEMA_VERSION``, one transaction per step; refuse a newer schema."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"{path} has schema version {version}, newer than this llmkit understands ({SCHEMA_VERSION})",
            hint="upgrade llmkit (pip install -U llmkit)",
        )
    while version < SCHEMA_VERSION:
        conn.execute("BEGIN IMMEDIATE")
        try:
            if conn.execute("PRAGMA user_version").fetchone()[0] == version:  # another process may have won
                for statement in MIGRATIONS[version].split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {version + 1}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        version = conn.execute("PRAGMA user_version").fetchone()[0]
