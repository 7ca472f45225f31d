"""Re-embedding a collection on PostgreSQL: resumable staging, then one switch that rebuilds the HNSW index."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from llmkit.ingest.reembed import Reembedder
from llmkit.store.postgres import PostgresStore
from llmkit.store.postgres.schema import index_name
from llmkit.testing import HashEmbedder
from llmkit.testing.store_contract import make_document

pytestmark = pytest.mark.integration


@pytest.fixture
def store(pg_url: str) -> Iterator[PostgresStore]:
    s = PostgresStore(pg_url, pool_size=2)
    yield s
    s.close()


def test_reembed_switches_dim_and_rebuilds_the_index(store: PostgresStore, tmp_path: Path) -> None:
    store.create_collection("re", embedder="hash-64", dim=64)
    store.write("re", [make_document(f"d{i}", [f"doc {i} apple", f"doc {i} pear"]) for i in range(12)])
    new = HashEmbedder(dim=48, name="hash-48")

    class Dies(HashEmbedder):
        def embed(self, texts):  # type: ignore[no-untyped-def]
            if self.calls == 2:
                raise RuntimeError("killed")
            return super().embed(texts)

    with pytest.raises(RuntimeError):
        Reembedder(store, Dies(dim=48, name="hash-48"), tmp_path, batch_size=5).run("re")
    assert store.get_collection("re").embedder == "hash-64"
    report = Reembedder(store, new, tmp_path, batch_size=5).run("re")
    assert (report.resumed, report.embedded, report.collection.dim) == (10, 14, 48)
    assert store.search_dense("re", new.embed(["doc 7 pear"])[0], 1)[0].chunk.id == "d7#1"
    with store._conn() as conn:  # the collection's HNSW index exists again, over vector(48)
        cid = conn.execute("SELECT id FROM llmkit_collections WHERE name = 're'").fetchone()[0]
        ddl = conn.execute(
            "SELECT indexdef FROM pg_indexes WHERE indexname = %s AND schemaname = current_schema()", (index_name(cid),)
        ).fetchone()
    assert ddl is not None and "vector(48)" in ddl[0]
