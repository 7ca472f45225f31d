"""Query rewriting before retrieval: condense a chat follow-up, or ask for several phrasings to fuse.

    rewriter = QueryRewriter(lambda: kit.model, lambda: kit.prompts, mode="condense")
    rewriter.queries("What about its price?", history)   # ('What is the Acme Widget's price?',)

``condense`` asks the chat model (prompt ``rewrite-condense``) to turn the question and the conversation so
far into one standalone question; with no history there is nothing to resolve and no call is made.
``multi`` condenses the same way, then asks (prompt ``rewrite-multi``, JSON by grammar or
``response_format``) for ``n`` other phrasings; the retriever searches each and fuses the lists with
RRF. Every call is a traced model call (``kind="rewrite"``); a model that fails or replies with nothing
usable leaves the question as it was, so rewriting can cost recall but never an answer.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Literal, cast

from llmkit.errors import InputError

if TYPE_CHECKING:
    from llmkit.models.base import ChatModel
    from llmkit.prompts.registry import PromptRegistry
    from llmkit.types import Message

Rewrite = Literal["none", "condense", "multi"]
REWRITES: tuple[Rewrite, ...] = ("none", "condense", "multi")
QUERIES_SCHEMA = {
    "type": "object",
    "properties": {"queries": {"type": "array", "items": {"type": "string"}, "maxItems": 10}},
    "required": ["queries"],
}
_LABEL = re.compile(r"^\s*(?:standalone question|rewritten question|question|query)\s*:\s*", re.I)
_TURN_CHARS = 600  # of each earlier message shown to the rewriter: the subject is named early
_TURNS = 6  # messages of history shown (the last three turns)


def check_rewrite(mode: str) -> Rewrite:
    """``mode`` if it names a query rewrite, else an ``InputError`` listing those there are.

    >>> check_rewrite("multi")
    'multi'
    """
    if mode not in REWRITES:
        raise InputError(f"unknown query rewrite {mode!r}", hint=f"use one of: {', '.join(REWRITES)}")
    return cast("Rewrite", mode)


def clean_rewrite(text: str, limit: int = 500) -> str:
    """The first non-empty line of a model's rewrite, without a label, list marker or quotes.

    >>> clean_rewrite('Standalone question: "What is the Acme Widget\\'s price?"\\nExplanation: ...')
    "What is the Acme Widget's price?"
    >>> clean_rewrite("  \\n- 1. how to reset it")
    'how to reset it'
    """
    line = next((ln for ln in text.splitlines() if ln.strip()), "")
    line = _LABEL.sub("", line.strip()).lstrip("-*• ").strip()
    line = re.sub(r"^\d+[.)]\s*", "", line).strip().strip("\"'`").strip()
    return line[:limit]


def parse_queries(text: str, n: int) -> list[str]:
    """Up to ``n`` distinct queries from ``{"queries": [...]}``, or else from the reply's lines.

    >>> parse_queries('{"queries": ["cost of the widget", "widget price", "cost of the widget"]}', 3)
    ['cost of the widget', 'widget price']
    >>> parse_queries("1. widget price\\n2. how much is the widget", 1)
    ['widget price']
    """
    try:
        data = json.loads(text.strip())
    except json.JSONDecodeError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("queries"), list):
        found = [clean_rewrite(q) for q in data["queries"] if isinstance(q, str)]
    else:
        found = [clean_rewrite(ln) for ln in text.splitlines()]
    return [q for q in dict.fromkeys(found) if q][:n]


def format_history(history: Sequence[Message], turns: int = _TURNS, chars: int = _TURN_CHARS) -> str:
    """The last ``turns`` user and assistant messages as ``User: …`` / ``Assistant: …`` lines.

    >>> from llmkit.types import Message
    >>> format_history([Message.user("Tell me about the Acme Widget."), Message.assistant("It is a gadget.")])
    'User: Tell me about the Acme Widget.\\nAssistant: It is a gadget.'
    """
    shown = [m for m in history if m.role in ("user", "assistant") and m.content][-turns:]
    return "\n".join(f"{m.role.capitalize()}: {' '.join(m.content.split())[:chars]}" for m in shown)


class QueryRewriter:
    """Rewrites a question for retrieval with the project's chat model; ``mode`` says how (see the module)."""

    def __init__(
        self,
        model: Callable[[], ChatModel],
        prompts: Callable[[], PromptRegistry] | None = None,
        *,
        mode: str = "condense",
        n: int = 3,
    ) -> None:
        self.mode: Rewrite = check_rewrite(mode)
        if not 1 <= n <= 10:
            raise InputError(f"the number of query rewrites must be 1-10, got {n}")
        self._model, self._prompts, self.n = model, prompts, n

    def queries(self, question: str, history: Sequence[Message] = (), *, mode: str | None = None) -> tuple[str, ...]:
        """The queries to search for ``question``: the (condensed) question first, then any other phrasings."""
        mode = check_rewrite(mode or self.mode)
        if mode == "none":
            return (question,)
        first = self.condense(question, history)
        return (first, *self.expand(first)) if mode == "multi" else (first,)

    def condense(self, question: str, history: Sequence[Message]) -> str:
        """``question`` made standalone with the conversation; itself when there is no history or no answer."""
        context = format_history(history)
        if not context:
            return question
        reply = self._ask("rewrite-condense", 64, None, history=context, question=question)
        text = clean_rewrite(reply or "")
        return text if len(text) >= 3 else question

    def expand(self, question: str) -> list[str]:
        """Up to ``n`` other phrasings of ``question`` (none when the model gives none)."""
        reply = self._ask("rewrite-multi", 40 * self.n + 20, QUERIES_SCHEMA, question=question, n=str(self.n))
        same = question.casefold().strip()
        return [q for q in parse_queries(reply or "", self.n + 1) if q.casefold() != same][: self.n]

    def _ask(self, name: str, max_tokens: int, schema: dict[str, object] | None, **inputs: str) -> str | None:
        from llmkit.prompts.ask import ask_prompt

        return ask_prompt(
            self._model, self._prompts, name, max_tokens=max_tokens, kind="rewrite", schema=schema, **inputs
        )
