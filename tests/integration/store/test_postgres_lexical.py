"""PostgreSQL lexical search where its candidate rows (the rarest words' rows) would miss: a word in no row, a
filter, another collection's statistics; and text folded by an older llmkit, brought in line by migration."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from llmkit.store.postgres import PostgresStore
from llmkit.testing import HashEmbedder
from llmkit.testing.store_contract import make_document

pytestmark = pytest.mark.integration

EMB = HashEmbedder(dim=8, name="hash-8")


@pytest.fixture
def store(pg_url: str) -> Iterator[PostgresStore]:
    """ "cell" in 1,200 rows of "big" (over the candidate floor), "protein" in 10; "small" is three rows."""
    s = PostgresStore(pg_url, pool_size=2)
    for name in ("big", "small"):
        s.create_collection(name, embedder=EMB.name, dim=EMB.dim)
    docs = [make_document(f"d{i}", [f"cell {'protein' if i < 10 else 'membrane'} sample {i}"], embedder=EMB)
            for i in range(1200)]  # fmt: skip
    for i in range(0, len(docs), 400):
        s.write("big", docs[i : i + 400])
    s.write("small", [make_document(f"s{i}", [f"cell note {i}"], embedder=EMB) for i in range(3)])
    s.build_index("big")  # ANALYZE: the planner's statistics that choose candidates
    yield s
    s.close()


def test_a_word_in_no_row_does_not_hide_the_others(store: PostgresStore) -> None:
    assert len(store.search_lexical("big", "cell zebrafsh", 5)) == 5
    assert len(store.rank_lexical("big", "zebrafsh cell", 5)) == 5
    assert {h.chunk.doc_id for h in store.search_lexical("small", "cell zebrafsh", 5)} == {"s0", "s1", "s2"}


def test_a_filter_sees_rows_without_the_rarest_word(store: PostgresStore) -> None:
    hits = store.search_lexical("big", "cell protein", 5, filter={"doc_id": "d500"})
    assert [h.chunk.doc_id for h in hits] == ["d500"]
    hits = store.search_lexical("big", "cell protein", 50, filter={"doc_id": {"$in": ["d3", "d600", "d700"]}})
    assert hits[0].chunk.doc_id == "d3" and len(hits) == 3


def test_enough_candidates_rank_by_every_word(store: PostgresStore) -> None:
    hits = store.search_lexical("big", "cell protein", 10)
    assert sorted(h.chunk.doc_id for h in hits) == sorted(f"d{i}" for i in range(10))


def test_migration_recomposes_text_folded_before(pg_url: str) -> None:
    import psycopg

    with PostgresStore(pg_url) as s:
        s.create_collection("ja", embedder=EMB.name, dim=EMB.dim)
        s.write("ja", [make_document("ja", ["データベース を 使います"], embedder=EMB)])
    with psycopg.connect(pg_url, autocommit=True) as conn:  # as llmkit's schema 1 stored it: kana decomposed
        conn.execute("UPDATE llmkit_chunks SET search_text = normalize(text, NFKD)")
        conn.execute("DELETE FROM llmkit_migrations WHERE version > 1")
    with PostgresStore(pg_url) as s:
        assert s.migrate()[0] == 1
        assert [h.chunk.doc_id for h in s.search_lexical("ja", "データベース", 3)] == ["ja"]
