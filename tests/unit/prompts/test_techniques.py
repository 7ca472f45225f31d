"""Few-shot selection, chain-of-thought stripping, self-consistency voting."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from llmkit.errors import InputError
from llmkit.prompts.techniques import SimilarExamples, chain_of_thought, majority, self_consistency, strip_reasoning
from llmkit.testing import FakeChatModel, HashEmbedder
from llmkit.types import Message


def test_similar_examples_pick_the_nearest() -> None:
    pool = [("capital of france", "Paris"), ("boiling point of water", "100 C"), ("capital of italy", "Rome")]
    sel = SimilarExamples(pool, HashEmbedder(dim=256), k=2)
    picked = sel.select("what is the capital of spain")
    assert {q for q, _ in picked} == {"capital of france", "capital of italy"}
    with pytest.raises(InputError):
        SimilarExamples([], HashEmbedder(), k=1)


def test_chain_of_thought_keeps_reasoning_out_of_the_answer() -> None:
    model = FakeChatModel(["Two apples plus three apples.\nThat makes five.\nAnswer: 5"])
    out = chain_of_thought(model, [Message.system("Be exact."), Message.user("2+3?")])
    assert out.answer == "5" and "five" in out.reasoning
    sent = model.calls[0][0]
    assert sent[0].content == "Be exact." and "step by step" in sent[-1].content


@pytest.mark.parametrize(
    ("reply", "answer"),
    [("a\nb\nAnswer: 7", "7"), ("Final answer: Paris", "Paris"), ("no marker\nlast line", "last line"),
     ("<think>x\ny</think>\nBlue", "Blue"), ("", "")],
)  # fmt: skip
def test_strip_reasoning(reply: str, answer: str) -> None:
    assert strip_reasoning(reply) == answer


def test_self_consistency_votes_over_samples() -> None:
    replies = iter(["Answer: 4", "Answer: 5", "Answer: 4", "Answer: four", "Answer: 4"])

    def script(_: Sequence[Message]) -> str:
        return next(replies)

    model = FakeChatModel(script)
    vote = self_consistency(model, [Message.user("2+2?")], n=5)
    assert vote.answer == "4" and vote.agreement == pytest.approx(0.6) and len(vote.samples) == 5
    seeds = [p.seed for _, p in model.calls]
    assert len(set(seeds)) == 5 and all(p.temperature >= 0.7 for _, p in model.calls)


def test_majority_ties_go_to_the_first() -> None:
    assert majority(["b", "a", "a", "b"]).answer == "b"
    with pytest.raises(InputError):
        majority([])
