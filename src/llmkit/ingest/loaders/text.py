"""Plain text: paragraphs separated by blank lines."""

from __future__ import annotations

import re

from llmkit.ingest.loaders.base import DocBuilder, decode_text
from llmkit.types import LoadedDocument

_BLANK = re.compile(r"\n[ \t]*\n+")


def load(data: bytes, source: str) -> LoadedDocument:
    """One text section per paragraph; the encoding found goes in ``metadata["encoding"]``.

    >>> [s.text for s in load(b"one\\n\\n\\ntwo\\nlines", "a.txt").sections]
    ['one', 'two\\nlines']
    """
    text, encoding = decode_text(data, source)
    builder = DocBuilder(source)
    for para in _BLANK.split(text):
        builder.add(para.rstrip())
    return builder.build("text/plain", metadata={"encoding": encoding})
