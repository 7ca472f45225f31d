"""Synthetic question generation (clean, filter, dedupe, budget) and judge verdict parsing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pytest

from llmkit.errors import InputError
from llmkit.evals.judge import VERDICT_SCHEMA, context_precision_from, judge, parse_verdict
from llmkit.evals.synth import synthesize
from llmkit.prompts import builtin
from llmkit.testing import FakeChatModel
from llmkit.types import Chunk, DocumentInfo, Message

TEXTS = [
    "The Acme warranty lasts three years from the date of purchase.",
    "Shipping within Europe takes five working days and the Acme warranty covers it.",
    "Reset the widget by holding the power button for ten seconds.",
    "Refunds are paid to the original card within two weeks.",
]


@dataclass
class ChunkStore:
    def list_documents(self, collection: str, **_: object) -> list[DocumentInfo]:
        return [DocumentInfo(f"d{i}", f"doc{i}.md", "h", "text/markdown", 1) for i in range(len(TEXTS))]

    def get_chunks(self, collection: str, ids: Sequence[str]) -> list[Chunk]:
        out = []
        for cid in ids:
            i = int(cid.split(":")[0][1:])
            out.append(Chunk(cid, f"d{i}", f"doc{i}.md", TEXTS[i], 0, 0, len(TEXTS[i])))
        return out


def test_synthesize_cleans_filters_and_dedupes() -> None:
    replies = {
        "warranty": 'Question: "How long does the Acme warranty last?"\nIt lasts three years.',
        "Shipping": "How long does the Acme warranty last?",  # a duplicate of the first
        "Reset": "Reset?",  # too short
        "Refunds": "How are refunds paid back to the customer?",
    }

    def reply(messages: Sequence[Message]) -> str:
        text = messages[-1].content
        return next(v for k, v in replies.items() if k in text)

    items, dropped = synthesize(ChunkStore(), "c", FakeChatModel(reply), builtin("synth-question"), n=4, seed=1)  # type: ignore[arg-type]
    questions = sorted(i.input for i in items)
    assert questions == ["How are refunds paid back to the customer?", "How long does the Acme warranty last?"]
    assert dropped == {"duplicate": 1, "too short or too long": 1}
    item = next(i for i in items if "refunds" in i.input)
    assert item.contexts == (TEXTS[3],) and item.doc_ids == ("doc3.md",) and item.metadata["chunk_id"] == "d3:0"


def test_synthesize_respects_the_call_budget() -> None:
    model = FakeChatModel(["What is described in this passage about the widget?"])
    items, _ = synthesize(ChunkStore(), "c", model, builtin("synth-question"), n=3, max_calls=2)  # type: ignore[arg-type]
    assert len(model.calls) <= 2 and len(items) <= 2
    with pytest.raises(InputError):
        synthesize(ChunkStore(), "c", model, builtin("synth-question"), n=0)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "score"),
    [('{"reasoning": "ok", "score": 4}', 0.75), ('{"score": 9}', None), ("Score: 1. Not supported.", 0.0),
     ("I give it 5/5", 1.0), ("", None), ('{"reasoning": "r", "score": "high"}', None)],
)  # fmt: skip
def test_parse_verdict(text: str, score: float | None) -> None:
    assert parse_verdict(text).score == score


def test_judge_asks_for_json_with_the_rubric() -> None:
    model = FakeChatModel(['{"reasoning": "all there", "score": 5}'])
    rubric = builtin("judge-faithfulness")
    verdict = judge(model, rubric, question="q", context="[1] c", answer="a")
    assert verdict.score == 1.0 and verdict.reasoning == "all there"
    messages, params = model.calls[0]
    assert params.json_schema == VERDICT_SCHEMA and params.temperature == 0.0
    assert "strict grader" in messages[0].content and "Answer: a" in messages[-1].content


def test_context_precision_average_precision() -> None:
    assert context_precision_from([True, True]) == 1.0
    assert context_precision_from([False, True]) == 0.5
    assert context_precision_from([False, False]) == 0.0
