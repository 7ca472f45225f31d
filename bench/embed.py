"""Embedding throughput of ``OnnxEmbedder`` (all-MiniLM-L6-v2 int8 ONNX) on SciFact text.

    .venv/bin/python bench/embed.py                        # 800 claims, 200 passages, all cores
    .venv/bin/python bench/embed.py --threads 1 --batch-size 16
    .venv/bin/python bench/embed.py --passages 5183       # the whole SciFact corpus (minutes)

"short": SciFact claims (one sentence, ~20 tokens). "passages": title + abstract, truncated at 256
tokens like sentence-transformers. Prints sentences/s, tokens/s and the load time; the first call
is a warm-up and not timed. DESIGN's reference: ~150 sentences/s on 2 threads for short sentences.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "beir-scifact"


def read_jsonl(path: Path, limit: int) -> list[dict]:
    rows = []
    with path.open(encoding="utf-8") as f:
        for line in f:
            rows.append(json.loads(line))
            if len(rows) >= limit:
                break
    return rows


def timed(embedder: object, texts: list[str], label: str) -> None:
    tokens = sum(min(embedder.count_tokens(t) + 2, embedder.max_tokens) for t in texts)
    t0 = time.perf_counter()
    out = embedder.embed(texts)
    dt = time.perf_counter() - t0
    print(
        f"{label:10} {len(texts):6d} texts  {tokens / len(texts):6.1f} tokens avg  "
        f"{len(texts) / dt:8.1f} texts/s  {tokens / dt:9.0f} tokens/s  ({dt:.2f}s, shape {out.shape})"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--short", type=int, default=800, help="number of claims")
    ap.add_argument("--passages", type=int, default=200, help="number of abstracts")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--batch-size", type=int, default=32)
    args = ap.parse_args()

    from llmkit.config import load_settings
    from llmkit.embeddings.onnx_minilm import OnnxEmbedder
    from llmkit.models.catalog import Catalog

    paths = Catalog(load_settings().models_dir).paths("all-minilm-l6-v2")
    emb = OnnxEmbedder(paths["model"], paths["tokenizer"], threads=args.threads, batch_size=args.batch_size)
    t0 = time.perf_counter()
    emb.embed(["warm up"])
    print(f"threads {args.threads}, batch {args.batch_size}, load + first call {time.perf_counter() - t0:.2f}s")

    claims = [q["text"] for q in read_jsonl(DATA / "queries.jsonl", args.short)]
    docs = [f"{d['title']}\n{d['text']}" for d in read_jsonl(DATA / "corpus.jsonl", args.passages)]
    timed(emb, claims, "short")
    timed(emb, docs, "passages")


if __name__ == "__main__":
    main()
