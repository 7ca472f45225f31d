"""SQLiteStore.bulk_load: chunks skip FTS5 while loading, and every lexical answer is the same afterwards."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

import pytest

from llmkit.errors import NotFound
from llmkit.store.schema import SCHEMA_VERSION
from llmkit.store.sqlite import SQLiteStore
from llmkit.testing.store_contract import EMBEDDER, make_document

NAME = "docs"
WORDS = "apple banana cherry mango kiwi quokka walrus otter heron finch maple cedar birch".split()
QUERIES = ["apple", "quokka walrus", "maple cedar birch", "kiwi otter", "nothing_here"]


def _batches(n_batches: int = 4, docs: int = 10, seed: int = 0) -> list[list]:
    rng = random.Random(seed)
    out = []
    for b in range(n_batches):
        batch = []
        for d in range(docs):
            texts = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 12))) for _ in range(3)]
            batch.append(make_document(f"b{b}d{d}", texts, metadata={"shard": b}))
        out.append(batch)
    return out


def _answers(store: SQLiteStore) -> list[list[tuple[str, float]]]:
    answers = []
    for flt in (None, {"shard": 1}):
        answers += [[(h.chunk.id, h.score) for h in store.search_lexical(NAME, q, 20, filter=flt)] for q in QUERIES]
    return answers


def _open(path: Path) -> SQLiteStore:
    store = SQLiteStore(path, text_index_threshold=-1, bm25_memory=(0, 0))  # every query goes to FTS5
    store.create_collection(NAME, embedder=EMBEDDER.name, dim=EMBEDDER.dim)
    return store


def _pending(path: Path) -> int | None:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT fts_pending FROM collections WHERE name = ?", (NAME,)).fetchone()[0]


@pytest.fixture
def expected(tmp_path: Path) -> list[list[tuple[str, float]]]:
    with _open(tmp_path / "plain.db") as store:
        for batch in _batches():
            store.write(NAME, batch)
        return _answers(store)


@pytest.mark.parametrize("step", [50_000, 7, 30])  # chunks a catch-up transaction indexes
def test_bulk_load_gives_the_same_answers(
    tmp_path: Path, expected: list, step: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("llmkit.store.sqlite.CATCH_UP_ROWS", step)
    with _open(tmp_path / "bulk.db") as store:
        with store.bulk_load(NAME):
            for batch in _batches():
                store.write(NAME, batch)
            assert _pending(tmp_path / "bulk.db") is not None  # the chunks are not in FTS5 yet
        assert _pending(tmp_path / "bulk.db") is None
        assert _answers(store) == expected
        assert store.build_index(NAME) == 0  # nothing left to add


def test_an_interrupted_bulk_load_catches_up_before_the_next_read(tmp_path: Path, expected: list) -> None:
    db = tmp_path / "bulk.db"
    with _open(db) as store, pytest.raises(RuntimeError), store.bulk_load(NAME):
        for batch in _batches()[:3]:
            store.write(NAME, batch)
        raise RuntimeError("the loader died")
    assert _pending(db) is not None
    with _open(db) as other:  # another process: its first lexical search indexes what is missing
        other.write(NAME, _batches()[3])  # a plain write catches up first, then indexes its own chunks
        assert _pending(db) is None
        assert _answers(other) == expected


def test_search_catches_up_and_rowids_never_fall_below_the_mark(tmp_path: Path, expected: list) -> None:
    db = tmp_path / "bulk.db"
    batches = _batches()
    with _open(db) as store:
        for batch in batches[:2]:
            store.write(NAME, batch)
        with pytest.raises(RuntimeError), store.bulk_load(NAME):
            store.write(NAME, batches[3])  # rowids 61-90 are not in FTS5
            for doc in batches[1] + batches[3]:  # the newest rows go: the next rowids fall below the mark
                store.delete_document(NAME, doc.id)
            for batch in batches[1:]:
                store.write(NAME, batch)  # rowids 31-120, none in FTS5
            raise RuntimeError("stop before the end")
        assert _answers(store) == expected  # the search itself brought FTS5 up to date
        assert _pending(db) is None
        with sqlite3.connect(db) as conn:
            assert conn.execute("INSERT INTO fts_1 (fts_1) VALUES ('integrity-check')").fetchall() == []
            fts_rows = conn.execute("SELECT count(*) FROM fts_1").fetchone()[0]
            assert fts_rows == conn.execute("SELECT count(*) FROM chunks").fetchone()[0]


def test_the_in_memory_index_waits_for_the_catch_up(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "s.db", bm25_memory=(1, 10_000), bm25_warmup=1_000_000) as store:
        store.create_collection(NAME, embedder=EMBEDDER.name, dim=EMBEDDER.dim)
        with pytest.raises(RuntimeError), store.bulk_load(NAME):
            store.write(NAME, _batches()[0])
            raise RuntimeError("stop")
        assert store.build_lexical_index(NAME)  # catches up first, so the index holds every chunk
        assert {h.chunk.doc_id for h in store.search_lexical(NAME, " ".join(WORDS), 100)} == {
            f"b0d{d}" for d in range(10)
        }


def test_bulk_load_of_a_missing_collection(tmp_path: Path) -> None:
    with SQLiteStore(tmp_path / "s.db") as store, pytest.raises(NotFound), store.bulk_load("nope"):
        pass


def test_a_version_1_store_is_migrated_with_its_fts5_whole(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    with _open(db) as store:
        store.write(NAME, _batches()[0])
    with sqlite3.connect(db) as conn:  # what llmkit's first schema looked like
        conn.execute("ALTER TABLE collections DROP COLUMN fts_pending")
        conn.execute("DROP INDEX documents_source")
        conn.execute("PRAGMA user_version = 1")
    with SQLiteStore(db) as store:
        assert _pending(db) is None
        assert store.search_lexical(NAME, "apple", 3)
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 3


def test_copy_into_a_new_collection_runs_in_bulk_load(
    tmp_path: Path, expected: list, monkeypatch: pytest.MonkeyPatch
) -> None:
    from llmkit.store.transfer import copy_collection

    monkeypatch.setattr("llmkit.store.transfer.BULK_CHUNKS", 10)
    loads: list[str] = []
    with _open(tmp_path / "src.db") as src, _open(tmp_path / "dst.db") as dst:
        for batch in _batches():
            src.write(NAME, batch)
        bulk_load = dst.bulk_load
        monkeypatch.setattr(dst, "bulk_load", lambda name: loads.append(name) or bulk_load(name))
        assert copy_collection(src, dst, NAME, page=7).chunks == 120
        assert loads == [NAME] and _pending(tmp_path / "dst.db") is None
        assert _answers(dst) == expected
