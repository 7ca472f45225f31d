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


def test_dense_filter_is_checked_on_candidates_and_keeps_the_graphs_recall(store: SQLiteStore) -> None:
    ids = [f"d{i}#{j}" for i in range(DOCS) for j in range(2)]
    matrix = store.get_vectors(NAME, ids)
    seen = _statements(store)
    plain, filtered = [], []
    for q in range(30):
        vector = EMBEDDER.embed([f"common w{q} text"])[0]
        order = [ids[i] for i in np.argsort(-(matrix @ vector), kind="stable")]
        hits = store.search_dense(NAME, vector, 10, filter={"shard": 3})
        assert len(hits) == 10 and all(_doc(h.chunk.id) % 10 == 3 for h in hits)
        exact = {i for i in order if _doc(i) % 10 == 3}
        filtered.append(len({h.chunk.id for h in hits} & set([i for i in order if i in exact][:10])) / 10)
        plain.append(len({h.chunk.id for h in store.search_dense(NAME, vector, 10)} & set(order[:10])) / 10)
    # HNSW is approximate (about 0.8 recall@10 on these hash vectors): the filter must not cost recall
    assert np.mean(filtered) >= np.mean(plain) - 0.05
    assert _full_scans(seen) == []


def test_lexical_filter_is_checked_on_tantivys_candidates_in_tantivys_order(store: SQLiteStore) -> None:
    seen = _statements(store)
    hits = store.search_lexical(NAME, "w3 w5 text", 10, filter={"shard": {"$in": [3, 5]}})
    every = [h for h in store.search_lexical(NAME, "w3 w5 text", 2 * DOCS) if _doc(h.chunk.id) % 10 in (3, 5)]
    assert [h.score for h in hits] == [h.score for h in every[:10]]
    for hit in hits:  # the same chunks, but where scores tie at a cut tantivy may have kept another of them
        assert hit.chunk.id in {h.chunk.id for h in every if h.score == hit.score}
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


def test_candidate_checks_and_document_reads_look_rows_up_instead_of_walking_the_collection(
    store: SQLiteStore,
) -> None:
    seen = _statements(store)
    store.search_dense(NAME, EMBEDDER.embed(["common"])[0], 10, filter={"shard": 3})
    store.document_chunks(NAME, ["d1", "d2"])
    checks = [s for s in seen if "json_each" in s]
    assert len(checks) >= 2
    conn = store._conn()
    for sql in checks:
        plan = " | ".join(row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}"))
        assert "(collection_id=?)" not in plan, (sql, plan)  # no walk over a whole collection's index


@pytest.mark.parametrize(
    ("flt", "docs"),
    [
        ({"doc_id": "d7"}, {7}),
        ({"source": {"$in": ["d12.txt", "d99.txt", "nowhere.txt"]}}, {12, 99}),
        ({"$and": [{"doc_id": {"$in": ["d7", "d8"]}}, {"shard": 8}]}, {8}),
        ({"content_type": {"$eq": "text/plain"}, "doc_id": "d1234"}, {1234}),
        ({"$or": [{"doc_id": "d7"}, {"source": "d99.txt", "shard": 9}]}, {7, 99}),
    ],
)
def test_a_filter_naming_documents_reads_only_their_chunks(
    store: SQLiteStore, flt: dict[str, object], docs: set[int]
) -> None:
    seen = _statements(store)
    dense = store.search_dense(NAME, EMBEDDER.embed(["common"])[0], 10, filter=flt)
    lexical = store.search_lexical(NAME, "common", 10, filter=flt)
    for hits in (dense, lexical):
        assert {_doc(h.chunk.id) for h in hits} == docs and len(hits) == 2 * len(docs)
    assert not [s for s in seen if "FROM chunks c WHERE c.collection_id =" in s]  # no read of every chunk
    conn = store._conn()
    through_documents = [s for s in seen if "FROM documents d CROSS JOIN chunks c" in s]
    assert len(through_documents) == 2  # the dense and the lexical search, each once
    for sql in through_documents:
        plan = " | ".join(row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}"))
        assert "USING INDEX chunks_doc (doc_rowid=?)" in plan, plan


def test_lexical_search_within_named_documents_ranks_only_their_chunks_on_tantivy(store: SQLiteStore) -> None:
    """Not FTS5 (which ranks every chunk holding a query word), and tantivy's scores, as unfiltered (to
    float rounding: tantivy may add a chunk's term scores in another order)."""
    query, docs = "common w7 more", {7, 8, 99}
    seen = _statements(store)
    hits = store.search_lexical(NAME, query, 6, filter={"doc_id": {"$in": [f"d{d}" for d in docs]}})
    assert not [s for s in seen if "bm25(" in s]
    everything = store.search_lexical(NAME, query, 2 * DOCS)  # "common" is in every chunk
    want = [h for h in everything if _doc(h.chunk.id) in docs]
    assert [h.chunk.id for h in hits][:2] == [h.chunk.id for h in want][:2] == ["d7#0", "d7#1"]
    assert sorted(h.chunk.id for h in hits) == sorted(h.chunk.id for h in want)
    assert [h.score for h in hits] == pytest.approx([h.score for h in want], rel=1e-6)


def test_a_filter_naming_documents_with_many_chunks_keeps_checking_candidates(store: SQLiteStore) -> None:
    """Every document is text/plain: reading their chunks would read the collection, candidates are cheaper."""
    seen = _statements(store)
    dense = store.search_dense(NAME, EMBEDDER.embed(["common"])[0], 10, filter={"content_type": "text/plain"})
    assert len(dense) == 10 and _full_scans(seen) == []
    assert not [s for s in seen if "FROM documents d CROSS JOIN chunks c" in s]


def test_a_filter_that_only_may_name_documents_still_reads_the_collection(store: SQLiteStore) -> None:
    """``$or`` (and ``$ne``, ``$nin``) do not require a document field, so nothing can be narrowed."""
    flt = {"$or": [{"doc_id": "d7"}, {"rare": True}]}
    hits = store.search_dense(NAME, EMBEDDER.embed(["common"])[0], 20, filter=flt)
    assert {_doc(h.chunk.id) for h in hits} == {7} | RARE


def test_a_filter_naming_fifty_thousand_documents_binds_them_as_one_parameter(store: SQLiteStore) -> None:
    names = [f"d{i}" for i in range(50_000)]  # far past SQLite's limit on bound parameters
    hits = store.search_dense(NAME, EMBEDDER.embed(["common"])[0], 10, filter={"doc_id": {"$in": names}})
    assert len(hits) == 10


def test_fts5_ranks_its_matches_once_for_a_filtered_query(tmp_path) -> None:
    """A plain ``rowid IN (...)`` next to MATCH is handed to FTS5, which then evaluated the MATCH once per
    allowed rowid: seconds for a filter keeping a 10k-chunk collection whole. The filter must stay outside."""
    with SQLiteStore(tmp_path / "s.db", text_index_threshold=-1, bm25_memory=(0, 0)) as s:
        s.create_collection(NAME, embedder=EMBEDDER.name, dim=EMBEDDER.dim)
        s.write(NAME, [make_document(f"d{i}", [f"common word {i}"], metadata={"shard": i % 2}) for i in range(40)])
        seen = _statements(s)
        hits = s.search_lexical(NAME, "common", 50, filter={"shard": 1})
        assert {_doc(h.chunk.id) % 2 for h in hits} == {1} and len(hits) == 20
        (sql,) = [q for q in seen if " MATCH " in q]
        plan = [row[3] for row in s._conn().execute(f"EXPLAIN QUERY PLAN {sql}")]
        fts_steps = [step for step in plan if "VIRTUAL TABLE INDEX" in step]
        assert fts_steps and all(":=" not in step for step in fts_steps), plan  # no rowid constraint in FTS5


@pytest.mark.parametrize(
    "flt",
    [
        {"doc_id": "d7"},
        {"doc_id": {"$in": ["d7", "d8", "nowhere"]}, "shard": {"$ne": 8}},
        {"$or": [{"doc_id": "d7"}, {"$and": [{"source": "d12.txt"}, {"rare": False}]}]},
        {"$and": [{"$or": [{"doc_id": "d1"}, {"doc_id": "d2"}]}, {"$or": [{"doc_id": "d2"}, {"doc_id": "d3"}]}]},
        {"$or": [{"doc_id": "d7"}, {"rare": True}]},  # not narrowed: a branch names no document
        {"source": {"$nin": ["d1.txt"]}, "content_type": "text/plain"},
    ],
)
def test_reading_through_the_documents_finds_exactly_the_rows_a_full_read_finds(
    store: SQLiteStore, flt: dict[str, object]
) -> None:
    from dataclasses import replace

    from llmkit.store.sqlite_rows import CompiledFilter

    compiled = CompiledFilter.of(flt)
    conn = store._conn()
    cid = conn.execute("SELECT id FROM collections WHERE name = ?", (NAME,)).fetchone()[0]
    narrowed = {r[0] for r in conn.execute(*compiled.rowids(cid))}
    everything = {r[0] for r in conn.execute(*replace(compiled, documents=None).rowids(cid))}
    assert narrowed == everything
