"""Rerank with the project's chat model as a judge: each passage graded 0-3 for the query.

One call a candidate (prompt ``rerank-relevance``; a project file of that name overrides it), with JSON
constrained by grammar on llama.cpp or ``response_format`` elsewhere, as the groundedness judge does.
Meant for capable (remote) models: a tiny local model grades poorly (see docs/concepts.md). A reply
without a grade counts 0, and equal grades keep the fused order.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from llmkit.models.base import ChatModel
    from llmkit.prompts.registry import PromptRegistry

RELEVANCE_SCHEMA = {
    "type": "object",
    "properties": {"relevance": {"type": "integer", "minimum": 0, "maximum": 3}},
    "required": ["relevance"],
}
_RELEVANCE = re.compile(r'"?relevance"?\s*[:=]\s*"?(\d+)\b', re.I)


def parse_relevance(text: str) -> int | None:
    """Read ``{"relevance": N}``, or ``relevance: N`` in free text, held to 0-3; None when neither is there.

    A grammar keeps the reply's shape but not the schema's bounds: small models write 4 or 10 for "very".

    >>> parse_relevance('{"relevance": 2}'), parse_relevance("Relevance: 3 - it answers"), parse_relevance("hm")
    (2, 3, None)
    >>> parse_relevance('{ "relevance": 10 }')
    3
    """
    try:
        data = json.loads(text.strip())
    except json.JSONDecodeError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("relevance"), int):
        return min(max(int(data["relevance"]), 0), 3)
    m = _RELEVANCE.search(text)
    return None if m is None else min(int(m.group(1)), 3)


class LlmReranker:
    """``score(query, passages)``: the chat model's 0-3 grade of each passage (0 when it gives none)."""

    name = "llm"

    def __init__(
        self,
        model: Callable[[], ChatModel],
        prompts: Callable[[], PromptRegistry] | None = None,
        *,
        max_chars: int = 2000,
    ) -> None:
        self._model, self._prompts, self.max_chars = model, prompts, max_chars

    def score(self, query: str, passages: Sequence[str]) -> list[float]:
        from llmkit.prompts.ask import ask_prompt

        model = self._model()  # loaded once, before any call: a model that cannot load is an error, not grades of 0
        grades = []
        for passage in passages:
            reply = ask_prompt(
                lambda: model,
                self._prompts,
                "rerank-relevance",
                max_tokens=16,
                kind="rerank",
                schema=RELEVANCE_SCHEMA,
                question=query,
                passage=passage[: self.max_chars],
            )
            grades.append(float(parse_relevance(reply or "") or 0))
        return grades
