"""The prompt's token budget in a long chat: the passages keep their share, the oldest turns go first."""

from __future__ import annotations

from llmkit.config import RagSettings
from llmkit.rag import RagPipeline
from llmkit.testing import FakeChatModel
from llmkit.types import Chunk, Explanation, GenerationParams, Hit, Message


def hit(i: int, text: str) -> Hit:
    chunk = Chunk(f"d{i}:0", f"d{i}", f"doc{i}.md", text, 0, 0, len(text))
    return Hit(chunk, 1.0 / i, Explanation(i, 1.0, i, 0.8, 1.0 / i))


class Stub:
    def __init__(self, hits: list[Hit]) -> None:
        self.hits = hits

    def search(self, collection: str, query: str, **kwargs: object) -> list[Hit]:
        return self.hits


def turns(n: int, words: int = 20) -> list[Message]:
    out = []
    for i in range(n):
        out += [Message.user(f"question {i} " + "w " * words), Message.assistant(f"answer {i} " + "w " * words)]
    return out


def test_a_long_history_does_not_push_the_passages_out() -> None:
    hits = [hit(i, " ".join(f"fact{i}" for _ in range(30))) for i in (1, 2, 3)]
    model = FakeChatModel(window=600)
    rag = RagPipeline(Stub(hits), model, settings=RagSettings(), params=GenerationParams(max_tokens=20))  # type: ignore[arg-type]
    messages, kept = rag.build_messages("What is it?", hits, turns(40))
    assert len(kept) == 3  # before: one passage, cut, beside 11 old turns
    sent = [m.content for m in messages]
    assert any(s.startswith("question 39 ") for s in sent)  # the newest turn stays
    assert not any(s.startswith("question 0 ") for s in sent)  # the oldest went
    assert model.count_message_tokens(messages) + 20 <= 600


def test_context_tokens_is_the_passages_reserve() -> None:
    hits = [hit(i, " ".join(f"fact{i}" for _ in range(30))) for i in (1, 2, 3)]
    model = FakeChatModel(window=600)
    settings = RagSettings(context_tokens=80)
    rag = RagPipeline(Stub(hits), model, settings=settings, params=GenerationParams(max_tokens=20))  # type: ignore[arg-type]
    messages, kept = rag.build_messages("What is it?", hits, turns(40))
    assert len(kept) == 2  # two passages fit in 80 tokens; the history takes the rest
    history = [m for m in messages if m.content.startswith(("question", "answer"))]
    assert len(history) >= 10 and history[-1].content.startswith("answer 39 ")


def test_short_history_is_kept_whole() -> None:
    hits = [hit(1, "fact one")]
    rag = RagPipeline(Stub(hits), FakeChatModel(window=600), params=GenerationParams(max_tokens=20))  # type: ignore[arg-type]
    messages, kept = rag.build_messages("What is it?", hits, turns(3))
    assert len(messages) == 2 + 6 and len(kept) == 1
