"""FTS5's BM25 held in memory: the same scores as SQLite's ``bm25()``, without its per-row cost.

FTS5 decodes every matching row's position lists and calls ``bm25()`` once per row; on SciFact's 10k
chunks a claim matches ~4,000 of them, and ranking took 6–8 ms idle (45–50 ms under load). This index
reads the collection's FTS5 index once (through ``fts5vocab``) into postings — for each term the
chunks holding it and how often — and scores a query with one ``numpy.bincount``: ~0.1 ms.

Scores are FTS5's own, bit for bit: ``idf · (f·(k1+1)) / (f + k1·(1 − b + b·D/avgdl))`` with k1 1.2,
b 0.75, ``idf = ln((N − n + 0.5)/(n + 0.5))`` floored at 1e-6, D the row's token count and avgdl
the mean, summed over the query's phrases in order (``fts5_aux.c``, ``fts5Bm25Function``). Query
phrases are tokenised by FTS5 itself (``tokens``), so stemming and case folding are the table's.

Like the dense index it is a cache: it holds the collection ``generation`` it reflects, and SQLite
(the FTS5 table) stays the source of truth.
"""

from __future__ import annotations

import logging
import math
import sqlite3
import threading
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from concurrent.futures import ThreadPoolExecutor

    import numpy as np

log = logging.getLogger(__name__)

K1 = 1.2
B = 0.75
#: Lexical searches of a collection before its index is built (a one-shot CLI search never pays for it).
WARMUP = 3
#: Query phrases whose tokens are remembered (a dict, cleared when full: query words repeat a lot).
TOKEN_CACHE = 50_000
_TOKENIZER = "porter unicode61"  # must equal the collections' FTS5 tables (store/schema.py)


class LexicalIndex:
    """Postings of one collection's FTS5 table, scored with FTS5's BM25. Build with ``LexicalIndex.load``."""

    def __init__(
        self,
        generation: int,
        rowids: np.ndarray,
        norms: np.ndarray,
        terms: dict[str, int],
        ptr: np.ndarray,
        docs: np.ndarray,
        tfs: np.ndarray,
    ) -> None:
        import numpy as np

        self.generation = generation
        self.rowids = rowids  # ascending chunk rowids; postings refer to positions in it
        self.norms = norms  # k1 · (1 − b + b · D / avgdl) per row
        self.terms = terms
        self.ptr = ptr  # postings of term t: docs[ptr[t]:ptr[t + 1]], tfs[...]
        self.docs = docs
        self.tfs = tfs
        n = len(rowids)
        df = np.diff(ptr)
        # the C library's log, as FTS5's: numpy's own (AVX-512 builds) differs in the last bit for some values
        ratio = ((n - df + 0.5) / (df + 0.5)).tolist()
        idf = np.fromiter(map(math.log, ratio), dtype=np.float64, count=len(ratio))
        self.idf = np.where(idf <= 0.0, 1e-6, idf)

    def __len__(self) -> int:
        return len(self.rowids)

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in (self.rowids, self.norms, self.ptr, self.docs, self.tfs, self.idf))

    @classmethod
    def load(cls, conn: sqlite3.Connection, fts: str, generation: int) -> LexicalIndex:
        """Read ``fts`` (an FTS5 table with one column) into memory; call inside a read transaction."""
        import numpy as np

        for kind in ("row", "instance"):
            conn.execute(f"CREATE VIRTUAL TABLE IF NOT EXISTS temp.{fts}_{kind} USING fts5vocab(main, {fts}, {kind})")
        rows = conn.execute(f"SELECT term, cnt FROM temp.{fts}_row").fetchall()
        counts = np.fromiter((r[1] for r in rows), dtype=np.int64, count=len(rows))
        joined = conn.execute(f"SELECT group_concat(doc) FROM temp.{fts}_instance").fetchone()[0] or ""
        inst = np.fromstring(joined, dtype=np.int64, sep=",") if joined else np.zeros(0, dtype=np.int64)
        if len(inst) != int(counts.sum()):  # both walk the index in term order; anything else is a surprise
            raise sqlite3.DatabaseError(f"{fts}: fts5vocab row and instance tables disagree")
        sizes = conn.execute(f"SELECT id, sz FROM {fts}_docsize ORDER BY id").fetchall()
        rowids = np.fromiter((r[0] for r in sizes), dtype=np.int64, count=len(sizes))
        length = np.fromiter((_varint(r[1]) for r in sizes), dtype=np.float64, count=len(sizes))
        avgdl = float(length.sum()) / max(len(sizes), 1)
        norms = K1 * (1 - B + B * length / avgdl)
        term_of = np.repeat(np.arange(len(rows)), counts)  # one row per token instance, sorted by term, doc
        first = np.ones(len(inst), dtype=bool)
        first[1:] = (inst[1:] != inst[:-1]) | (term_of[1:] != term_of[:-1])
        starts = np.flatnonzero(first)
        tfs = np.diff(np.append(starts, len(inst))).astype(np.float32)  # whole numbers: exact
        docs = np.searchsorted(rowids, inst[starts]).astype(np.int32)
        ptr = np.zeros(len(rows) + 1, dtype=np.int64)
        ptr[1:] = np.cumsum(np.bincount(term_of[starts], minlength=len(rows)))
        terms = {r[0]: i for i, r in enumerate(rows)}
        return cls(generation, rowids, norms, terms, ptr, docs, tfs)

    def search(
        self, phrases: Sequence[Sequence[str]], k: int, within: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """The ``k`` best (rowid, score) pairs for the OR of ``phrases`` (each a list of tokens), best first,
        ties to the smaller rowid; None when a phrase has several tokens (FTS5 must match it in order).
        With ``within`` (rowids), only those rows are ranked (same scores: the statistics are the collection's).

        >>> import numpy as np
        >>> idx = LexicalIndex(0, np.array([10, 11, 12]), np.full(3, K1), {"cat": 0, "dog": 1},
        ...                    np.array([0, 2, 3]), np.array([0, 2, 1], dtype=np.int32), np.array([1.0, 2.0, 1.0]))
        >>> idx.search([["dog"], ["cat"]], 2)[0].tolist()  # 11 has the rarer word; 12 has "cat" twice, 10 once
        [11, 12]
        """
        import numpy as np

        if any(len(p) > 1 for p in phrases):
            return None
        ids = [self.terms.get(p[0], -1) if p else -1 for p in phrases]  # -1: in no chunk, or no token at all
        spans = [(self.ptr[t], self.ptr[t + 1], t) for t in ids if t >= 0]
        if not spans:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
        docs = np.concatenate([self.docs[a:b] for a, b, _ in spans])
        parts = []
        for a, b, t in spans:  # FTS5's expression, term for term, so the doubles come out the same
            tf = self.tfs[a:b].astype(np.float64)
            parts.append(self.idf[t] * ((tf * (K1 + 1.0)) / (tf + self.norms[self.docs[a:b]])))
        scores = np.bincount(docs, np.concatenate(parts), minlength=len(self.rowids))
        matched = np.flatnonzero(np.bincount(docs, minlength=len(self.rowids)))  # ascending positions
        if within is not None:
            at = np.searchsorted(self.rowids, within).clip(max=max(len(self.rowids) - 1, 0))
            at = at[self.rowids[at] == within] if len(self.rowids) else at[:0]
            matched = np.intersect1d(matched, at, assume_unique=True)
        found = scores[matched]
        if k < len(matched):
            cut = np.partition(found, len(found) - k)[len(found) - k]
            keep = found >= cut
            matched, found = matched[keep], found[keep]
        order = np.lexsort((matched, -found))[:k]  # positions ascend with rowids: ties to the smaller rowid
        return self.rowids[matched[order]], found[order]


class LexicalCache:
    """The in-memory BM25 indexes of one store's collections, each built in a background thread once the
    collection has had ``warmup`` lexical searches (0: built by the first search, in its thread), and
    used while its generation is the collection's.

    Until then (and for collections outside ``[min_rows, max_rows]`` chunks, and for filters too rare for
    its best candidates) the store asks FTS5, which gives the same results. ``read`` opens a read transaction on the
    calling thread's connection. At most one build runs at a time; ``close`` waits for it.
    """

    def __init__(
        self,
        read: Callable[[], AbstractContextManager[sqlite3.Connection]],
        *,
        min_rows: int,
        max_rows: int,
        warmup: int = WARMUP,
    ) -> None:
        self.read = read
        self.min_rows = min_rows
        self.max_rows = max_rows
        self.warmup = warmup
        self._lock = threading.Lock()
        self._indexes: dict[int, tuple[int, LexicalIndex | None]] = {}  # None: not worth one at that generation
        self._uses: dict[int, int] = {}
        self._building: set[int] = set()
        self._tokens: dict[str, tuple[str, ...]] = {}
        self._executor: ThreadPoolExecutor | None = None
        self._closed = False

    def ranking(
        self,
        conn: sqlite3.Connection,
        cid: int,
        generation: int,
        terms: Sequence[str],
        within: np.ndarray | None = None,
    ) -> Callable[[int], tuple[list[int], list[float]]] | None:
        """The query's ranking as ``rank(n)`` -> the best ``n`` (rowids, scores), or None: ask FTS5.

        A filtered search checks its filter on the first ``n`` (``over_fetch``), as on tantivy's, or ranks
        only the rowids ``within`` (a filter naming a few documents).
        """
        index = self._index(conn, cid, generation)
        if index is None:
            return None
        phrases = tokens(conn, terms, self._tokens)
        if any(len(p) > 1 for p in phrases):  # a phrase of several tokens: FTS5 matches it in order
            return None

        def rank(n: int) -> tuple[list[int], list[float]]:
            rowids, scores = index.search(phrases, n, within)  # type: ignore[misc]  (single-token phrases: never None)
            return rowids.tolist(), scores.tolist()

        return rank

    def _index(self, conn: sqlite3.Connection, cid: int, generation: int) -> LexicalIndex | None:
        """The collection's index at ``generation`` if it is built (counting this use towards the warm-up)."""
        with self._lock:
            entry = self._indexes.get(cid)
            uses = self._uses[cid] = self._uses.get(cid, 0) + 1
            stale = entry is None or entry[0] != generation
            if stale and self.warmup > 0:
                if uses >= self.warmup and cid not in self._building and not self._closed:
                    self._building.add(cid)
                    self._pool().submit(self._build_quietly, cid)
                return None
        if stale:
            entry = (generation, self._load(conn, cid))
        return entry[1]

    def build(self, cid: int) -> LexicalIndex | None:
        """Build (or skip, by size) the index of collection ``cid`` now, on this thread."""
        with self.read() as conn:
            return self._load(conn, cid)

    def _load(self, conn: sqlite3.Connection, cid: int) -> LexicalIndex | None:
        """Inside a read transaction: load the index (None: size out of range), and keep it."""
        from llmkit.store.schema import fts_table

        row = conn.execute(
            "SELECT generation, (SELECT count(*) FROM chunks WHERE collection_id = ?), fts_pending"
            " FROM collections WHERE id = ?",
            (cid, cid),
        ).fetchone()
        if row is None or row[2] is not None:  # gone, or a bulk load's chunks are not in FTS5 yet
            return None
        generation, count, _ = row
        index = LexicalIndex.load(conn, fts_table(cid), generation) if self.min_rows <= count <= self.max_rows else None
        with self._lock:
            self._indexes[cid] = (generation, index)
        return index

    def drop(self, cid: int) -> None:
        with self._lock:
            self._indexes.pop(cid, None)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)
        with self._lock:
            self._indexes.clear()

    def _pool(self) -> ThreadPoolExecutor:
        if self._executor is None:
            from concurrent.futures import ThreadPoolExecutor

            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="llmkit-bm25")
        return self._executor

    def _build_quietly(self, cid: int) -> None:
        try:
            index = self.build(cid)
            log.debug("collection %s: in-memory BM25 index %s", cid, "built" if index else "skipped (size)")
        except Exception as e:  # the store closed meanwhile, a busy file ...: FTS5 keeps answering
            log.debug("collection %s: no in-memory BM25 index (%s)", cid, e)
        finally:
            with self._lock:
                self._building.discard(cid)


def tokens(
    conn: sqlite3.Connection, phrases: Sequence[str], cache: dict[str, tuple[str, ...]]
) -> list[tuple[str, ...]]:
    """Each phrase's tokens as FTS5 (porter, unicode61) makes them, through a TEMP table on ``conn``.

    ``cache`` keeps earlier answers (it is cleared when it reaches ``TOKEN_CACHE`` entries); it may be
    shared by threads, so the answer is built from this call's own look-ups.
    """
    known = {p: cache.get(p) for p in phrases}
    missing = [p for p, t in known.items() if t is None]
    if missing:
        conn.execute(f"CREATE VIRTUAL TABLE IF NOT EXISTS temp.llmkit_query USING fts5(text, tokenize='{_TOKENIZER}')")
        conn.execute(
            "CREATE VIRTUAL TABLE IF NOT EXISTS temp.llmkit_query_v USING fts5vocab(temp, llmkit_query, instance)"
        )
        conn.executemany("INSERT INTO temp.llmkit_query (rowid, text) VALUES (?, ?)", enumerate(missing))
        found: list[list[str]] = [[] for _ in missing]
        for term, doc in conn.execute("SELECT term, doc FROM temp.llmkit_query_v ORDER BY doc, offset"):
            found[doc].append(term)
        conn.execute("DELETE FROM temp.llmkit_query")
        new = {p: tuple(t) for p, t in zip(missing, found, strict=True)}
        if len(cache) + len(new) > TOKEN_CACHE:
            cache.clear()
        cache.update(new)
        known.update(new)
    return [known[p] or () for p in phrases]


def _varint(blob: bytes) -> int:
    """The first SQLite varint in ``blob`` (FTS5's ``docsize`` holds one per column).

    >>> _varint(bytes([0x81, 0x00])), _varint(bytes([0x05]))
    (128, 5)
    """
    value = 0
    for byte in blob[:9]:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            break
    return value
