"""Reranking after fusion: the stage, the embedding and LLM rerankers, and choosing one by name."""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from typing import Any

import pytest
from retrieve_helpers import COLLECTION

from llmkit.config import RetrievalSettings
from llmkit.errors import ConfigError, InputError, MissingExtra
from llmkit.rerank import load_reranker
from llmkit.rerank.cross_encoder import CrossEncoderReranker
from llmkit.rerank.embedding import EmbeddingReranker
from llmkit.rerank.llm import LlmReranker
from llmkit.retrieve import Retriever
from llmkit.retrieve.stages import StagedExplanation
from llmkit.testing import FakeChatModel, HashEmbedder


class ByWord:
    """Scores a passage by whether it holds ``word``; records what it was asked."""

    name = "by-word"

    def __init__(self, word: str) -> None:
        self.word, self.seen = word, []  # type: ignore[var-annotated]

    def score(self, query: str, passages: Sequence[str]) -> list[float]:
        self.seen.append((query, list(passages)))
        return [1.0 if self.word in p.lower() else 0.0 for p in passages]


def test_the_reranker_reorders_the_fused_candidates(store: Any, embedder: HashEmbedder) -> None:
    reranker = ByWord("garden")
    r = Retriever(store, embedder, RetrievalSettings(rerank_top=6), reranker=reranker)
    hits = r.search(COLLECTION, "the cat", k=2, explain=True)
    assert hits[0].chunk.id in ("c3", "c7") and all("garden" in h.chunk.text for h in hits)
    assert len(reranker.seen[0][1]) == 6 and reranker.seen[0][0] == "the cat"  # rerank_top candidates
    assert isinstance(hits[0].explain, StagedExplanation) and hits[0].explain.rerank_score == hits[0].score == 1.0
    plain = r.search(COLLECTION, "the cat", k=2, rerank=False)
    assert plain[0].chunk.id in ("c1", "c2")


def test_rerank_true_without_a_reranker_is_an_input_error(store: Any, embedder: HashEmbedder) -> None:
    with pytest.raises(InputError):
        Retriever(store, embedder).search(COLLECTION, "cat", rerank=True)


def test_rerank_then_mmr(store: Any, embedder: HashEmbedder) -> None:
    r = Retriever(store, embedder, RetrievalSettings(mmr=True, mmr_lambda=0.3), reranker=ByWord("mat"))
    hits = r.search(COLLECTION, "cat mat", k=2, explain=True)
    assert hits[0].chunk.id in ("c1", "c2") and [h.explain.mmr_rank for h in hits] == [1, 2]  # type: ignore[union-attr]
    assert {h.chunk.id for h in hits} != {"c1", "c2"}  # the near-duplicate is kept apart


def test_embedding_reranker_scores_the_best_window() -> None:
    emb = HashEmbedder(dim=256)
    passages = ["Roses grow here. Tulips too. The warranty lasts three years.", "Shipping takes five days."]
    scores = EmbeddingReranker(emb).score("how long does the warranty last", passages)
    assert scores[0] > scores[1]
    assert EmbeddingReranker(lambda: emb).score("q", []) == []


def test_llm_reranker_grades_each_passage_by_json() -> None:
    model = FakeChatModel(['{"relevance": 1}', '{"relevance": 3}', "no idea"])
    scores = LlmReranker(lambda: model).score("warranty?", ["shipping", "warranty: 3 years", "?"])
    assert scores == [1.0, 3.0, 0.0]
    assert all(params.json_schema for _, params in model.calls) and "warranty: 3 years" in model.calls[1][0][-1].content


def test_rerankers_by_name(tmp_path: Any) -> None:
    emb = HashEmbedder()
    assert load_reranker("none", embedder=lambda: emb) is None
    assert isinstance(load_reranker("embedding", embedder=lambda: emb), EmbeddingReranker)
    assert isinstance(load_reranker("llm", embedder=lambda: emb, model=FakeChatModel), LlmReranker)
    with pytest.raises(ConfigError):
        load_reranker("llm", embedder=lambda: emb)
    onnx = load_reranker("ce/model.onnx", embedder=lambda: emb, base=tmp_path)
    assert isinstance(onnx, CrossEncoderReranker)
    with pytest.raises(ConfigError):  # no such file: a clear error on first use
        onnx.score("q", ["p"])


@pytest.mark.skipif(importlib.util.find_spec("sentence_transformers") is not None, reason="it is installed")
def test_a_cross_encoder_name_needs_sentence_transformers() -> None:
    with pytest.raises(MissingExtra):
        CrossEncoderReranker("cross-encoder/ms-marco-MiniLM-L-6-v2").score("q", ["p"])
