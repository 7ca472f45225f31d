"""``EvalStore``: runs, per-item results and the model-call cache in one SQLite file (``.llmkit/evals.db``)."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llmkit.errors import InputError, NotFound, StoreError
from llmkit.sqlite_file import ThreadLocalSQLite

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY, created REAL NOT NULL, name TEXT NOT NULL, config TEXT NOT NULL,
    prompts TEXT NOT NULL, models TEXT NOT NULL, dataset TEXT NOT NULL, items INTEGER NOT NULL,
    summary TEXT NOT NULL, stats TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS results (
    run_id TEXT NOT NULL, item_id TEXT NOT NULL, repeat INTEGER NOT NULL,
    prediction TEXT NOT NULL, metrics TEXT NOT NULL, details TEXT NOT NULL,
    PRIMARY KEY (run_id, item_id, repeat)
);
CREATE TABLE IF NOT EXISTS cache (key TEXT PRIMARY KEY, created REAL NOT NULL, value TEXT NOT NULL);
"""


@dataclass(frozen=True, slots=True)
class Row:
    """One item's result in one repeat: what the pipeline produced and each metric's score."""

    item_id: str
    repeat: int
    prediction: dict[str, Any]  # input, answer, messages as sent, passages, hit ids, prompt, model, latency
    metrics: dict[str, float | None]
    details: dict[str, str] = field(default_factory=dict)  # judge reasoning by metric


@dataclass(frozen=True, slots=True)
class Run:
    id: str
    created: float
    name: str
    config: dict[str, Any]
    prompts: dict[str, str]  # role -> name@version
    models: dict[str, str]  # role -> model id
    dataset: str
    items: int
    summary: dict[str, dict[str, float]]  # metric -> mean, low, high, n
    stats: dict[str, float]  # seconds, model_seconds, calls, cache_hits


class EvalStore:
    """Thread-safe (one connection per thread), WAL mode."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._db = ThreadLocalSQLite(self.path, _SCHEMA, "the eval store", timeout_s=30)

    def _conn(self) -> sqlite3.Connection:
        return self._db.conn()

    def _exec(self, sql: str, args: Sequence[Any] = ()) -> sqlite3.Cursor:
        try:
            return self._conn().execute(sql, args)
        except sqlite3.Error as e:
            raise StoreError(f"eval store {self.path}: {e}") from None

    # ------------------------------------------------------------------ runs

    def save_run(self, run: Run, rows: Iterable[Row]) -> None:
        conn = self._conn()
        try:
            conn.execute("BEGIN")
            conn.execute(
                "INSERT INTO runs VALUES (?,?,?,?,?,?,?,?,?,?)",
                (run.id, run.created, run.name, _dump(run.config), _dump(run.prompts), _dump(run.models),
                 run.dataset, run.items, _dump(run.summary), _dump(run.stats)),
            )  # fmt: skip
            conn.executemany(
                "INSERT INTO results VALUES (?,?,?,?,?,?)",
                [(run.id, r.item_id, r.repeat, _dump(r.prediction), _dump(r.metrics), _dump(r.details)) for r in rows],
            )
            conn.execute("COMMIT")
        except sqlite3.Error as e:
            conn.execute("ROLLBACK")
            raise StoreError(f"cannot save the run to {self.path}: {e}") from None

    def runs(self, *, limit: int = 20) -> list[Run]:
        rows = self._exec("SELECT * FROM runs ORDER BY created DESC LIMIT ?", (limit,)).fetchall()
        return [_run(r) for r in rows]

    def get_run(self, ref: str) -> Run:
        """A run by id, unique id prefix (4+ characters), ``latest`` or ``latest~N`` (N runs before)."""
        if ref.startswith("latest"):
            back = int(ref.partition("~")[2] or 0) if ref.partition("~")[2].isdigit() or ref == "latest" else -1
            if back < 0:
                raise InputError(f"{ref!r}: use latest or latest~N")
            rows = self._exec("SELECT * FROM runs ORDER BY created DESC LIMIT 1 OFFSET ?", (back,)).fetchall()
        else:
            if len(ref) < 4:
                raise InputError("give at least 4 characters of the run id")
            like = ref.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            rows = self._exec("SELECT * FROM runs WHERE id LIKE ? ESCAPE '\\' LIMIT 2", (like,)).fetchall()
            if len(rows) > 1:
                raise InputError(f"{ref!r} matches several runs; give more characters")
        if not rows:
            raise NotFound(f"no eval run {ref!r}", hint="`llmkit eval list` shows the runs")
        return _run(rows[0])

    def rows(self, run_id: str) -> list[Row]:
        cur = self._exec("SELECT * FROM results WHERE run_id = ? ORDER BY rowid", (run_id,))
        return [Row(r[1], r[2], json.loads(r[3]), json.loads(r[4]), json.loads(r[5])) for r in cur.fetchall()]

    # ------------------------------------------------------------------ cache

    def cache_get(self, key: str) -> dict[str, Any] | None:
        row = self._exec("SELECT value FROM cache WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def cache_put(self, key: str, value: dict[str, Any]) -> None:
        self.cache_put_many([(key, value)])

    def cache_put_many(self, entries: Sequence[tuple[str, dict[str, Any]]]) -> None:
        """Write several replies in one transaction (one commit instead of one per call)."""
        now = time.time()
        conn = self._conn()
        try:
            conn.execute("BEGIN")
            conn.executemany("INSERT OR REPLACE INTO cache VALUES (?,?,?)", [(k, now, _dump(v)) for k, v in entries])
            conn.execute("COMMIT")
        except sqlite3.Error as e:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise StoreError(f"eval store {self.path}: {e}") from None

    def close(self) -> None:
        """Close this thread's connection (it opens again on next use)."""
        self._db.close()


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def _run(r: Sequence[Any]) -> Run:
    return Run(r[0], r[1], r[2], json.loads(r[3]), json.loads(r[4]), json.loads(r[5]), r[6], r[7],
               json.loads(r[8]), json.loads(r[9]))  # fmt: skip
