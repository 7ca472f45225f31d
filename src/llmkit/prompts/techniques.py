"""Prompting techniques over any ``ChatModel`` and registry ``Prompt``.

- few-shot with fixed examples (the prompt file's ``examples``) or chosen by embedding similarity
  from a pool (``SimilarExamples``);
- chain-of-thought with the reasoning kept out of the final answer (``chain_of_thought``);
- self-consistency: n sampled answers, majority vote on the normalised answer (``self_consistency``);
  a reply without an answer (cut at ``max_tokens``, or an empty "Answer:") has no vote.

Structured output with validation and retry lives in ``llmkit.structured``; here JSON replies are asked
for with ``GenerationParams.json_schema`` directly.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from llmkit.errors import InputError
from llmkit.models.base import ChatModel
from llmkit.observe.traces import trace_attributes
from llmkit.types import GenerationParams, Message

if TYPE_CHECKING:
    import numpy as np

    from llmkit.embeddings.base import Embedder

Example = tuple[str, str]

COT_INSTRUCTION = (
    "Think it through step by step. Then write the final answer on its own last line, starting with 'Answer:'."
)
_ANSWER = re.compile(r"^\s*(?:final\s+)?answer\s*[:：]\s*(.*)$", re.I | re.M)
_THINK = re.compile(r"<think>.*?</think>", re.S | re.I)


class SimilarExamples:
    """Pick the ``k`` examples whose inputs are most similar to the query (cosine of embeddings).

    The pool is embedded once, on first use.
    """

    def __init__(self, pool: Sequence[Example], embedder: Embedder, k: int = 3) -> None:
        if k < 1:
            raise InputError("k must be at least 1")
        if not pool:
            raise InputError("the example pool is empty")
        self.pool = list(pool)
        self.embedder = embedder
        self.k = k
        self._vectors: np.ndarray | None = None

    def select(self, query: str) -> list[Example]:
        """The most similar examples, most similar last (nearest the question)."""
        if self._vectors is None:
            self._vectors = self.embedder.embed([q for q, _ in self.pool])
        scores = self._vectors @ self.embedder.embed([query])[0]
        best = sorted(range(len(self.pool)), key=lambda i: -float(scores[i]))[: self.k]
        return [self.pool[i] for i in reversed(best)]


def strip_reasoning(text: str) -> str:
    """The final answer of a chain-of-thought reply: after the last "Answer:", else the last line.

    An "Answer:" with nothing after it is no answer (``""``), not the marker itself.

    >>> strip_reasoning("Paris is in France. 2 + 2 = 4.\\nAnswer: 4")
    '4'
    >>> strip_reasoning("<think>hmm</think>Blue.")
    'Blue.'
    >>> strip_reasoning("Step 1: think.\\nAnswer:")
    ''
    """
    text = _THINK.sub("", text).strip()
    found = list(_ANSWER.finditer(text))
    if found:
        last = found[-1]
        after = [last.group(1).strip(), *(ln.strip() for ln in text[last.end() :].splitlines())]
        return next((a for a in after if a), "")
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return lines[-1] if lines else ""


@dataclass(frozen=True, slots=True)
class Reasoned:
    """A chain-of-thought result: the answer alone, and the reasoning kept apart (for traces and reports)."""

    answer: str
    reasoning: str


def chain_of_thought(model: ChatModel, messages: Sequence[Message], params: GenerationParams | None = None) -> Reasoned:
    """Ask for step-by-step reasoning, return the final answer separately from it."""
    if not messages:
        raise InputError("no messages to send")
    *head, last = messages
    asked = [*head, Message(last.role, f"{last.content}\n\n{COT_INSTRUCTION}")]
    with trace_attributes(technique="chain-of-thought"):
        reply = model.chat(asked, params)
    return Reasoned(strip_reasoning(reply.text), reply.text)


@dataclass(frozen=True, slots=True)
class Vote:
    """The winning answer, its share of the votes, and every sampled answer."""

    answer: str
    agreement: float
    samples: tuple[str, ...]


def majority(answers: Sequence[str], normalize: Callable[[str], str] | None = None) -> Vote:
    """Most common answer after ``normalize`` (default: SQuAD's ``normalize_answer``); ties go to the earliest.

    Returns the first raw form. Answers that normalise to nothing have no vote; when none is left the
    answer is ``""`` with agreement 0. Agreement is the winner's share of all the answers.

    >>> majority(["Paris.", "paris!", "", "Lyon"]).answer, majority(["Paris.", "paris!", "", "Lyon"]).agreement
    ('Paris.', 0.5)
    """
    if not answers:
        raise InputError("no answers to vote on")
    if normalize is None:
        from llmkit.evals.metrics import normalize_answer as normalize
    keys = [normalize(a) if a.strip() else "" for a in answers]
    counts = Counter(k for k in keys if k)
    if not counts:
        return Vote("", 0.0, tuple(answers))
    top = max(counts.values())
    winner = next(k for k in keys if counts.get(k) == top)
    return Vote(answers[keys.index(winner)], top / len(answers), tuple(answers))


def self_consistency(
    model: ChatModel,
    messages: Sequence[Message],
    *,
    n: int = 5,
    params: GenerationParams | None = None,
    extract: Callable[[str], str] = strip_reasoning,
    normalize: Callable[[str], str] | None = None,
) -> Vote:
    """Sample ``n`` replies (temperature ≥ 0.7 and a different seed each), extract answers, vote.

    A reply cut at ``max_tokens`` has no answer (its last line is reasoning), so it has no vote.
    """
    if not 1 <= n <= 64:
        raise InputError("n must be between 1 and 64")
    base = params or GenerationParams()
    temperature = max(base.temperature or 0.0, 0.7)
    answers = []
    for i in range(n):
        p = replace(base, temperature=temperature, seed=(base.seed or 0) + i)
        with trace_attributes(technique="self-consistency", sample=i):
            reply = model.chat(messages, p)
        answers.append("" if reply.finish_reason == "length" else extract(reply.text))
    return majority(answers, normalize)
