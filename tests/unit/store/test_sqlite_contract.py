"""SQLiteStore passes the Store contract: exact dense search, HNSW forced on, BM25 in memory forced on, and the
tantivy lexical index forced on."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from llmkit.store.base import Store
from llmkit.store.sqlite import SQLiteStore
from llmkit.testing.store_contract import StoreContract


class _SQLiteFixtures(StoreContract):
    threshold = 20_000
    options: ClassVar[dict[str, Any]] = {}

    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[SQLiteStore]:
        s = SQLiteStore(tmp_path / "s.db", hnsw_threshold=self.threshold, **self.options)
        yield s
        s.close()

    @pytest.fixture
    def reopen(self, tmp_path: Path) -> Iterator[Callable[[Store], Store]]:
        opened: list[SQLiteStore] = []

        def _reopen(old: Store) -> Store:
            old.close()
            opened.append(SQLiteStore(tmp_path / "s.db", hnsw_threshold=self.threshold, **self.options))
            return opened[-1]

        yield _reopen
        for s in opened:
            s.close()


class TestSQLiteStoreExact(_SQLiteFixtures):
    def test_is_a_store(self, store: SQLiteStore) -> None:
        assert isinstance(store, Store)


class TestSQLiteStoreHnsw(_SQLiteFixtures):
    threshold = 0


class TestSQLiteStoreMemoryBm25(_SQLiteFixtures):
    """Every lexical search answered from the in-memory BM25 index, built by the first search."""

    options: ClassVar[dict[str, Any]] = {"bm25_memory": (1, 1_000_000), "bm25_warmup": 0}


class TestSQLiteStoreTantivy(_SQLiteFixtures):
    """Lexical search through the tantivy sidecar index for every collection, however small."""

    options: ClassVar[dict[str, Any]] = {"text_index_threshold": 0}
