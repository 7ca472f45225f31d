from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
from retrieve_helpers import COLLECTION, CORPUS

from llmkit.config import RetrievalSettings
from llmkit.errors import InputError, NotFound
from llmkit.retrieve import Retriever, weighted_rrf
from llmkit.testing import HashEmbedder

IDS = {cid for cid, *_ in CORPUS}


def _ids(hits: Sequence[Any]) -> list[str]:
    return [h.chunk.id for h in hits]


def _retriever(store: Any, embedder: Any, **settings: Any) -> Retriever:
    return Retriever(store, embedder, RetrievalSettings(**settings))


@dataclass
class PinnedEmbedder(HashEmbedder):
    """Embeds the texts in ``pins`` as if they were other texts, to steer the dense side."""

    pins: dict[str, str] = field(default_factory=dict)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return super().embed([self.pins.get(t, t) for t in texts])


# ----------------------------------------------------------------------------- modes


def test_dense_mode_ranks_by_cosine_and_embeds_once(store: Any, embedder: HashEmbedder) -> None:
    hits = _retriever(store, embedder).search(COLLECTION, "cat on the mat", mode="dense", k=3)
    assert set(_ids(hits[:2])) == {"c1", "c2"}
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    q = embedder.embed(["cat on the mat"])[0]
    assert hits[0].score == pytest.approx(float(q @ embedder.embed([hits[0].chunk.text])[0]), abs=1e-5)
    assert embedder.calls == 3  # the search, then the two above
    assert all(h.explain is None for h in hits)


def test_hybrid_reads_only_the_fused_winners_chunks(store: Any, embedder: HashEmbedder) -> None:
    hits = _retriever(store, embedder, candidates=7).search(COLLECTION, "cat in the garden", k=2, explain=True)
    assert len(hits) == 2 and all(h.chunk.text for h in hits)
    if hasattr(store, "calls"):
        assert [c for c in store.calls if c[0] == "get_chunks"] == [("get_chunks", {"ids": _ids(hits)})]


def test_a_winner_deleted_before_its_chunk_is_read_is_left_out(
    store: Any, embedder: HashEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    r = _retriever(store, embedder)
    before = _ids(r.search(COLLECTION, "cat in the garden", k=3))
    read = store.get_chunks
    monkeypatch.setattr(store, "get_chunks", lambda c, ids: read(c, [i for i in ids if i != before[0]]))
    hits = r.search(COLLECTION, "cat in the garden", k=3, explain=True)
    assert _ids(hits) == before[1:] and [h.explain.fused_score for h in hits] == [h.score for h in hits]


def test_lexical_mode_does_not_embed(store: Any, embedder: HashEmbedder) -> None:
    hits = _retriever(store, embedder).search(COLLECTION, "qubits", mode="lexical")
    assert _ids(hits) == ["c4"]
    assert embedder.calls == 0


def test_hybrid_mode_fuses_both_sides(store: Any, embedder: HashEmbedder) -> None:
    r = _retriever(store, embedder, candidates=4, rrf_k=10, lexical_weight=0.5, dense_weight=2.0)
    hits = r.search(COLLECTION, "cat in the garden", k=3)
    lex = store.search_lexical(COLLECTION, "cat in the garden", 4)
    den = store.search_dense(COLLECTION, embedder.embed(["cat in the garden"])[0], 4)
    expected = weighted_rrf({"lexical": _ids(lex), "dense": _ids(den)}, {"lexical": 0.5, "dense": 2.0}, k=10)[:3]
    assert [(h.chunk.id, h.score) for h in hits] == [(d, pytest.approx(s)) for d, s in expected]


def test_default_settings_are_hybrid_top_5(store: Any, embedder: HashEmbedder) -> None:
    hits = Retriever(store, embedder).search(COLLECTION, "the cat")
    assert len(hits) == 5 and embedder.calls == 1
    assert 0 < hits[0].score <= 2 / (RetrievalSettings().rrf_k + 1)


def test_k_larger_than_collection_returns_everything_once(store: Any, embedder: HashEmbedder) -> None:
    for mode in ("dense", "hybrid"):
        hits = _retriever(store, embedder).search(COLLECTION, "cat", k=500, mode=mode)
        assert sorted(_ids(hits)) == sorted(IDS)
    assert len(_retriever(store, embedder).search(COLLECTION, "cat", k=500, mode="lexical")) == 3


def test_search_many_matches_search_and_embeds_in_one_batch(store: Any, embedder: HashEmbedder) -> None:
    r = _retriever(store, embedder)
    queries = ["cat mat", "install llmkit", "quantum"]
    many = r.search_many(COLLECTION, queries, explain=True)
    assert embedder.calls == 1
    assert many == [r.search(COLLECTION, q, explain=True) for q in queries]
    assert r.search_many(COLLECTION, []) == []


# ----------------------------------------------------------------------------- explain


def test_explain_dense_fills_the_dense_side(store: Any, embedder: HashEmbedder) -> None:
    hits = _retriever(store, embedder).search(COLLECTION, "cat mat", mode="dense", explain=True)
    for rank, h in enumerate(hits, 1):
        e = h.explain
        assert (e.dense_rank, e.dense_score, e.fused_score) == (rank, h.score, h.score)
        assert (e.lexical_rank, e.lexical_score, e.mmr_rank) == (None, None, None)


def test_explain_lexical_fills_the_lexical_side(store: Any, embedder: HashEmbedder) -> None:
    hits = _retriever(store, embedder).search(COLLECTION, "cat garden", mode="lexical", explain=True)
    assert hits and hits[0].chunk.id == "c3"
    for rank, h in enumerate(hits, 1):
        e = h.explain
        assert (e.lexical_rank, e.lexical_score, e.fused_score) == (rank, h.score, h.score)
        assert (e.dense_rank, e.dense_score) == (None, None)


def test_explain_hybrid_gives_every_hit_its_dense_cosine(store: Any) -> None:
    # the dense side sees the query as the physics text; the lexical side matches the cat texts
    emb = PinnedEmbedder(dim=256, name="hash-256", pins={"cat": CORPUS[3][2]})
    r = _retriever(store, emb, candidates=1, lexical_weight=2.0)
    (cat,) = r.search(COLLECTION, "cat", k=1, explain=True)
    assert cat.chunk.id in {"c1", "c2", "c3"}
    assert (cat.explain.lexical_rank, cat.explain.dense_rank) == (1, None)
    qv = emb.embed(["cat"])[0]
    assert cat.explain.dense_score == pytest.approx(float(qv @ emb.embed([cat.chunk.text])[0]), abs=1e-5)
    assert _ids(r.search(COLLECTION, "cat", k=1, mode="dense")) == ["c4"]  # so the dense side did not have it
    assert cat.explain.fused_score == cat.score == pytest.approx(2 / (RetrievalSettings().rrf_k + 1))


def test_explain_hybrid_ranks_and_scores_agree_with_each_side(store: Any, embedder: HashEmbedder) -> None:
    hits = _retriever(store, embedder, candidates=10).search(COLLECTION, "cat garden", k=7, explain=True)
    lex = {sc.chunk.id: (r, sc.score) for r, sc in enumerate(store.search_lexical(COLLECTION, "cat garden", 10), 1)}
    qv = embedder.embed(["cat garden"])[0]
    den = {sc.chunk.id: (r, sc.score) for r, sc in enumerate(store.search_dense(COLLECTION, qv, 10), 1)}
    for h in hits:
        e = h.explain
        assert (e.lexical_rank, e.lexical_score) == lex.get(h.chunk.id, (None, None))
        assert (e.dense_rank, e.dense_score) == den[h.chunk.id]
        assert e.fused_score == h.score and e.mmr_rank is None


# ----------------------------------------------------------------------------- filters


def test_filter_is_passed_to_both_sides(embedder: HashEmbedder, store: Any) -> None:
    flt = {"lang": "de"}
    hits = _retriever(store, embedder).search(COLLECTION, "Katze Matte", filter=flt)
    assert _ids(hits) == ["c6"]
    if hasattr(store, "calls"):
        assert [c[1]["filter"] for c in store.calls if c[0] in ("dense", "lexical")] == [flt, flt]


def test_filter_on_page_range_and_source(store: Any, embedder: HashEmbedder) -> None:
    r = _retriever(store, embedder)
    hits = r.search(COLLECTION, "cat", k=10, mode="dense", filter={"page": {"$gte": 2}, "lang": "en"})
    assert set(_ids(hits)) == {"c2", "c3", "c7"}
    assert _ids(r.search(COLLECTION, "cat", filter={"source": "nowhere.md"})) == []


@pytest.mark.parametrize("bad", [{"page": {"$regex": "x"}}, {"$or": "nope"}, {"": 1}, {"page": [1, 2]}])
def test_bad_filter_is_an_input_error(store: Any, embedder: HashEmbedder, bad: dict[str, Any]) -> None:
    with pytest.raises(InputError):
        _retriever(store, embedder).search(COLLECTION, "cat", filter=bad)


# ----------------------------------------------------------------------------- MMR


@pytest.mark.parametrize("mode", ["dense", "hybrid", "lexical"])
def test_mmr_keeps_near_duplicates_apart(store: Any, embedder: HashEmbedder, mode: str) -> None:
    r = _retriever(store, embedder)
    plain = r.search(COLLECTION, "the cat sat on the mat", k=2, mode=mode)
    assert set(_ids(plain)) == {"c1", "c2"}  # without MMR both copies fill the top
    diverse = r.search(COLLECTION, "the cat sat on the mat", k=2, mode=mode, mmr=True, mmr_lambda=0.3, explain=True)
    assert len(diverse) == 2 and not {"c1", "c2"} <= set(_ids(diverse))
    assert diverse[0].chunk.id in {"c1", "c2"}
    assert [h.explain.mmr_rank for h in diverse] == [1, 2]


def test_mmr_with_lambda_one_keeps_the_relevance_order(store: Any, embedder: HashEmbedder) -> None:
    r = _retriever(store, embedder, mmr=True, mmr_lambda=1.0)
    assert _ids(r.search(COLLECTION, "cat garden", k=4)) == _ids(r.search(COLLECTION, "cat garden", k=4, mmr=False))


def test_mmr_on_an_empty_result(store: Any, embedder: HashEmbedder) -> None:
    r = _retriever(store, embedder, mmr=True)
    assert r.search(COLLECTION, "zzzunknownword", mode="lexical") == []
    assert r.search(COLLECTION, "cat", filter={"lang": "fr"}, explain=True) == []


# ----------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("query", ["", "   ", "\n\t ", None, 42, b"cat"])
def test_empty_or_non_text_query_is_an_input_error(store: Any, embedder: HashEmbedder, query: Any) -> None:
    with pytest.raises(InputError):
        _retriever(store, embedder).search(COLLECTION, query)
    with pytest.raises(InputError):
        _retriever(store, embedder).search_many(COLLECTION, ["cat", query])
    assert embedder.calls == 0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"k": 0},
        {"k": -1},
        {"k": True},
        {"k": 2.5},
        {"k": 10**9},
        {"mode": "fuzzy"},
        {"mmr": True, "mmr_lambda": 1.5},
        {"mmr": True, "mmr_lambda": "high"},
        {"mode": ["dense"]},
    ],
)
def test_bad_options_are_input_errors(store: Any, embedder: HashEmbedder, kwargs: dict[str, Any]) -> None:
    with pytest.raises(InputError):
        _retriever(store, embedder).search(COLLECTION, "cat", **kwargs)


def test_unknown_collection_is_not_found(store: Any, embedder: HashEmbedder) -> None:
    with pytest.raises(NotFound):
        _retriever(store, embedder).search("nope", "cat")


@pytest.mark.parametrize("mode", ["hybrid", "dense", "lexical"])
@pytest.mark.parametrize(
    "query",
    ["cat \udcff mat", 'cat" OR NOT (mat', "*", "NEAR(cat mat)", "cat\x00mat", "🐈 cat", "cat " * 20_000, "-", "'"],
)
def test_hostile_queries_do_not_crash(store: Any, embedder: HashEmbedder, mode: str, query: str) -> None:
    hits = _retriever(store, embedder).search(COLLECTION, query, mode=mode, explain=True)
    assert all(h.chunk.id in IDS for h in hits)


def test_concurrent_searches_agree_with_sequential(store: Any, embedder: HashEmbedder) -> None:
    r = _retriever(store, embedder)
    queries = ["cat", "garden roses", "install", "quantum qubits", "Katze"] * 8
    expected = [r.search(COLLECTION, q, explain=True) for q in queries]
    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(lambda q: r.search(COLLECTION, q, explain=True), queries))
    assert got == expected
