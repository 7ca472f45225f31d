"""Fixtures for the ingest tests: an in-memory store and, when it is there, the real SQLite store."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from memstore import MemStore

_STORES = ["memory"] + (["sqlite"] if importlib.util.find_spec("llmkit.store.sqlite") else [])


@pytest.fixture(params=_STORES)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    if request.param == "memory":
        yield MemStore()
        return
    from llmkit.store.sqlite import SQLiteStore

    s = SQLiteStore(tmp_path / "store.db")
    yield s
    s.close()
