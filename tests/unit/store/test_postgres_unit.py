"""PostgreSQL store logic that needs no server: URL handling, selection by URL, the filter compiler's output,
the tsquery builder, accent folding, and the schema's DDL. The real server tests are in tests/integration/store."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmkit.config import load_settings
from llmkit.errors import ConfigError, InputError
from llmkit.kit import open_store
from llmkit.store.postgres import PostgresStore, is_postgres_url
from llmkit.store.postgres.connection import redact
from llmkit.store.postgres.filters import to_pg_sql
from llmkit.store.postgres.lexical import fold, search_text
from llmkit.store.postgres.schema import HNSW_MAX_DIM, MIGRATIONS, create_index_sql


@pytest.mark.parametrize(
    ("url", "ok"),
    [("postgresql://u@h/db", True), ("postgres://u:p@h:5/db?sslmode=require", True), ("sqlite:///x.db", False),
     (".llmkit/store.db", False), ("mysql://h/db", False), ("", False)],
)  # fmt: skip
def test_is_postgres_url(url: str, ok: bool) -> None:
    assert is_postgres_url(url) is ok


def test_redact_hides_only_the_password() -> None:
    assert redact("postgresql://app:p%40ss:w@db:5432/llm?x=1") == "postgresql://app:***@db:5432/llm?x=1"
    assert redact("postgresql://app@db/llm") == "postgresql://app@db/llm"


def test_store_selected_by_url_without_connecting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`store = "postgresql://..."` in llmkit.toml, or LLMKIT_STORE, picks PostgresStore; nothing connects yet."""
    (tmp_path / "llmkit.toml").write_text('store = "postgresql://app@127.0.0.1:1/none"\n[postgres]\npool_size = 3\n')
    store = open_store(load_settings(tmp_path))
    assert isinstance(store, PostgresStore) and store.pool_size == 3
    store.close()
    monkeypatch.setenv("LLMKIT_STORE", "postgres://other@127.0.0.1:1/x")
    assert open_store(load_settings(tmp_path)).where == "postgres://other@127.0.0.1:1/x"
    monkeypatch.setenv("LLMKIT_STORE", str(tmp_path / "s.db"))
    sqlite = open_store(load_settings(tmp_path))
    assert type(sqlite).__name__ == "SQLiteStore"
    sqlite.close()
    monkeypatch.setenv("LLMKIT_STORE", "mysql://h/db")
    with pytest.raises(ConfigError, match="postgresql://"):
        open_store(load_settings(tmp_path))


def test_unreachable_server_is_a_retryable_store_error() -> None:
    from llmkit.errors import StoreUnavailable

    store = PostgresStore("postgresql://nobody@127.0.0.1:9/none", timeout_s=1)
    with pytest.raises(StoreUnavailable, match="retry"):
        store.list_collections()
    store.close()


@pytest.mark.parametrize("kwargs", [{"pool_size": 0}, {"timeout_s": 0}, {"ef_search": 5000}])
def test_bad_arguments(kwargs: dict) -> None:
    with pytest.raises(InputError):
        PostgresStore("postgresql://u@h/db", **kwargs)
    with pytest.raises(InputError, match="postgresql://"):
        PostgresStore("/tmp/store.db")


def test_filter_compiler_binds_every_key_and_value() -> None:
    hostile = "x'); DROP TABLE llmkit_chunks; --"
    sql, params = to_pg_sql({hostile: hostile, "page": {"$in": [1, 2.5]}, "lang": {"$gt": "b"}})
    assert hostile not in sql and "DROP" not in sql
    assert params == [hostile, f'"{hostile}"', ["1", "2.5"], "lang", "lang", "b"]
    assert sql.count("%s") == 6


@pytest.mark.parametrize(
    ("flt", "fragment"),
    [({"page": "2"}, "false"), ({"source": 3}, "false"), ({"heading": None}, "c.heading IS NULL"),
     ({"n": {"$gte": 2}}, "::numeric >= %s::numeric"), ({"s": {"$lt": "b"}}, 'COLLATE "C"'),
     ({"flag": True}, "::jsonb"), ({"x": None}, "jsonb_typeof")],
)  # fmt: skip
def test_filter_compiler_shapes(flt: dict, fragment: str) -> None:
    assert fragment in to_pg_sql(flt)[0]


def test_malformed_filter_is_an_input_error() -> None:
    with pytest.raises(InputError):
        to_pg_sql({"page": {"$regex": "x"}})


def test_fold() -> None:
    assert fold("Ångström naïve café 中文") == "Angstrom naive cafe 中文"
    assert search_text("plain ascii") is None and search_text("café") == "cafe"


def test_index_ddl_and_migrations() -> None:
    ddl = create_index_sql(7, 384, m=16, ef_construction=64)
    assert ddl and "vector(384)" in ddl and "WHERE collection_id = 7" in ddl and "m = 16" in ddl
    assert create_index_sql(7, HNSW_MAX_DIM + 1, m=16, ef_construction=64) is None  # exact search beyond
    assert MIGRATIONS and "llmkit_chunks" in MIGRATIONS[0]


@pytest.mark.parametrize(
    "name",
    ["llmkit.store.postgres.filters", "llmkit.store.postgres.lexical", "llmkit.store.postgres.connection",
     "llmkit.store.postgres.schema", "llmkit.store.records"],
)  # fmt: skip
def test_docstring_examples(name: str) -> None:
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0
