"""Metric names in suites mapped to the functions that score one prediction.

Answer: ``exact_match`` (``em``), ``f1``, ``rouge_l``, ``bleu``, ``answer_similarity`` (embedding cosine to the
best reference). Retrieval: ``hit@K``, ``recall@K``, ``mrr``, ``ndcg@K`` (against ``doc_ids``). Judges (LLM):
``faithfulness``, ``answer_relevance``, ``context_precision``, ``context_recall``. Their non-LLM variants:
``faithfulness_emb``, ``answer_relevance_emb``, ``context_precision_ids`` (precision of the hits against
``doc_ids``) and ``context_recall_tokens`` (reference tokens found in the passages).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from llmkit.errors import InputError
from llmkit.evals import judge as j
from llmkit.evals import metrics as m
from llmkit.evals.dataset import EvalItem

if TYPE_CHECKING:
    from llmkit.embeddings.base import Embedder
    from llmkit.models.base import ChatModel
    from llmkit.prompts.prompt import Prompt
    from llmkit.prompts.registry import PromptRegistry

Score = tuple[float | None, str]


@dataclass
class ScoringContext:
    """What metrics may need, loaded on first use."""

    judge_model: Callable[[], ChatModel] | None = None
    embedder_factory: Callable[[], Embedder] | None = None
    registry: PromptRegistry | None = None
    used: dict[str, Prompt] = field(default_factory=dict)  # rubric name -> the version the judges used
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @cached_property
    def model(self) -> ChatModel:
        if self.judge_model is None:
            raise InputError("judge metrics need a model; configure [model] or judge.model in the suite")
        return self.judge_model()

    @cached_property
    def embedder(self) -> Embedder:
        if self.embedder_factory is None:
            raise InputError("embedding metrics need an embedder")
        return self.embedder_factory()

    def rubric(self, name: str) -> Prompt:
        """The rubric ``name``, read once and saved as a version, so the one a run records still resolves later."""
        from llmkit.prompts.registry import PromptRegistry

        with self._lock:
            if name not in self.used:
                registry = self.registry or PromptRegistry()
                prompt = registry.get(name)
                if registry.data_dir is not None:
                    registry.save(prompt)
                self.used[name] = prompt
            return self.used[name]


Metric = Callable[[EvalItem, Mapping[str, Any], ScoringContext], Score]


def _needs_refs(item: EvalItem, name: str) -> None:
    if not item.references:
        raise InputError(f"item {item.id!r}: metric {name!r} needs reference answers")


def _answer(fn: Callable[[str, list[str]], float], name: str) -> Metric:
    def score(item: EvalItem, pred: Mapping[str, Any], ctx: ScoringContext) -> Score:
        _needs_refs(item, name)
        return fn(pred["answer"], list(item.references)), ""

    return score


def _needs_doc_ids(item: EvalItem) -> None:
    if not item.doc_ids:
        raise InputError(f"item {item.id!r}: retrieval metrics need doc_ids (the relevant documents)")


def _retrieval(kind: str, k: int) -> Metric:
    def score(item: EvalItem, pred: Mapping[str, Any], ctx: ScoringContext) -> Score:
        _needs_doc_ids(item)
        ranked, relevant = m.dedupe_ids(pred.get("hit_ids", [])), set(item.doc_ids)
        if kind == "hit":
            return m.hit_at_k(ranked, relevant, k), ""
        if kind == "recall":
            return m.recall_at_k(ranked, relevant, k), ""
        trec = m.trec_scores(ranked, relevant, k)
        return (trec["mrr"] if kind == "mrr" else trec[f"ndcg@{k}"]), ""

    return score


def _judged(
    rubric: str, build: Callable[[EvalItem, Mapping[str, Any]], dict[str, str]], on_answer: bool = True
) -> Metric:
    def score(item: EvalItem, pred: Mapping[str, Any], ctx: ScoringContext) -> Score:
        if on_answer and not pred.get("answer", "").strip():
            return 0.0, "empty answer"
        verdict = j.judge(ctx.model, ctx.rubric(rubric), **build(item, pred))
        return verdict.score, verdict.reasoning

    return score


def _context_precision(item: EvalItem, pred: Mapping[str, Any], ctx: ScoringContext) -> Score:
    _needs_refs(item, "context_precision")
    passages = pred.get("passages") or []
    if not passages:
        return 0.0, "no passages"
    rubric, verdicts = ctx.rubric("judge-context-precision"), []
    for p in passages:
        verdicts.append(j.judge(ctx.model, rubric, question=item.input, passage=p, reference=item.references[0]))
    notes = " | ".join(f"[{i}] {v.reasoning}" for i, v in enumerate(verdicts, 1))
    if any(v.score is None for v in verdicts):  # precision over ranks is undefined with a rank unjudged
        return None, notes
    return j.context_precision_from([v.score is not None and v.score >= 0.75 for v in verdicts]), notes


def _faith_emb(item: EvalItem, pred: Mapping[str, Any], ctx: ScoringContext) -> Score:
    return j.faithfulness_embedding(ctx.embedder, pred["answer"], pred.get("passages") or []), ""


def _relevance_emb(item: EvalItem, pred: Mapping[str, Any], ctx: ScoringContext) -> Score:
    return j.cosine(ctx.embedder, pred["answer"], [item.input]), ""


def _answer_similarity(item: EvalItem, pred: Mapping[str, Any], ctx: ScoringContext) -> Score:
    _needs_refs(item, "answer_similarity")
    return j.cosine(ctx.embedder, pred["answer"], list(item.references)), ""


def _precision_ids(item: EvalItem, pred: Mapping[str, Any], ctx: ScoringContext) -> Score:
    _needs_doc_ids(item)
    hits = m.dedupe_ids(pred.get("hit_ids", []))
    return (sum(h in set(item.doc_ids) for h in hits) / len(hits) if hits else 0.0), ""


def _recall_tokens(item: EvalItem, pred: Mapping[str, Any], ctx: ScoringContext) -> Score:
    _needs_refs(item, "context_recall_tokens")
    return j.context_recall_tokens(pred.get("passages") or [], list(item.references)), ""


def _ctx(pred: Mapping[str, Any]) -> str:
    return j.numbered(pred.get("passages") or []) or "(no passages)"


METRICS: dict[str, Metric] = {
    "exact_match": _answer(m.exact_match, "exact_match"),
    "em": _answer(m.exact_match, "em"),
    "f1": _answer(m.token_f1, "f1"),
    "rouge_l": _answer(m.rouge_l, "rouge_l"),
    "bleu": _answer(m.bleu, "bleu"),
    "answer_similarity": _answer_similarity,
    "mrr": _retrieval("mrr", 1000),
    "faithfulness": _judged(
        "judge-faithfulness",
        lambda item, pred: {"question": item.input, "context": _ctx(pred), "answer": pred["answer"]},
    ),
    "answer_relevance": _judged(
        "judge-answer-relevance", lambda item, pred: {"question": item.input, "answer": pred["answer"]}
    ),
    "context_precision": _context_precision,
    "context_recall": _judged(
        "judge-context-recall",
        lambda item, pred: {"question": item.input, "context": _ctx(pred), "reference": " / ".join(item.references)},
        on_answer=False,
    ),
    "faithfulness_emb": _faith_emb,
    "answer_relevance_emb": _relevance_emb,
    "context_precision_ids": _precision_ids,
    "context_recall_tokens": _recall_tokens,
}
_AT_K = re.compile(r"^(hit|recall|ndcg)@([1-9][0-9]{0,3})$")
JUDGED = frozenset({"faithfulness", "answer_relevance", "context_precision", "context_recall"})


def check_metric(name: str) -> Metric:
    """The function for a metric name; ``InputError`` lists the known names.

    >>> check_metric("ndcg@10") is not None
    True
    """
    if name in METRICS:
        return METRICS[name]
    at = _AT_K.match(name)
    if at:
        return _retrieval(at.group(1), int(at.group(2)))
    known = ", ".join([*METRICS, "hit@K", "recall@K", "ndcg@K"])
    raise InputError(f"unknown metric {name!r}", hint=f"known metrics: {known}")


ANSWER = frozenset({"exact_match", "em", "f1", "rouge_l", "bleu", "answer_similarity"})
_NEEDS_REFERENCES = ANSWER | {"context_precision", "context_recall", "context_recall_tokens"}


def is_retrieval(name: str) -> bool:
    """Whether ``name`` scores the ranked hits against ``doc_ids``.

    >>> is_retrieval("ndcg@10"), is_retrieval("context_precision_ids"), is_retrieval("f1")
    (True, True, False)
    """
    return name in ("mrr", "context_precision_ids") or _AT_K.match(name) is not None


def check_items(items: Sequence[EvalItem], names: Sequence[str]) -> None:
    """``InputError`` before any model call when items lack what a metric needs (references, doc_ids)."""
    for name in names:
        field_name = "references" if name in _NEEDS_REFERENCES else "doc_ids" if is_retrieval(name) else None
        if field_name is None:
            continue
        lacking = [item.id for item in items if not getattr(item, field_name)]
        if lacking:
            what = "reference answers" if field_name == "references" else "doc_ids (the relevant documents)"
            shown = ", ".join(repr(i) for i in lacking[:5]) + (" ..." if len(lacking) > 5 else "")
            raise InputError(f"metric {name!r} needs {what}; {len(lacking)} item(s) have none: {shown}")


def score_item(
    item: EvalItem, pred: Mapping[str, Any], names: tuple[str, ...], ctx: ScoringContext
) -> tuple[dict, dict]:
    """Each metric's score (None when it could not be computed) and the judges' reasoning."""
    scores: dict[str, float | None] = {}
    details: dict[str, str] = {}
    for name in names:
        value, note = check_metric(name)(item, pred, ctx)
        scores[name] = value
        if note:
            details[name] = note
    return scores, details
