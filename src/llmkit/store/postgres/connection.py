"""Connecting to PostgreSQL: URL checks, the psycopg pool, and psycopg's errors turned into llmkit's."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from llmkit.errors import InputError, MissingExtra, StoreError, StoreUnavailable

if TYPE_CHECKING:
    import psycopg
    from psycopg_pool import ConnectionPool

SCHEMES = ("postgresql://", "postgres://")
_PASSWORD = re.compile(r"(://[^:/@]*:)[^@]+@")


def is_postgres_url(url: str) -> bool:
    """Whether ``url`` names a PostgreSQL server.

    >>> is_postgres_url("postgresql://app@db.internal/llm"), is_postgres_url(".llmkit/store.db")
    (True, False)
    """
    return isinstance(url, str) and url.startswith(SCHEMES)


def redact(url: str) -> str:
    """``url`` without its password, for messages and logs.

    >>> redact("postgresql://app:s3cret@db:5432/llm")
    'postgresql://app:***@db:5432/llm'
    """
    return _PASSWORD.sub(r"\1***@", url)


def import_psycopg() -> None:
    """Fail with the extra to install when psycopg or its pool is missing."""
    for module, package in (("psycopg", "psycopg"), ("psycopg_pool", "psycopg-pool"), ("pgvector", "pgvector")):
        try:
            __import__(module)
        except ImportError:
            raise MissingExtra(package, "postgres") from None


def open_pool(url: str, *, min_size: int, max_size: int, timeout_s: float) -> ConnectionPool:
    """A started pool whose connections know the ``vector`` type, are checked before each use and autocommit."""
    from pgvector.psycopg import register_vector
    from psycopg_pool import ConnectionPool

    pool = ConnectionPool(
        url,
        min_size=min_size,
        max_size=max_size,
        timeout=timeout_s,
        # autocommit: a lone read statement needs no BEGIN and COMMIT round trips (``PostgresStore._read``);
        # ``conn.transaction()`` still wraps everything else in one transaction
        kwargs={"connect_timeout": max(1, round(timeout_s)), "autocommit": True},
        configure=register_vector,
        check=ConnectionPool.check_connection,  # a connection broken by a server restart is replaced, not used
        name="llmkit-store",
        open=False,
    )
    pool.open(wait=True, timeout=timeout_s)
    return pool


@contextmanager
def translated(where: str) -> Iterator[None]:
    """Turn psycopg's and the pool's errors into ``StoreError`` (``StoreUnavailable`` when a retry may help)."""
    import psycopg
    from psycopg import errors as pg
    from psycopg_pool import PoolTimeout

    retry = "retry the call: the pool reconnects once the server is back"
    try:
        yield
    except PoolTimeout as e:
        raise StoreUnavailable(f"no connection to {where} became available: {e}", hint=retry) from e
    except (pg.AdminShutdown, pg.CannotConnectNow, pg.SerializationFailure, pg.DeadlockDetected) as e:
        raise StoreUnavailable(f"{where} interrupted the operation: {_first_line(e)}", hint=retry) from e
    except psycopg.OperationalError as e:
        raise StoreUnavailable(f"lost the connection to {where}: {_first_line(e)}", hint=retry) from e
    except (pg.UndefinedTable, pg.UndefinedObject, pg.UndefinedFunction) as e:
        raise StoreError(
            f"{where} lacks part of llmkit's schema: {_first_line(e)}", hint="run `llmkit store migrate`"
        ) from e
    except psycopg.DataError as e:
        nul = "NUL" in str(e) or "0x00" in str(e)
        hint = "PostgreSQL text cannot hold NUL (\\x00) characters: remove them" if nul else None
        raise InputError(f"PostgreSQL refused a value: {_first_line(e)}", hint=hint) from e
    except psycopg.InterfaceError:
        raise  # a bug in llmkit, not a problem with the server
    except psycopg.Error as e:
        raise StoreError(f"{where} failed: {_first_line(e)}") from e


def _first_line(error: psycopg.Error) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]
