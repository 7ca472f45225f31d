"""Reading chunk rows back from the SQLite store: id lists bound as one parameter, ranked rowids to hits,
filters checked on candidate rowids."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from llmkit.errors import InputError
from llmkit.store.filters import document_condition, to_sql
from llmkit.store.records import CHUNK_COLUMNS, row_to_chunk
from llmkit.types import Ranked, ScoredChunk

if TYPE_CHECKING:
    import numpy as np

IDS = "(SELECT value FROM json_each(?))"  # a list of any length as one bound parameter


def ids_param(ids: Sequence[str], what: str) -> str:
    """``ids`` as one JSON array, so any number of them binds as a single parameter (with ``IDS``).

    >>> ids_param(["a", "b"], "chunk ids")
    '["a", "b"]'
    """
    if isinstance(ids, str) or not all(isinstance(i, str) for i in ids):
        raise InputError(f"{what} must be a list of strings", hint='pass ["id"], not "id"')
    return json.dumps(list(ids), ensure_ascii=False).encode("utf-8", "replace").decode("utf-8")


#: A way to the chunk ids of a search's rowids without reading their rows (an exact index keeps them),
#: or None where there is none.
KnownIds = Callable[[], "list[str] | None"]
#: What a search returns for ranked rowids and their scores: whole chunks (``scored``) or chunk ids (``ranked``).
Results = Callable[[sqlite3.Connection, list[int], list[float], KnownIds], list[Any]]


def _unknown() -> None:
    return None


def scored(
    conn: sqlite3.Connection, keys: list[int], scores: list[float], ids: KnownIds = _unknown
) -> list[ScoredChunk]:
    """The chunks with rowids ``keys``, in that order, with their ``scores`` (rows gone meanwhile are left out);
    ``ids`` goes unused: the rows are read anyway."""
    sql = f"SELECT c.rowid, {CHUNK_COLUMNS} FROM chunks c WHERE c.rowid IN {IDS}"
    rows = {r[0]: r[1:] for r in conn.execute(sql, (json.dumps(keys),))}
    return [ScoredChunk(row_to_chunk(rows[key]), float(s)) for key, s in zip(keys, scores, strict=True) if key in rows]


def ranked(conn: sqlite3.Connection, keys: list[int], scores: list[float], ids: KnownIds = _unknown) -> list[Ranked]:
    """``scored`` with only the chunk ids: a chunk's text and metadata are not read, nor its row when ``ids``
    knows its id (an exact index keeps them: 50 row reads were 0.5 ms of a SciFact hybrid query)."""
    known = ids()
    if known is not None:
        return [Ranked(i, float(s)) for i, s in zip(known, scores, strict=True)]
    sql = f"SELECT c.rowid, c.id FROM chunks c WHERE c.rowid IN {IDS}"
    found = dict(conn.execute(sql, (json.dumps(keys),)).fetchall())
    return [Ranked(found[key], float(s)) for key, s in zip(keys, scores, strict=True) if key in found]


@dataclass(frozen=True, slots=True)
class CompiledFilter:
    """A filter compiled once for one search: its WHERE fragment over chunks ``c`` and, when it names its
    documents (``doc_id``, ``source`` or ``content_type`` equal to a text or in a list of texts), a
    condition over documents ``d`` that its chunks meet (``filters.document_condition``)."""

    where: str
    params: list[Any]
    documents: tuple[str, list[Any]] | None

    @classmethod
    def of(cls, filter: Any) -> CompiledFilter:
        """Validate and compile ``filter`` (``InputError`` if it is malformed)."""
        where, params = to_sql(filter)
        return cls(where, params, document_condition(filter))

    def rowids(self, cid: int) -> tuple[str, list[Any]]:
        """SQL for the rowids of collection ``cid``'s chunks that pass, and its parameters.

        A filter naming its documents reaches their chunks through the documents table and ``chunks_doc``;
        any other reads every chunk of the collection (at 1M chunks: milliseconds against seconds).
        """
        if self.documents is None:
            return f"SELECT c.rowid FROM chunks c WHERE c.collection_id = ? AND {self.where}", [cid, *self.params]
        doc_sql, doc_params = self.documents
        # CROSS JOIN fixes the order (the documents first, then their chunks by ``chunks_doc``): with an IN
        # subquery SQLite walked every chunk of the collection and checked each against the documents.
        sql = (
            "SELECT c.rowid FROM documents d CROSS JOIN chunks c ON c.doc_rowid = d.rowid"
            f" WHERE d.collection_id = ? AND {doc_sql} AND c.collection_id = ? AND {self.where}"
        )
        return sql, [cid, *doc_params, cid, *self.params]

    def allowed_rowids(self, conn: sqlite3.Connection, cid: int) -> np.ndarray:
        """The rowids of collection ``cid``'s chunks that pass (``rowids`` run), ascending."""
        import numpy as np

        return np.fromiter((r[0] for r in conn.execute(*self.rowids(cid))), dtype=np.int64)

    def names_few_chunks(self, conn: sqlite3.Connection, cid: int, limit: int) -> bool:
        """Whether the filter names documents holding at most ``limit`` chunks of collection ``cid``.

        Reading those chunks is then cheaper than checking an index's candidates; a filter naming many
        chunks (the one ``content_type`` of a whole collection, say) keeps the candidate checks.
        """
        if self.documents is None:
            return False
        doc_sql, doc_params = self.documents
        sql = f"SELECT coalesce(sum(d.chunk_count), 0) FROM documents d WHERE d.collection_id = ? AND {doc_sql}"
        return conn.execute(sql, (cid, *doc_params)).fetchone()[0] <= limit

    def passing(self, conn: sqlite3.Connection, cid: int) -> Callable[[list[int]], set[int]]:
        """A check for ``over_fetch``: which of the given rowids are chunks of collection ``cid`` that pass."""
        # CROSS JOIN fixes the order: each candidate looked up by rowid. Written as "rowid IN (...) AND
        # collection_id = ?", SQLite walked the collection's index instead: 275 ms for 400 rowids at 1M chunks.
        sql = (
            "SELECT c.rowid FROM json_each(?) AS j CROSS JOIN chunks c ON c.rowid = j.value"
            f" WHERE c.collection_id = ? AND {self.where}"
        )
        return lambda keys: {r[0] for r in conn.execute(sql, (json.dumps(keys), cid, *self.params))}
