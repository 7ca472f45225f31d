"""Text for PostgreSQL full-text search: accent folding, and any user text turned into a safe ``tsquery``."""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

#: Unicode's combining diacritical marks (the blocks NFKD moves accents into).
_MARKS = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")


def fold(text: str) -> str:
    """``text`` without accents (as SQLite's unicode61 tokenizer folds them), so "cafe" finds "café".

    Only the combining diacritical marks go; the rest is recomposed (NFC), so marks that belong to a word
    (the kana voicing mark in "データ", Devanagari vowel signs) stay in it, as in the text the server parses.

    >>> fold("naïve café"), fold("plain"), fold("データ ﬁ") == "データ fi"
    ('naive cafe', 'plain', True)
    """
    if text.isascii():
        return text
    return unicodedata.normalize("NFC", _MARKS.sub("", unicodedata.normalize("NFKD", text)))


def search_text(text: str) -> str | None:
    """What to index instead of ``text``, or None when folding leaves it unchanged (the common case)."""
    folded = fold(text)
    return None if folded == text else folded


def query_text(text: str) -> str:
    """``text`` ready for ``QUERY_LEXEMES_SQL``: valid UTF-8, no NUL (the server refuses both), accents folded
    as in the stored rows, so the server's parser splits the query exactly as it split the indexed text.

    >>> query_text("Café\\x00データ")
    'Cafe データ'
    """
    return fold(text.encode("utf-8", "replace").decode("utf-8").replace("\x00", " "))


#: Lexical search scores the rows matching the rarest query words, up to about this many rows (estimated
#: from the planner's statistics) or this share of the table, whichever is smaller, but never fewer than
#: ``CANDIDATE_FLOOR`` rows (small tables are searched whole); rows that match only the commonest words are
#: not candidates. On SciFact, nDCG@10 went from 0.610 (every row) to 0.611 (1,000 rows) and 0.634 (5 %):
#: ``ts_rank`` has no inverse document frequency, so dropping common words helps it (bench/pg_lexical.py).
#: 5,000 rows is the 5 % of a 100k-row table: past that size a query's work stops growing. At 1M chunks
#: (bench/scale.py --sweep-budget) a query took 74 ms p50 with 20,000 rows and 20 ms with 5,000.
CANDIDATE_BUDGET = 5_000
CANDIDATE_SHARE = 0.05
CANDIDATE_FLOOR = 1_000

#: The commonest lexemes of ``tsv`` (ANALYZE's ``most_common_elems``) with the share of rows that hold each
#: (the list of shares ends with the lowest and highest share and the null fraction), then the rows in the
#: table; NULLs before the first ANALYZE.
TABLE_STATS_SQL = """
SELECT s.most_common_elems::text::text[], s.most_common_elem_freqs,
    (SELECT greatest(reltuples, 0) FROM pg_class WHERE oid = 'llmkit_chunks'::regclass)
FROM (SELECT 1) AS one LEFT JOIN pg_stats s
    ON s.schemaname = current_schema() AND s.tablename = 'llmkit_chunks' AND s.attname = 'tsv'
"""
#: The query's lexemes (English stems, distinct), parsed as the ``tsv`` column parses chunk texts, in the
#: order they first occur in the query; at most the given number.
QUERY_LEXEMES_SQL = "SELECT lexeme FROM unnest(to_tsvector('english', %s)) ORDER BY positions[1], lexeme LIMIT %s"
#: Seconds the table statistics are reused for. They change only when ANALYZE runs (autovacuum, or
#: ``build_index``, which refreshes them at once); they only choose candidates, never the ranking.
STATS_TTL_S = 60.0


@dataclass(frozen=True, slots=True)
class LexemeStats:
    """How many rows hold each lexeme, as the planner estimates it, fetched once and reused for a while.

    Looking the query's lexemes up in ``pg_stats`` took about 3.4 ms a query (the statistics array parsed
    and scanned per lexeme, in SQL); stemming alone takes 0.2 ms (bench/scale.py's texts, 100k rows).
    """

    shares: dict[str, float]
    other: float  # the share assumed for an untracked lexeme: half the lowest tracked one (the planner's guess)
    rows: float
    fetched: float = 0.0  # time.monotonic() when read

    STALE: ClassVar[LexemeStats]  # no figures, fetched never: read again before the next use

    @classmethod
    def from_row(cls, row: tuple[Any, Any, Any] | None, fetched: float = 0.0) -> LexemeStats:
        """From ``TABLE_STATS_SQL``'s row.

        >>> LexemeStats.from_row((["cell", "p53"], [0.2, 0.001, 0.001, 0.2, 0.0], 1e6)).of(["p53", "zebra"])
        [('p53', 0.001, 1000000.0), ('zebra', 0.0005, 1000000.0)]
        >>> LexemeStats.from_row((None, None, 0.0)).of(["cell"])  # never analysed
        [('cell', 0.0, 0.0)]
        """
        elems, freqs, rows = row or (None, None, 0.0)
        elems, freqs = elems or [], freqs or []
        shares: dict[str, float] = {}
        for lexeme, freq in zip(elems, freqs, strict=False):
            shares[lexeme] = max(shares.get(lexeme, 0.0), float(freq))
        other = float(freqs[len(elems)]) / 2 if len(freqs) > len(elems) else 0.0
        return cls(shares, other, float(rows or 0.0), fetched)

    def of(self, lexemes: Sequence[str]) -> list[tuple[str, float, float]]:
        """``(lexeme, estimated share of rows that hold it, rows in the table)`` for ``candidate_lexemes``."""
        return [(x, self.shares.get(x, self.other), self.rows) for x in lexemes]


LexemeStats.STALE = LexemeStats({}, 0.0, 0.0, fetched=-math.inf)


def quote_lexeme(lexeme: str) -> str:
    """``lexeme`` as a quoted ``tsquery`` operand.

    >>> quote_lexeme("o'neil")
    "'o''neil'"
    """
    return "'" + lexeme.replace("\\", "\\\\").replace("'", "''") + "'"


def candidate_lexemes(stats: list[tuple[str, float, float]], budget: int = CANDIDATE_BUDGET) -> list[str]:
    """The rarest lexemes whose estimated matching rows add up to at most ``budget`` rows and ``CANDIDATE_SHARE``
    of the table (but ``CANDIDATE_FLOOR`` rows at least), always with the rarest one.

    ``stats`` holds ``(lexeme, estimated share of rows that hold it, rows in the table)``.
    ``ts_rank`` must read every candidate row, so this bounds a query's work however large the collection
    grows; the candidates are still ranked by all the query's words.

    >>> candidate_lexemes([("cell", 0.2, 1e6), ("p53", 0.0001, 1e6), ("apoptosi", 0.004, 1e6)], budget=5000)
    ['p53', 'apoptosi']
    >>> candidate_lexemes([("cell", 0.2, 1e6), ("protein", 0.1, 1e6)], budget=5000)
    ['protein']
    >>> candidate_lexemes([("cell", 0.02, 1e5), ("protein", 0.01, 1e5)], budget=5000)  # 5 % of 100k rows
    ['protein', 'cell']
    >>> candidate_lexemes([("cell", 0.02, 1e6), ("protein", 0.01, 1e6)], budget=50_000)  # 5 % of 1M rows
    ['protein', 'cell']
    >>> candidate_lexemes([("cell", 0.2, 100.0), ("protein", 0.1, 100.0)], budget=5000)  # a small table
    ['protein', 'cell']
    """
    ranked = sorted(stats, key=lambda s: (s[1] or 0.0, s[0]))
    if ranked:
        budget = max(min(budget, CANDIDATE_SHARE * ranked[0][2]), min(budget, CANDIDATE_FLOOR))
    chosen, rows = [], 0.0
    for lexeme, freq, total in ranked:
        rows += (freq or 0.0) * total
        if chosen and rows > budget:
            break
        chosen.append(lexeme)
    return chosen
