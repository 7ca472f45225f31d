"""Loaders: bytes of one file -> ``LoadedDocument``, chosen by content type (extension + sniffed bytes).

>>> doc = load(b"# Title\\n\\nHello.", "notes.md")
>>> doc.content_type, [s.kind for s in doc.sections]
('text/markdown', ['heading', 'text'])

Third parties add a format by putting a loader in ``LOADERS`` and its extension in ``EXTENSIONS``.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import PurePath

from llmkit.errors import LoaderError
from llmkit.ingest.loaders import csvfile, docx, html, jsonfile, markdown, pdf, text
from llmkit.ingest.loaders.base import Loader, decode_text, looks_binary
from llmkit.types import LoadedDocument

TXT, MD, HTML, CSV = "text/plain", "text/markdown", "text/html", "text/csv"
JSON, JSONL, PDF = "application/json", "application/x-ndjson", "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"

#: content type -> loader
LOADERS: dict[str, Loader] = {
    TXT: text.load,
    MD: markdown.load,
    HTML: html.load,
    CSV: csvfile.load,
    "text/tab-separated-values": csvfile.load,
    JSON: jsonfile.load_json,
    JSONL: jsonfile.load_jsonl,
    PDF: pdf.load,
    DOCX: docx.load,
}

#: file extension -> content type (what the name claims; the bytes can overrule it)
EXTENSIONS: dict[str, str] = {
    ".txt": TXT, ".text": TXT, ".rst": TXT, ".log": TXT,
    ".md": MD, ".markdown": MD, ".mdown": MD,
    ".html": HTML, ".htm": HTML, ".xhtml": HTML,
    ".csv": CSV, ".tsv": "text/tab-separated-values",
    ".json": JSON, ".jsonl": JSONL, ".ndjson": JSONL,
    ".pdf": PDF, ".docx": DOCX,
}  # fmt: skip

__all__ = ["EXTENSIONS", "LOADERS", "Loader", "decode_text", "detect", "load"]


def load(data: bytes, source: str, *, content_type: str | None = None) -> LoadedDocument:
    """Load ``data`` (the bytes of ``source``) with the loader for its detected content type.

    Raises ``LoaderError`` for empty or unsupported input and for anything the parser chokes on.
    """
    kind = content_type or detect(data, source)
    loader = LOADERS.get(kind)
    if loader is None:
        raise LoaderError(source, f"unsupported content type {kind!r}", hint=f"supported: {', '.join(sorted(LOADERS))}")
    try:
        return loader(data, source)
    except LoaderError:
        raise
    except RecursionError:
        raise LoaderError(source, "structure is nested too deeply to parse") from None
    except MemoryError:
        raise LoaderError(source, "ran out of memory while parsing") from None
    except Exception as e:  # a parser bug or hostile input must not end a batch with a traceback
        raise LoaderError(source, f"cannot parse as {kind}: {type(e).__name__}: {e}") from None


def detect(data: bytes, source: str) -> str:
    """The content type of ``data``: sniffed bytes win for binary formats, else the extension.

    >>> detect(b"%PDF-1.4 ...", "really.txt"), detect(b"a,b\\n1,2", "t.csv"), detect(b"<!DOCTYPE html><p>x", "-")
    ('application/pdf', 'text/csv', 'text/html')
    >>> detect(b"Archives use %PDF-1.7 headers.", "notes.txt")
    'text/plain'
    """
    if not data.strip():
        raise LoaderError(source, "the file is empty")
    if _is_pdf(data, source):
        return PDF
    if data.startswith(b"PK\x03\x04"):
        return _zip_kind(data, source)
    claimed = EXTENSIONS.get(PurePath(source).suffix.lower())
    binary = _sniff_binary(data)
    if binary:
        raise LoaderError(source, f"unsupported binary format ({binary})", hint="convert it to PDF, DOCX or text")
    if claimed in (PDF, DOCX):
        raise LoaderError(
            source, f"the name says {PurePath(source).suffix} but the content is not a valid file of that kind"
        )
    if looks_binary(data) and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise LoaderError(source, "looks like binary data, not text or a supported document", hint="convert it to text")
    return claimed or _sniff_text(data)


def _is_pdf(data: bytes, source: str) -> bool:
    """``%PDF-`` starts the data; or, as PDF readers allow, lies in its first KiB after some junk while the
    name, binary content or a final ``%%EOF`` says PDF. Text that merely mentions ``%PDF-`` is not one.
    """
    head = data[:1024]
    if head.lstrip(b"\xef\xbb\xbf \t\r\n\f\x00").startswith(b"%PDF-"):
        return True
    if b"%PDF-" not in head:
        return False
    return PurePath(source).suffix.lower() == ".pdf" or looks_binary(data) or data.rstrip().endswith(b"%%EOF")


def _zip_kind(data: bytes, source: str) -> str:
    try:
        names = set(zipfile.ZipFile(io.BytesIO(data)).namelist())
    except (zipfile.BadZipFile, OSError, ValueError) as e:
        raise LoaderError(source, f"a damaged ZIP container: {e}") from None
    if "word/document.xml" in names:
        return DOCX
    if any(n.startswith("ppt/") for n in names) or any(n.startswith("xl/") for n in names):
        raise LoaderError(source, "PowerPoint and Excel files are not supported yet", hint="export it to PDF or CSV")
    raise LoaderError(source, "a ZIP archive, not a document", hint="unpack it and ingest the folder")


def _sniff_binary(data: bytes) -> str | None:
    import filetype  # small pure-Python magic-number table

    kind = filetype.guess(data[:8192])
    return kind.mime if kind is not None else None


def _sniff_text(data: bytes) -> str:
    head = data[:2048].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith((b"<!doctype html", b"<html", b"<head", b"<body")):
        return HTML
    if head[:1] in (b"{", b"["):
        text_ = data.decode("utf-8", "replace")
        try:
            json.loads(text_)
            return JSON
        except ValueError:
            lines = [ln for ln in text_.splitlines() if ln.strip()]
            if lines and all(ln.lstrip().startswith("{") for ln in lines[:20]):
                return JSONL
    if re.search(rb"^(#{1,6} |```)", data[:4096], re.MULTILINE):
        return MD
    return TXT
