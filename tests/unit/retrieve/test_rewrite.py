"""Query rewriting with a scripted chat model: condense a follow-up, ask for phrasings, fuse their results."""

from __future__ import annotations

from typing import Any

import pytest
from retrieve_helpers import COLLECTION

from llmkit.config import RagSettings, RetrievalSettings
from llmkit.errors import InputError
from llmkit.rag import RagPipeline
from llmkit.retrieve import Retriever
from llmkit.retrieve.rewrite import QueryRewriter, clean_rewrite, parse_queries
from llmkit.retrieve.stages import StagedExplanation
from llmkit.testing import FakeChatModel, HashEmbedder
from llmkit.types import Chunk, Explanation, GenerationParams, Hit, Message

HISTORY = [
    Message.user("Tell me about the Acme Widget."),
    Message.assistant("The Acme Widget is a small gadget for the kitchen."),
]


def test_condense_makes_a_follow_up_standalone() -> None:
    model = FakeChatModel(["Standalone question: What is the Acme Widget's price?"])
    rewriter = QueryRewriter(lambda: model, mode="condense")
    assert rewriter.queries("What about its price?", HISTORY) == ("What is the Acme Widget's price?",)
    sent, params = model.calls[0]
    assert "Acme Widget" in sent[-1].content and "What about its price?" in sent[-1].content
    assert params.temperature == 0.0


def test_condense_without_history_makes_no_call() -> None:
    model = FakeChatModel(["should not be used"])
    assert QueryRewriter(lambda: model).queries("What is the price?") == ("What is the price?",)
    assert model.calls == []


def test_a_failing_or_empty_rewrite_keeps_the_question() -> None:
    for model in (FakeChatModel(["   "]), FakeChatModel(["x"], window=20)):  # empty reply; ContextLengthExceeded
        assert QueryRewriter(lambda m=model: m).queries("What about its price?", HISTORY) == ("What about its price?",)


def test_multi_asks_for_phrasings_as_json() -> None:
    replies = ["What is the Acme Widget's price?", '{"queries": ["Acme Widget cost", "how much is the Acme Widget"]}']
    model = FakeChatModel(replies)
    queries = QueryRewriter(lambda: model, mode="multi", n=2).queries("What about its price?", HISTORY)
    assert queries == ("What is the Acme Widget's price?", "Acme Widget cost", "how much is the Acme Widget")
    assert model.calls[1][1].json_schema is not None and "2" in model.calls[1][0][0].content


def test_unknown_rewrite_mode_is_an_input_error() -> None:
    with pytest.raises(InputError):
        QueryRewriter(FakeChatModel, mode="hyde")
    with pytest.raises(InputError):
        QueryRewriter(FakeChatModel).queries("q", mode="hyde")


def test_parsers() -> None:
    assert clean_rewrite('"Why?"\nmore') == "Why?"
    assert parse_queries("not json\n\n2) b", 5) == ["not json", "b"]


def test_other_phrasings_are_searched_and_fused(store: Any, embedder: HashEmbedder) -> None:
    r = Retriever(store, embedder, RetrievalSettings(mode="lexical"))
    alone = [h.chunk.id for h in r.search(COLLECTION, "quantum qubits", k=3)]
    hits = r.search(COLLECTION, "quantum qubits", k=3, queries=["install pip"], explain=True)
    ids = [h.chunk.id for h in hits]
    assert ids[0] in ("c4", "c5") and {"c4", "c5"} <= set(ids) and alone == ["c4"]
    why = {h.chunk.id: h.explain for h in hits}
    assert isinstance(why["c5"], StagedExplanation) and why["c5"].queries == ("install pip",)
    assert why["c4"].queries == ("quantum qubits",)  # type: ignore[union-attr]


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def search(self, collection: str, query: str, **kwargs: Any) -> list[Hit]:
        self.calls.append((query, kwargs))
        chunk = Chunk("d:0", "d", "widget.md", "The Acme Widget costs 20 dollars.", 0, 0, 33)
        return [Hit(chunk, 1.0, Explanation(1, 1.0, 1, 0.9, 1.0))]


def test_a_chat_follow_up_is_condensed_before_retrieval() -> None:
    model = FakeChatModel(["What is the Acme Widget's price?", "It costs 20 dollars [1]."])
    retriever = Recorder()
    rag = RagPipeline(
        retriever,  # type: ignore[arg-type]
        model,
        settings=RagSettings(),
        params=GenerationParams(max_tokens=20),
        rewriter=QueryRewriter(lambda: model, mode="condense"),
    )
    stream = rag.stream("c", "What about its price?", history=HISTORY)
    answer = stream.collect()
    assert retriever.calls[0][0] == "What is the Acme Widget's price?"
    assert stream.attributes and stream.attributes["search_queries"] == ["What is the Acme Widget's price?"]
    assert model.calls[-1][0][-1].content.rstrip().endswith("What about its price?\nAnswer:")  # asked as asked
    assert answer.text == "It costs 20 dollars [1]."
    rag.ask("c", "What about its price?", history=HISTORY, rewrite="none")  # a call may turn it off
    assert retriever.calls[-1][0] == "What about its price?"


def test_multi_rewrite_passes_the_phrasings_to_the_retriever() -> None:
    model = FakeChatModel(['{"queries": ["Acme Widget cost"]}', "20 dollars [1]."])
    retriever = Recorder()
    rag = RagPipeline(retriever, model, rewriter=QueryRewriter(lambda: model, mode="multi", n=1))  # type: ignore[arg-type]
    rag.ask("c", "What does the Acme Widget cost?")  # no history: no condensing call
    assert retriever.calls[0] == ("What does the Acme Widget cost?", retriever.calls[0][1])
    assert retriever.calls[0][1]["queries"] == ("Acme Widget cost",)
