"""Self-consistency votes only on real answers; chain-of-thought extraction; the optimiser and NaN scores."""

from __future__ import annotations

import pytest

from llmkit.errors import InputError
from llmkit.evals.metrics import token_f1
from llmkit.prompts import builtin
from llmkit.prompts.optimize import Task, optimize
from llmkit.prompts.techniques import majority, self_consistency, strip_reasoning
from llmkit.testing import FakeChatModel
from llmkit.types import GenerationParams, Message

ASK = [Message.user("Capital of France?")]


@pytest.mark.parametrize(
    ("reply", "answer"),
    [("Step 1: think.\nAnswer:", ""), ("Reasoning...\nAnswer: ", ""), ("Answer:\nParis", "Paris")],
)
def test_strip_reasoning_empty_answer(reply: str, answer: str) -> None:
    assert strip_reasoning(reply) == answer


def test_empty_answers_have_no_vote() -> None:
    vote = self_consistency(FakeChatModel(["", "Answer: Paris", "", "Answer: Paris", ""]), ASK, n=5)
    assert vote.answer == "Paris" and vote.agreement == pytest.approx(0.4)
    assert self_consistency(FakeChatModel([""]), ASK, n=3).answer == ""


def test_replies_cut_at_max_tokens_have_no_vote() -> None:
    cut = "Let me think step by step about the capital of France and"
    model = FakeChatModel([cut, "Answer: Paris", cut, "Answer: Paris", cut])
    vote = self_consistency(model, ASK, n=5, params=GenerationParams(max_tokens=6))
    assert vote.answer == "Paris" and vote.agreement == pytest.approx(0.4)


def test_default_normalisation_is_squad() -> None:
    vote = majority(["Lyon", "Lyon", "Paris", "Paris.", "paris!"])
    assert vote.answer == "Paris" and vote.agreement == pytest.approx(0.6)


def test_nan_scores_are_rejected() -> None:
    train = [Task({"context": f"c{i}", "question": f"q{i}"}, (f"a{i}",)) for i in range(4)]
    dev = [Task({"context": f"d{i}", "question": f"dq{i}"}, (f"b{i}",)) for i in range(3)]

    def metric(pred: str, refs: object) -> float:
        return float("nan") if refs == ("b0",) else token_f1(pred, refs)  # type: ignore[arg-type]

    with pytest.raises(InputError, match="gave nan"):
        optimize(builtin("qa-short"), FakeChatModel(["nothing"]), train, dev, metric, budget=40)
