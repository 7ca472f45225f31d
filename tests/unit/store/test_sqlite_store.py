"""SQLiteStore beyond the contract: index files, schema versions, errors, crashes and processes."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np
import pytest

from llmkit.errors import InputError, StoreError
from llmkit.store import vector_index
from llmkit.store.schema import SCHEMA_VERSION
from llmkit.store.sqlite import SQLiteStore
from llmkit.testing.store_contract import EMBEDDER, make_document

NAME = "docs"


def _fill(path: Path, n: int = 30, threshold: int = 0) -> None:
    with SQLiteStore(path, hnsw_threshold=threshold) as s:
        s.create_collection(NAME, embedder=EMBEDDER.name, dim=EMBEDDER.dim)
        s.write(NAME, [make_document(f"d{i}", [f"doc {i} word{i}", f"more {i} text"]) for i in range(n)])
        s.search_dense(NAME, EMBEDDER.embed(["doc"])[0], 3)  # builds and saves the index file


def _stamp(path: Path) -> dict:
    return json.loads(Path(f"{path}.collection-1.usearch.json").read_text())


def _generation(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT generation FROM collections WHERE name = ?", (NAME,)).fetchone()[0]


def _top(path: Path, text: str, threshold: int = 0) -> str:
    with SQLiteStore(path, hnsw_threshold=threshold) as s:
        return s.search_dense(NAME, EMBEDDER.embed([text])[0], 1)[0].chunk.id


def test_index_file_is_saved_with_its_generation(tmp_path: Path) -> None:
    _fill(tmp_path / "s.db")
    assert _stamp(tmp_path / "s.db")["generation"] == _generation(tmp_path / "s.db") == 1


@pytest.mark.parametrize("damage", ["missing", "garbage", "truncated", "no_stamp", "bad_stamp"])
def test_damaged_index_file_is_rebuilt(tmp_path: Path, damage: str) -> None:
    db = tmp_path / "s.db"
    _fill(db)
    index = Path(f"{db}.collection-1.usearch")
    if damage == "missing":
        index.unlink()
    elif damage == "garbage":
        index.write_bytes(os.urandom(index.stat().st_size))
    elif damage == "truncated":
        index.write_bytes(index.read_bytes()[:100])
    elif damage == "no_stamp":
        Path(f"{index}.json").unlink()
    else:
        Path(f"{index}.json").write_text("{not json")
    assert _top(db, "doc 7 word7") == "d7#0"
    assert index.exists() and _stamp(db)["generation"] == 1


def test_stale_index_file_is_rebuilt(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    _fill(db)
    with SQLiteStore(db, hnsw_threshold=10**9) as exact:  # writes without touching the index file
        exact.write(NAME, [make_document("late", ["zanzibar quokka"])])
    assert _stamp(db)["generation"] == 1 and _generation(db) == 2
    assert _top(db, "zanzibar quokka") == "late#0"
    assert _stamp(db)["generation"] == 2


def test_open_index_follows_writes_and_is_saved_on_close(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    _fill(db)
    with SQLiteStore(db, hnsw_threshold=0) as s:
        s.search_dense(NAME, EMBEDDER.embed(["x"])[0], 1)
        s.write(NAME, [make_document("d3", ["wombat"]), make_document("new", ["platypus"])])
        assert s.search_dense(NAME, EMBEDDER.embed(["platypus"])[0], 1)[0].chunk.id == "new#0"
        assert "d3#1" not in {h.chunk.id for h in s.search_dense(NAME, EMBEDDER.embed(["more 3 text"])[0], 70)}
    assert _stamp(db)["generation"] == 2 and _stamp(db)["count"] == 60


@pytest.mark.parametrize("threshold", [1000, 0], ids=["exact", "hnsw"])
def test_rank_dense_reads_chunk_rows_only_without_an_exact_index(tmp_path: Path, threshold: int) -> None:
    """An exact index keeps its rows' chunk ids, so ranking reads no chunk row; HNSW's ranking reads ids."""
    _fill(tmp_path / "s.db", threshold=threshold)
    with SQLiteStore(tmp_path / "s.db", hnsw_threshold=threshold) as s:
        query = EMBEDDER.embed(["doc 7 word7"])[0]
        s.rank_dense(NAME, query, 5)  # loads the index
        statements: list[str] = []
        s._conn().set_trace_callback(statements.append)
        ranked = s.rank_dense(NAME, query, 5)
        s._conn().set_trace_callback(None)
        assert bool([q for q in statements if "FROM chunks" in q]) == (threshold == 0)
        assert [(r.id, r.score) for r in ranked] == [(h.chunk.id, h.score) for h in s.search_dense(NAME, query, 5)]
        assert ranked[0].id == "d7#0"
        s.write(NAME, [make_document("d7", ["replaced entirely"])])  # a new generation: ids read again
        assert s.rank_dense(NAME, query, 1)[0].id != "d7#0"


def test_hnsw_filtered_search_over_fetches(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(0)
    m = rng.standard_normal((2000, 32)).astype(np.float32)
    m /= np.linalg.norm(m, axis=1, keepdims=True)
    keys = np.arange(1, 2001, dtype=np.int64)
    hnsw = vector_index.HnswIndex.build(keys, m, vector_index.Stamp(1, 0, 32, 2000))
    exact = vector_index.ExactIndex(keys, m, 0)
    monkeypatch.setattr(vector_index, "EXACT_FALLBACK", 0)
    for allowed in (keys[::2], keys[:5]):  # a broad filter, and one the over-fetch misses
        got, _ = hnsw.search(m[3], 10, allowed)
        want, _ = exact.search(m[3], 10, allowed)
        assert np.isin(got, allowed).all() and len(got) == len(want)
        assert len(set(got.tolist()) & set(want.tolist())) >= min(9, len(want))


def test_schema_version_and_wal(tmp_path: Path) -> None:
    SQLiteStore(tmp_path / "s.db").close()
    with sqlite3.connect(tmp_path / "s.db") as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        conn.execute("PRAGMA user_version = 999")
    with pytest.raises(StoreError, match="newer"):
        SQLiteStore(tmp_path / "s.db")


def test_a_version_2_store_gets_the_documents_source_index(tmp_path: Path) -> None:
    _fill(tmp_path / "s.db", threshold=1000)
    with sqlite3.connect(tmp_path / "s.db") as conn:  # what the second schema looked like
        conn.execute("DROP INDEX documents_source")
        conn.execute("PRAGMA user_version = 2")
    with SQLiteStore(tmp_path / "s.db") as s:
        statements: list[str] = []
        s._conn().set_trace_callback(statements.append)
        hits = s.search_lexical(NAME, "doc", 5, filter={"source": {"$in": ["d3.txt", "d4.txt"]}})
        assert {h.chunk.doc_id for h in hits} == {"d3", "d4"}
        reads = [q for q in statements if "FROM documents d" in q]  # how many chunks, then which
        assert len(reads) == 2
        for sql in reads:
            plan = " | ".join(row[3] for row in s._conn().execute(f"EXPLAIN QUERY PLAN {sql}"))
            assert "documents_source (collection_id=? AND source=?)" in plan, plan


def test_bad_paths(tmp_path: Path) -> None:
    (tmp_path / "junk.db").write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="not a readable llmkit store"):
        SQLiteStore(tmp_path / "junk.db")
    with pytest.raises(InputError):
        SQLiteStore(":memory:")
    store = SQLiteStore(tmp_path / "sub" / "dir" / "s.db")  # folders are made
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.list_collections()


def test_locked_store_is_a_store_error(tmp_path: Path) -> None:
    _fill(tmp_path / "s.db", n=2, threshold=10**9)
    blocker = sqlite3.connect(tmp_path / "s.db", isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        with SQLiteStore(tmp_path / "s.db", busy_timeout_s=0.1) as s, pytest.raises(StoreError, match="locked"):
            s.write(NAME, [make_document("x", ["y"])])
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()


def test_two_stores_on_one_file_write_at_once(tmp_path: Path) -> None:
    _fill(tmp_path / "s.db", n=1, threshold=10**9)
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            with SQLiteStore(tmp_path / "s.db") as s:
                for i in range(20):
                    s.write(NAME, [make_document(f"p{n}-{i}", [f"process {n} item {i}"])])
                    s.search_lexical(NAME, "process item", 3)
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with SQLiteStore(tmp_path / "s.db") as s:
        assert s.get_collection(NAME).documents == 41


CHILD = textwrap.dedent(
    """
    import sys
    from llmkit.store.sqlite import SQLiteStore
    from llmkit.testing.store_contract import EMBEDDER, make_document
    s = SQLiteStore(sys.argv[1], hnsw_threshold=0)
    s.create_collection("docs", embedder=EMBEDDER.name, dim=EMBEDDER.dim)
    for b in range(100_000):
        docs = [make_document(f"d{(b * 7 + j) % 60}", [f"batch {b} doc {j} part {p}" for p in range(1 + (b + j) % 4)])
                for j in range(5)]
        s.write("docs", docs)
        if b % 10 == 0:
            s.search_dense("docs", EMBEDDER.embed(["batch"])[0], 3)
        print(b, flush=True)
    """
)


@pytest.mark.parametrize("kill_after", [3, 17, 41])
def test_killed_writer_leaves_a_consistent_store(tmp_path: Path, kill_after: int) -> None:
    db = tmp_path / "s.db"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[3] / "src")}
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(db)], stdout=subprocess.PIPE, env=env, text=True)
    acked = -1
    assert child.stdout is not None
    while acked < kill_after:
        line = child.stdout.readline()
        assert line, "the writer died on its own"
        acked = int(line)
    child.send_signal(signal.SIGKILL)
    child.wait()
    with sqlite3.connect(db) as conn:
        per_doc = conn.execute(
            "SELECT d.id, d.chunk_count, count(c.rowid), coalesce(max(c.idx), -1) FROM documents d"
            " LEFT JOIN chunks c ON c.doc_rowid = d.rowid GROUP BY d.rowid"
        ).fetchall()
        assert per_doc and all(n == got == top + 1 for _, n, got, top in per_doc)
        chunks = conn.execute("SELECT count(*) FROM chunks").fetchone()[0]
        assert conn.execute("SELECT count(*) FROM fts_1").fetchone()[0] == chunks
        assert (
            conn.execute("SELECT count(*) FROM chunks WHERE length(vector) != ?", (4 * EMBEDDER.dim,)).fetchone()[0]
            == 0
        )
        assert conn.execute("SELECT count(*) FROM chunks WHERE text NOT LIKE 'batch %'").fetchone()[0] == 0
        last = conn.execute("SELECT text FROM chunks ORDER BY rowid DESC LIMIT 1").fetchone()[0]
        assert int(last.split()[1]) >= acked  # every acknowledged batch survived the kill
        generation = conn.execute("SELECT generation FROM collections").fetchone()[0]
    assert _stamp(db)["generation"] < generation  # the index file is stale ...
    with SQLiteStore(db, hnsw_threshold=0) as s:
        hits = s.search_dense(NAME, EMBEDDER.embed([last])[0], 1)
        assert hits[0].chunk.text == last  # ... so it was rebuilt, and holds the last batch
        assert s.search_lexical(NAME, last, 1)[0].chunk.text == last
        s.write(NAME, [make_document("after", ["after the crash"])])
        assert s.search_dense(NAME, EMBEDDER.embed(["after the crash"])[0], 1)[0].chunk.id == "after#0"
    assert _stamp(db)["generation"] == generation + 1
