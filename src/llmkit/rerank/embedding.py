"""Rerank by the bi-encoder: the cosine of the query and each passage's best-matching sentence window.

A passage's embedding averages everything it says; a question usually matches one or two of its
sentences. Re-scoring by the best window of ``window`` consecutive sentences needs no new model, at the
cost of embedding the windows (about ``rerank_top`` × sentences a query).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from llmkit.embeddings.base import Embedder

_SENTENCE = re.compile(r"[^.!?\n]+(?:[.!?]+|$)", re.MULTILINE)


def sentence_windows(text: str, size: int = 2, limit: int = 12) -> list[str]:
    """Runs of ``size`` consecutive sentences (stride 1), at most ``limit`` of them; a short text is one window.

    >>> sentence_windows("One. Two! Three? Four.", size=2)
    ['One. Two!', 'Two! Three?', 'Three? Four.']
    >>> sentence_windows("Just one line")
    ['Just one line']
    """
    sents = [m.group().strip() for m in _SENTENCE.finditer(text) if m.group().strip()]
    if len(sents) <= size:
        return [" ".join(sents) or text.strip() or text]
    return [" ".join(sents[i : i + size]) for i in range(len(sents) - size + 1)][:limit]


class EmbeddingReranker:
    """``score(query, passages)``: each passage's best window cosine with the query, in one embedding batch."""

    name = "embedding"

    def __init__(self, embedder: Embedder | Callable[[], Embedder], *, window: int = 2, limit: int = 12) -> None:
        self._embedder = embedder
        self.window, self.limit = window, limit

    def score(self, query: str, passages: Sequence[str]) -> list[float]:
        if not passages:
            return []
        emb = self._embedder if hasattr(self._embedder, "embed") else self._embedder()  # type: ignore[operator]
        windows = [sentence_windows(p, self.window, self.limit) for p in passages]
        vecs = emb.embed([query, *(w for ws in windows for w in ws)])  # type: ignore[union-attr]
        sims = vecs[1:] @ vecs[0]
        out, at = [], 0
        for ws in windows:
            out.append(float(sims[at : at + len(ws)].max()))
            at += len(ws)
        return out
