"""BulkWriter: batches commit on background threads, errors come back, a document's batches never overlap."""

from __future__ import annotations

import dataclasses
import itertools
import threading
import time
from pathlib import Path

import pytest

from llmkit.errors import InputError
from llmkit.store.bulk import BulkWriter
from llmkit.store.sqlite import SQLiteStore
from llmkit.testing.store_contract import EMBEDDER, make_document


def test_an_error_comes_back_at_the_next_submit_and_nothing_runs_after_it() -> None:
    ran: list[str] = []

    def commit(ids: list[str], _: object) -> None:
        if ids == ["bad"]:
            raise InputError("bad batch")
        ran.append(ids[0])

    writer = BulkWriter(commit)
    writer.submit(["a"], None)
    writer.submit(["bad"], None)
    with pytest.raises(InputError, match="bad batch"):
        writer.settle()  # waits for both, then raises the failure
    with pytest.raises(InputError, match="bad batch"):
        writer.submit(["c"], None)  # and so does every later call
    with pytest.raises(InputError, match="bad batch"):
        writer.close()
    assert ran == ["a"]


def test_the_error_is_raised_at_close_too() -> None:
    writer = BulkWriter(lambda ids, _: 1 / 0)
    writer.submit(["a"], None)
    with pytest.raises(ZeroDivisionError):
        writer.close()


def test_batches_sharing_a_document_run_one_after_the_other() -> None:
    spans: dict[str, list[tuple[float, float]]] = {}
    lock = threading.Lock()

    def commit(ids: list[str], tag: str) -> None:
        start = time.perf_counter()
        time.sleep(0.02)
        with lock:
            for i in ids:
                spans.setdefault(i, []).append((start, time.perf_counter()))

    with BulkWriter(commit, workers=4) as writer:
        for n in range(12):
            writer.submit([f"d{n % 3}", f"x{n}"], "t")  # d0, d1, d2 each in four batches
    for doc in ("d0", "d1", "d2"):
        runs = sorted(spans[doc])
        assert len(runs) == 4
        assert all(a[1] <= b[0] for a, b in itertools.pairwise(runs))  # never at the same time


def test_settle_waits_only_for_the_batches_holding_those_documents() -> None:
    release = threading.Event()

    def commit(ids: list[str], _: object) -> None:
        if ids == ["slow"]:
            release.wait(5)

    with BulkWriter(commit, workers=2) as writer:
        writer.submit(["slow"], None)
        writer.submit(["fast"], None)
        t = time.perf_counter()
        writer.settle(["fast"])
        assert time.perf_counter() - t < 2  # not held up by the slow batch
        release.set()
        writer.settle(["slow"])


def test_workers_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        BulkWriter(lambda ids, _: None, workers=0)


def _store(path: Path) -> SQLiteStore:
    store = SQLiteStore(path, text_index_threshold=-1, bm25_memory=(0, 0))
    store.create_collection("docs", embedder=EMBEDDER.name, dim=EMBEDDER.dim)
    return store


def test_sqlite_a_failed_write_in_a_bulk_load_is_raised_and_the_rest_stays_whole(tmp_path: Path) -> None:
    with _store(tmp_path / "s.db") as store:
        store.write("docs", [make_document("a", ["apple pie"])])
        clash = make_document("b", ["banana"])
        clash = dataclasses.replace(clash, chunks=[dataclasses.replace(clash.chunks[0], id="a#0")])
        with pytest.raises(InputError, match="already used"), store.bulk_load("docs"):
            store.write("docs", [make_document("c", ["cherry tart"])])
            store.write("docs", [clash])  # a chunk id of document "a": fails in the writer thread
            store.write("docs", [make_document("d", ["date loaf"])])  # raised here or at the block's end
            store.write("docs", [make_document("e", ["elder"])])
        ids = {d.id for d in store.list_documents("docs")}
        assert {"a", "c"} <= ids and "b" not in ids and "e" not in ids
        assert [h.chunk.doc_id for h in store.search_lexical("docs", "cherry", 5)] == ["c"]  # FTS5 caught up


def test_sqlite_reads_inside_a_bulk_load_see_the_writes_before_them(tmp_path: Path) -> None:
    with _store(tmp_path / "s.db") as store, store.bulk_load("docs"):
        for i in range(20):
            store.write("docs", [make_document(f"d{i}", [f"note {i} walrus"])])
            assert store.document_hashes("docs", [f"d{i}"]).keys() == {f"d{i}"}
        store.delete_document("docs", "d3")
        assert store.get_collection("docs").documents == 19
        assert len(store.search_lexical("docs", "walrus", 50)) == 19
