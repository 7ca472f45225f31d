"""Ingest throughput with the real embedder vs raw ``embedder.embed`` on the same chunk texts.

The embedder is the bottleneck; everything around it (reading, loading, splitting, SQLite writes)
should cost little. The assertion uses the time spent inside ``embed`` during the run (the same
batches, at the same moment), which is robust on a shared machine; a separate raw re-embedding of
the chunks is printed for comparison. Run with ``-s`` to see the numbers.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from llmkit.config import IngestSettings, load_settings
from llmkit.ingest import Ingestor
from llmkit.ingest.pipeline import embed_text
from shared_data import SHARED_DATA, shared_data_missing

SCIFACT = SHARED_DATA / "beir-scifact" / "corpus.jsonl"
pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.skipif(shared_data_missing(SCIFACT), reason="shared/data/beir-scifact not found"),
]


def test_ingest_keeps_up_with_raw_embedding(real_models: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from llmkit.embeddings.onnx_minilm import OnnxEmbedder
    from llmkit.store.sqlite import SQLiteStore

    monkeypatch.chdir(tmp_path)
    (tmp_path / "corpus").mkdir()
    with SCIFACT.open(encoding="utf-8") as f:
        for i, line in zip(range(60), f, strict=False):
            d = json.loads(line)
            (tmp_path / "corpus" / f"{i:04d}.txt").write_text(f"{d['title']}\n\n{d['text']}", encoding="utf-8")
    embedder = OnnxEmbedder.from_settings(load_settings(tmp_path))
    embedder.embed(["warm up"])
    inside = [0.0]
    real_embed = embedder.embed

    def timed_embed(texts):  # type: ignore[no-untyped-def]
        t = time.perf_counter()
        try:
            return real_embed(texts)
        finally:
            inside[0] += time.perf_counter() - t

    monkeypatch.setattr(embedder, "embed", timed_embed)
    store = SQLiteStore(tmp_path / "store.db")
    settings = IngestSettings(batch_size=32)

    start = time.perf_counter()
    report = Ingestor(store, embedder, settings).run(["corpus"], "bench")
    ingest_s = time.perf_counter() - start
    assert report.added == 60 and not report.failed

    docs = store.list_documents("bench")
    ids = [f"{d.id}:{i}" for d in docs for i in range(d.chunk_count)]
    texts = [embed_text(c) for c in store.get_chunks("bench", ids)]
    start = time.perf_counter()
    for i in range(0, len(texts), settings.batch_size):
        real_embed(texts[i : i + settings.batch_size])
    raw_s = time.perf_counter() - start
    store.close()

    share = inside[0] / ingest_s
    print(f"\n{len(texts)} chunks: ingest {len(texts) / ingest_s:.1f} chunks/s; embed calls took {share:.1%} of it;"
          f" raw re-embed {len(texts) / raw_s:.1f} chunks/s (ratio {raw_s / ingest_s:.2f})")  # fmt: skip
    assert share >= 0.9
