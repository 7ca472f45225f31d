"""The tantivy sidecar index of SQLiteStore: kept in step, trusted only when its stamp matches, else rebuilt."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llmkit.store import text_index
from llmkit.store.sqlite import SQLiteStore
from llmkit.testing.store_contract import EMBEDDER, make_document

pytest.importorskip("tantivy")
NAME = "docs"
INDEX = "s.db.collection-1.tantivy"


def _store(tmp_path: Path, threshold: int = 0) -> SQLiteStore:
    return SQLiteStore(tmp_path / "s.db", text_index_threshold=threshold)


def _fill(store: SQLiteStore, n: int = 20) -> None:
    store.create_collection(NAME, embedder=EMBEDDER.name, dim=EMBEDDER.dim)
    store.write(NAME, [make_document(f"d{i}", [f"doc {i} word{i} running", f"more {i} text"]) for i in range(n)])


def _ids(store: SQLiteStore, query: str, k: int = 5) -> list[str]:
    return [h.chunk.id for h in store.search_lexical(NAME, query, k)]


def _stamp(tmp_path: Path) -> dict:
    return json.loads((tmp_path / f"{INDEX}.json").read_text())


def test_builds_on_first_query_and_is_reused_after_reopening(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with _store(tmp_path) as s:
        _fill(s)
        assert _ids(s, "word7") == ["d7#0"]
        assert _stamp(tmp_path)["count"] == 40
    monkeypatch.setattr(text_index.TextIndex, "build", None)  # a rebuild would fail now
    with _store(tmp_path) as s:
        assert _ids(s, "runs word3")[0] == "d3#0"  # stemmed: "runs" finds "running"


def test_writes_and_deletes_keep_the_cached_index_in_step(tmp_path: Path) -> None:
    with _store(tmp_path) as s:
        _fill(s)
        _ids(s, "doc")  # build
        s.write(NAME, [make_document("d3", ["replaced kiwi"]), make_document("new", ["fresh mango word3"])])
        assert _ids(s, "kiwi") == ["d3#0"]
        assert _ids(s, "word3") == ["new#0"]
        assert s.delete_document(NAME, "new")
        assert _ids(s, "mango") == []
        assert _stamp(tmp_path)["count"] == 40 - 2 + 1
        assert s._lexical._text_indexes[1].generation == _stamp(tmp_path)["generation"]


def test_a_write_by_another_store_is_seen(tmp_path: Path) -> None:
    with _store(tmp_path) as a, _store(tmp_path) as b:
        _fill(a)
        assert _ids(a, "word5") == ["d5#0"]
        b.write(NAME, [make_document("d5", ["papaya only"])])
        assert _ids(a, "word5") == []  # a's cached index is at an old generation: rebuilt from SQLite
        assert _ids(a, "papaya") == ["d5#0"]


@pytest.mark.parametrize("damage", ["stamp", "generation", "index"])
def test_a_damaged_or_stale_index_is_rebuilt(tmp_path: Path, damage: str) -> None:
    with _store(tmp_path) as s:
        _fill(s)
        _ids(s, "doc")
    stamp_file = tmp_path / f"{INDEX}.json"
    if damage == "stamp":
        stamp_file.write_text("{not json")
    elif damage == "generation":
        stamp_file.write_text(json.dumps({**_stamp(tmp_path), "generation": 999}))
    else:
        for f in (tmp_path / INDEX).iterdir():
            f.write_bytes(b"garbage")
    with _store(tmp_path) as s:
        assert _ids(s, "word11") == ["d11#0"]
        assert _stamp(tmp_path)["generation"] != 999


def test_small_collections_filters_and_a_missing_tantivy_use_fts5(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with _store(tmp_path, threshold=1000) as s:
        _fill(s)
        assert _ids(s, "word2") == ["d2#0"]
        assert not (tmp_path / INDEX).exists()
    with _store(tmp_path) as s:
        assert [h.chunk.id for h in s.search_lexical(NAME, "word2", 5, filter={"doc_id": "d2"})] == ["d2#0"]
        assert not (tmp_path / INDEX).exists()
        monkeypatch.setattr("llmkit.store.sqlite_lexical.available", lambda: False)
        assert _ids(s, "word2") == ["d2#0"]
        assert not (tmp_path / INDEX).exists()


def test_a_small_collection_is_counted_once_a_generation(tmp_path: Path) -> None:
    """Under the threshold, searches do not count the collection's chunks again until it changes."""
    with _store(tmp_path, threshold=50) as s:
        _fill(s)  # 40 chunks
        statements: list[str] = []
        s._conn().set_trace_callback(statements.append)
        for _ in range(3):
            assert _ids(s, "word2") == ["d2#0"]
        assert sum("count(*)" in q for q in statements) == 1
        assert not (tmp_path / INDEX).exists()
        s.write(NAME, [make_document(f"more{i}", [f"extra {i} kiwi"]) for i in range(15)])  # 55 chunks
        assert _ids(s, "kiwi", k=20)[:1] and (tmp_path / INDEX).is_dir()  # counted again: over it now


def test_deleting_the_collection_removes_the_index(tmp_path: Path) -> None:
    with _store(tmp_path) as s:
        _fill(s)
        _ids(s, "doc")
        assert (tmp_path / INDEX).is_dir()
        s.delete_collection(NAME)
        assert not (tmp_path / INDEX).exists() and not (tmp_path / f"{INDEX}.json").exists()


def test_query_words() -> None:
    assert text_index.query_words("the of and") == ["the", "of", "and"]
    assert text_index.query_words("🙂 ...") == []
    assert len(text_index.query_words(" ".join(f"w{i}" for i in range(500)))) == text_index.MAX_TERMS
