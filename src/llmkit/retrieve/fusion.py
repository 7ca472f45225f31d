"""Rank fusion and diversity: small pure functions over ids, scores and vectors.

``weighted_rrf`` merges ranked lists (lexical, dense, ...) by reciprocal rank; ``mmr`` re-orders
candidates for maximal marginal relevance; ``normalize`` puts scores from different scales on [0, 1].
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from operator import itemgetter
from typing import TYPE_CHECKING

from llmkit.errors import InputError

if TYPE_CHECKING:
    import numpy as np


def weighted_rrf(
    rankings: Mapping[str, Sequence[str]], weights: Mapping[str, float], k: int = 60
) -> list[tuple[str, float]]:
    """Weighted reciprocal rank fusion: ``score(d) = Σ_i w_i / (k + rank_i(d))``, ranks 1-based.

    ``rankings`` maps a retriever's name to its ids, best first; a name missing from ``weights``
    weighs 1. An id repeated within one ranking counts once, at its best rank. Ties keep the order in
    which ids were first seen (rankings in mapping order, then by rank), so results are stable.

    >>> fused = weighted_rrf({"lexical": ["a", "b"], "dense": ["b", "c"]}, {"lexical": 1.0, "dense": 1.0}, k=60)
    >>> [(d, round(s, 5)) for d, s in fused]  # b: 1/62 + 1/61; a: 1/61; c: 1/62
    [('b', 0.03252), ('a', 0.01639), ('c', 0.01613)]
    >>> weighted_rrf({"lexical": ["a"], "dense": ["c"]}, {"lexical": 1.0, "dense": 2.0}, k=1)
    [('c', 1.0), ('a', 0.5)]
    """
    if k < 0:
        raise InputError(f"rrf k must be >= 0, got {k}")
    scores: dict[str, float] = {}
    for name, ids in rankings.items():
        w = weights.get(name, 1.0)
        if w < 0:
            raise InputError(f"fusion weight for {name!r} must be >= 0, got {w}")
        seen: set[str] | None = None if len(set(ids)) == len(ids) else set()
        for denominator, id_ in enumerate(ids, k + 1):
            if seen is not None:
                if id_ in seen:
                    continue
                seen.add(id_)
            scores[id_] = scores.get(id_, 0.0) + w / denominator
    return sorted(scores.items(), key=itemgetter(1), reverse=True)  # stable, also when reversed


def normalize(scores: Sequence[float] | np.ndarray) -> np.ndarray:
    """Scale non-negative ``scores`` (BM25, RRF) to at most 1 by dividing by the largest (float32).

    Ratios are kept, so a weak last candidate is not pushed to 0 as min-max scaling would. Scores with
    a negative value are min-max scaled to [0, 1] instead; all-zero or all-equal scores become ones.

    >>> normalize([2.0, 4.0, 3.0]).tolist()
    [0.5, 1.0, 0.75]
    >>> normalize([-1.0, 1.0, 0.0]).tolist()
    [0.0, 1.0, 0.5]
    >>> normalize([0.0, 0.0]).tolist()
    [1.0, 1.0]
    """
    import numpy as np

    a = np.asarray(scores, dtype=np.float32)
    if a.size == 0:
        return a
    lo, hi = float(a.min()), float(a.max())
    if hi - lo <= 1e-12:
        return np.ones_like(a)
    if lo >= 0:
        return a / hi
    return (a - lo) / (hi - lo)


def mmr(
    query_vec: np.ndarray | None,
    candidate_vecs: np.ndarray,
    relevance: Sequence[float] | np.ndarray | None,
    k: int,
    lambda_: float,
) -> list[int]:
    """Maximal marginal relevance: greedily pick ``k`` candidate indices, trading relevance for novelty.

    Each step takes ``argmax λ·rel(i) − (1−λ)·max_{j picked} sim(i, j)``, where ``sim`` is the dot
    product of the (L2-normalised) candidate vectors and ``rel`` is ``relevance`` or, when that is
    ``None``, the dot product with ``query_vec``. ``λ = 1`` keeps relevance order; ``λ = 0`` picks
    for diversity alone after the most relevant one. Ties go to the lower index.

    >>> import numpy as np
    >>> v = np.array([[1.0, 0.0], [0.99, 0.141], [0.0, 1.0]], dtype=np.float32)  # 0 and 1 nearly equal
    >>> mmr(None, v, [0.9, 0.85, 0.5], k=2, lambda_=1.0)
    [0, 1]
    >>> mmr(None, v, [0.9, 0.85, 0.5], k=2, lambda_=0.5)  # 1 is a near-duplicate of 0: take 2
    [0, 2]
    """
    import numpy as np

    if not 0.0 <= lambda_ <= 1.0:
        raise InputError(f"mmr lambda must be between 0 and 1, got {lambda_}")
    vecs = np.asarray(candidate_vecs, dtype=np.float32)
    n = len(vecs)
    k = min(k, n)
    if k <= 0:
        return []
    if relevance is None:
        if query_vec is None:
            raise InputError("mmr needs either relevance scores or a query vector")
        rel = vecs @ np.asarray(query_vec, dtype=np.float32)
    else:
        rel = np.asarray(relevance, dtype=np.float32)
        if rel.shape != (n,):
            raise InputError(f"mmr got {rel.shape[0] if rel.ndim else 0} relevance scores for {n} candidates")
    gain = lambda_ * rel  # a picked candidate's gain becomes -inf, so it is never picked again
    max_sim = np.zeros(n, dtype=np.float32)  # similarity to the closest picked candidate
    best = int(np.argmax(rel))  # the first pick is the most relevant, whatever lambda is
    picked = [best]
    for _ in range(k - 1):
        gain[best] = -np.inf
        sim = vecs @ vecs[best]
        max_sim = sim if len(picked) == 1 else np.maximum(max_sim, sim)
        best = int(np.argmax(gain - (1.0 - lambda_) * max_sim))
        picked.append(best)
    return picked
