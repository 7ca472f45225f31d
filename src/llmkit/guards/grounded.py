"""Groundedness: is each sentence of an answer supported by the passages it was given?

Sentences shorter than four words are checked together with their neighbour (a short answer after a
question is the claim itself). A sentence is unsupported when it names a number or a proper noun found
nowhere in the passages (the usual shape of a hallucinated fact). Otherwise it counts as supported when
most of its content words occur in the passages (a cheap lexical pass), or else when its embedding is
within ``threshold`` cosine of some passage sentence. Unsupported sentences are findings with their
spans; the verdict flags or blocks by configuration.

With a ``judge`` (``LlmJudge``: a chat model asked with the ``judge-grounded`` prompt), every sentence the
word checks do not settle (a novel name or number, or too few of its words in the passages) goes to the
judge instead, one call each, and its yes or no decides; a judge that gives no answer leaves the sentence
to the rules above. Sentences whose words are in the passages never cost a call.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from llmkit.guards.base import Action, Finding, GuardContext, Verdict

if TYPE_CHECKING:
    from llmkit.embeddings.base import Embedder
    from llmkit.models.base import ChatModel
    from llmkit.prompts.registry import PromptRegistry

#: Whether the passages support a claim: True, False, or None for no answer.
Judge = Callable[[str, Sequence[str]], "bool | None"]
SUPPORT_SCHEMA = {"type": "object", "properties": {"supported": {"type": "boolean"}}, "required": ["supported"]}
_SUPPORTED = re.compile(r'"?supported"?\s*[:=]\s*"?(true|false|yes|no)\b', re.I)

_SENTENCE = re.compile(r"[^.!?\n]+(?:[.!?]+|$)", re.MULTILINE)
_WORD = re.compile(r"\w+")
_STOP = frozenset(
    "a an and are as at be but by can could do does for from had has have how i if in into is it its may might "
    "more most no not of on or our so such than that the their them then there these they this to was we were "
    "what when where which who why will with would you your also very just only about".split()
)


def sentences(text: str, min_words: int = 4) -> list[tuple[int, int, str]]:
    """``(start, end, sentence)`` for each sentence; one shorter than ``min_words`` words joins its neighbour.

    A short fragment is often the point of a claim (``What did they win? The Super Bowl.``), so it is checked
    with the sentence before it (or after it, at the start); a text of fragments alone has no sentence.

    >>> [s for _, _, s in sentences("It lasts three years [1]. Yes. Call us on Monday!")]
    ['It lasts three years [1]. Yes.', 'Call us on Monday!']
    >>> sentences("Yes. Ok!")
    []
    """
    spans: list[tuple[int, int]] = []
    pending: int | None = None  # where leading fragments began
    for m in _SENTENCE.finditer(text):
        s = m.group().strip()
        if not s:
            continue
        start = m.start() + m.group().index(s)
        end = start + len(s)
        if len(_WORD.findall(re.sub(r"\[\d+\]", "", s))) >= min_words:
            spans.append((start if pending is None else pending, end))
            pending = None
        elif spans:
            spans[-1] = (spans[-1][0], end)
        elif pending is None:
            pending = start
    return [(s, e, text[s:e]) for s, e in spans]


def content_words(text: str) -> set[str]:
    """Lower-cased words that carry meaning (no stop words; numbers kept).

    >>> sorted(content_words("The warranty lasts 3 years."))
    ['3', 'lasts', 'warranty', 'years']
    """
    return {w for w in _WORD.findall(text.lower()) if w not in _STOP and (len(w) > 2 or w.isdigit())}


_NAME_OR_NUMBER = re.compile(r"\b[A-Z][\w-]*|\b\d[\d,.]*\b")
#: A citation ``[2]``, or what the pii guard wrote over a value (``<EMAIL_ADDRESS_1>``, ``<PERSON>``,
#: ``<PERSON:1f0c…>``): the value may well be in the passages, the tag never is.
_CITATION_OR_TAG = re.compile(r"\[\d+\]|<[A-Z][A-Z_]*(?:_\d+|:[0-9a-f]+)?>")


def novel_facts(sentence: str, passage_words: set[str]) -> list[str]:
    """Numbers and capitalised words (not opening the sentence) of ``sentence`` absent from the passages.

    >>> novel_facts("It was built in 1850 by Gustave Eiffel for WTRF-TV.", {"built", "1889", "eiffel", "wtrf", "tv"})
    ['1850', 'Gustave']
    """
    text = _CITATION_OR_TAG.sub("", sentence).strip()
    found = [m.group().rstrip(".,") for m in _NAME_OR_NUMBER.finditer(text) if m.start() > 0]
    return [w for w in dict.fromkeys(found) if w and not set(_WORD.findall(w.lower())) <= passage_words]


def lexical_support(sentence: str, passage_words: set[str]) -> float:
    """Share of the sentence's content words found in the passages (1.0 for a sentence with none)."""
    words = content_words(_CITATION_OR_TAG.sub("", sentence))
    return len(words & passage_words) / len(words) if words else 1.0


def parse_support(text: str) -> bool | None:
    """Read ``{"supported": true|false}``, or ``supported: yes`` in free text; None when neither is there.

    >>> parse_support('{"supported": false}'), parse_support("Supported: yes, passage 2"), parse_support("hm")
    (False, True, None)
    """
    try:
        data = json.loads(text.strip())
    except json.JSONDecodeError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("supported"), bool):
        return bool(data["supported"])
    m = _SUPPORTED.search(text)
    return None if m is None else m.group(1).lower() in ("true", "yes")


class LlmJudge:
    """``judge(claim, passages) -> bool | None``: asks a chat model whether the passages support the claim, with
    the ``judge-grounded`` prompt (a project file of that name overrides it) and JSON constrained by grammar on
    llama.cpp or ``response_format`` elsewhere. None when the reply says neither, or the model fails."""

    def __init__(
        self,
        model: Callable[[], ChatModel],
        prompts: Callable[[], PromptRegistry] | None = None,
        *,
        max_chars: int = 6000,
    ) -> None:
        self._model, self._prompts, self.max_chars = model, prompts, max_chars

    def __call__(self, claim: str, passages: Sequence[str]) -> bool | None:
        from llmkit.evals.judge import numbered
        from llmkit.prompts.ask import ask_prompt

        context = numbered(passages)[: self.max_chars]  # the passages a small context window can take
        reply = ask_prompt(
            self._model,
            self._prompts,
            "judge-grounded",
            max_tokens=40,
            kind="judge",
            schema=SUPPORT_SCHEMA,
            context=context,
            claim=claim,
        )
        return parse_support(reply or "")


class GroundednessGuard:
    """Flags (or blocks) answers with sentences the passages do not support."""

    name = "grounded"

    def __init__(
        self,
        embedder: Callable[[], Embedder] | None = None,
        *,
        threshold: float = 0.6,
        lexical: float = 0.75,
        action: Action = "flag",
        judge: Judge | None = None,
    ) -> None:
        self._embedder = embedder
        self.threshold = threshold
        self.lexical = lexical
        self.action: Action = action
        self.judge = judge

    def check(self, text: str, ctx: GuardContext) -> Verdict:
        if not ctx.passages:
            return Verdict("allow", text)
        words = {w.lower() for p in ctx.passages for w in _WORD.findall(p)}
        found, doubtful = [], []
        for s, e, t in sentences(text):
            novel = novel_facts(t, words)
            if not novel and lexical_support(t, words) >= self.lexical:
                continue
            said = self.judge(t, ctx.passages) if self.judge else None
            if said is True:
                continue
            if said is False:
                why = "the judge found no support in the passages"
            elif novel:
                why = f"names {', '.join(novel[:3])}, found nowhere in the passages"
            else:
                doubtful.append((s, e, t))  # left to the embedding
                continue
            found.append(Finding(self.name, "ungrounded", why, s, e, 0.0, self.action))
        scores = self._similarities([t for _, _, t in doubtful], ctx.passages) if doubtful else []
        for (s, e, _), sim in zip(doubtful, scores, strict=True):
            if sim < self.threshold:
                why = f"not supported by the passages (similarity {sim:.2f})"
                found.append(Finding(self.name, "ungrounded", why, s, e, sim, self.action))
        found.sort(key=lambda f: f.start or 0)
        return Verdict(self.action if found else "allow", text, tuple(found))

    def _similarities(self, claims: Sequence[str], passages: Sequence[str]) -> list[float]:
        """Best cosine of each claim against the passages' sentences (0.0 for each without an embedder)."""
        if self._embedder is None:
            return [0.0] * len(claims)
        emb = self._embedder()
        units = [t for p in passages for _, _, t in sentences(p, 3)] or list(passages)
        vectors = emb.embed([*claims, *units])
        sims = vectors[: len(claims)] @ vectors[len(claims) :].T
        return [float(row.max()) for row in sims]
