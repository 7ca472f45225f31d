"""Filtered search through an index that cannot filter: rank more candidates than asked, keep those that pass.

The SQLite store's large-collection indexes (usearch's HNSW graph, tantivy) rank a whole collection but
know nothing of metadata. Evaluating a filter first means reading every row of the
collection (about 3 s at 1M chunks); checking it on a few hundred ranked candidates reads only those
rows. The candidate list grows, to what the share passing so far says is needed (at least twice as many),
until ``k`` pass, the ranking runs out, or ``limit`` is reached; at the limit the filter is too selective
for over-fetching and the caller filters first instead.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

#: Candidates ranked at most before giving up (a filter that keeps under about k / 4096 of the collection).
LIMIT = 4096

Ranking = Callable[[int], tuple[Sequence[int], Sequence[float]]]
Check = Callable[[list[int]], set[int]]


def over_fetch(
    search: Ranking, check: Check, k: int, *, first: int = 100, limit: int = LIMIT
) -> tuple[list[int], list[float]] | None:
    """The best ``k`` keys that pass ``check``, in ``search``'s order; None when ``limit`` was not enough.

    ``search(n)`` returns up to ``n`` (key, score) pairs best first, fewer only when the ranking holds no
    more; ``check(keys)`` returns the keys that pass the filter. Each key is checked once.

    >>> ranking = list(range(1000))
    >>> search = lambda n: (ranking[:n], [-float(key) for key in ranking[:n]])
    >>> over_fetch(search, lambda keys: {key for key in keys if key % 7 == 0}, 3)
    ([0, 7, 14], [-0.0, -7.0, -14.0])
    >>> over_fetch(search, lambda keys: {key for key in keys if key == 999}, 3, limit=500)  # too rare for the limit
    >>> over_fetch(search, lambda keys: {key for key in keys if key == 999}, 3)  # the ranking ran out: all there is
    ([999], [-999.0])
    """
    n = max(first, k)
    verdicts: dict[int, bool] = {}
    while True:
        keys, scores = search(n)
        fresh = [key for key in keys if key not in verdicts]
        passed = check(fresh) if fresh else set()
        verdicts.update((key, key in passed) for key in fresh)
        kept = [(key, score) for key, score in zip(keys, scores, strict=True) if verdicts[key]][:k]
        if len(kept) == k or len(keys) < n:  # enough, or the whole ranking has been checked
            return [key for key, _ in kept], [score for _, score in kept]
        if n >= limit:
            return None
        needed = math.ceil(1.25 * k * len(keys) / max(len(kept), 1))  # at the share passing so far
        n = min(max(2 * n, needed), limit)
