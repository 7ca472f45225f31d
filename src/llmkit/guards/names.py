"""Person names beyond a statistical NER model: cues it misses, cleanup of what it finds, consistency.

``refine_names(text, spans)`` takes the PERSON spans of a NER model (spaCy through Presidio in
``llmkit.guards.ner``) and returns better ones:

- **cues** add names the model missed: a courtesy title (``Mrs. Labrie``, the title itself left out),
  an introduction (``my name is …``, ``I'm …``, ``calls me …``, ``named …``, ``Dear …``, ``said … to …``),
  and the ``First I. Last`` shape;
- **cleanup** trims titles, possessive ``'s`` and punctuation from the ends, splits a span at a line break,
  and drops spans that cannot be names (digits, ``@``, no capital letter, a lone common word);
- **merging** joins a name and the capitalised word that continues it (``Faina D.`` + ``Yefremova``);
- **consistency**: once ``Faina D. Yefremova`` is a name, a later lone ``Yefremova`` or ``Faina`` is one too.

Pure functions over character spans, so they are tested without spaCy.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_UP = r"(?:[A-ZÀ-ÖØ-ÞĀ-Ž]|[^\W\d_a-zß-öø-ÿ])"  # an upper-case letter (Latin, or a caseless script's letter)
_WORD = rf"{_UP}[^\W\d_]*(?:['’-]{_UP}?[^\W\d_]+)*"  # Capitalised, O'Neil, Jean-Luc
_PART = rf"(?:{_WORD}|{_UP}\.?)"  # a word or an initial
_NAME = rf"{_WORD}(?:[ \t]+{_PART}){{0,3}}"
TITLES = r"(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Sir|Dame|Lady|Lord|Madam|Mme|Mlle|Herr|Frau|Sr|Sra|Srta)"
CUES = [
    re.compile(rf"\b{TITLES}\.?[ \t]+(?P<n>{_NAME})"),
    re.compile(
        rf"(?i:\bname(?:\s+is|\s*:)?|\bi'm|\bi’m|\bi am|"
        rf"\bcalls?\s+(?:me|him|her)|\bnamed(?:\s+(?:him|her))?|\bdear|\bhi|\bhello|\bsaid|\bthanks|\bregards,?)"
        rf"[ \t]+(?P<n>{_NAME})"
    ),
    re.compile(rf"\b(?P<n>{_WORD}[ \t]+{_UP}\.[ \t]+{_WORD})"),  # First I. Last
    # a person's role just before the name (Presidio's "context words" idea)
    re.compile(
        rf"(?i:\b(?:songwriter|singer|author|writer|actor|actress|player|commenter|assistant to|partner|wife|"
        rf"husband|friend|colleague|boss|manager|director|ceo|founder|president|professor|doctor|nurse|mother|"
        rf"father|son|daughter|brother|sister|uncle|aunt|client|customer|patient|student|teacher|mr|mrs|ms))"
        rf"[ \t]+(?P<n>{_NAME})"
    ),
    # the subject of a verb only people do, at the start of a sentence
    re.compile(
        rf"(?:^|(?<=[.!?\n]))[ \t>]*(?P<n>{_NAME})[ \t]+(?:lives|lived|said|says|spent|told|asked|wrote|married|"
        rf"had given|gave|was born|is a very|works as|worked as)\b"
    ),
    # a contact card or signature: a first line of two to four capitalised words and nothing else
    re.compile(rf"\A[\s>]*(?P<n>{_WORD}(?:[ \t]+{_PART}){{1,3}})[ \t]*\n"),
]
#: Words around a span that make it an organisation, not a person.
ORG = re.compile(r"(?i:\b(?:work(?:s|ed|ing)?\s+(?:for|at)|employed\s+(?:by|at)|joined)\s*$)")
ORG_AFTER = re.compile(
    r"(?i:^[\s,]*(?:inc|ltd|llc|plc|gmbh|corp|co|group|company|partners|holdings|is\s+an?\s+(?:\w+\s+)?"
    r"(?:agency|company|firm|startup|business|brand|organi[sz]ation|bank))\b)"
)
NOT_NAMES = frozenset(
    "I A The This That These Those It He She They We You My Your His Her Our Their Hello Hi Dear Thanks Yes No "
    "Mr Mrs Ms Miss Dr Prof Sir Madam Please Sorry Monday Tuesday Wednesday Thursday Friday Saturday Sunday "
    "January February March April May June July August September October November December Phone Mobile Fax "
    "Desk Email E-mail Website Address Personal Info Name Street Road Avenue Suite Apt Unit So Not Very Just "
    "Here There What Why How When Where Who Which Also Still Well Ok Okay Good Great Nice Sure Will Can".lower().split()
)
_TITLE = re.compile(rf"(?i:{TITLES})\.?(?:\s+|$)")
# (no ``^``: these patterns are matched from a span's start, where ``^`` would not match)
_TRIM_LEFT = re.compile(rf"(?:{TITLES}\.?\s+|[\s\W_]+)")
_TRIM_RIGHT = re.compile(r"(?:['’]s|['’])?[\s\W_]*$")


def refine_names(text: str, spans: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Better PERSON spans for ``text`` from a NER model's ``spans``.

    >>> t = "For my take on Mrs. Labrie's songs, ask Faina D. Yefremova. Yefremova agrees."
    >>> [t[s:e] for s, e in refine_names(t, [(40, 48)])]
    ['Labrie', 'Faina D. Yefremova', 'Yefremova']
    >>> t = "Personal Info:\\nPhone: 555"
    >>> refine_names(t, [(0, 13)])
    []
    """
    found = [c for s, e in spans for c in _clean(text, s, e)]
    for cue in CUES:
        found += [c for m in cue.finditer(text) for c in _clean(text, *m.span("n"))]
    return _with_repeats(text, [(s, e) for s, e in found if not _organisation(text, s, e)])


def tidy_names(text: str, spans: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """A trained tagger's name spans made consistent: a leading courtesy title left out (names are labelled
    without one, as in CoNLL and presidio-synth-pii), and every other mention of a found name's words a
    name too (``borna`` after ``borna jerković``).

    >>> t = "For my take on Mrs. Labrie, ask Ana Labrie."
    >>> [t[s:e] for s, e in tidy_names(t, [(15, 26)])]
    ['Labrie', 'Labrie']
    """
    found = []
    for s, e in spans:
        if m := _TITLE.match(text, s, e):
            s = m.end()
        if e > s:
            found.append((s, e))
    return _with_repeats(text, found)


def _with_repeats(text: str, found: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """``found`` merged, with every other mention of its names' words (``_repeat``)."""
    merged = merge_spans(text, sorted(set(found)))
    return merge_spans(text, sorted(set(merged + _repeat(text, merged))))


def _organisation(text: str, start: int, end: int) -> bool:
    """``I work for Acme``, ``Acme Inc``, ``Acme is a design agency``: an organisation's name.

    >>> t = "I work for Thinknum. Berkshire Hathaway is a design agency."
    >>> _organisation(t, 11, 19), _organisation(t, 21, 39), _organisation("Ana is here", 0, 3)
    (True, True, False)
    """
    return bool(ORG.search(text[max(0, start - 30) : start]) or ORG_AFTER.match(text[end : end + 40]))


def _clean(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """The span trimmed and split at line breaks; nothing when what is left cannot be a name."""
    out = []
    for part in re.finditer(r"[^\n]+", text[start:end]):
        s, e = start + part.start(), start + part.end()
        if m := _TRIM_LEFT.match(text, s, e):
            s = m.end()
        if m := _TRIM_RIGHT.search(text, s, e):
            e = m.start()
        if e > s and _plausible(text[s:e]):
            out.append((s, e))
    return out


def _plausible(name: str) -> bool:
    """Capitalised words (or initials), no digits or ``@``, not a lone common word.

    >>> _plausible("Faina D. Yefremova"), _plausible("Hello"), _plausible("R2D2"), _plausible("the Smiths")
    (True, False, False, False)
    """
    words = name.split()
    if not words or any(c.isdigit() or c in "@/:#" for c in name):
        return False
    if not all(
        re.fullmatch(_PART, w) or w.lower() in ("van", "von", "de", "da", "del", "der", "di", "le") for w in words
    ):
        return False
    if len(words) == 1 and (len(words[0]) < 2 or (words[0].isupper() and len(words[0]) <= 4)):
        return False
    return not all(w.rstrip(".").lower() in NOT_NAMES for w in words)


def merge_spans(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Overlapping spans and spans separated by a space alone become one; the longest wins a tie."""
    out: list[tuple[int, int]] = []
    for s, e in spans:
        if out and (s < out[-1][1] or (text[out[-1][1] : s] in (" ", "\t") and s - out[-1][1] == 1)):
            out[-1] = (out[-1][0], max(e, out[-1][1]))
        else:
            out.append((s, e))
    return out


def _repeat(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Other mentions of a found name's words (``Yefremova`` after ``Faina D. Yefremova``)."""
    words = {w for s, e in spans for w in text[s:e].split() if len(w.rstrip(".")) > 2 and w.lower() not in NOT_NAMES}
    if not words:
        return []
    pattern = re.compile(
        rf"(?<![\w'’-])(?:{'|'.join(re.escape(w) for w in sorted(words, key=len, reverse=True))})(?![\w'’-])"
    )
    return [m.span() for m in pattern.finditer(text)]
