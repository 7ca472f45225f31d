"""Lexical search for ``SQLiteStore``: which engine answers a query, and the FTS5 index a bulk load defers.

A query goes to the first tier that can answer it:

1. a filter naming documents that hold at most 4,096 chunks (``CompiledFilter.names_few_chunks``): FTS5,
   over those chunks only;
2. a collection of ``text_index_threshold`` chunks or more: its tantivy index (``text_index``, the
   ``scale`` extra), built by the first query without a filter and kept in step by later writes;
3. a collection of ``bm25_memory`` (min, max) chunks: BM25 in memory (``lexical_index``, FTS5's exact
   scores), built in the background after ``bm25_warmup`` lexical searches;
4. anything else: FTS5's ``bm25()``.

On tantivy and in memory a filter is checked on the ranking's best candidates (``over_fetch``); one too
selective for that goes to FTS5, where SQL applies it.

Each collection has an FTS5 table that normally holds every chunk. A bulk load (``SQLiteStore.bulk_load``)
leaves its chunks out and records, in ``collections.fts_pending``, the lowest rowid not yet indexed; the
FTS5 table then catches up in one statement, at the end of the load or before anything reads it. Rowids of
new chunks only grow past that mark, so "rowid >= fts_pending" is exactly the chunks still to index.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING

from llmkit.store.fts import query_terms
from llmkit.store.lexical_index import LexicalCache
from llmkit.store.over_fetch import LIMIT as OVER_FETCH_LIMIT
from llmkit.store.over_fetch import over_fetch
from llmkit.store.schema import fts_table
from llmkit.store.sqlite_rows import IDS, CompiledFilter
from llmkit.store.text_index import FORMAT as TEXT_FORMAT
from llmkit.store.text_index import TextIndex, available, remove
from llmkit.store.vector_index import Stamp

if TYPE_CHECKING:
    import numpy as np

Transaction = Callable[[str], AbstractContextManager[sqlite3.Connection]]
#: The FTS5 catch-up after a bulk load indexes this many chunks a transaction (so the WAL stays bounded and
#: an interrupted catch-up keeps what it did), with a page cache of this many KiB.
CATCH_UP_ROWS = 50_000
CATCH_UP_CACHE_KIB = 65_536


def fts_pending(conn: sqlite3.Connection, cid: int) -> int | None:
    """The lowest chunk rowid of collection ``cid`` not yet in its FTS5 table, or None when it is complete."""
    row = conn.execute("SELECT fts_pending FROM collections WHERE id = ?", (cid,)).fetchone()
    return row[0] if row else None


def defer_fts(conn: sqlite3.Connection, cid: int, first_rowid: int) -> None:
    """Record that chunks from ``first_rowid`` on are left out of the FTS5 table (inside the write)."""
    sql = "UPDATE collections SET fts_pending = min(coalesce(fts_pending, ?1), ?1) WHERE id = ?2"
    conn.execute(sql, (first_rowid, cid))


def catch_up_fts(conn: sqlite3.Connection, cid: int, limit: int | None = None) -> int:
    """Index (up to ``limit`` of) the chunks a bulk load left out of the FTS5 table, in one statement
    inside the caller's write transaction; how many were added.

    The page cache is raised for the statement: FTS5 merges its index segments there (a third less CPU
    time than with the default 2 MiB, on ``bench/scale.py``'s chunks).
    """
    first = fts_pending(conn, cid)
    if first is None:
        return 0
    last = conn.execute(
        "SELECT max(rowid), count(*) FROM (SELECT rowid FROM chunks WHERE rowid >= ? AND collection_id = ?"
        " ORDER BY rowid LIMIT ?)",
        (first, cid, -1 if limit is None else limit),
    ).fetchone()
    if last[1]:
        size = conn.execute("PRAGMA cache_size").fetchone()[0]
        conn.execute(f"PRAGMA cache_size = {-CATCH_UP_CACHE_KIB}")
        try:
            conn.execute(
                f"INSERT INTO {fts_table(cid)} (rowid, text) SELECT rowid, text FROM chunks"
                " WHERE rowid BETWEEN ? AND ? AND collection_id = ? ORDER BY rowid",
                (first, last[0], cid),
            )
        finally:
            conn.execute(f"PRAGMA cache_size = {int(size)}")
    done = limit is None or last[1] < limit
    conn.execute("UPDATE collections SET fts_pending = ? WHERE id = ?", (None if done else last[0] + 1, cid))
    return last[1]


def fts5_search(
    conn: sqlite3.Connection,
    cid: int,
    terms: list[str],
    k: int,
    filter: CompiledFilter | None,
    within: np.ndarray | None = None,
) -> tuple[list[int], list[float]]:
    """The FTS5 tier: ``bm25()`` over the OR of ``terms``, the filter applied in SQL (FTS5 must be complete),
    or only the rowids ``within`` (the filter's, already read).

    Returns the best ``k`` rowids and their scores, best first (ties to the smaller rowid).
    """
    match = " OR ".join(f'"{t}"' for t in terms)
    fts = fts_table(cid)
    allowed, args = "", [match]
    if within is not None:
        allowed, args = f"AND +rowid IN {IDS}", [match, json.dumps(within.tolist())]
    elif filter is not None:
        rowids, rowid_args = filter.rowids(cid)
        # "+rowid", not "rowid": SQLite hands a plain "rowid IN (...)" to FTS5, which then runs the MATCH
        # once per allowed rowid (3.9 s instead of 47 ms on SciFact's 10k chunks with every row allowed)
        allowed, args = f"AND +rowid IN ({rowids})", [match, *rowid_args]
    # bm25() in the select list sorts twice as fast as FTS5's built-in ``rank`` column (7 vs 14 ms on
    # SciFact's 10k chunks)
    sql = (
        f"SELECT rowid, -bm25({fts}) AS score FROM {fts} WHERE {fts} MATCH ? {allowed}"
        " ORDER BY score DESC, rowid LIMIT ?"
    )
    rows = conn.execute(sql, [*args, k]).fetchall()
    return [r[0] for r in rows], [float(r[1]) for r in rows]


class SQLiteLexical:
    """The lexical tiers of one SQLite store, with their caches (tantivy indexes, in-memory BM25)."""

    def __init__(
        self,
        path: Path,
        tx: Transaction,
        *,
        text_index_threshold: int,
        bm25_memory: tuple[int, int],
        bm25_warmup: int,
    ) -> None:
        self.path = path
        self.text_index_threshold = text_index_threshold
        self._lock = threading.Lock()  # guards _text_indexes and _small
        self._text_indexes: dict[int, TextIndex] = {}
        self._small: dict[int, int] = {}  # collection -> the generation at which it was under the threshold
        self._memory = LexicalCache(
            lambda: tx("DEFERRED"), min_rows=bm25_memory[0], max_rows=bm25_memory[1], warmup=bm25_warmup
        )

    def search(
        self,
        conn: sqlite3.Connection,
        cid: int,
        generation: int,
        query: str,
        k: int,
        compiled: CompiledFilter | None,
    ) -> tuple[list[int], list[float]]:
        """The best ``k`` rowids by BM25 and their scores from the first tier that can answer (inside a read
        transaction)."""
        terms = query_terms(query)
        if not terms or k == 0:
            return [], []
        within = None  # a filter naming a few documents: an index ranks only their chunks
        if compiled is not None and compiled.names_few_chunks(conn, cid, OVER_FETCH_LIMIT):
            within = compiled.allowed_rowids(conn, cid)
            if not len(within):
                return [], []
        check = compiled.passing(conn, cid) if compiled is not None and within is None else None
        index = self._text_index(conn, cid, generation, build=compiled is None)
        if index is not None:
            try:
                if check is None:
                    return index.search(query, k, within)
                # the filter checked on tantivy's best candidates; a filter too rare for that goes to FTS5
                found = over_fetch(lambda n: index.search(query, n), check, k)
                return found if found is not None else fts5_search(conn, cid, terms, k, compiled)
            except (OSError, ValueError):  # its files went from under it (another process rebuilt it)
                with self._lock:
                    self._text_indexes.pop(cid, None)
        rank = self._memory.ranking(conn, cid, generation, terms, within)
        if rank is not None:  # the same ranking and scores as FTS5's; a filter is checked as on tantivy's
            found = rank(k) if check is None else over_fetch(rank, check, k)
            if found is not None:
                return found
        return fts5_search(conn, cid, terms, k, compiled, within)

    def build_memory(self, cid: int) -> bool:
        """Build the in-memory BM25 index of collection ``cid`` now; False when its size is outside the range."""
        return self._memory.build(cid) is not None

    def text_path(self, cid: int) -> Path:
        return Path(f"{self.path}.collection-{cid}.tantivy")

    def _text_index(
        self, conn: sqlite3.Connection, cid: int, generation: int, *, build: bool = True
    ) -> TextIndex | None:
        """The collection's tantivy index at ``generation`` (loaded, or rebuilt if ``build``), or None to use
        another tier.

        None for collections under ``text_index_threshold`` chunks and where tantivy is not installed or
        its index cannot be written.
        """
        with self._lock:
            index = self._text_indexes.get(cid)
            if index is not None and index.generation == generation:
                return index
            if self.text_index_threshold < 0 or self._small.get(cid) == generation or not available():
                return None
            count = conn.execute("SELECT count(*) FROM chunks WHERE collection_id = ?", (cid,)).fetchone()[0]
            if count < max(self.text_index_threshold, 1):
                # remembered until the next write: counting took ~1 ms of each search at 10k chunks
                self._small[cid] = generation
                return None
            stamp = Stamp(cid, generation, 0, count, TEXT_FORMAT)
            index = TextIndex.load(self.text_path(cid), stamp)
            if index is None and not build:
                return None
            if index is None:
                rows = conn.execute("SELECT rowid, text FROM chunks WHERE collection_id = ? ORDER BY rowid", (cid,))
                try:
                    index = TextIndex.build(self.text_path(cid), rows, stamp)
                except (OSError, ValueError):  # read-only folder, another process building: FTS5 serves
                    return None
            self._text_indexes[cid] = index
            return index

    def after_write(self, cid: int, old: int, removed: list[int], added: Iterable[tuple[int, str]]) -> None:
        """Keep a cached tantivy index in step with a committed write (or drop it), and drop in-memory BM25."""
        self._memory.drop(cid)
        with self._lock:
            index = self._text_indexes.pop(cid, None)
            if index is not None and index.generation == old:
                try:
                    index.apply(removed, list(added), old + 1)
                except (OSError, ValueError):  # e.g. another process holds the index's writer lock
                    return
                self._text_indexes[cid] = index

    def drop(self, cid: int) -> None:
        """Forget a deleted collection's caches and remove its tantivy files."""
        self._memory.drop(cid)
        with self._lock:
            self._text_indexes.pop(cid, None)
            self._small.pop(cid, None)
        remove(self.text_path(cid))

    def close(self) -> None:
        self._memory.close()
