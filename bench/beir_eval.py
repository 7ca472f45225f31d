"""BEIR SciFact through the eval harness: nDCG@10 and Recall@100 per retrieval mode, with bootstrap CIs.

Uses the project that ``bench/retrieval_beir.py`` builds (bench/.cache/scifact; run that first, or let
this script ingest the corpus) and must print the same nDCG@10 as it does (same collection, same
document ranking: a document ranks where its best chunk does). Also checks the harness's pytrec_eval
numbers against retrieval_beir's own hand-written nDCG on the same rankings.

    .venv/bin/python bench/beir_eval.py [--queries 807] [--modes lexical dense hybrid]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

import retrieval_beir  # noqa: E402  (same folder; its load/build/ndcg are the reference)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=retrieval_beir.DEFAULT_DATA)
    parser.add_argument("--queries", type=int, default=None)
    parser.add_argument("--modes", nargs="+", default=["lexical", "dense", "hybrid"])
    args = parser.parse_args()

    import llmkit
    from llmkit.evals.dataset import load_beir
    from llmkit.evals.runner import Runner
    from llmkit.evals.store import EvalStore
    from llmkit.evals.suite import suite_from_dict

    corpus, _, qrels = retrieval_beir.load(args.data)
    kit = llmkit.open(retrieval_beir.CACHE, collection="scifact", ingest={"chunk_tokens": 256, "chunk_overlap": 32})
    retrieval_beir.build(kit, corpus, rebuild=False)
    items = load_beir(args.data, limit=args.queries)
    store = EvalStore(retrieval_beir.CACHE / ".llmkit" / "evals.db")
    print(f"{len(items)} queries; harness = llmkit.evals Runner (kind retrieval, k=100, ids = file stems)")
    print(f"{'mode':8} {'nDCG@10':>8} {'95% CI':>17} {'R@100':>7} {'ref nDCG@10':>12} {'s':>6}")
    for mode in args.modes:
        suite = suite_from_dict({
            "name": f"scifact-{mode}", "dataset": {"path": str(args.data), "format": "beir"},
            "pipeline": {"kind": "retrieval", "mode": mode, "k": 100, "match": "stem", "collection": "scifact"},
            "metrics": ["ndcg@10", "recall@100", "mrr"], "cache": False,
        })  # fmt: skip
        runner = Runner(suite, store, retriever=kit.retriever, collection="scifact", items=items)
        start = time.perf_counter()
        result = runner.run()
        seconds = time.perf_counter() - start
        ref = [retrieval_beir.ndcg_at(_dedup(r.prediction["hit_ids"]), set(qrels[r.item_id])) for r in result.rows]
        s = result.run.summary
        ci = f"[{s['ndcg@10']['low']:.4f}, {s['ndcg@10']['high']:.4f}]"
        print(
            f"{mode:8} {s['ndcg@10']['mean']:8.4f} {ci:>17} {s['recall@100']['mean']:7.4f} "
            f"{sum(ref) / len(ref):12.4f} {seconds:6.1f}"
        )
    kit.close()


def _dedup(ids: list[str]) -> list[str]:
    return list(dict.fromkeys(ids))


if __name__ == "__main__":
    main()
