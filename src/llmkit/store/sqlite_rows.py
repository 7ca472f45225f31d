"""Reading chunk rows back from the SQLite store: id lists bound as one parameter, ranked rowids to hits,
filters checked on candidate rowids."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Sequence
from typing import Any

from llmkit.errors import InputError
from llmkit.store.records import CHUNK_COLUMNS, row_to_chunk
from llmkit.types import ScoredChunk

IDS = "(SELECT value FROM json_each(?))"  # a list of any length as one bound parameter


def ids_param(ids: Sequence[str], what: str) -> str:
    """``ids`` as one JSON array, so any number of them binds as a single parameter (with ``IDS``).

    >>> ids_param(["a", "b"], "chunk ids")
    '["a", "b"]'
    """
    if isinstance(ids, str) or not all(isinstance(i, str) for i in ids):
        raise InputError(f"{what} must be a list of strings", hint='pass ["id"], not "id"')
    return json.dumps(list(ids), ensure_ascii=False).encode("utf-8", "replace").decode("utf-8")


def scored(conn: sqlite3.Connection, keys: list[int], scores: list[float]) -> list[ScoredChunk]:
    """The chunks with rowids ``keys``, in that order, with their ``scores`` (rows gone meanwhile are left out)."""
    sql = f"SELECT c.rowid, {CHUNK_COLUMNS} FROM chunks c WHERE c.rowid IN {IDS}"
    rows = {r[0]: r[1:] for r in conn.execute(sql, (json.dumps(keys),))}
    return [ScoredChunk(row_to_chunk(rows[key]), float(s)) for key, s in zip(keys, scores, strict=True) if key in rows]


def passing(conn: sqlite3.Connection, cid: int, where: str, params: list[Any]) -> Callable[[list[int]], set[int]]:
    """A check for ``over_fetch``: which of the given rowids are chunks of collection ``cid`` that pass the
    filter compiled (``filters.to_sql``) to ``where`` and ``params``."""
    # CROSS JOIN fixes the order: each candidate looked up by rowid. Written as "rowid IN (...) AND
    # collection_id = ?", SQLite walked the collection's index instead: 275 ms for 400 rowids at 1M chunks.
    sql = (
        "SELECT c.rowid FROM json_each(?) AS j CROSS JOIN chunks c ON c.rowid = j.value"
        f" WHERE c.collection_id = ? AND {where}"
    )
    return lambda keys: {r[0] for r in conn.execute(sql, (json.dumps(keys), cid, *params))}
