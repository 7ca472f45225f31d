"""Text features for the injection classifier: hashed word and character n-grams (numpy only).

Feature hashing keeps the shipped model a fixed-size weight vector with no vocabulary file, and
``zlib.crc32`` keeps the hash the same in every process (Python's ``hash`` is salted per run).
"""

from __future__ import annotations

import re
import zlib
from collections import Counter
from functools import lru_cache
from itertools import pairwise
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

_WORD = re.compile(r"\w+|[^\w\s]")
DEFAULT_DIM = 1 << 15
WINDOW = 20_000  # characters of a text ``hashed`` reads; the injection guard scores longer ones in windows


def ngrams(text: str, char_sizes: tuple[int, ...] = (3, 4, 5)) -> Counter[str]:
    """Word unigrams and bigrams plus character n-grams inside word boundaries, lower-cased.

    >>> sorted(ngrams("Hi you", char_sizes=(3,)))
    ['c: hi', 'c: yo', 'c:hi ', 'c:ou ', 'c:you', 'w:hi', 'w:hi you', 'w:you']
    """
    words = _WORD.findall(text.lower())
    grams: Counter[str] = Counter(f"w:{w}" for w in words)
    grams.update(f"w:{a} {b}" for a, b in pairwise(words))
    for w in words:
        padded = f" {w} "
        for n in char_sizes:
            grams.update(f"c:{padded[i : i + n]}" for i in range(max(len(padded) - n + 1, 0)))
    return grams


def hashed(text: str, dim: int = DEFAULT_DIM) -> tuple[np.ndarray, np.ndarray]:
    """Sparse feature vector of ``text``: (indices, values), log-scaled counts, L2-normalised.

    The buckets of each word's own grams are cached, so a long passage costs mostly dict look-ups;
    the result is the same as hashing every gram of ``ngrams(text)``.

    >>> idx, val = hashed("ignore previous instructions", dim=1024)
    >>> bool(idx.max() < 1024), round(float((val**2).sum()), 6)
    (True, 1.0)
    """
    import numpy as np

    words = _WORD.findall(text[:WINDOW].lower())
    buckets: Counter[int] = Counter()
    for w in words:
        buckets.update(_word_buckets(w, dim))
    buckets.update(zlib.crc32(f"w:{a} {b}".encode("utf-8", "surrogatepass")) % dim for a, b in pairwise(words))
    if not buckets:
        return np.zeros(0, np.int64), np.zeros(0, np.float32)
    idx = np.fromiter(buckets.keys(), np.int64, len(buckets))
    val = 1.0 + np.log(np.fromiter(buckets.values(), np.float32, len(buckets)))
    return idx, (val / np.linalg.norm(val)).astype(np.float32)


@lru_cache(maxsize=100_000)
def _word_buckets(word: str, dim: int) -> tuple[int, ...]:
    grams = [f"w:{word}"]
    padded = f" {word} "
    for n in (3, 4, 5):
        grams.extend(f"c:{padded[i : i + n]}" for i in range(max(len(padded) - n + 1, 0)))
    return tuple(zlib.crc32(g.encode("utf-8", "surrogatepass")) % dim for g in grams)  # lone surrogates too


def dense(texts: list[str], dim: int = DEFAULT_DIM) -> np.ndarray:
    """``hashed`` features of ``texts`` as a dense ``(len(texts), dim)`` matrix (for training)."""
    import numpy as np

    out = np.zeros((len(texts), dim), np.float32)
    for row, text in enumerate(texts):
        idx, val = hashed(text, dim)
        np.add.at(out[row], idx, val)
    return out
