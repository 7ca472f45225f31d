"""End-to-end RAG on SQuAD v1.1 (shared half) through the eval harness.

1. Ingest the 1,023 gold passages (one file per passage, named by its id) with the embedded defaults.
2. Retrieval over every question (or ``--questions N``): gold-passage hit@5, recall@5, MRR, nDCG@10.
   On 2 busy cores a seeded sample (``--questions``) keeps this to minutes.
3. Answers with the embedded chat model (SmolLM2-135M) on a seeded sample of ``--answer-sample``
   questions (the whole set takes hours on 2 cores): EM and F1 (SQuAD normalisation), with CIs.

    .venv/bin/python bench/rag_squad.py [--questions 5397] [--answer-sample 40] [--mode hybrid]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "squad-v1.1"
CACHE = ROOT / "bench" / ".cache" / "squad"


def build(kit, data: Path, rebuild: bool) -> None:
    docs = CACHE / "docs"
    if rebuild or not docs.exists():
        shutil.rmtree(docs, ignore_errors=True)
        docs.mkdir(parents=True)
        for p in map(json.loads, (data / "passages.jsonl").open(encoding="utf-8")):
            (docs / f"{p['id']}.txt").write_text(f"{p['title'].replace('_', ' ')}\n\n{p['text']}\n", encoding="utf-8")
    start = time.perf_counter()
    report = kit.ingest(docs)
    print(f"ingest: {report.added} added, {report.skipped} unchanged, {report.chunks} chunks, "
          f"{time.perf_counter() - start:.1f}s")  # fmt: skip


def show(title: str, result, seconds: float) -> None:
    print(f"\n{title}  ({result.run.items} questions, {seconds:.1f}s, run {result.run.id})")
    for metric, s in result.run.summary.items():
        print(f"  {metric:12} {s['mean']:.4f}  [{s['low']:.4f}, {s['high']:.4f}]")
    st = result.run.stats
    print(f"  model {st['model_seconds']:.1f}s in {int(st['calls'])} calls, retrieval {st['retrieval_seconds']:.1f}s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--questions", type=int, default=None, help="retrieval on a seeded sample of N questions")
    parser.add_argument("--answer-sample", type=int, default=40, help="questions answered by the model (0: none)")
    parser.add_argument("--threads", type=int, default=None, help="llama.cpp and onnxruntime threads")
    parser.add_argument("--mode", default="hybrid", choices=["hybrid", "dense", "lexical"])
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args()

    import llmkit
    from llmkit.evals.dataset import load_squad
    from llmkit.evals.runner import runner_for_kit
    from llmkit.evals.suite import suite_from_dict

    if args.rebuild:
        shutil.rmtree(CACHE / ".llmkit", ignore_errors=True)
    CACHE.mkdir(parents=True, exist_ok=True)
    (CACHE / "llmkit.toml").write_text(
        'collection = "squad"\n[model]\nmax_tokens = 32\ntemperature = 0.0\nseed = 0\n', encoding="utf-8"
    )
    threads = {"threads": args.threads} if args.threads else None
    kit = llmkit.open(CACHE, model=threads, embedder=threads)
    build(kit, args.data, args.rebuild)
    items = load_squad(args.data)
    if args.questions:
        items = random.Random(1).sample(items, min(args.questions, len(items)))
    base = {"dataset": {"path": str(args.data), "format": "squad"}, "cache": True}
    pipe = {"mode": args.mode, "match": "stem", "collection": "squad"}

    suite = suite_from_dict({**base, "name": "squad-retrieval", "pipeline": {**pipe, "kind": "retrieval", "k": 10},
                             "metrics": ["hit@5", "recall@5", "mrr", "ndcg@10"]})  # fmt: skip
    start = time.perf_counter()
    show(f"retrieval ({args.mode}, k=10)", runner_for_kit(suite, kit, items=items).run(), time.perf_counter() - start)

    if args.answer_sample:
        sample = random.Random(0).sample(items, min(args.answer_sample, len(items)))
        suite = suite_from_dict({**base, "name": "squad-rag", "pipeline": {**pipe, "kind": "rag", "k": 5},
                                 "metrics": ["exact_match", "f1", "hit@5"]})  # fmt: skip
        start = time.perf_counter()
        result = runner_for_kit(suite, kit, items=sample).run()
        show(f"RAG answers ({kit.settings.model.name}, k=5, seeded sample)", result, time.perf_counter() - start)
    kit.close()


if __name__ == "__main__":
    main()
