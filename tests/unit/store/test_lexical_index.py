"""The in-memory BM25 index gives FTS5's own rankings and scores, and stays in step with the store."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from llmkit.store.lexical_index import LexicalIndex, tokens
from llmkit.store.sqlite import SQLiteStore
from llmkit.testing.store_contract import EMBEDDER, NAME, make_document

WORDS = (
    "run running runs runner café cafe naïve Straße strasse protein proteins cell cells cellular gene genes"
    " expression tumour tumor mouse mice study studies effect effects snake_case x-ray 2024 3.5 CO2 ÆON"
).split()
QUERIES = [
    "running proteins",
    "cafe naive",
    "Straße STRASSE",
    "cell cellular cells gene",
    "snake_case effects",  # a two-token phrase: FTS5 answers this one
    "x-ray 2024",
    "the of and",  # function words only: kept
    "tumour mice expression study",
    "zzz_not_there qqq",
    "mouse",
]


def _texts(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 40))) for _ in range(n)]


def _fill(store: SQLiteStore, n: int = 300) -> None:
    store.create_collection(NAME, embedder=EMBEDDER.name, dim=EMBEDDER.dim)
    texts = _texts(n)
    store.write(NAME, [make_document(f"d{i}", texts[i : i + 3]) for i in range(0, n, 3)])


def _answers(store: SQLiteStore, k: int) -> list[list[tuple[str, float]]]:
    return [[(h.chunk.id, h.score) for h in store.search_lexical(NAME, q, k)] for q in QUERIES]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    s = SQLiteStore(tmp_path / "s.db", bm25_memory=(1, 10_000), bm25_warmup=1_000_000)  # built when asked
    _fill(s)
    yield s
    s.close()


@pytest.mark.parametrize("k", [1, 7, 50, 1000])
def test_same_ranking_and_scores_as_fts5(store: SQLiteStore, k: int) -> None:
    before = _answers(store, k)  # FTS5's answers
    assert store.build_lexical_index(NAME)
    after = _answers(store, k)
    assert after == before  # ids, order and float scores, bit for bit
    assert max(map(len, after)) >= min(k, 100) and not after[QUERIES.index("zzz_not_there qqq")]


FILTERS = [
    {"doc_id": {"$nin": ["d0", "d3", "d6"]}},  # keeps most chunks
    {"$or": [{"doc_id": "d3"}, {"heading": "none has one"}]},  # keeps three: the whole ranking gets checked
    {"page": None},  # every chunk
    {"doc_id": "d3"},  # names a few chunks: only those are ranked
    {"doc_id": {"$in": ["d3", "d42", "nowhere"]}, "page": None},
]


@pytest.mark.parametrize("flt", FILTERS)
def test_filtered_search_checks_the_filter_on_the_in_memory_ranking_with_fts5s_results(
    store: SQLiteStore, flt: dict[str, object]
) -> None:
    def answers() -> list[list[tuple[str, float]]]:
        return [[(h.chunk.id, h.score) for h in store.search_lexical(NAME, q, 7, filter=flt)] for q in QUERIES]

    before = answers()  # FTS5's, the filter applied in SQL
    assert store.build_lexical_index(NAME)
    seen: list[str] = []
    store._conn().set_trace_callback(seen.append)
    assert answers() == before  # ids, order and float scores, bit for bit
    ranked_by_fts5 = [q for q in seen if "bm25(" in q]  # (tokenising a query also runs a MATCH)
    assert len(ranked_by_fts5) == 2  # the two queries with a phrase of several tokens: FTS5 matches those
    assert all('"snake case"' in q or '"zzz not there"' in q for q in ranked_by_fts5)


def test_a_filter_naming_only_missing_documents_finds_nothing(store: SQLiteStore) -> None:
    assert store.build_lexical_index(NAME)
    assert store.search_lexical(NAME, "mouse", 5, filter={"doc_id": "nowhere"}) == []


def test_follows_writes_and_deletes(store: SQLiteStore) -> None:
    assert store.build_lexical_index(NAME)
    assert store.search_lexical(NAME, "quokka", 5) == []
    store.write(NAME, [make_document("new", ["a quokka is a small marsupial"])])
    assert [h.chunk.doc_id for h in store.search_lexical(NAME, "quokka", 5)] == ["new"]
    assert store.build_lexical_index(NAME)
    assert [h.chunk.doc_id for h in store.search_lexical(NAME, "quokka", 5)] == ["new"]
    store.delete_document(NAME, "new")
    assert store.search_lexical(NAME, "quokka", 5) == []


def test_built_in_the_background_after_the_warm_up(store: SQLiteStore, tmp_path: Path) -> None:
    reference = _answers(store, 10)
    with SQLiteStore(store.path, bm25_memory=(1, 10_000)) as other:  # the default warm-up: 3 searches
        assert _answers(other, 10) == reference  # 10 searches: the build started at the third
        deadline = time.monotonic() + 30
        while other._lexical._memory._indexes.get(1) is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert other._lexical._memory._indexes[1][1] is not None
        assert _answers(other, 10) == reference


def test_filters_and_sizes_out_of_range_use_fts5(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "small.db", bm25_memory=(1_000, 10_000), bm25_warmup=0) as small:
        _fill(small)
        assert not small.build_lexical_index(NAME)  # 300 chunks < 1,000
        assert small.search_lexical(NAME, "mouse", 3)
    with SQLiteStore(tmp_path / "f.db", bm25_memory=(1, 10_000), bm25_warmup=0) as store:
        _fill(store)
        hits = store.search_lexical(NAME, "mouse", 50, filter={"doc_id": "d3"})
        assert hits and {h.chunk.doc_id for h in hits} == {"d3"}


def test_close_while_building_is_safe(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db", bm25_memory=(1, 10_000), bm25_warmup=1)
    _fill(store, 900)
    store.search_lexical(NAME, "mouse", 3)  # starts a build
    store.close()  # waits for it, then closes the connections


def test_tokens_are_fts5s_own(store: SQLiteStore) -> None:
    cache: dict[str, tuple[str, ...]] = {}
    conn = store._conn()
    assert tokens(conn, ["running", "Straße", "snake case", "naïve", "🙂"], cache) == [
        ("run",),
        ("straß",),  # unicode61 folds case and accents, not "ß"
        ("snake", "case"),
        ("naiv",),
        ("🙂",),
    ]
    assert cache["running"] == ("run",)


def test_index_search_skips_unknown_terms_and_refuses_phrases() -> None:
    idx = LexicalIndex(
        0,
        np.array([10, 11, 12]),
        np.full(3, 1.2),
        {"cat": 0, "dog": 1},
        np.array([0, 2, 3]),
        np.array([0, 2, 1], dtype=np.int32),
        np.array([1.0, 2.0, 1.0], dtype=np.float32),
    )
    keys, scores = idx.search([["cat"], ["emu"], []], 5)
    assert keys.tolist() == [12, 10] and scores[0] > scores[1] > 0
    assert idx.search([["hot", "dog"]], 5) is None
    assert idx.search([["emu"]], 5)[0].tolist() == []
