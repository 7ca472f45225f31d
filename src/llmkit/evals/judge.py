"""RAG judge metrics on any ``ChatModel``, and their non-LLM (embedding, token, id) counterparts.

The judges' rubrics are prompt files in the registry (``judge-faithfulness``, ``judge-answer-relevance``,
``judge-context-precision``, ``judge-context-recall``): visible, versioned, overridable by a project file
of the same name. The verdict is asked for as JSON (``GenerationParams.json_schema``: grammar-constrained
on llama.cpp, ``response_format`` on OpenAI-compatible servers); a reply that still is not JSON is read
leniently, and one with no score at all counts as missing, never as zero.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from llmkit.evals.metrics import normalize_answer
from llmkit.models.base import ChatModel
from llmkit.observe.traces import trace_attributes

if TYPE_CHECKING:
    from llmkit.embeddings.base import Embedder
    from llmkit.prompts.prompt import Prompt

VERDICT_SCHEMA = {
    "type": "object",
    # score first: a reply cut at max_tokens still carries it (read leniently below)
    "properties": {"score": {"type": "integer", "minimum": 1, "maximum": 5}, "reasoning": {"type": "string"}},
    "required": ["score", "reasoning"],
}
# "score: 4" or "4/5"; never the 4 of "4/10" or "4 out of 10", which is not on the 1-5 scale
_SCORE = re.compile(r'"?score"?\s*[:=]\s*"?([1-5])(?![\d.]*\s*(?:/|out\s+of)\s*\d)\b|\b([1-5])\s*/\s*5\b', re.I)


@dataclass(frozen=True, slots=True)
class Verdict:
    """A judge's score mapped from 1–5 to [0, 1] (None when the reply had no score) and its reasoning."""

    score: float | None
    reasoning: str
    raw: str


def parse_verdict(text: str) -> Verdict:
    """Read ``{"score": 1-5, "reasoning": ...}``, or a bare ``score: 4`` / ``4/5`` in free text (a cut reply).

    A reply that is a JSON object is read as JSON only: a score outside 1–5 (or not a number) is missing,
    whatever its reasoning says.

    >>> parse_verdict('{"reasoning": "all in passage 1", "score": 5}').score
    1.0
    >>> parse_verdict("I'd say score: 2 because ...").score
    0.25
    >>> parse_verdict("no idea").score, parse_verdict("Score: 4/10").score, parse_verdict('{"score": 10}').score
    (None, None, None)
    """
    try:
        data = json.loads(text.strip())
    except json.JSONDecodeError:
        data = None
    if isinstance(data, dict):
        score = _score_value(data.get("score"))
        if score is None:
            return Verdict(None, f"score {data.get('score')!r} is not 1-5", text)
        return Verdict((score - 1) / 4, str(data.get("reasoning", "")), text)
    m = _SCORE.search(text)
    if m is None:
        return Verdict(None, "unparseable verdict", text)
    return Verdict((int(m.group(1) or m.group(2)) - 1) / 4, text.strip()[:500], text)


def _score_value(value: Any) -> float | None:
    """A JSON score on the 1–5 scale as a number (``4``, ``4.0``, ``"4"``); None otherwise (``true`` included)."""
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 1 <= value <= 5:
        return None
    return float(value)


def judge(model: ChatModel, prompt: Prompt, **values: Any) -> Verdict:
    """Ask ``model`` for a verdict with the rubric ``prompt``."""
    from llmkit.types import GenerationParams

    params = prompt.generation_params(GenerationParams(max_tokens=160, temperature=0.0))
    params = GenerationParams(**{**_fields(params), "json_schema": VERDICT_SCHEMA})
    with trace_attributes(kind="judge", prompt=prompt.ref):
        reply = model.chat(prompt.render(**values), params)
    return parse_verdict(reply.text)


def _fields(p: Any) -> dict[str, Any]:
    return {k: getattr(p, k) for k in ("max_tokens", "temperature", "top_p", "seed", "stop")}


def numbered(passages: Sequence[str]) -> str:
    """Passages as the judges see them.

    >>> numbered(["a", "b"])
    '[1] a\\n\\n[2] b'
    """
    return "\n\n".join(f"[{i}] {p.strip()}" for i, p in enumerate(passages, 1))


def context_precision_from(useful: Sequence[bool]) -> float:
    """Average precision of the useful passages over their ranks (RAGAS' context precision).

    >>> context_precision_from([True, False, True])
    0.8333333333333333
    """
    found, total = 0, 0.0
    for rank, ok in enumerate(useful, 1):
        if ok:
            found += 1
            total += found / rank
    return total / found if found else 0.0


# ----------------------------------------------------------------------------- non-LLM variants


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+|\n+", text.strip()) if len(s.split()) >= 2] or [text.strip()]


def faithfulness_embedding(embedder: Embedder, answer: str, passages: Sequence[str]) -> float:
    """Mean over the answer's sentences of the best cosine similarity to any passage sentence."""
    if not answer.strip() or not passages:
        return 0.0
    claims = _sentences(answer)
    evidence = [s for p in passages for s in _sentences(p)]
    vectors = embedder.embed([*claims, *evidence])
    sims = vectors[: len(claims)] @ vectors[len(claims) :].T
    return float(max(0.0, sims.max(axis=1).mean()))


def cosine(embedder: Embedder, a: str, b: Sequence[str]) -> float:
    """Best cosine similarity of ``a`` to any of ``b`` (embeddings are L2-normalised)."""
    if not a.strip() or not b:
        return 0.0
    v = embedder.embed([a, *b])
    return float(max(0.0, (v[1:] @ v[0]).max()))


def context_recall_tokens(passages: Sequence[str], references: Sequence[str]) -> float:
    """Share of the reference answer's normalised tokens that occur in the passages (best reference).

    >>> context_recall_tokens(["The warranty lasts three years."], ["three years", "36 months"])
    1.0
    """
    have = set(normalize_answer(" ".join(passages)).split())
    best = 0.0
    for ref in references:
        words = normalize_answer(ref).split()
        if words:
            best = max(best, sum(w in have for w in words) / len(words))
    return best
