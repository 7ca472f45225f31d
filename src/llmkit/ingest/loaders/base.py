"""What every loader shares: the ``Loader`` Protocol, text decoding, and a builder for sections.

A loader turns the bytes of one file into a ``LoadedDocument``: the full text plus ``Section``s whose
``start``/``end`` are exact offsets into that text (``doc.text[s.start:s.end] == s.text``).
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from llmkit.errors import LoaderError
from llmkit.types import LoadedDocument, Section

Kind = Literal["text", "heading", "table", "code"]
SEPARATOR = "\n\n"
_SURROGATE = re.compile("[\ud800-\udfff]")


class Loader(Protocol):
    def __call__(self, data: bytes, source: str) -> LoadedDocument:
        """Parse ``data`` (the bytes of ``source``); raise ``LoaderError`` when it cannot."""
        ...


def decode_text(data: bytes, source: str) -> tuple[str, str]:
    """Decode text bytes: UTF-8 (BOM or not), UTF-16/32 by BOM, else cp1252, else latin-1.

    Returns ``(text, encoding)`` with ``\\r\\n`` and ``\\r`` turned into ``\\n``.

    >>> decode_text("café".encode("cp1252"), "a.txt")
    ('café', 'cp1252')
    >>> decode_text(codecs.BOM_UTF16_LE + "hi".encode("utf-16-le"), "a.txt")
    ('hi', 'utf-16')
    """
    boms = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"))
    boms += ((codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
    for bom, encoding in boms:
        if data.startswith(bom):
            try:
                return _newlines(data.decode(encoding)), encoding
            except UnicodeDecodeError as e:
                raise LoaderError(
                    source, f"starts with a {encoding} byte-order mark but is not valid {encoding}: {e}"
                ) from None
    if b"\x00" in data[:8192]:
        raise LoaderError(source, "looks like binary data (NUL bytes), not text", hint="convert it to text first")
    for encoding in ("utf-8", "cp1252", "latin-1"):
        try:
            return _newlines(data.decode(encoding)), encoding
        except UnicodeDecodeError:
            continue
    raise AssertionError("latin-1 decodes any bytes")  # pragma: no cover


def _newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text


def clean_text(text: str) -> str:
    """``text`` with lone surrogates (a JSON ``"\\ud800"`` escape) and NUL characters replaced by U+FFFD: no
    store takes them.

    The length stays the same, so offsets into the text still hold.

    >>> clean_text("a\\ud800b"), clean_text("a\\x00b")
    ('a\ufffdb', 'a\ufffdb')
    """
    if "\x00" in text:
        text = text.replace("\x00", "\ufffd")
    return text if text.isascii() else _SURROGATE.sub("\ufffd", text)


def looks_binary(data: bytes) -> bool:
    """True when the first 8 KiB have many control bytes (text has tabs and newlines, not these).

    >>> looks_binary(b"plain text\\n"), looks_binary(bytes(range(32)) * 10)
    (False, True)
    """
    sample = data[:8192]
    if not sample:
        return False
    controls = sum(1 for b in sample if b < 32 and b not in (9, 10, 12, 13, 27))
    return b"\x00" in sample or controls / len(sample) > 0.05


@dataclass
class DocBuilder:
    """Collects blocks of text into one document text with exact section offsets.

    >>> b = DocBuilder("a.md")
    >>> b.add("Intro", kind="heading", heading="Intro"); b.add("Hello.", heading="Intro")
    >>> doc = b.build("text/markdown")
    >>> doc.text, [(s.kind, doc.text[s.start:s.end]) for s in doc.sections]
    ('Intro\\n\\nHello.', [('heading', 'Intro'), ('text', 'Hello.')])
    """

    source: str
    parts: list[str] = field(default_factory=list)
    sections: list[Section] = field(default_factory=list)
    length: int = 0

    def add(self, text: str, *, kind: Kind = "text", heading: str | None = None, page: int | None = None) -> None:
        text = clean_text(text.strip("\n"))
        if not text.strip():
            return
        if self.parts:
            self.parts.append(SEPARATOR)
            self.length += len(SEPARATOR)
        start = self.length
        self.parts.append(text)
        self.length += len(text)
        heading = clean_text(heading) if heading else None
        self.sections.append(Section(text, start, self.length, kind, page, heading))

    def build(
        self, content_type: str, *, title: str | None = None, metadata: Mapping[str, Any] | None = None
    ) -> LoadedDocument:
        if not self.sections:
            raise LoaderError(
                self.source, "no text found in the file", hint="is it empty, or a scanned image that needs OCR?"
            )
        text = "".join(self.parts)
        meta = {k: clean_text(v) if isinstance(v, str) else v for k, v in (metadata or {}).items()}
        title = clean_text(title) if title else title
        return LoadedDocument(self.source, text, tuple(self.sections), content_type, meta, title)


class HeadingPath:
    """Keeps the current heading path while a loader walks headings of levels 1-6.

    >>> h = HeadingPath(); h.push(1, "Install"); h.push(2, "Linux"); h.path
    'Install > Linux'
    >>> h.push(2, "Mac"); h.path
    'Install > Mac'
    """

    def __init__(self) -> None:
        self._stack: list[tuple[int, str]] = []

    def push(self, level: int, title: str) -> None:
        while self._stack and self._stack[-1][0] >= level:
            self._stack.pop()
        title = " ".join(title.split())
        if title:
            self._stack.append((level, title))

    @property
    def path(self) -> str | None:
        return " > ".join(t for _, t in self._stack) or None


def markdown_table(rows: list[list[str]]) -> str:
    """Rows (first one the header) as a pipe table, one line a row.

    >>> print(markdown_table([["a", "b"], ["1", "x|y"]]))
    | a | b |
    | --- | --- |
    | 1 | x\\|y |
    """
    width = max(len(r) for r in rows)
    clean = [[_cell(c) for c in r] + [""] * (width - len(r)) for r in rows]
    lines = ["| " + " | ".join(r) + " |" for r in clean]
    lines.insert(1, "| " + " | ".join(["---"] * width) + " |")
    return "\n".join(lines)


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")
