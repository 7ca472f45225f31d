"""The contract every ``Store`` passes: subclass ``StoreContract`` and provide two fixtures.

    class TestSQLiteStore(StoreContract):
        @pytest.fixture
        def store(self, tmp_path):
            s = SQLiteStore(tmp_path / "s.db")
            yield s
            s.close()

        @pytest.fixture
        def reopen(self, tmp_path):
            opened = []
            def _reopen(old):               # close ``old``; open the same data again
                old.close()
                opened.append(SQLiteStore(tmp_path / "s.db"))
                return opened[-1]
            yield _reopen
            for s in opened:
                s.close()

Vectors come from ``HashEmbedder`` (dim 64), so the tests need no model. ``make_document`` builds a
well-formed ``DocumentWrite`` and is handy elsewhere too.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pytest

from llmkit.errors import InputError, NotFound
from llmkit.store.base import DocumentWrite, Store
from llmkit.store.filters import matches
from llmkit.testing.fakes import HashEmbedder
from llmkit.types import Chunk

EMBEDDER = HashEmbedder(dim=64)
NAME = "docs"


def make_document(
    doc_id: str,
    texts: Sequence[str],
    *,
    embedder: HashEmbedder = EMBEDDER,
    source: str | None = None,
    content_type: str = "text/plain",
    metadata: Mapping[str, Any] | None = None,
    chunk_metadata: Sequence[Mapping[str, Any]] | None = None,
    pages: Sequence[int | None] | None = None,
    headings: Sequence[str | None] | None = None,
    content_hash: str | None = None,
) -> DocumentWrite:
    """A ``DocumentWrite`` with one chunk per text (ids ``"<doc_id>#<i>"``) and vectors from ``embedder``."""
    source = source or f"{doc_id}.txt"
    chunks, offset = [], 0
    for i, text in enumerate(texts):
        chunks.append(
            Chunk(
                id=f"{doc_id}#{i}", doc_id=doc_id, source=source, text=text, index=i, start=offset,
                end=offset + len(text), page=pages[i] if pages else None, heading=headings[i] if headings else None,
                metadata=dict(chunk_metadata[i]) if chunk_metadata else {},
            )
        )  # fmt: skip
        offset += len(text) + 1
    vectors = embedder.embed(list(texts)) if texts else np.zeros((0, embedder.dim), dtype=np.float32)
    return DocumentWrite(
        doc_id, source, content_hash or f"sha-{hash(tuple(texts))}", content_type, chunks, vectors,
        title=f"Title {doc_id}", metadata=dict(metadata or {}),
    )  # fmt: skip


def _corpus() -> list[DocumentWrite]:
    """Four documents covering every filterable field; every chunk holds the word "common"."""
    return [
        make_document(
            "alpha", ["common apple orchard", "common banana split"], source="fruit/a.md",
            content_type="text/markdown", metadata={"lang": "en", "year": 2021, "draft": False},
            chunk_metadata=[{"part": "intro"}, {"part": "body", "score": 0.5}], pages=[1, 2],
            headings=["Intro", "Body"],
        ),
        make_document(
            "beta", ["common cherry pie", "common date palm"], source="fruit/b.pdf", content_type="application/pdf",
            metadata={"lang": "de", "year": 2023, "draft": True}, pages=[3, 4],
        ),
        make_document(
            "gamma", ["common elderberry wine"], source="c.txt", metadata={"lang": "fr", "year": 2022.5, "tag": None}
        ),
        make_document("delta", ["common fig jam"], source="d.txt", metadata={"year": "2020", "lang": "en"}),
    ]  # fmt: skip


def _fields(doc: DocumentWrite, chunk: Chunk) -> dict[str, Any]:
    builtins = {"source": doc.source, "doc_id": doc.id, "page": chunk.page, "heading": chunk.heading}
    return {**doc.metadata, **chunk.metadata, **builtins, "content_type": doc.content_type}


FILTERS: list[dict[str, Any]] = [
    {"lang": "en"},
    {"source": "fruit/b.pdf"},
    {"doc_id": "gamma"},
    {"content_type": "text/markdown"},
    {"heading": "Body"},
    {"page": {"$gte": 2, "$lt": 4}},
    {"page": None},
    {"year": {"$gt": 2021}},
    {"year": {"$lte": "2020"}},
    {"year": 2021},
    {"draft": True},
    {"draft": False},
    {"tag": None},
    {"lang": {"$ne": "en"}},
    {"lang": {"$in": ["de", "fr"]}},
    {"lang": {"$nin": ["de", "fr"]}},
    {"part": {"$in": ["body"]}, "score": {"$gte": 0.5}},
    {"$or": [{"lang": "fr"}, {"page": 1}]},
    {"$and": [{"lang": "en"}, {"source": {"$ne": "d.txt"}}]},
    {"missing_key": "x"},
]


class StoreContract:
    """Tests every ``Store`` must pass. Override the ``store`` and ``reopen`` fixtures."""

    @pytest.fixture
    def store(self) -> Store:
        raise NotImplementedError("a StoreContract subclass must provide the `store` fixture")

    @pytest.fixture
    def reopen(self) -> Callable[[Store], Store]:
        raise NotImplementedError("a StoreContract subclass must provide the `reopen` fixture")

    @pytest.fixture
    def filled(self, store: Store) -> Store:
        store.create_collection(NAME, embedder=EMBEDDER.name, dim=EMBEDDER.dim)
        store.write(NAME, _corpus())
        return store

    # collections ----------------------------------------------------------------------
    def test_create_get_list_delete_collection(self, store: Store) -> None:
        info = store.create_collection(NAME, embedder="e", dim=8)
        assert (info.name, info.embedder, info.dim, info.documents, info.chunks) == (NAME, "e", 8, 0, 0)
        assert store.create_collection(NAME, embedder="e", dim=8) == info  # idempotent
        store.create_collection("other", embedder="e", dim=8)
        assert [c.name for c in store.list_collections()] == [NAME, "other"]
        store.delete_collection(NAME)
        assert [c.name for c in store.list_collections()] == ["other"]
        with pytest.raises(NotFound):
            store.get_collection(NAME)
        with pytest.raises(NotFound):
            store.delete_collection(NAME)

    @pytest.mark.parametrize(("embedder", "dim"), [("other", 8), ("e", 9)])
    def test_create_mismatch_is_an_input_error(self, store: Store, embedder: str, dim: int) -> None:
        store.create_collection(NAME, embedder="e", dim=8)
        with pytest.raises(InputError, match="exists"):
            store.create_collection(NAME, embedder=embedder, dim=dim)

    @pytest.mark.parametrize(("name", "dim"), [("", 8), (NAME, 0), (NAME, -1), ("bad\x00name", 8)])
    def test_create_rejects_bad_arguments(self, store: Store, name: str, dim: int) -> None:
        with pytest.raises(InputError):
            store.create_collection(name, embedder="e", dim=dim)

    @pytest.mark.parametrize("name", ["a b", "x/y", "<b>x</b>", ".hidden", "-x", "x" * 65, "naïve", "x?y=1"])
    def test_create_refuses_names_the_http_api_cannot_address(self, store: Store, name: str) -> None:
        with pytest.raises(InputError, match="collection name"):
            store.create_collection(name, embedder="e", dim=8)
        assert store.list_collections() == []
        store.create_collection("Docs_2024.v1-" + "x" * 51, embedder="e", dim=8)  # 64 characters: the longest

    def test_collections_named_before_the_rule_stay_usable(self, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
        import re

        from llmkit.store import records

        odd = "old docs/<b>"
        monkeypatch.setattr(records, "COLLECTION_NAME", re.compile(".+"))  # as an older llmkit allowed
        store.create_collection(odd, embedder=EMBEDDER.name, dim=EMBEDDER.dim)
        monkeypatch.undo()
        store.create_collection(odd, embedder=EMBEDDER.name, dim=EMBEDDER.dim)  # ingest into it again
        store.write(odd, [make_document("a", ["kept apple"])])
        assert [h.chunk.id for h in store.search_lexical(odd, "apple", 3)] == ["a#0"]
        assert [c.name for c in store.list_collections()] == [odd] and store.get_collection(odd).chunks == 1
        store.delete_collection(odd)
        assert store.list_collections() == []

    def test_missing_collection_is_not_found_everywhere(self, store: Store) -> None:
        calls = [
            lambda: store.write("nope", [make_document("a", ["x"])]),
            lambda: store.document_hashes("nope", ["a"]),
            lambda: store.list_documents("nope"),
            lambda: store.delete_document("nope", "a"),
            lambda: store.get_chunks("nope", ["a#0"]),
            lambda: store.search_dense("nope", EMBEDDER.embed(["x"])[0], 3),
            lambda: store.search_lexical("nope", "x", 3),
            lambda: store.rank_dense("nope", EMBEDDER.embed(["x"])[0], 3),
            lambda: store.rank_lexical("nope", "x", 3),
        ]
        for call in calls:
            with pytest.raises(NotFound):
                call()

    # documents ------------------------------------------------------------------------
    def test_write_counts_hashes_and_listing(self, filled: Store) -> None:
        info = filled.get_collection(NAME)
        assert (info.documents, info.chunks) == (4, 6)
        hashes = filled.document_hashes(NAME, ["alpha", "gamma", "nope"])
        assert set(hashes) == {"alpha", "gamma"} and all(isinstance(h, str) for h in hashes.values())
        assert filled.document_hashes(NAME, []) == {}
        docs = filled.list_documents(NAME)
        assert [d.id for d in docs] == ["alpha", "beta", "delta", "gamma"]
        alpha = docs[0]
        assert (alpha.source, alpha.content_type, alpha.chunk_count, alpha.title) == (
            "fruit/a.md", "text/markdown", 2, "Title alpha",
        )  # fmt: skip
        assert alpha.metadata == {"lang": "en", "year": 2021, "draft": False} and alpha.updated_at
        assert [d.id for d in filled.list_documents(NAME, limit=2, offset=1)] == ["beta", "delta"]
        assert filled.list_documents(NAME, limit=0) == []

    def test_get_chunks_in_given_order_with_merged_metadata(self, filled: Store) -> None:
        chunks = filled.get_chunks(NAME, ["beta#1", "missing", "alpha#1", "alpha#0"])
        assert [c.id for c in chunks] == ["beta#1", "alpha#1", "alpha#0"]
        a1 = chunks[1]
        assert (a1.doc_id, a1.source, a1.text, a1.index, a1.page, a1.heading) == (
            "alpha", "fruit/a.md", "common banana split", 1, 2, "Body",
        )  # fmt: skip
        assert (a1.start, a1.end) == (21, 40)
        assert a1.metadata == {"lang": "en", "year": 2021, "draft": False, "part": "body", "score": 0.5}
        assert filled.get_chunks(NAME, []) == []

    def test_get_vectors(self, filled: Store) -> None:
        got = filled.get_vectors(NAME, ["beta#0", "alpha#1"])
        want = EMBEDDER.embed(["common cherry pie", "common banana split"])
        assert got.dtype == np.float32 and got.shape == (2, EMBEDDER.dim)
        np.testing.assert_allclose(got, want, atol=1e-6)
        with pytest.raises(NotFound):
            filled.get_vectors(NAME, ["alpha#0", "missing"])

    def test_replace_removes_old_chunks_everywhere(self, filled: Store) -> None:
        filled.write(NAME, [make_document("alpha", ["giraffe savanna"], content_hash="new")])
        assert filled.document_hashes(NAME, ["alpha"]) == {"alpha": "new"}
        assert filled.get_chunks(NAME, ["alpha#0", "alpha#1"])[0].text == "giraffe savanna"
        assert (filled.get_collection(NAME).documents, filled.get_collection(NAME).chunks) == (4, 5)
        assert filled.search_lexical(NAME, "banana apple orchard", 10) == []
        dense = filled.search_dense(NAME, EMBEDDER.embed(["common banana split"])[0], 10)
        assert "alpha#1" not in {h.chunk.id for h in dense} and len(dense) == 5
        assert filled.search_lexical(NAME, "giraffe", 3)[0].chunk.id == "alpha#0"

    def test_delete_document(self, filled: Store) -> None:
        assert filled.delete_document(NAME, "beta") is True
        assert filled.delete_document(NAME, "beta") is False
        assert filled.get_chunks(NAME, ["beta#0"]) == [] and filled.document_hashes(NAME, ["beta"]) == {}
        assert filled.search_lexical(NAME, "cherry", 5) == []
        ids = {h.chunk.id for h in filled.search_dense(NAME, EMBEDDER.embed(["cherry pie"])[0], 10)}
        assert ids == {"alpha#0", "alpha#1", "gamma#0", "delta#0"}

    def test_document_without_chunks(self, filled: Store) -> None:
        filled.write(NAME, [make_document("empty", [])])
        assert filled.document_hashes(NAME, ["empty"]) and filled.get_collection(NAME).chunks == 6
        assert filled.delete_document(NAME, "empty") is True

    def test_unicode_round_trip(self, filled: Store) -> None:
        text = "naïve café 🙂 中文 ∑ \u200b tab\tnew\nline"
        filled.write(NAME, [make_document("uni", [text], metadata={"ключ": "значение 🙂"})])
        (chunk,) = filled.get_chunks(NAME, ["uni#0"])
        assert chunk.text == text and chunk.metadata == {"ключ": "значение 🙂"}
        assert filled.search_lexical(NAME, "café", 1)[0].chunk.id == "uni#0"
        assert [h.chunk.id for h in filled.search_lexical(NAME, "cafe", 5, filter={"ключ": "значение 🙂"})] == ["uni#0"]

    @pytest.mark.parametrize(
        ("text", "query"),
        [("データベース を 使います", "データベース"), ("ひらがな ばら", "ばら"), ("ひらがな ばら", "ひらがな ばら"),
         ("हिन्दी भाषा का शब्द", "हिन्दी"), ("हिन्दी भाषा का शब्द", "भाषा"), ("हिन्दी भाषा का शब्द", "हिन्दी भाषा का शब्द"),
         ("Tiếng Việt có dấu", "việt")],
    )  # fmt: skip
    def test_lexical_finds_words_of_any_script(self, filled: Store, text: str, query: str) -> None:
        """Voicing marks (kana), vowel signs (Devanagari) and accents stay with their word on both sides."""
        filled.write(NAME, [make_document("script", [text])])
        assert [h.chunk.id for h in filled.search_lexical(NAME, query, 3)] == ["script#0"]

    @pytest.mark.parametrize(
        "problem", ["dim", "count", "nan", "dup_doc", "dup_chunk", "meta", "doc_id", "clash", "nul_text", "nul_meta"]
    )
    def test_bad_batch_writes_nothing(self, filled: Store, problem: str) -> None:
        good = make_document("new", ["new kiwi text"])
        bad = make_document("bad", ["bad one", "bad two"], metadata={"m": 1})
        replaced = make_document("alpha", ["replacement mango"])
        change: dict[str, Any] = {
            "dim": {"vectors": np.ones((2, EMBEDDER.dim + 1), np.float32)},
            "count": {"vectors": bad.vectors[:1]},
            "nan": {"vectors": np.full((2, EMBEDDER.dim), np.nan, np.float32)},
            "dup_doc": {"id": "new"},
            "dup_chunk": {"chunks": [bad.chunks[0], bad.chunks[0]]},
            "meta": {"metadata": {"x": {1, 2}}},
            "doc_id": {"id": "other"},
            # a chunk id that a stored document ("beta") already uses
            "clash": {"chunks": [bad.chunks[0], dataclasses.replace(bad.chunks[1], id="beta#0")]},
            # NUL is refused alike by every store (PostgreSQL cannot keep it in text or JSON)
            "nul_text": {"chunks": [bad.chunks[0], dataclasses.replace(bad.chunks[1], text="bad\x00two")]},
            "nul_meta": {"metadata": {"m": "a\x00b"}},
        }[problem]
        if problem == "dup_doc":
            bad = dataclasses.replace(bad, chunks=[dataclasses.replace(c, doc_id="new") for c in bad.chunks])
        bad = dataclasses.replace(bad, **change)
        with pytest.raises(InputError):
            filled.write(NAME, [good, replaced, bad])
        assert filled.document_hashes(NAME, ["new", "bad", "other"]) == {}
        assert filled.get_chunks(NAME, ["alpha#1"])[0].text == "common banana split"
        assert (filled.get_collection(NAME).documents, filled.get_collection(NAME).chunks) == (4, 6)
        assert filled.search_lexical(NAME, "kiwi mango", 5) == []
        filled.write(NAME, [good])  # the store is still writable afterwards
        assert filled.search_lexical(NAME, "kiwi", 5)[0].chunk.id == "new#0"

    # search ---------------------------------------------------------------------------
    def test_dense_ranking_and_scores(self, filled: Store) -> None:
        hits = filled.search_dense(NAME, EMBEDDER.embed(["common date palm"])[0], 3)
        assert hits[0].chunk.id == "beta#1" and hits[0].score == pytest.approx(1.0, abs=1e-4)
        scores = [h.score for h in hits]
        assert len(hits) == 3 and scores == sorted(scores, reverse=True) and all(-1 <= s <= 1.0001 for s in scores)
        query = EMBEDDER.embed(["banana orchard"])[0]
        everything = filled.search_dense(NAME, query, 100)
        assert len(everything) == 6
        for hit in everything:
            assert hit.score == pytest.approx(float(EMBEDDER.embed([hit.chunk.text])[0] @ query), abs=1e-4)
        assert filled.search_dense(NAME, query, 0) == []
        scaled = filled.search_dense(NAME, query * 3.0, 100)  # the query is normalised
        assert [h.chunk.id for h in scaled] == [h.chunk.id for h in everything]

    @pytest.mark.parametrize("vector", [np.zeros(64), np.ones(63), np.full(64, np.nan), np.ones((2, 64))])
    def test_dense_rejects_bad_vectors(self, filled: Store, vector: np.ndarray) -> None:
        with pytest.raises(InputError):
            filled.search_dense(NAME, vector, 3)

    def test_lexical_ranking(self, filled: Store) -> None:
        hits = filled.search_lexical(NAME, "cherry pie", 3)
        assert hits[0].chunk.id == "beta#0" and hits[0].score > 0
        hits = filled.search_lexical(NAME, "common", 10)
        assert len(hits) == 6 and [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
        assert len(filled.search_lexical(NAME, "common", 2)) == 2

    @pytest.mark.parametrize(
        "query",
        ['"', '""', "AND", "OR NOT", "NEAR(", "NEAR(a b", "*", "-", ":", "col:umn", "(((", ")", "a AND", "^x",
         "", "   ", "🙂🙂", "\x00", "\ud800 lone surrogate", "'; DROP TABLE chunks; --", "x" * 10_000,
         " ".join(f"w{i}" for i in range(3000)), "fig*", "{fig}", "fig + jam"],
    )  # fmt: skip
    def test_lexical_accepts_any_text(self, filled: Store, query: str) -> None:
        hits = filled.search_lexical(NAME, query, 5)
        assert isinstance(hits, list) and len(hits) <= 5
        assert filled.get_collection(NAME).chunks == 6

    def test_lexical_operators_are_plain_words(self, filled: Store) -> None:
        assert [h.chunk.id for h in filled.search_lexical(NAME, "fig* AND NOT:jam", 5)] == ["delta#0"]

    @pytest.mark.parametrize("flt", FILTERS, ids=[str(f) for f in FILTERS])
    def test_filters_dense_and_lexical(self, filled: Store, flt: dict[str, Any]) -> None:
        want = {c.id for d in _corpus() for c in d.chunks if matches(flt, _fields(d, c))}
        dense = filled.search_dense(NAME, EMBEDDER.embed(["common"])[0], 100, filter=flt)
        lexical = filled.search_lexical(NAME, "common", 100, filter=flt)
        assert {h.chunk.id for h in dense} == want
        assert {h.chunk.id for h in lexical} == want

    @pytest.mark.parametrize("flt", [None, *FILTERS[:4]], ids=["no filter", *(str(f) for f in FILTERS[:4])])
    @pytest.mark.parametrize("k", [0, 1, 3, 100])
    def test_rank_is_search_without_the_chunks(self, filled: Store, flt: dict[str, Any] | None, k: int) -> None:
        for query in ("common cherry", "fig", "zzz nothing"):
            vector = EMBEDDER.embed([query])[0]
            dense = [(h.chunk.id, h.score) for h in filled.search_dense(NAME, vector, k, filter=flt)]
            assert [(r.id, r.score) for r in filled.rank_dense(NAME, vector, k, filter=flt)] == dense
            lexical = [(h.chunk.id, h.score) for h in filled.search_lexical(NAME, query, k, filter=flt)]
            assert [(r.id, r.score) for r in filled.rank_lexical(NAME, query, k, filter=flt)] == lexical

    def test_rank_rejects_what_search_rejects(self, filled: Store) -> None:
        for call in (
            lambda: filled.rank_dense(NAME, np.zeros(64), 3),
            lambda: filled.rank_dense(NAME, EMBEDDER.embed(["x"])[0], -1),
            lambda: filled.rank_dense(NAME, EMBEDDER.embed(["x"])[0], 3, filter={"$or": []}),
            lambda: filled.rank_lexical(NAME, 42, 3),  # type: ignore[arg-type]
            lambda: filled.rank_lexical(NAME, "common", 3, filter={"x": {}}),
        ):
            with pytest.raises(InputError):
                call()
        assert filled.rank_lexical(NAME, 'NEAR( "', 5) == []

    def test_filter_reference_answers(self) -> None:
        """Pin the reference evaluator on a few cases, so the comparison above cannot drift with it."""
        corpus = _corpus()

        def ids(f: dict[str, Any]) -> set[str]:
            return {c.id for d in corpus for c in d.chunks if matches(f, _fields(d, c))}

        assert ids({"lang": {"$ne": "en"}}) == {"beta#0", "beta#1", "gamma#0"}
        assert ids({"year": {"$gt": 2021}}) == {"beta#0", "beta#1", "gamma#0"}
        assert ids({"page": None}) == {"gamma#0", "delta#0"}
        assert ids({"draft": False}) == {"alpha#0", "alpha#1"}

    @pytest.mark.parametrize(
        "flt",
        [{"page": {"$regex": "x"}}, {"$or": []}, {"lang": {"$in": []}}, {"": 1}, {'a"b': 1}, {"x": [1]},
         {"x": {"$gt": True}}, {"x": float("nan")}, {"$not": {"x": 1}}, "lang = 'en'", {"x": {}},
         {"lang": "e\x00n"}, {"lang": {"$in": ["en", "\x00"]}}],
    )  # fmt: skip
    def test_malformed_filters_are_input_errors(self, filled: Store, flt: Any) -> None:
        with pytest.raises(InputError):
            filled.search_dense(NAME, EMBEDDER.embed(["x"])[0], 3, filter=flt)
        with pytest.raises(InputError):
            filled.search_lexical(NAME, "common", 3, filter=flt)

    def test_collections_are_isolated(self, filled: Store) -> None:
        filled.create_collection("other", embedder=EMBEDDER.name, dim=EMBEDDER.dim)
        filled.write("other", [make_document("alpha", ["zucchini soup"])])  # same ids, other collection
        assert filled.get_collection(NAME).chunks == 6 and filled.get_collection("other").chunks == 1
        assert filled.search_lexical(NAME, "zucchini", 5) == []
        assert [h.chunk.id for h in filled.search_dense("other", EMBEDDER.embed(["apple"])[0], 5)] == ["alpha#0"]
        assert filled.get_chunks(NAME, ["alpha#0"])[0].text == "common apple orchard"
        filled.delete_collection("other")
        assert filled.get_collection(NAME).chunks == 6
        assert filled.search_lexical(NAME, "apple", 5)[0].chunk.id == "alpha#0"

    def test_persists_across_reopen(self, filled: Store, reopen: Callable[[Store], Store]) -> None:
        filled.delete_document(NAME, "delta")
        again = reopen(filled)
        assert again.get_collection(NAME).chunks == 5
        assert again.document_hashes(NAME, ["alpha", "delta"]).keys() == {"alpha"}
        assert again.search_lexical(NAME, "cherry", 1)[0].chunk.id == "beta#0"
        assert again.search_dense(NAME, EMBEDDER.embed(["common fig jam"])[0], 1)[0].chunk.id != "delta#0"
        again.write(NAME, [make_document("delta", ["common fig jam"])])
        assert again.search_dense(NAME, EMBEDDER.embed(["common fig jam"])[0], 1)[0].chunk.id == "delta#0"
        again.close()
        again.close()  # close is idempotent

    def test_threads_write_and_read_at_once(self, filled: Store) -> None:
        errors: list[BaseException] = []

        def writer(n: int) -> None:
            try:
                for i in range(15):
                    filled.write(NAME, [make_document(f"t{n}-{i}", [f"thread {n} text {i} common"])])
            except BaseException as e:
                errors.append(e)

        def reader() -> None:
            try:
                for _ in range(30):
                    filled.search_dense(NAME, EMBEDDER.embed(["thread text"])[0], 5)
                    filled.search_lexical(NAME, "thread common", 5, filter={"source": {"$ne": "x"}})
            except BaseException as e:
                errors.append(e)

        threads = [threading.Thread(target=writer, args=(n,)) for n in range(2)] + [threading.Thread(target=reader)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert filled.get_collection(NAME).documents == 4 + 30

    # re-embedding ---------------------------------------------------------------------
    def test_chunk_texts_pages_in_id_order(self, filled: Store) -> None:
        pages, after = [], None
        while page := filled.chunk_texts(NAME, after=after, limit=4):
            pages.append(page)
            after = page[-1][0]
        ids = [i for page in pages for i, _ in page]
        assert [len(p) for p in pages] == [4, 2] and ids == sorted(ids) and len(ids) == 6
        assert dict(p for page in pages for p in page)["beta#0"] == "common cherry pie"
        for bad in ({"limit": 0}, {"limit": "5"}, {"after": 3}):
            with pytest.raises(InputError):
                filled.chunk_texts(NAME, **bad)
        with pytest.raises(NotFound):
            filled.chunk_texts("nope")

    def test_replace_vectors_switches_embedder_and_dim(self, filled: Store, reopen: Callable[[Store], Store]) -> None:
        new = HashEmbedder(dim=32, name="hash-32")
        rows = filled.chunk_texts(NAME, limit=100)
        info = filled.replace_vectors(
            NAME, embedder=new.name, ids=[i for i, _ in rows], vectors=new.embed([t for _, t in rows])
        )
        assert (info.embedder, info.dim, info.chunks) == ("hash-32", 32, 6)
        hits = filled.search_dense(NAME, new.embed(["common cherry pie"])[0], 2)
        assert hits[0].chunk.id == "beta#0" and hits[0].score == pytest.approx(1.0, abs=1e-5)
        with pytest.raises(InputError):  # a query from the old embedder no longer fits
            filled.search_dense(NAME, EMBEDDER.embed(["common cherry pie"])[0], 2)
        assert filled.search_lexical(NAME, "cherry", 1)[0].chunk.id == "beta#0"
        again = reopen(filled)
        assert again.get_collection(NAME).embedder == "hash-32"
        assert np.allclose(again.get_vectors(NAME, ["alpha#1"])[0], new.embed(["common banana split"])[0], atol=1e-6)
        again.write(NAME, [make_document("zeta", ["common zucchini"], embedder=new)])  # new writes use the new dim
        assert again.search_dense(NAME, new.embed(["common zucchini"])[0], 1)[0].chunk.id == "zeta#0"
        again.close()

    @pytest.mark.parametrize("problem", ["missing", "unknown", "twice", "nan", "shape", "no-embedder"])
    def test_replace_vectors_refuses_bad_input_and_changes_nothing(self, filled: Store, problem: str) -> None:
        new = HashEmbedder(dim=32, name="hash-32")
        rows = filled.chunk_texts(NAME, limit=100)
        ids, vectors, embedder = [i for i, _ in rows], new.embed([t for _, t in rows]), new.name
        if problem == "missing":
            ids, vectors = ids[1:], vectors[1:]
        elif problem == "unknown":
            ids = [*ids[:-1], "no-such-chunk"]
        elif problem == "twice":
            ids = [*ids[:-1], ids[0]]
        elif problem == "nan":
            vectors[2, 0] = np.nan
        elif problem == "shape":
            vectors = vectors[:, :, None]
        else:
            embedder = ""
        with pytest.raises(InputError):
            filled.replace_vectors(NAME, embedder=embedder, ids=ids, vectors=vectors)
        info = filled.get_collection(NAME)
        assert (info.embedder, info.dim) == (EMBEDDER.name, EMBEDDER.dim)
        assert filled.search_dense(NAME, EMBEDDER.embed(["common cherry pie"])[0], 1)[0].chunk.id == "beta#0"
        with pytest.raises(NotFound):
            filled.replace_vectors("nope", embedder=new.name, ids=[], vectors=np.zeros((0, 32)))
