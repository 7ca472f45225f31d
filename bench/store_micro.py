"""Store micro-benchmark on SciFact: write time, dense (exact and HNSW) and lexical latency, HNSW recall,
and lexical nDCG@10 on the train queries. Vectors come from HashEmbedder (dim 384), so dense *quality* is
not measured here, only speed and HNSW-vs-exact recall.

    .venv/bin/python bench/store_micro.py [--data ../shared/data/beir-scifact]
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from pathlib import Path

import numpy as np

from llmkit.store.sqlite import SQLiteStore
from llmkit.testing import HashEmbedder
from llmkit.testing.store_contract import make_document


def p50_ms(fn, items) -> float:
    times = []
    for item in items:
        t = time.perf_counter()
        fn(item)
        times.append(time.perf_counter() - t)
    return 1000 * float(np.median(times))


def ndcg10(ranked: list[str], relevant: set[str]) -> float:
    dcg = sum(1 / math.log2(i + 2) for i, d in enumerate(ranked[:10]) if d in relevant)
    return dcg / sum(1 / math.log2(i + 2) for i in range(min(len(relevant), 10)))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(Path(__file__).parents[1] / "../shared/data/beir-scifact"))
    data = Path(ap.parse_args().data)
    corpus = [json.loads(line) for line in (data / "corpus.jsonl").open()]
    queries = {q["_id"]: q["text"] for q in map(json.loads, (data / "queries.jsonl").open())}
    qrels: dict[str, set[str]] = {}
    for line in list((data / "qrels/train.tsv").open())[1:]:
        qid, did, _ = line.split("\t")
        qrels.setdefault(qid, set()).add(did)
    emb = HashEmbedder(dim=384, name="hash-384")
    docs = [make_document(d["_id"], [f"{d['title']} {d['text']}"], embedder=emb) for d in corpus]
    qvecs = emb.embed([queries[q] for q in qrels])
    with tempfile.TemporaryDirectory() as tmp:
        store = SQLiteStore(Path(tmp) / "s.db")
        store.create_collection("scifact", embedder=emb.name, dim=384)
        t = time.perf_counter()
        for i in range(0, len(docs), 256):
            store.write("scifact", docs[i : i + 256])
        print(f"write {len(docs)} docs: {time.perf_counter() - t:.2f} s")
        store.search_dense("scifact", qvecs[0], 10)  # load the matrix
        print(f"dense exact p50: {p50_ms(lambda v: store.search_dense('scifact', v, 10), qvecs):.2f} ms")
        flt = {"doc_id": {"$in": [d["_id"] for d in corpus[::10]]}}
        ms = p50_ms(lambda v: store.search_dense("scifact", v, 10, filter=flt), qvecs[:100])
        print(f"dense exact + $in filter (10%) p50: {ms:.2f} ms")
        texts = [queries[q] for q in qrels]
        print(f"lexical p50: {p50_ms(lambda q: store.search_lexical('scifact', q, 10), texts):.2f} ms")
        ranked = [[h.chunk.doc_id for h in store.search_lexical("scifact", queries[q], 10)] for q in qrels]
        print(
            f"lexical nDCG@10 (train): {np.mean([ndcg10(r, qrels[q]) for r, q in zip(ranked, qrels, strict=True)]):.3f}"
        )
        exact = [store.search_dense("scifact", v, 10) for v in qvecs]
        store.close()
        tv = SQLiteStore(Path(tmp) / "s.db", text_index_threshold=0)  # the tantivy sidecar (llmkit[scale])
        t = time.perf_counter()
        tv.search_lexical("scifact", texts[0], 10)
        print(f"tantivy index build: {time.perf_counter() - t:.2f} s")
        print(f"lexical (tantivy) p50: {p50_ms(lambda q: tv.search_lexical('scifact', q, 10), texts):.2f} ms")
        ranked = [[h.chunk.doc_id for h in tv.search_lexical("scifact", queries[q], 10)] for q in qrels]
        scores = [ndcg10(r, qrels[q]) for r, q in zip(ranked, qrels, strict=True)]
        print(f"lexical (tantivy) nDCG@10 (train): {np.mean(scores):.3f}")
        tv.close()
        hnsw = SQLiteStore(Path(tmp) / "s.db", hnsw_threshold=0)
        t = time.perf_counter()
        hnsw.search_dense("scifact", qvecs[0], 10)
        print(f"HNSW build+save: {time.perf_counter() - t:.2f} s")
        print(f"dense HNSW p50: {p50_ms(lambda v: hnsw.search_dense('scifact', v, 10), qvecs):.2f} ms")
        recall = []  # ties-aware: a hit counts if it scores at least the exact 10th score
        for v, ex in zip(qvecs, exact, strict=True):
            got = hnsw.search_dense("scifact", v, 10)
            recall.append(sum(h.score >= ex[-1].score - 1e-5 for h in got) / len(ex))
        print(f"HNSW recall@10 vs exact: {np.mean(recall):.4f}")
        hnsw.close()


if __name__ == "__main__":
    main()
