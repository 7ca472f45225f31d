"""Stock vs int8-MatMul MiniLM side by side: query embedding, dense and hybrid latency on SciFact, passages/s.

Each query is run through both embedders in turn (interleaved, so machine noise hits both alike) over
the SciFact collection that ``bench/retrieval_beir.py`` cached; its vectors are whichever model filled
it, which does not change the latency. Quality (nDCG@10) needs the collection embedded with each model:
``bench/retrieval_beir.py`` after ``llmkit collections reembed``.

    .venv/bin/python bench/query_embed.py [--queries 300] [--passages 48]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "beir-scifact"
CACHE = ROOT / "bench" / ".cache" / "scifact"
MODELS = ("all-minilm-l6-v2", "all-minilm-l6-v2-q8")


def p(values: list[float], q: int = 50) -> float:
    return statistics.quantiles(values, n=100)[q - 1] * 1e3


def settings_for(settings, name: str):  # -> Settings with [embedder] name = name
    return settings.model_copy(update={"embedder": settings.embedder.model_copy(update={"name": name})})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--passages", type=int, default=48, help="SciFact abstracts for passages/s")
    args = ap.parse_args()
    import llmkit
    from llmkit.models.catalog import Catalog
    from llmkit.registry import load_embedder
    from llmkit.retrieve import Retriever

    if not (CACHE / ".llmkit" / "store.db").is_file():
        raise SystemExit("no cached SciFact collection: run bench/retrieval_beir.py first")
    kit = llmkit.open(CACHE, collection="scifact")
    catalog = Catalog(kit.settings.models_dir)
    for name in MODELS:
        catalog.path(name)  # NotFound with the pull command when missing
    emb = {n: load_embedder(settings_for(kit.settings, n)) for n in MODELS}
    ret = {n: Retriever(kit.store, e, kit.settings.retrieval) for n, e in emb.items()}
    rows = [json.loads(line) for line in (DATA / "queries.jsonl").open(encoding="utf-8")]
    queries = [r["text"] for r in rows][: args.queries]
    lat: dict[tuple[str, str], list[float]] = {(n, m): [] for n in MODELS for m in ("embed", "dense", "hybrid")}
    for i, q in enumerate(queries[:30] + queries):
        for n in MODELS:
            for mode in ("embed", "dense", "hybrid"):
                t = time.perf_counter()
                if mode == "embed":
                    emb[n].embed([q])
                else:
                    ret[n].search("scifact", q, k=10, mode=mode)
                if i >= 30:  # the first 30 warm up (BM25 in memory, sessions)
                    lat[n, mode].append(time.perf_counter() - t)
    with (DATA / "corpus.jsonl").open(encoding="utf-8") as f:
        corpus = [json.loads(line) for _, line in zip(range(args.passages * 25), f, strict=False)]
    passages = [f"{d['title']}\n\n{d['text']}" for d in corpus[::25]]
    rate: dict[str, list[float]] = {n: [] for n in MODELS}
    for _ in range(3):
        for n in MODELS:
            t = time.perf_counter()
            emb[n].embed(passages)
            rate[n].append(len(passages) / (time.perf_counter() - t))
    print(f"{len(queries)} SciFact queries, {kit.store.get_collection('scifact').chunks} chunks; ms; interleaved")
    print(f"{'embedder':22} {'embed p50':>9} {'dense p50':>9} {'hybrid p50':>10} {'hybrid p95':>10} {'passages/s':>10}")
    for n in MODELS:
        row = [p(lat[n, "embed"]), p(lat[n, "dense"]), p(lat[n, "hybrid"]), p(lat[n, "hybrid"], 95)]
        print(f"{n:22} " + " ".join(f"{v:9.2f}" for v in row) + f" {statistics.median(rate[n]):10.1f}")
    kit.close()


if __name__ == "__main__":
    main()
