from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from retrieve_helpers import COLLECTION, CORPUS, MemoryStore

from llmkit.store.base import DocumentWrite
from llmkit.testing import HashEmbedder
from llmkit.types import Chunk


def _sqlite_store(path: Path):  # the real store, once it exists
    from llmkit.store.sqlite import SQLiteStore

    return SQLiteStore(path)


def _have_sqlite() -> bool:
    try:
        import llmkit.store.sqlite  # noqa: F401
    except ImportError:
        return False
    return True


STORES = ["memory", pytest.param("sqlite", marks=pytest.mark.skipif(not _have_sqlite(), reason="no SQLiteStore"))]


@pytest.fixture
def embedder() -> HashEmbedder:
    return HashEmbedder(dim=256, name="hash-256")


@pytest.fixture(params=STORES)
def store(request: pytest.FixtureRequest, tmp_path: Path, embedder: HashEmbedder) -> Iterator[object]:
    s = MemoryStore() if request.param == "memory" else _sqlite_store(tmp_path / "store.db")
    s.create_collection(COLLECTION, embedder=embedder.name, dim=embedder.dim)
    batch = []
    for cid, source, text, meta in CORPUS:
        chunk = Chunk(cid, f"doc-{cid}", source, text, 0, 0, len(text), page=meta["page"], metadata=meta)
        vec = embedder.embed([text])
        batch.append(DocumentWrite(f"doc-{cid}", source, f"hash-{cid}", "text/markdown", [chunk], vec, metadata=meta))
    s.write(COLLECTION, batch)
    embedder.calls = 0
    yield s
    s.close()
