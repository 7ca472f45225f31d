"""API keys: stored hashed in the project's ``.llmkit/keys.db``, each with scopes and allowed collections.

A key is ``lk-`` followed by 32 random bytes (URL-safe base64) from ``secrets``. Only its sha256 is
stored. A slow password hash (bcrypt, argon2) guards low-entropy secrets against guessing; a 256-bit
random token cannot be guessed, so one sha256 is enough, and it lets every request look its key up
by hash in one indexed query instead of paying ~100 ms of key stretching.

Scopes name route families: ``chat`` (chat and text completions), ``embeddings``, ``query`` (search,
answers and the ``rag/<collection>`` models), ``ingest`` (create collections, upload and delete
documents), ``admin`` (everything, including deleting collections and reading traces).
"""

from __future__ import annotations

import hashlib
import json
import secrets
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from llmkit.errors import InputError, NotFound
from llmkit.sqlite_file import ThreadLocalSQLite
from llmkit.store.records import COLLECTION_NAME

SCOPES = ("chat", "embeddings", "query", "ingest", "admin")
PREFIX = "lk-"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS keys (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, hash TEXT NOT NULL UNIQUE, scopes TEXT NOT NULL,
    collections TEXT NOT NULL, created REAL NOT NULL, revoked REAL
);
"""


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A stored key (never its secret). ``collections`` is ``("*",)`` for all collections."""

    id: str
    name: str
    scopes: tuple[str, ...]
    collections: tuple[str, ...]
    created: float
    revoked: float | None = None

    def allows(self, scope: str, collection: str | None = None) -> bool:
        """Whether this key may use ``scope`` (on ``collection``).

        >>> k = ApiKey("a1", "bot", ("query",), ("docs",), 0.0)
        >>> k.allows("query", "docs"), k.allows("query", "hr"), k.allows("ingest", "docs")
        (True, False, False)
        """
        if self.revoked is not None or (scope not in self.scopes and "admin" not in self.scopes):
            return False
        return collection is None or "*" in self.collections or collection in self.collections


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_scopes(scopes: tuple[str, ...]) -> tuple[str, ...]:
    """The scopes, checked; ``InputError`` naming the valid ones otherwise."""
    bad = [s for s in scopes if s not in SCOPES]
    if bad or not scopes:
        raise InputError(f"unknown scopes {bad}" if bad else "give at least one scope", hint=f"scopes: {SCOPES}")
    return tuple(dict.fromkeys(scopes))


class KeyStore:
    """Keys in one SQLite file (WAL); cheap to construct, opens on first use."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._db = ThreadLocalSQLite(self.path, _SCHEMA, "the key store", durable=True)  # a revocation must stick

    def _conn(self) -> sqlite3.Connection:
        return self._db.conn()

    def create(self, name: str, scopes: tuple[str, ...], collections: tuple[str, ...] = ("*",)) -> tuple[str, ApiKey]:
        """A new key: ``(secret, key)``. The secret is shown once and never stored."""
        if not name.strip():
            raise InputError("give the key a name (who or what uses it)")
        _check_text(name, "the key's name")
        for c in collections:
            if c != "*" and not COLLECTION_NAME.fullmatch(c):
                raise InputError(f"{c!r} is not a collection name", hint="letters, digits, '_', '.', '-'; or *")
        token = PREFIX + secrets.token_urlsafe(32)
        key = ApiKey(
            secrets.token_hex(6), name.strip(), check_scopes(scopes), tuple(collections) or ("*",), time.time()
        )
        row = (key.id, key.name, hash_token(token), json.dumps(key.scopes), json.dumps(key.collections), key.created)
        self._conn().execute("INSERT INTO keys VALUES (?, ?, ?, ?, ?, ?, NULL)", row)
        return token, key

    def list(self) -> list[ApiKey]:
        rows = self._conn().execute("SELECT * FROM keys ORDER BY created").fetchall()
        return [_key(r) for r in rows]

    def verify(self, token: str) -> ApiKey | None:
        """The live key for ``token``, or None (unknown or revoked)."""
        if not token.startswith(PREFIX) or len(token) > 200:
            return None
        row = self._conn().execute("SELECT * FROM keys WHERE hash = ?", (hash_token(token),)).fetchone()
        key = _key(row) if row else None
        return key if key is not None and key.revoked is None else None

    def revoke(self, key_id: str) -> ApiKey:
        _check_text(key_id, "the key id")
        cur = self._conn().execute(
            "UPDATE keys SET revoked = ? WHERE id = ? AND revoked IS NULL", (time.time(), key_id)
        )
        if cur.rowcount == 0:
            raise NotFound(f"no live key {key_id!r}", hint="`llmkit keys list` shows key ids")
        return next(k for k in self.list() if k.id == key_id)

    def close(self) -> None:
        """Close this thread's connection (it opens again on next use)."""
        self._db.close()


def _key(r: tuple) -> ApiKey:  # type: ignore[type-arg]
    return ApiKey(r[0], r[1], tuple(json.loads(r[3])), tuple(json.loads(r[4])), r[5], r[6])


def _check_text(text: str, what: str) -> None:
    """InputError for text SQLite cannot store: lone surrogates (undecodable bytes in a command's arguments)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InputError(f"{what} is not valid UTF-8 text") from None
