"""Stages after a query's search: fuse the lists of several phrasings, re-order by a reranker's scores.

Both are small pure functions over hits. A hit they touch carries a ``StagedExplanation``: the usual
``Explanation`` plus the reranker's score and the phrasings that found it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

from llmkit.retrieve.fusion import weighted_rrf
from llmkit.types import Explanation, Hit


@dataclass(frozen=True, slots=True)
class StagedExplanation(Explanation):
    """``Explanation`` plus the later stages: ``rerank_score`` (None: not reranked) and ``queries``, the
    searched phrasings (multi-query rewriting) whose results held the hit."""

    rerank_score: float | None = None
    queries: tuple[str, ...] = ()


def staged(why: Explanation | None, **changes: object) -> StagedExplanation | None:
    """``why`` as a ``StagedExplanation`` with ``changes``; None stays None (the search was not explained)."""
    if why is None:
        return None
    base = {f.name: getattr(why, f.name) for f in dataclasses.fields(why)}
    return StagedExplanation(**{**base, **changes})  # type: ignore[arg-type]


def fuse_queries(queries: Sequence[str], lists: Sequence[Sequence[Hit]], k: int, rrf_k: int = 10) -> list[Hit]:
    """The best ``k`` hits of several phrasings' result lists, by reciprocal rank fusion (equal weights).

    A hit keeps the explanation from the first list holding it (the original query's, where it has one);
    ``Hit.score`` is the fused score across the phrasings.

    >>> from llmkit.types import Chunk
    >>> h = {c: Hit(Chunk(c, "d", "d.md", c, 0, 0, 1), 1.0) for c in "abc"}
    >>> fused = fuse_queries(["q", "q2"], [[h["a"], h["b"]], [h["b"], h["c"]]], k=2, rrf_k=1)
    >>> [(x.chunk.id, round(x.score, 3)) for x in fused]
    [('b', 0.833), ('a', 0.5)]
    """
    first: dict[str, Hit] = {}
    found_by: dict[str, list[str]] = {}
    for query, hits in zip(queries, lists, strict=True):
        for hit in hits:
            first.setdefault(hit.chunk.id, hit)
            found_by.setdefault(hit.chunk.id, []).append(query)
    fused = weighted_rrf({str(i): [h.chunk.id for h in hits] for i, hits in enumerate(lists)}, {}, k=rrf_k)
    out = []
    for cid, score in fused[:k]:
        hit = first[cid]
        out.append(Hit(hit.chunk, score, staged(hit.explain, queries=tuple(dict.fromkeys(found_by[cid])))))
    return out


def rerank_hits(hits: Sequence[Hit], scores: Sequence[float]) -> list[Hit]:
    """``hits`` ordered by ``scores``, best first (ties keep their order); each hit's score becomes its rerank score.

    >>> from llmkit.types import Chunk
    >>> hits = [Hit(Chunk(c, "d", "d.md", c, 0, 0, 1), 1.0) for c in "abc"]
    >>> [(h.chunk.id, h.score) for h in rerank_hits(hits, [0.1, 0.9, 0.1])]
    [('b', 0.9), ('a', 0.1), ('c', 0.1)]
    """
    if len(scores) != len(hits):
        raise ValueError(f"the reranker gave {len(scores)} scores for {len(hits)} passages")
    order = sorted(range(len(hits)), key=lambda i: -scores[i])  # stable: equal scores keep the fused order
    return [Hit(hits[i].chunk, float(scores[i]), staged(hits[i].explain, rerank_score=float(scores[i]))) for i in order]
