"""PostgresStore.bulk_load on a real server: a first load drops and rebuilds the full-text index, answers unchanged."""

from __future__ import annotations

import random

import psycopg
import pytest

from llmkit.store.postgres import PostgresStore
from llmkit.testing.store_contract import EMBEDDER, make_document

pytestmark = pytest.mark.integration

WORDS = "apple banana cherry mango kiwi quokka walrus otter heron finch maple cedar birch".split()
QUERIES = ["apple", "quokka walrus", "maple cedar birch", "kiwi otter"]


def _docs(seed: int = 0) -> list:
    rng = random.Random(seed)
    return [
        make_document(f"d{d}", [" ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 12))) for _ in range(3)])
        for d in range(30)
    ]


def _indexes(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'llmkit_chunks'").fetchall()
    return {r[0] for r in rows if r[0].startswith(("llmkit_chunks_tsv", "llmkit_chunks_hnsw"))}


def _answers(store: PostgresStore, name: str) -> list:
    lexical = [[(h.chunk.id, h.score) for h in store.search_lexical(name, q, 10)] for q in QUERIES]
    vectors = EMBEDDER.embed(QUERIES)
    dense = [[round(h.score, 5) for h in store.search_dense(name, v, 5)] for v in vectors]  # ids may tie
    return [*lexical, *dense]


def test_a_first_load_builds_the_text_index_once_with_the_same_answers(pg_url: str) -> None:
    with PostgresStore(pg_url, pool_size=2) as store:
        for name in ("bulk", "plain"):
            store.create_collection(name, embedder=EMBEDDER.name, dim=EMBEDDER.dim)
        assert _indexes(pg_url) == {"llmkit_chunks_tsv", "llmkit_chunks_hnsw_1", "llmkit_chunks_hnsw_2"}
        with store.bulk_load("bulk"):
            assert _indexes(pg_url) == {"llmkit_chunks_hnsw_2"}  # the table was empty: the GIN index went too
            docs = _docs()
            for i in range(0, len(docs), 7):
                store.write("bulk", docs[i : i + 7])
        assert _indexes(pg_url) == {"llmkit_chunks_tsv", "llmkit_chunks_hnsw_1", "llmkit_chunks_hnsw_2"}
        with store.bulk_load("plain"):  # the table has chunks now: only this collection's HNSW index goes
            assert _indexes(pg_url) == {"llmkit_chunks_tsv", "llmkit_chunks_hnsw_1"}
            store.write("plain", _docs())
        assert _answers(store, "bulk") == _answers(store, "plain")


def test_a_failed_load_leaves_the_indexes_to_build_index(pg_url: str) -> None:
    with PostgresStore(pg_url, pool_size=2) as store:
        store.create_collection("docs", embedder=EMBEDDER.name, dim=EMBEDDER.dim)
        with pytest.raises(RuntimeError), store.bulk_load("docs"):
            store.write("docs", _docs()[:10])
            raise RuntimeError("the loader died")
        assert _indexes(pg_url) == set()
        assert [h.chunk.id for h in store.search_lexical("docs", "walrus", 30)]  # slower, still right
        store.build_index("docs")
        assert _indexes(pg_url) == {"llmkit_chunks_tsv", "llmkit_chunks_hnsw_1"}
