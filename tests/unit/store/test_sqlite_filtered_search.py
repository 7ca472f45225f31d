"""Filtered search on a large SQLite collection: the filter is checked on HNSW's and tantivy's best candidates
(``over_fetch``), never by reading the whole collection, and a filter too rare for that still gets every match."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from llmkit.store.sqlite import SQLiteStore
from llmkit.testing.store_contract import EMBEDDER, make_document

NAME = "docs"
DOCS = 2_500  # two chunks each: 5,000 chunks, more than over_fetch.LIMIT candidates
RARE = {7, 1_234, 2_222}  # the only documents with {"rare": True}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SQLiteStore]:
    path = tmp_path_factory.mktemp("filtered") / "s.db"
    with SQLiteStore(path, hnsw_threshold=0, text_index_threshold=0) as s:
        s.create_collection(NAME, embedder=EMBEDDER.name, dim=EMBEDDER.dim)
        s.write(
            NAME,
            [
                make_document(
                    f"d{i}",
                    [f"common w{i % 50} w{i % 37} text {i}", f"common more w{i % 11} of {i}"],
                    metadata={"shard": i % 10, "rare": i in RARE},
                )
                for i in range(DOCS)
            ],
        )
        s.search_lexical(NAME, "common", 1)  # builds the tantivy index (a filtered query never builds it)
        yield s


def _doc(chunk_id: str) -> int:
    return int(chunk_id.split("#")[0][1:])


def _statements(store: SQLiteStore) -> list[str]:
    seen: list[str] = []
    store._conn().set_trace_callback(seen.append)
    return seen


def _full_scans(statements: list[str]) -> list[str]:
    """The statements that filter the whole collection (dense) or go to FTS5 (lexical); values come bound."""
    return [s for s in statements if "FROM chunks c WHERE c.collection_id =" in s or " MATCH " in s]


def test_dense_filter_is_checked_on_candidates_with_the_exact_answer(store: SQLiteStore) -> None:
    seen = _statements(store)
    overlaps = []
    for q in range(20):
        vector = EMBEDDER.embed([f"common w{q} text"])[0]
        hits = store.search_dense(NAME, vector, 10, filter={"shard": 3})
        assert len(hits) == 10 and all(_doc(h.chunk.id) % 10 == 3 for h in hits)
        every = store.search_dense(NAME, vector, 2 * DOCS)  # the whole graph, filtered here
        exact = [h.chunk.id for h in every if _doc(h.chunk.id) % 10 == 3][:10]
        overlaps.append(len({h.chunk.id for h in hits} & set(exact)) / 10)
    assert np.mean(overlaps) >= 0.95
    assert _full_scans(seen) == []


def test_lexical_filter_is_checked_on_tantivys_candidates_in_tantivys_order(store: SQLiteStore) -> None:
    seen = _statements(store)
    hits = store.search_lexical(NAME, "w3 w5 text", 10, filter={"shard": {"$in": [3, 5]}})
    every = store.search_lexical(NAME, "w3 w5 text", 2 * DOCS)
    assert [h.chunk.id for h in hits] == [h.chunk.id for h in every if _doc(h.chunk.id) % 10 in (3, 5)][:10]
    assert [h.score for h in hits] == [h.score for h in every if _doc(h.chunk.id) % 10 in (3, 5)][:10]
    assert _full_scans(seen) == []


def test_a_filter_too_rare_to_over_fetch_still_finds_every_match(store: SQLiteStore) -> None:
    seen = _statements(store)
    dense = store.search_dense(NAME, EMBEDDER.embed(["common"])[0], 10, filter={"rare": True})
    lexical = store.search_lexical(NAME, "common", 10, filter={"rare": True})
    for hits in (dense, lexical):
        assert sorted({_doc(h.chunk.id) for h in hits}) == sorted(RARE) and len(hits) == 2 * len(RARE)
    assert len(_full_scans(seen)) == 2  # after 4,096 candidates each path fell back to filtering first


def test_a_filter_nothing_passes_and_a_query_no_chunk_matches(store: SQLiteStore) -> None:
    vector = EMBEDDER.embed(["common"])[0]
    assert store.search_dense(NAME, vector, 10, filter={"shard": 99}) == []
    assert store.search_lexical(NAME, "common", 10, filter={"shard": 99}) == []
    assert store.search_lexical(NAME, "absentword", 10, filter={"shard": 3}) == []
