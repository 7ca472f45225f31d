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
from typing import Any

from llmkit.errors import InputError, MissingExtra
from llmkit.types import Message

SHINGLE_WORDS = 3
NUM_PERM = 128
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

    >>> sorted(shingles("The cat sat on the mat", 3))
    ['cat sat on', 'on the mat', 'sat on the', 'the cat sat']
    >>> shingles("Hi!", 3)
    {'hi'}
    """
    words = _WORD.findall(normalise(text))
    if len(words) < n:
        return {" ".join(words)} if words else set()
    return {" ".join(words[i : i + n]) for i in range(len(words) - n + 1)}


class NearDuplicates:
    """Remembers kept records and tells whether a new one nearly repeats one of them.

    >>> nd = NearDuplicates(0.8)
    >>> nd.check("a", "the quick brown fox jumps over the lazy dog near the river bank today") is None
    True
    >>> nd.check("b", "The quick brown fox jumps over the lazy dog near the river bank today!")
    'a'
    >>> nd.check("c", "an entirely different sentence about baking bread at home") is None
    True
    """

    def __init__(self, threshold: float = 0.8, *, num_perm: int = NUM_PERM, seed: int = 1) -> None:
        if not 0.0 < threshold <= 1.0:
            raise InputError(f"the near-duplicate threshold must be in (0, 1], got {threshold}")
        self.threshold, self.num_perm, self.seed = threshold, num_perm, seed
        self._lsh: Any = None
        self._kept: dict[str, Any] = {}

    def check(self, key: str, text: str) -> str | None:
        """The key of a kept record at least ``threshold`` similar to ``text``; else keep it under ``key``."""
        try:
            from datasketch import MinHash, MinHashLSH
        except ImportError:
            raise MissingExtra("datasketch", "finetune") from None
        if self._lsh is None:
            self._lsh = MinHashLSH(threshold=self.threshold, num_perm=self.num_perm)
        sig = MinHash(num_perm=self.num_perm, seed=self.seed)
        sig.update_batch([s.encode("utf-8") for s in shingles(text)])
        similar = [(self._kept[k].jaccard(sig), k) for k in self._lsh.query(sig)]
        score, match = max(similar, default=(0.0, None))
        if match is not None and score >= self.threshold:
            return match
        self._lsh.insert(key, sig)
        self._kept[key] = sig
        return None
