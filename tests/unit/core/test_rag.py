from __future__ import annotations

from dataclasses import dataclass

import pytest

from llmkit.config import RagSettings
from llmkit.errors import ContextLengthExceeded, InputError
from llmkit.rag import NOT_FOUND, RagPipeline, pack_passages
from llmkit.testing import FakeChatModel
from llmkit.types import Chunk, Explanation, GenerationParams, Hit, Message


def hit(i: int, text: str, dense: float | None = 0.8) -> Hit:
    chunk = Chunk(f"d{i}:0", f"d{i}", f"doc{i}.md", text, 0, 0, len(text), page=i, heading="Intro")
    return Hit(chunk, 1.0 / i, Explanation(i, 1.0, i if dense is not None else None, dense, 1.0 / i))


@dataclass
class StubRetriever:
    hits: list[Hit]

    def search(self, collection: str, query: str, **kwargs: object) -> list[Hit]:
        return self.hits


def pipeline(hits: list[Hit], model: FakeChatModel, **settings: object) -> RagPipeline:
    return RagPipeline(
        StubRetriever(hits), model, settings=RagSettings(**settings), params=GenerationParams(max_tokens=20)
    )  # type: ignore[arg-type]


def test_answer_streams_and_cites_passages() -> None:
    model = FakeChatModel(["The warranty lasts two years [1]."])
    rag = pipeline([hit(1, "Warranty: two years."), hit(2, "Shipping is free.")], model)
    stream = rag.stream("c", "How long is the warranty?")
    pieces = list(stream)
    answer = stream.answer
    assert "".join(pieces).strip() == answer.text and answer.found
    assert [c.n for c in answer.cited] == [1] and answer.cited[0].source == "doc1.md"
    assert answer.citations[1].page == 2 and "§ Intro" in answer.citations[1].location
    sent = model.calls[0][0][-1].content
    assert "[1] doc1.md, p. 1, § Intro\nWarranty: two years." in sent and "[2] doc2.md" in sent
    assert answer.usage.completion_tokens == model.count_tokens(answer.text)


def test_nothing_relevant_means_no_model_call() -> None:
    model = FakeChatModel(["should not be called"])
    for hits in ([], [hit(1, "unrelated", dense=0.05)]):
        answer = pipeline(hits, model, min_relevance=0.3).ask("c", "What is the capital of Peru?")
        assert answer.text == NOT_FOUND and not answer.found and not answer.citations
    assert model.calls == []


def test_lexical_only_hits_count_as_relevant() -> None:
    answer = pipeline([hit(1, "text", dense=None)], FakeChatModel(["yes [1]"])).ask("c", "q")
    assert answer.found


def test_passages_are_packed_under_the_context_budget() -> None:
    long = " ".join(["word"] * 300)
    model = FakeChatModel(["ok"], window=200)
    rag = pipeline([hit(1, long), hit(2, "short passage"), hit(3, long)], model)
    messages, kept = rag.build_messages("q?", rag.retriever.hits)
    assert model.count_message_tokens(messages) + 20 <= 200
    assert next(h.chunk.id for h in kept) == "d1:0"  # the first passage is cut to fit, not dropped
    assert "d3:0" not in [h.chunk.id for h in kept]


def test_prompt_too_long_for_the_window_is_a_clear_error() -> None:
    rag = pipeline([hit(1, "x")], FakeChatModel(window=30))
    with pytest.raises(ContextLengthExceeded):
        rag.ask("c", "word " * 50)


def test_history_is_sent_and_dropped_oldest_first_when_too_long() -> None:
    model = FakeChatModel(["ok [1]"], window=120)
    rag = pipeline([hit(1, "fact")], model)
    history = [Message.user("old " * 40), Message.assistant("old answer"), Message.user("hi"), Message.assistant("yo")]
    rag.ask("c", "and now?", history=history)
    sent = [m.content for m in model.calls[0][0]]
    assert "hi" in sent and "yo" in sent and not any(s.startswith("old") for s in sent)


def test_empty_question_is_rejected() -> None:
    with pytest.raises(InputError):
        pipeline([], FakeChatModel()).ask("c", "   ")


def test_pack_passages_worked_example() -> None:
    context, kept = pack_passages([hit(1, "a b c"), hit(2, "d e f")], budget=1000, count_tokens=len)
    assert context.startswith("[1] doc1.md") and "\n\n[2] doc2.md" in context and len(kept) == 2


def test_unmarked_answers_are_matched_to_supporting_passages() -> None:
    model = FakeChatModel(["It lasts three years from purchase."])
    hits = [hit(1, "Shipping is free."), hit(2, "The warranty lasts three years from the date of purchase.")]
    answer = pipeline(hits, model).ask("c", "How long is the warranty?")
    assert answer.marked == () and [c.n for c in answer.cited] == [2] and answer.supported_by == (2,)


def test_marked_citations_win_over_overlap() -> None:
    model = FakeChatModel(["Free shipping [1]."])
    answer = pipeline([hit(1, "Shipping is free."), hit(2, "free shipping free")], model).ask("c", "shipping?")
    assert [c.n for c in answer.cited] == [1]
