"""Query rewriting and reranking on the embedded models: the plumbing (traced calls, grammar-held JSON)."""

from __future__ import annotations

import pytest

from llmkit.types import Message

pytestmark = pytest.mark.integration


def test_condense_and_multi_rewrite_with_the_embedded_model(kit) -> None:
    from llmkit.retrieve.rewrite import QueryRewriter

    history = [Message.user("Tell me about the Acme Widget."), Message.assistant("It is a kitchen gadget.")]
    rewriter = QueryRewriter(lambda: kit.model, lambda: kit.prompts, mode="multi", n=2)
    queries = rewriter.queries("What about its price?", history)
    assert 1 <= len(queries) <= 3 and all(q.strip() for q in queries)
    kinds = [t.attributes.get("kind") for t in kit.traces(limit=5)]
    assert kinds.count("rewrite") == 2  # condense, then the phrasings: both traced


def test_a_chat_turn_with_rewriting_and_reranking(kit, project) -> None:
    import llmkit

    kit.ingest(project / "docs")
    with llmkit.open(project, retrieval={"rewrite": "condense", "rerank": "embedding"}) as k:
        history = [Message.user("How long is the warranty?"), Message.assistant("Two years.")]
        stream = k.ask_stream("And what does it cover?", history=history)
        answer = stream.collect()
        assert stream.attributes and stream.attributes["search_queries"][0]
        assert answer.hits and all(h.explain.rerank_score is not None for h in answer.hits)
        hits = k.search("warranty", explain=True, rerank=True)
        assert hits[0].score == hits[0].explain.rerank_score
