"""Turning arbitrary user text into a safe FTS5 query."""

from __future__ import annotations

import re

_TERM = re.compile(r"\w+")
#: Longer queries keep their first this-many distinct terms (a 10k-character paste stays fast).
MAX_TERMS = 64
#: English function words, dropped from a query that has other terms: they match nearly every chunk, so
#: scoring them costs time (about 40 % on SciFact) and changes nDCG@10 by < 0.001.
_STOPWORDS = (
    "a about after again all also an and any are as at be been before being between both but by can could did"
    " do does down each few for from had has have he her here his how i if in into is it its just may might more"
    " most must no nor not of off on once only or other our out over own same shall she should so some such than"
    " that the their them then there these they this those to too under up very was we were what when where"
    " which who whom why will with would you your"
)
STOPWORDS = frozenset(_STOPWORDS.split())


def fts_query(text: str, *, max_terms: int = MAX_TERMS) -> str:
    """An FTS5 query that ORs the distinct words of ``text``, each quoted; ``""`` when there are none.

    Quoting every term disarms FTS5 syntax (``AND``, ``NEAR(``, ``*``, ``-``, ``:``, quotes), and OR
    lets BM25 rank partial matches, which is what a search box wants.

    >>> fts_query('what is "NEAR(" AND -x* col:umn?')
    '"near" OR "x" OR "col" OR "umn"'
    >>> fts_query("what is it")  # only function words: keep them
    '"what" OR "is" OR "it"'
    >>> fts_query("🙂 ... ")
    ''
    """
    return " OR ".join(f'"{t}"' for t in query_terms(text, max_terms=max_terms))


def query_terms(text: str, *, max_terms: int = MAX_TERMS) -> list[str]:
    """The phrases ``fts_query`` ORs, unquoted: distinct lower-cased words, function words dropped.

    >>> query_terms("The snake_case of THE snake")
    ['snake case', 'snake']
    """
    text = text.encode("utf-8", "replace").decode("utf-8")  # lone surrogates cannot reach SQLite
    # "İ".lower() is "i" and a combining dot, which would split the word; FTS5 indexes "İ" as "i"
    words = list(dict.fromkeys(_TERM.findall(text.replace("İ", "I").lower())))
    words = [w for w in words if w not in STOPWORDS] or words
    terms: dict[str, None] = {}
    for word in words:
        term = word.replace("_", " ").strip()  # FTS5's unicode61 splits on "_"; a quoted phrase keeps it
        if term:
            terms.setdefault(term, None)
        if len(terms) >= max_terms:
            break
    return list(terms)
