"""Exact and near-duplicate detection for training records.

Exact duplicates share the SHA-256 of their normalised text (Unicode NFKC, case-folded, whitespace
collapsed, roles kept). Near duplicates are found with MinHash signatures over word 3-grams and
locality-sensitive hashing (``datasketch``): a record whose estimated Jaccard similarity to an earlier
kept record reaches the threshold is dropped. The first record of a group is always the one kept.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Sequence

from llmkit.errors import InputError, MissingExtra
from llmkit.types import Message

SHINGLE_WORDS = 3
NUM_PERM = 128
#: How far below the threshold the LSH index looks for candidates (then checked exactly).
CANDIDATE_MARGIN = 0.15
_WORD = re.compile(r"\w+", re.UNICODE)


def normalise(text: str) -> str:
    """The text as duplicate checks see it: NFKC, case-folded, runs of whitespace as one space.

    >>> normalise("  Hello\\u00a0  WORLD\\n")
    'hello world'
    """
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def content_key(messages: Sequence[Message]) -> str:
    """SHA-256 of the normalised conversation (roles and tool calls included): equal keys = exact duplicates.

    >>> content_key([Message.user("Hi  there")]) == content_key([Message.user("hi there")])
    True
    >>> content_key([Message.user("hi")]) == content_key([Message.assistant("hi")])
    False
    """
    parts = [f"{m.role}\x1f{normalise(m.content)}\x1f{[(c.name, c.arguments) for c in m.tool_calls]}" for m in messages]
    return hashlib.sha256("\x1e".join(parts).encode("utf-8")).hexdigest()


def shingles(text: str, n: int = SHINGLE_WORDS) -> set[str]:
    """Word ``n``-grams of the normalised text (the whole text when it has fewer than ``n`` words).

    A text without word characters is one shingle of itself, so that ``"!!!"`` and ``"???"`` differ.

    >>> sorted(shingles("The cat sat on the mat", 3))
    ['cat sat on', 'on the mat', 'sat on the', 'the cat sat']
    >>> shingles("Hi!", 3), shingles("?!", 3), shingles(" ", 3)
    ({'hi'}, {'?!'}, set())
    """
    text = normalise(text)
    words = _WORD.findall(text)
    if len(words) < n:
        return {" ".join(words) or text} - {""}
    return {" ".join(words[i : i + n]) for i in range(len(words) - n + 1)}


def near_duplicates(
    texts: Sequence[str], threshold: float = 0.8, *, num_perm: int = NUM_PERM, seed: int = 1
) -> list[int | None]:
    """For each text, the index of an earlier kept text that it nearly repeats, or ``None`` (it is kept).

    MinHash signatures (one ``MinHash.bulk`` call) and an LSH index built for a lower threshold
    (``threshold - CANDIDATE_MARGIN``) find the candidates; the exact Jaccard similarity of the shingle
    sets decides, so the estimate's noise loses few true pairs and adds no false ones.

    >>> near_duplicates(["the quick brown fox jumps over the lazy dog near the river bank today",
    ...                  "The quick brown fox jumps over the lazy dog near the river bank today!",
    ...                  "an entirely different sentence about baking bread at home"])
    [None, 0, None]
    """
    if not 0.0 < threshold <= 1.0:
        raise InputError(f"the near-duplicate threshold must be in (0, 1], got {threshold}")
    try:
        from datasketch import MinHash, MinHashLSH
    except ImportError:
        raise MissingExtra("datasketch", "finetune") from None
    sets = [shingles(t) for t in texts]
    sigs = MinHash.bulk([[s.encode("utf-8") for s in shingle] for shingle in sets], num_perm=num_perm, seed=seed)
    lsh = MinHashLSH(threshold=max(0.05, threshold - CANDIDATE_MARGIN), num_perm=num_perm)
    out: list[int | None] = []
    for i, sig in enumerate(sigs):
        score, match = max(((jaccard(sets[j], sets[i]), -j) for j in lsh.query(sig)), default=(0.0, 1))
        if score >= threshold:
            out.append(-match)
            continue
        lsh.insert(i, sig)
        out.append(None)
    return out


def jaccard(a: set[str], b: set[str]) -> float:
    """Jaccard similarity of two sets (1.0 for two empty sets).

    >>> jaccard({"a", "b"}, {"b", "c"})
    0.3333333333333333
    """
    return len(a & b) / len(a | b) if a or b else 1.0
