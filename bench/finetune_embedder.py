"""SciFact: the stock embedder against one tuned on a seeded 80 % of the shared train queries.

Tunes all-MiniLM-L6-v2 (float weights, catalog ``all-minilm-l6-v2-torch``, or ``--base FOLDER``) with
``llmkit.finetune`` on the training queries' (claim, abstract) pairs, exports it to int8 ONNX, then
scores both through llmkit's real store and retriever on the held-out 20 % of the queries:
nDCG@10 for dense and hybrid retrieval, with the paired-bootstrap 95 % interval of the delta.

The stock collection (SciFact's 5,183 abstracts embedded by the stock int8 ONNX model) is cached in
``bench/.cache/finetune_embedder/stock``; the tuned collection is a copy of it re-embedded with
``Kit.reembed`` (so that path is timed too). ``--corpus-limit N`` keeps the relevant abstracts plus N
others, for a quick run.

    .venv/bin/python bench/finetune_embedder.py [--data ../shared/data/beir-scifact] [--corpus-limit 500]
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from retrieval_beir import doc_ranking, ndcg_at  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "beir-scifact"
CACHE = ROOT / "bench" / ".cache" / "finetune_embedder"
INGEST = {"chunk_tokens": 256, "chunk_overlap": 32}
#: The stock side: all-MiniLM-L6-v2 with weight-only int8, the quantisation the tuned export gets too (the
#: default q8 model also quantises activations, which would put the two sides on different footing).
STOCK = {"name": "all-minilm-l6-v2"}


def corpus_slice(data, limit: int | None, seed: int):  # type: ignore[no-untyped-def]
    """All relevant abstracts plus ``limit`` others (seeded); the whole corpus without a limit."""
    if limit is None:
        return data
    relevant = {d for r in data.qrels.values() for d in r}
    others = sorted(set(data.corpus) - relevant)
    keep = sorted(relevant) + random.Random(seed).sample(others, min(limit, len(others)))
    return data.subset(data.qrels, keep)


def stock_project(data, folder: Path) -> tuple[Path, float | None]:  # type: ignore[no-untyped-def]
    """A project with the corpus ingested by the stock embedder (reused when cached); ingest seconds."""
    import llmkit

    docs = folder / "docs"
    if (folder / ".llmkit" / "store.db").exists():
        return folder, None
    shutil.rmtree(folder, ignore_errors=True)
    docs.mkdir(parents=True)
    for doc_id, text in data.corpus.items():
        (docs / f"{doc_id}.txt").write_text(text + "\n", encoding="utf-8")
    start = time.perf_counter()
    with llmkit.open(folder, collection="scifact", ingest=INGEST, embedder=STOCK) as kit:
        kit.ingest(docs)
    return folder, time.perf_counter() - start


def per_query(kit, data, qids: list[str], mode: str) -> list[float]:  # type: ignore[no-untyped-def]
    return [ndcg_at(doc_ranking(kit.search(data.queries[q], k=100, mode=mode)), set(data.qrels[q])) for q in qids]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--base", default="all-minilm-l6-v2-torch", help="catalog name or Hugging Face folder")
    parser.add_argument("--heldout", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=float, default=3.0)
    parser.add_argument("--hard-negatives", type=int, default=1, help="mined negatives per pair (0: in-batch only)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--max-seq-length", type=int, default=256)
    parser.add_argument("--corpus-limit", type=int, default=None, help="relevant abstracts + N others")
    parser.add_argument("--queries", type=int, default=None, help="a seeded sample of N train queries (quick run)")
    parser.add_argument("--cache", type=Path, default=CACHE)
    args = parser.parse_args()

    import llmkit
    from llmkit.config import load_settings
    from llmkit.evals.stats import paired_bootstrap
    from llmkit.finetune.embedder import EmbedderTuneConfig, tune_embedder
    from llmkit.finetune.onnx_export import export_onnx
    from llmkit.finetune.pairs import load_beir_set, split_queries

    data = load_beir_set(args.data)
    if args.queries:
        data = data.subset(random.Random(args.seed).sample(sorted(data.qrels), args.queries), data.corpus)
    data = corpus_slice(data, args.corpus_limit, args.seed)
    train_q, held_q = split_queries(data.qrels, args.heldout, args.seed)
    tag = f"q{args.queries or 'all'}-c{args.corpus_limit or 'all'}"
    cache = args.cache / tag
    cache.mkdir(parents=True, exist_ok=True)
    print(
        f"SciFact: {len(data.corpus)} abstracts, {len(train_q)} train / {len(held_q)} held-out queries"
        f" (seed {args.seed})"
    )

    cfg = EmbedderTuneConfig(epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.lr,
                             max_seq_length=args.max_seq_length, seed=args.seed, heldout=0.0,
                             hard_negatives=args.hard_negatives)  # fmt: skip
    out = cache / f"tuned-s{args.seed}-e{args.epochs}-b{args.batch_size}-lr{args.lr}-hn{args.hard_negatives}"
    train_only = data.subset(train_q, data.corpus)
    result = tune_embedder(args.base, train_only, out / "model", config=cfg, settings=load_settings(cache))
    export = export_onnx(out / "model", out / "onnx")
    print(
        f"training: {result.pairs} pairs, {result.seconds:.0f}s (mining the negatives included);"
        f" int8 ONNX min cosine to torch {export.min_cosine:.4f}"
    )

    stock_dir, ingest_s = stock_project(data, cache / "stock")
    print("stock collection: " + (f"ingested in {ingest_s:.0f}s" if ingest_s else "reused from the cache"))
    tuned_dir = cache / "tuned"
    shutil.rmtree(tuned_dir, ignore_errors=True)
    shutil.copytree(stock_dir / ".llmkit", tuned_dir / ".llmkit", ignore=shutil.ignore_patterns("reembed"))
    start = time.perf_counter()
    with llmkit.open(tuned_dir, collection="scifact", embedder={"name": str(export.model)}) as kit:
        report = kit.reembed(batch_size=64)
    print(f"re-embedding {report.collection.chunks} chunks with the tuned model: {time.perf_counter() - start:.0f}s")

    rows = []
    with llmkit.open(stock_dir, collection="scifact", embedder=STOCK) as stock, \
         llmkit.open(tuned_dir, collection="scifact", embedder={"name": str(export.model)}) as tuned:  # fmt: skip
        for mode in ("dense", "hybrid", "lexical"):
            a, b = per_query(stock, data, held_q, mode), per_query(tuned, data, held_q, mode)
            rows.append((mode, paired_bootstrap("ndcg@10", a, b, seed=args.seed)))
    print(f"\nnDCG@10 on {len(held_q)} held-out queries (paired bootstrap, 2000 resamples)")
    print(f"{'mode':8} {'stock':>7} {'tuned':>7} {'delta':>7} {'95% CI':>18} {'p':>6}")
    for mode, c in rows:
        print(f"{mode:8} {c.a:7.4f} {c.b:7.4f} {c.delta:+7.4f} [{c.low:+.4f}, {c.high:+.4f}] {c.p_value:6.3f}")
    print("(lexical does not use the embedder: its delta is 0 by construction)")


if __name__ == "__main__":
    main()
