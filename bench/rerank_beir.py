"""Reranking on BEIR SciFact: nDCG@10 of hybrid search with rerank = none, embedding (and llm on a sample).

Uses the collection `bench/retrieval_beir.py` caches in bench/.cache/scifact (built here on first run,
about 4 minutes on 2 cores), the train queries and their qrels. Each reranker re-scores the best
``--top`` fused chunks of each query; the same queries are scored with no reranker for comparison.

    .venv/bin/python bench/rerank_beir.py --queries 200 --llm-queries 20
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from retrieval_beir import CACHE, DEFAULT_DATA, build, doc_ranking, load, ndcg_at


def evaluate(kit, queries: dict[str, str], qrels: dict[str, set[str]], reranker) -> tuple[float, float]:
    """Mean nDCG@10 and seconds a query with ``reranker`` (None: fusion alone)."""
    from llmkit.retrieve.retriever import Retriever

    r = Retriever(kit.store, kit.embedder, kit.settings.retrieval, reranker=reranker)
    scores, start = [], time.perf_counter()
    for qid, text in queries.items():
        hits = r.search("scifact", text, k=kit.settings.retrieval.rerank_top, rerank=reranker is not None)
        scores.append(ndcg_at(doc_ranking(hits), qrels[qid]))
    return statistics.fmean(scores), (time.perf_counter() - start) / len(queries)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--queries", type=int, default=200, help="the first N train queries (807 in all)")
    parser.add_argument(
        "--llm-queries", type=int, default=0, help="queries for the LLM reranker (slow: a call a chunk)"
    )
    parser.add_argument("--top", type=int, default=20, help="fused candidates re-scored (rerank_top)")
    parser.add_argument("--window", type=int, default=2, help="sentences in a window (embedding reranker)")
    args = parser.parse_args()

    import llmkit
    from llmkit.rerank.embedding import EmbeddingReranker
    from llmkit.rerank.llm import LlmReranker

    corpus, queries, qrels = load(args.data)
    CACHE.mkdir(parents=True, exist_ok=True)
    kit = llmkit.open(
        CACHE,
        collection="scifact",
        ingest={"chunk_tokens": 256, "chunk_overlap": 32},
        retrieval={"rerank_top": args.top},
        model={"temperature": 0.0},
    )
    build(kit, corpus, False)
    sample = dict(list(queries.items())[: args.queries])
    print(f"{len(sample)} queries, rerank_top {args.top}, hybrid search")
    print(f"{'rerank':10} {'nDCG@10':>8} {'s/query':>8}")
    for name, reranker in (("none", None), ("embedding", EmbeddingReranker(kit.embedder, window=args.window))):
        ndcg, secs = evaluate(kit, sample, qrels, reranker)
        print(f"{name:10} {ndcg:8.4f} {secs:8.3f}", flush=True)
    if args.llm_queries:
        few = dict(list(queries.items())[: args.llm_queries])
        print(f"{len(few)} queries, LLM reranker ({kit.settings.model.name})")
        for name, reranker in (("none", None), ("llm", LlmReranker(lambda: kit.model))):
            ndcg, secs = evaluate(kit, few, qrels, reranker)
            print(f"{name:10} {ndcg:8.4f} {secs:8.3f}", flush=True)


if __name__ == "__main__":
    main()
