"""SQLiteStore passes the Store contract: exact dense search, HNSW forced on, the tantivy lexical index forced on."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from llmkit.store.base import Store
from llmkit.store.sqlite import SQLiteStore
from llmkit.testing.store_contract import StoreContract


class _SQLiteFixtures(StoreContract):
    threshold = 20_000
    text_threshold = 20_000

    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[SQLiteStore]:
        s = SQLiteStore(tmp_path / "s.db", hnsw_threshold=self.threshold, text_index_threshold=self.text_threshold)
        yield s
        s.close()

    @pytest.fixture
    def reopen(self, tmp_path: Path) -> Iterator[Callable[[Store], Store]]:
        opened: list[SQLiteStore] = []

        def _reopen(old: Store) -> Store:
            old.close()
            opened.append(
                SQLiteStore(tmp_path / "s.db", hnsw_threshold=self.threshold, text_index_threshold=self.text_threshold)
            )
            return opened[-1]

        yield _reopen
        for s in opened:
            s.close()


class TestSQLiteStoreExact(_SQLiteFixtures):
    def test_is_a_store(self, store: SQLiteStore) -> None:
        assert isinstance(store, Store)


class TestSQLiteStoreHnsw(_SQLiteFixtures):
    threshold = 0


class TestSQLiteStoreTantivy(_SQLiteFixtures):
    """Lexical search through the tantivy sidecar index for every collection, however small."""

    text_threshold = 0
