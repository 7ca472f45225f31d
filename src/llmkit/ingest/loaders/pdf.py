"""PDF through pypdf (pure Python): one section per paragraph, each with its 1-based page number."""

from __future__ import annotations

import io
import re

from llmkit.errors import LoaderError
from llmkit.ingest.loaders.base import DocBuilder
from llmkit.types import LoadedDocument

_BLANK = re.compile(r"\n[ \t]*\n+")
_HYPHEN_BREAK = re.compile(r"(\w)-\n(\w)")


def load(data: bytes, source: str) -> LoadedDocument:
    """Text of every page; encrypted, damaged or text-less PDFs raise ``LoaderError``."""
    import logging

    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # its repair notes are not the user's business
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        _unlock(reader, source)
        builder = DocBuilder(source)
        for number, page in enumerate(reader.pages, start=1):
            for para in _BLANK.split(_clean(page.extract_text() or "")):
                builder.add(para.strip(), page=number)
        title = (reader.metadata.title if reader.metadata else None) or None
        pages = len(reader.pages)
    except PyPdfError as e:
        raise LoaderError(source, f"a damaged or unsupported PDF: {e}", hint="re-export or repair the PDF") from None
    if not builder.sections:
        raise LoaderError(source, f"no extractable text in {pages} page(s)", hint="a scanned PDF needs OCR first")
    first_line = builder.sections[0].text.split("\n", 1)[0].strip()
    title = str(title) if title else (first_line if len(first_line) <= 120 else None)
    return builder.build("application/pdf", title=title, metadata={"pages": pages})


def _unlock(reader: object, source: str) -> None:
    if not reader.is_encrypted:  # type: ignore[attr-defined]
        return
    try:
        ok = reader.decrypt("")  # type: ignore[attr-defined]  # many PDFs only restrict editing
    except Exception as e:
        raise LoaderError(source, f"the PDF is encrypted and cannot be opened: {e}") from None
    if not ok:
        raise LoaderError(source, "the PDF is encrypted with a password", hint="remove the password and try again")


def _clean(text: str) -> str:
    """Join words hyphenated across lines and drop trailing spaces.

    >>> _clean("exam-\\nple  \\nnext")
    'example\\nnext'
    """
    text = _HYPHEN_BREAK.sub(r"\1\2", text.replace("\x00", ""))
    return "\n".join(line.rstrip() for line in text.split("\n"))
