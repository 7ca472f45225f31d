"""Token-aware, structure-aware splitting of a ``LoadedDocument`` into chunks.

The algorithm, in three steps:

1. **Groups.** Sections are grouped by heading and page; a heading starts a new group (a heading
   directly followed by a sub-heading stays with it), so no chunk crosses a heading or a page.
2. **Units.** Each section is counted once. A section that fits ``chunk_tokens`` is one unit, so a
   table or code block that fits is kept whole. A bigger one is cut at the coarsest boundary that
   works: paragraphs, then sentences (lines for code, rows for tables), then words; a single word
   longer than the budget is cut by characters. Only the pieces that are still too big are counted
   again, so each character is tokenised a handful of times at most, never O(n²).
3. **Packing.** Units are packed greedily up to ``chunk_tokens``. The next chunk of the same group
   starts with up to ``overlap`` tokens from the end of the previous one (whole units where they fit,
   else trailing words). Rows of a split table get the table header repeated instead of overlap.

Chunks are bounded by characters too, at ``max_chars`` (default ``CHARS_PER_TOKEN * chunk_tokens``):
a tokenizer may count a long run without spaces as one token (WordPiece makes any word over 100
characters one ``[UNK]``), and such a run is cut by characters like any word too big for the budget.

Every boundary is at whitespace (except inside such runs), so a chunk's token count is the sum of its
units' counts for tokenizers that pre-split on whitespace (WordPiece, word counts); nothing is
re-tokenised to check.
``doc.text[c.start:c.end] == c.text`` for every chunk, except the pieces of a split table, whose
text is the repeated header, a newline, and then exactly ``doc.text[c.start:c.end]``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from llmkit.errors import InputError
from llmkit.types import Chunk, LoadedDocument, Section

_PARAGRAPH = re.compile(r"\n[ \t]*\n\s*")
_SENTENCE = re.compile(r"(?<=[.!?;:])[\"')\]]*\s+|\n(?=\s*(?:[-*•]|\d+[.)])\s)")
_LINE = re.compile(r"\n")
_WORD = re.compile(r"\S+")
_TABLE_RULE = re.compile(r"^\|?\s*:?-{3,}")

#: the default character bound of a chunk, per token of ``chunk_tokens`` (English runs about 4-5)
CHARS_PER_TOKEN = 10


@dataclass(frozen=True, slots=True)
class ChunkDraft:
    """A chunk before it has an id: its text, exact offsets into ``doc.text`` and its token count."""

    text: str
    start: int
    end: int
    tokens: int
    page: int | None = None
    heading: str | None = None
    kind: str = "text"  # "text", "table" or "code" (a chunk made of one kind only), else "mixed"


@dataclass(frozen=True, slots=True)
class _Unit:
    start: int
    end: int
    tokens: int
    kind: str  # "text", "heading", "table", "code" or "row" (a row of a split table)
    heading: str | None
    page: int | None
    header: tuple[int, int, int] | None = None  # rows: (start, end, tokens) of the table header


@dataclass(frozen=True, slots=True)
class _Budget:
    """What one chunk (or piece) may hold: tokens and characters."""

    tokens: int
    chars: int

    def fits(self, tokens: int, chars: int) -> bool:
        return tokens <= self.tokens and chars <= self.chars

    def less(self, tokens: int, chars: int) -> _Budget:
        return _Budget(self.tokens - tokens, self.chars - chars)


class _Counter:
    """``count_tokens`` with a cache for short strings (words repeat a lot)."""

    def __init__(self, count: Callable[[str], int]) -> None:
        self.count = count
        self.cache: dict[str, int] = {}

    def __call__(self, text: str) -> int:
        if len(text) > 64:
            return self.count(text)
        n = self.cache.get(text)
        if n is None:
            n = self.cache[text] = self.count(text)
        return n


def split(
    doc: LoadedDocument,
    *,
    chunk_tokens: int,
    overlap: int = 0,
    count_tokens: Callable[[str], int],
    max_chars: int | None = None,
) -> list[ChunkDraft]:
    """Split ``doc`` into chunks of at most ``chunk_tokens`` tokens (see the module docstring).

    Worked example, with a tokenizer that counts words:

    >>> from llmkit.ingest.loaders import load
    >>> doc = load(b"# Warranty\\n\\nTwo years. Parts and labour. Not water damage.\\n\\n# Pricing\\n\\n$10.", "w.md")
    >>> words = lambda t: len(t.split())
    >>> for c in split(doc, chunk_tokens=6, overlap=2, count_tokens=words):
    ...     print(c.heading, c.tokens, repr(c.text), doc.text[c.start:c.end] == c.text)
    Warranty 6 'Warranty\\n\\nTwo years. Parts and labour.' True
    Warranty 5 'and labour. Not water damage.' True
    Pricing 2 'Pricing\\n\\n$10.' True

    A single word (or run of symbols without spaces) longer than ``chunk_tokens`` or ``max_chars`` is cut
    by characters; the pieces fit unless one character alone is more than ``chunk_tokens`` tokens.
    """
    if chunk_tokens < 1:
        raise InputError(f"chunk_tokens must be >= 1, got {chunk_tokens}")
    if not 0 <= overlap < chunk_tokens:
        raise InputError(f"overlap must be >= 0 and smaller than chunk_tokens ({chunk_tokens}), got {overlap}")
    chars = CHARS_PER_TOKEN * chunk_tokens if max_chars is None else max_chars
    if chars < 1:
        raise InputError(f"max_chars must be >= 1, got {max_chars}")
    counter = _Counter(count_tokens)
    drafts: list[ChunkDraft] = []
    for group in _groups(doc.sections):
        units = [u for s in group for u in _units(doc.text, s, _Budget(chunk_tokens, chars), counter)]
        drafts.extend(_pack(doc.text, units, _Budget(chunk_tokens, chars), overlap, counter))
    return drafts


def to_chunks(
    doc_id: str, source: str, drafts: Sequence[ChunkDraft], metadata: Mapping[str, Any] | None = None
) -> list[Chunk]:
    """Give drafts their ids (``f"{doc_id}:{index}"``) and turn them into ``Chunk``s."""
    meta = dict(metadata or {})
    return [
        Chunk(f"{doc_id}:{i}", doc_id, source, d.text, i, d.start, d.end, d.page, d.heading, meta)
        for i, d in enumerate(drafts)
    ]


def _groups(sections: Sequence[Section]) -> Iterator[list[Section]]:
    group: list[Section] = []
    for s in sections:
        only_headings = all(g.kind == "heading" for g in group)
        new_heading = s.kind == "heading" and not only_headings
        moved = bool(group) and s.kind != "heading" and not only_headings
        moved = moved and (s.heading, s.page) != (group[-1].heading, group[-1].page)
        if group and (new_heading or moved):
            yield group
            group = []
        group.append(s)
    if group:
        yield group


def _units(text: str, s: Section, limit: _Budget, count: _Counter) -> list[_Unit]:
    n = count(text[s.start : s.end])
    if limit.fits(n, s.end - s.start):
        return [_Unit(s.start, s.end, n, s.kind, s.heading, s.page)]
    if s.kind == "table":
        return _table_rows(text, s, limit, count)
    patterns = [_LINE] if s.kind == "code" else [_PARAGRAPH, _SENTENCE]
    return [
        _Unit(a, b, k, "code" if s.kind == "code" else "text", s.heading, s.page)
        for a, b, k in _pieces(text, s.start, s.end, limit, count, patterns)
    ]


def _pieces(
    text: str, start: int, end: int, limit: _Budget, count: _Counter, patterns: list[re.Pattern[str]]
) -> Iterator[tuple[int, int, int]]:
    """``(start, end, tokens)`` of pieces of ``text[start:end]`` that fit ``limit`` where possible."""
    if not patterns:
        yield from _words(text, start, end, limit, count)
        return
    for a, b in _spans(text, start, end, patterns[0]):
        n = count(text[a:b])
        if limit.fits(n, b - a):
            yield a, b, n
        else:
            yield from _pieces(text, a, b, limit, count, patterns[1:])


def _spans(text: str, start: int, end: int, separator: re.Pattern[str]) -> Iterator[tuple[int, int]]:
    """Non-blank spans of ``text[start:end]`` between matches of ``separator``, without edge whitespace."""
    pos = start
    for m in separator.finditer(text, start, end):
        yield from _trimmed(text, pos, m.start())
        pos = m.end()
    yield from _trimmed(text, pos, end)


def _trimmed(text: str, a: int, b: int) -> Iterator[tuple[int, int]]:
    piece = text[a:b]
    stripped = piece.strip()
    if stripped:
        a += len(piece) - len(piece.lstrip())
        yield a, a + len(stripped)


def _words(text: str, start: int, end: int, limit: _Budget, count: _Counter) -> Iterator[tuple[int, int, int]]:
    for m in _WORD.finditer(text, start, end):
        yield from _cut(text, m.start(), m.end(), limit, count)


def _cut(text: str, a: int, b: int, limit: _Budget, count: _Counter) -> Iterator[tuple[int, int, int]]:
    """``text[a:b]``, a run without spaces: whole if it fits, else cut by characters (pieces that still do
    not fit, as a piece can count more tokens than the whole run did, are cut again)."""
    n = count(text[a:b])
    if limit.fits(n, b - a) or b - a == 1:
        yield a, b, n
        return
    step = max(1, min((b - a) * limit.tokens // max(n, 1), limit.chars, b - a - 1))
    for x in range(a, b, step):
        yield from _cut(text, x, min(x + step, b), limit, count)


def _table_rows(text: str, s: Section, limit: _Budget, count: _Counter) -> list[_Unit]:
    lines = list(_spans(text, s.start, s.end, _LINE))
    head = 2 if len(lines) > 2 and _TABLE_RULE.match(text[lines[1][0] : lines[1][1]]) else 1
    h_start, h_end = lines[0][0], lines[head - 1][1]
    h_tokens = count(text[h_start:h_end])
    fits = h_tokens <= limit.tokens // 2 and h_end - h_start < limit.chars // 2
    header = (h_start, h_end, h_tokens) if fits else None
    room = limit.less(h_tokens, h_end - h_start + 1) if header else limit  # +1: the newline after it
    units = []
    for a, b in lines[head if header else 0 :]:
        for pa, pb, n in _pieces(text, a, b, room, count, [_SENTENCE]):
            units.append(_Unit(pa, pb, n, "row", s.heading, s.page, header))
    return units


def _pack(text: str, units: list[_Unit], limit: _Budget, overlap: int, count: _Counter) -> Iterator[ChunkDraft]:
    current: list[_Unit] = []
    total = 0
    for u in units:
        switched = bool(current) and (u.kind == "row" or current[-1].kind == "row") and u.header != current[-1].header
        h = u.header if u.kind == "row" else None
        room = limit.less(h[2], h[1] - h[0] + 1) if h else limit
        if current and (switched or not room.fits(total + u.tokens, u.end - current[0].start)):
            yield _draft(text, current)
            carry = u.kind != "row" and current[-1].kind != "row" and overlap > 0
            current = _tail(text, current, overlap, count) if carry else []
            while current and not room.fits(sum(c.tokens for c in current) + u.tokens, u.end - current[0].start):
                current.pop(0)
            total = sum(c.tokens for c in current)
        current.append(u)
        total += u.tokens
    if current:
        yield _draft(text, current)


def _tail(text: str, units: list[_Unit], overlap: int, count: _Counter) -> list[_Unit]:
    """The end of a chunk to repeat at the start of the next: whole units, else trailing words."""
    tail: list[_Unit] = []
    total = 0
    for u in reversed(units):
        if u.kind == "heading" or total + u.tokens > overlap:
            break
        tail.insert(0, u)
        total += u.tokens
    if tail or units[-1].kind == "heading":
        return tail
    last, start = units[-1], units[-1].end
    for m in reversed(list(_WORD.finditer(text, last.start, last.end))):
        n = count(m.group())
        if total + n > overlap:
            break
        total, start = total + n, m.start()
    return [_Unit(start, last.end, total, last.kind, last.heading, last.page)] if total else []


def _draft(text: str, units: list[_Unit]) -> ChunkDraft:
    first, last = units[0], units[-1]
    start, end, tokens = first.start, last.end, sum(u.tokens for u in units)
    body = text[start:end]
    header = first.header if first.kind == "row" else None
    if header is not None:
        if text[header[1] : start].strip():  # not right under the header in the text: repeat it
            body = text[header[0] : header[1]] + "\n" + body
        else:
            start = header[0]
            body = text[start:end]
        tokens += header[2]
    kinds = {"table" if u.kind == "row" else u.kind for u in units} - {"heading"}
    kind = kinds.pop() if len(kinds) == 1 else ("text" if not kinds else "mixed")
    heading = next((u.heading for u in reversed(units) if u.kind != "heading"), last.heading)
    return ChunkDraft(body, start, end, tokens, first.page, heading, kind)
