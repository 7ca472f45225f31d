"""PostgresStore passes the Store contract, unchanged, against a real PostgreSQL 18 + pgvector server."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from llmkit.store.base import Store
from llmkit.store.postgres import PostgresStore
from llmkit.testing.store_contract import StoreContract

pytestmark = pytest.mark.integration


class TestPostgresStore(StoreContract):
    @pytest.fixture
    def store(self, pg_url: str) -> Iterator[PostgresStore]:
        s = PostgresStore(pg_url, pool_size=4)
        yield s
        s.close()

    @pytest.fixture
    def reopen(self, pg_url: str) -> Iterator[Callable[[Store], Store]]:
        opened: list[PostgresStore] = []

        def _reopen(old: Store) -> Store:
            old.close()
            opened.append(PostgresStore(pg_url, pool_size=4))
            return opened[-1]

        yield _reopen
        for s in opened:
            s.close()

    def test_is_a_store(self, store: PostgresStore) -> None:
        assert isinstance(store, Store)
