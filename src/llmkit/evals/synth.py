"""Synthetic test sets: a model writes one question per sampled chunk; the chunk is the reference.

Questions are cleaned (first line, no "Question:" prefix), filtered (a question mark, 4–40 words, at
least one content word shared with the chunk, not copied from it) and deduplicated (same normalised
text, or word-set Jaccard similarity at or above ``dedupe``). Model calls stop at ``max_calls``.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable

from llmkit.errors import InputError
from llmkit.evals.dataset import EvalItem
from llmkit.evals.metrics import normalize_answer
from llmkit.models.base import ChatModel
from llmkit.observe.traces import trace_attributes
from llmkit.prompts.prompt import Prompt
from llmkit.rag import _content_words
from llmkit.store.base import Store
from llmkit.types import Chunk

_PREFIX = re.compile(r"^\s*(?:q(?:uestion)?\s*\d*\s*[:.)-]\s*)", re.I)


def clean_question(text: str) -> str:
    """The first non-empty line, without a "Question:" prefix or quotes.

    >>> clean_question('Question: "How long is the warranty?"\\nIt is three years.')
    'How long is the warranty?'
    """
    line = next((ln for ln in text.strip().splitlines() if ln.strip()), "")
    return _PREFIX.sub("", line).strip().strip("\"'“”").strip()


def keep_question(question: str, chunk_text: str) -> str | None:
    """Why a question is rejected, or None when it is kept.

    >>> keep_question("How long is the warranty?", "The warranty lasts three years.") is None
    True
    >>> keep_question("What?", "The warranty lasts three years.")
    'too short or too long'
    """
    words = question.split()
    if not question.endswith("?"):
        return "no question mark"
    if not 4 <= len(words) <= 40:
        return "too short or too long"
    if not _content_words(question) & _content_words(chunk_text):
        return "shares no content word with its chunk"
    if normalize_answer(question.rstrip("?")) in normalize_answer(chunk_text):
        return "copied from the chunk"
    return None


def jaccard(a: str, b: str) -> float:
    """Word-set Jaccard similarity of two normalised texts.

    >>> jaccard("how long is the warranty", "how long is warranty")
    1.0
    """
    x, y = set(normalize_answer(a).split()), set(normalize_answer(b).split())
    return len(x & y) / len(x | y) if x | y else 1.0


def sample_chunks(store: Store, collection: str, n: int, seed: int) -> list[Chunk]:
    """Up to ``n`` chunks drawn at random (seeded) from the collection."""
    ids = [f"{d.id}:{i}" for d in store.list_documents(collection) for i in range(d.chunk_count)]
    if not ids:
        raise InputError(f"collection {collection!r} has no chunks to write questions from")
    picked = random.Random(seed).sample(ids, min(n, len(ids)))
    return store.get_chunks(collection, picked)


def synthesize(
    store: Store,
    collection: str,
    model: ChatModel,
    prompt: Prompt,
    *,
    n: int,
    seed: int = 0,
    dedupe: float = 0.8,
    max_calls: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[list[EvalItem], dict[str, int]]:
    """Up to ``n`` items and a count of why the others were dropped."""
    if n < 1:
        raise InputError("n must be at least 1")
    budget = max_calls or 2 * n
    chunks = sample_chunks(store, collection, budget, seed)
    items: list[EvalItem] = []
    dropped: dict[str, int] = {}
    params = prompt.generation_params()
    for calls, chunk in enumerate(chunks, 1):
        with trace_attributes(kind="synth", prompt=prompt.ref):
            question = clean_question(model.chat(prompt.render(passage=chunk.text), params).text)
        reason = keep_question(question, chunk.text)
        if reason is None and any(jaccard(question, it.input) >= dedupe for it in items):
            reason = "duplicate"
        if reason:
            dropped[reason] = dropped.get(reason, 0) + 1
        else:
            meta = {"chunk_id": chunk.id, "doc_id": chunk.doc_id, "prompt": prompt.ref, "model": model.name}
            items.append(EvalItem(f"synth-{len(items)}", question, (chunk.text,), (chunk.text,), (chunk.source,), meta))
        if progress:
            progress(calls, len(chunks))
        if len(items) >= n:
            break
    return items, dropped
