"""Text for PostgreSQL full-text search: accent folding, and any user text turned into a safe ``tsquery``."""

from __future__ import annotations

import re
import unicodedata

from llmkit.store.fts import MAX_TERMS, STOPWORDS

_TERM = re.compile(r"\w+")
#: Unicode's combining diacritical marks (the blocks NFKD moves accents into).
_MARKS = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")


def fold(text: str) -> str:
    """``text`` without accents (as SQLite's unicode61 tokenizer folds them), so "cafe" finds "café".

    >>> fold("naïve café"), fold("plain")
    ('naive cafe', 'plain')
    """
    if text.isascii():
        return text
    return _MARKS.sub("", unicodedata.normalize("NFKD", text))


def search_text(text: str) -> str | None:
    """What to index instead of ``text``, or None when folding leaves it unchanged (the common case)."""
    folded = fold(text)
    return None if folded == text else folded


def ts_query(text: str, *, max_terms: int = MAX_TERMS) -> str:
    """A ``to_tsquery`` argument that ORs the distinct words of ``text``, each quoted; ``""`` when none.

    Only word characters survive, so no tsquery syntax (``&``, ``!``, ``:*``, quotes) can reach the
    server; ``to_tsquery('english', ...)`` then stems each word.

    >>> ts_query("fig* AND NOT:jam")
    "'fig' | 'jam'"
    >>> ts_query("what is it")  # only function words: keep them
    "'what' | 'is' | 'it'"
    >>> ts_query("🙂 ... ")
    ''
    """
    text = fold(text.encode("utf-8", "replace").decode("utf-8")).lower()
    words = list(dict.fromkeys(_TERM.findall(text)))
    words = [w for w in words if w not in STOPWORDS] or words
    return " | ".join(f"'{w}'" for w in words[:max_terms])
