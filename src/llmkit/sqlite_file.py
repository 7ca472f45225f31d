"""One SQLite file used from many threads: a connection per thread, opened on first use in WAL mode.

The trace store, the eval store and the server's key store keep their rows this way (the document
store has its own, richer connection handling in ``store/sqlite.py``).
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from llmkit.errors import StoreError


class ThreadLocalSQLite:
    """``conn()`` gives this thread's connection to ``path``, creating the file and ``schema`` on first use.

    ``what`` names the file in errors ("the trace store"); ``synchronous=NORMAL`` trades the last
    transactions before a power cut (never consistency) for not syncing on every commit.
    """

    def __init__(
        self, path: str | Path, schema: str, what: str, *, timeout_s: float = 10, durable: bool = False
    ) -> None:
        self.path = Path(path)
        self.schema = schema
        self.what = what
        self.timeout_s = timeout_s
        self.durable = durable
        self._local = threading.local()

    def conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._open()
        return conn

    def close(self) -> None:
        """Close this thread's connection (it opens again on next use)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def _open(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=self.timeout_s, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            if not self.durable:
                conn.execute("PRAGMA synchronous=NORMAL")
            conn.executescript(self.schema)
        except (sqlite3.Error, OSError) as e:
            raise StoreError(f"cannot open {self.what} {self.path}: {e}") from None
        return conn
