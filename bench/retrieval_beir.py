"""Retrieval quality and speed on BEIR SciFact (corpus + train queries), through llmkit's own pipeline.

Prints nDCG@10 and Recall@100 for lexical, dense and hybrid search, query latency p50/p95 (query
embedding included), index (ingest) time, and ingest throughput next to the raw embedder's on the
same chunks. The ingested project is cached in bench/.cache/scifact (``--rebuild`` starts over).

    .venv/bin/python bench/retrieval_beir.py [--data ../shared/data/beir-scifact] [--queries 807]
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import shutil
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "beir-scifact"
CACHE = ROOT / "bench" / ".cache" / "scifact"


def load(data: Path) -> tuple[dict[str, dict], dict[str, str], dict[str, set[str]]]:
    corpus = {d["_id"]: d for d in map(json.loads, (data / "corpus.jsonl").open(encoding="utf-8"))}
    queries = {q["_id"]: q["text"] for q in map(json.loads, (data / "queries.jsonl").open(encoding="utf-8"))}
    qrels: dict[str, set[str]] = {}
    with (data / "qrels" / "train.tsv").open(encoding="utf-8") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            if int(row["score"]) > 0:
                qrels.setdefault(row["query-id"], set()).add(row["corpus-id"])
    return corpus, {q: t for q, t in queries.items() if q in qrels}, qrels


def ndcg_at(ranked: list[str], relevant: set[str], k: int = 10) -> float:
    """Binary-relevance nDCG@k, as trec_eval computes it.

    >>> round(ndcg_at(["a", "x", "b"], {"a", "b"}, 10), 4)
    0.9197
    """
    dcg = sum(1 / math.log2(i + 2) for i, d in enumerate(ranked[:k]) if d in relevant)
    idcg = sum(1 / math.log2(i + 2) for i in range(min(len(relevant), k)))
    return dcg / idcg if idcg else 0.0


def recall_at(ranked: list[str], relevant: set[str], k: int = 100) -> float:
    return len(set(ranked[:k]) & relevant) / len(relevant)


def doc_ranking(hits: list) -> list[str]:
    """Chunk hits to corpus ids, best chunk first (a document ranks where its best chunk does)."""
    seen: dict[str, None] = {}
    for h in hits:
        seen.setdefault(Path(h.chunk.source).stem, None)
    return list(seen)


def build(kit, corpus: dict[str, dict], rebuild: bool) -> dict[str, float]:
    docs = CACHE / "docs"
    if rebuild or not docs.exists():
        shutil.rmtree(docs, ignore_errors=True)
        docs.mkdir(parents=True)
        for doc_id, d in corpus.items():
            (docs / f"{doc_id}.txt").write_text(f"{d['title']}\n\n{d['text']}\n", encoding="utf-8")
    start = time.perf_counter()
    report = kit.ingest(docs)
    seconds = time.perf_counter() - start
    return {"ingest_s": seconds, "added": report.added, "skipped": report.skipped, "chunks": report.chunks}


def raw_embed_rate(kit, sample: int) -> tuple[float, int, float]:
    """Chunks/s of the bare embedder on the stored chunks (same texts and batch size as ingestion)."""
    from llmkit.ingest.pipeline import embed_text

    store, name = kit.store, kit.settings.collection
    ids = [f"{d.id}:{i}" for d in store.list_documents(name) for i in range(d.chunk_count)]
    chunks = store.get_chunks(name, ids)
    texts = [embed_text(c) for c in chunks][:sample]
    batch = kit.settings.ingest.batch_size
    start = time.perf_counter()
    for i in range(0, len(texts), batch):
        kit.embedder.embed(texts[i : i + batch])
    seconds = time.perf_counter() - start
    return len(texts) / seconds, len(texts), sum(len(t) for t in texts) / max(len(texts), 1)


def evaluate(kit, queries: dict[str, str], qrels: dict[str, set[str]], mode: str) -> dict[str, float]:
    ndcg, recall, latency = [], [], []
    for qid, text in queries.items():
        ranked = doc_ranking(kit.search(text, k=100, mode=mode))
        ndcg.append(ndcg_at(ranked, qrels[qid]))
        recall.append(recall_at(ranked, qrels[qid]))
        start = time.perf_counter()
        kit.search(text, k=10, mode=mode)
        latency.append((time.perf_counter() - start) * 1000)
    latency.sort()
    return {
        "ndcg@10": statistics.fmean(ndcg),
        "recall@100": statistics.fmean(recall),
        "p50_ms": latency[len(latency) // 2],
        "p95_ms": latency[int(len(latency) * 0.95)],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--queries", type=int, default=None, help="use the first N queries")
    parser.add_argument("--raw-sample", type=int, default=1_000_000, help="chunks for the raw embedder rate")
    parser.add_argument("--rebuild", action="store_true", help="re-ingest from scratch")
    args = parser.parse_args()

    import llmkit

    corpus, queries, qrels = load(args.data)
    if args.queries:
        queries = dict(list(queries.items())[: args.queries])
    if args.rebuild:
        shutil.rmtree(CACHE / ".llmkit", ignore_errors=True)
    CACHE.mkdir(parents=True, exist_ok=True)
    kit = llmkit.open(CACHE, collection="scifact", ingest={"chunk_tokens": 256, "chunk_overlap": 32})
    index = build(kit, corpus, args.rebuild)
    print(f"corpus {len(corpus)} docs -> {kit.store.get_collection('scifact').chunks} chunks; {len(queries)} queries")
    if index["added"]:
        rate = index["chunks"] / index["ingest_s"]
        raw, n, chars = raw_embed_rate(kit, args.raw_sample)
        print(f"index: {index['ingest_s']:.1f}s for {index['chunks']} chunks = {rate:.1f} chunks/s through llmkit")
        print(
            f"raw embedder on {n} of the same chunks (avg {chars:.0f} chars): {raw:.1f} chunks/s;"
            f" ratio {rate / raw:.3f}"
        )
    else:
        print("index: reused the cached collection (pass --rebuild to time ingestion)")
    kit.search("warm up", k=10)
    rows = {mode: evaluate(kit, queries, qrels, mode) for mode in ("lexical", "dense", "hybrid")}
    print(f"{'mode':8} {'nDCG@10':>8} {'R@100':>7} {'p50 ms':>7} {'p95 ms':>7}")
    for mode, r in rows.items():
        print(f"{mode:8} {r['ndcg@10']:8.4f} {r['recall@100']:7.4f} {r['p50_ms']:7.2f} {r['p95_ms']:7.2f}")
    kit.close()


if __name__ == "__main__":
    main()
