"""Word .docx through python-docx: headings set the heading path; tables keep ``kind="table"``."""

from __future__ import annotations

import io
import zipfile
from typing import Any

from llmkit.errors import LoaderError
from llmkit.ingest.loaders.base import DocBuilder, HeadingPath, markdown_table
from llmkit.types import LoadedDocument

#: refuse archives that unpack to more than this (a zip bomb would exhaust memory)
MAX_UNPACKED_BYTES = 256 * 1024 * 1024
MAX_RATIO = 200  # uncompressed / compressed, over the whole archive, once it is over 16 MiB


def load(data: bytes, source: str) -> LoadedDocument:
    """Paragraphs, list items (``- ``), headings and tables, in document order."""
    import docx

    _check_archive(data, source)
    try:
        document = docx.Document(io.BytesIO(data))
    except (KeyError, ValueError, zipfile.BadZipFile) as e:
        raise LoaderError(source, f"not a valid .docx file: {e}", hint="re-save it from Word") from None
    builder, path = DocBuilder(source), HeadingPath()
    first_heading: str | None = None
    for block in _blocks(document):
        if block.__class__.__name__ == "Table":
            rows = _table_rows(block)
            if rows:
                builder.add(markdown_table(rows), kind="table", heading=path.path)
            continue
        text, level = _paragraph_text(block), _heading_level(block)
        if level is not None and text.strip():
            path.push(level, text)
            first_heading = first_heading or " ".join(text.split())
            builder.add(" ".join(text.split()), kind="heading", heading=path.path)
        else:
            builder.add(text, heading=path.path)
    title = document.core_properties.title or first_heading
    return builder.build("application/vnd.openxmlformats-officedocument.wordprocessingml.document", title=title or None)


def _check_archive(data: bytes, source: str) -> None:
    try:
        infos = zipfile.ZipFile(io.BytesIO(data)).infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as e:
        raise LoaderError(source, f"not a valid .docx (damaged ZIP container): {e}") from None
    unpacked = sum(i.file_size for i in infos)
    packed = max(sum(i.compress_size for i in infos), 1)
    if unpacked > MAX_UNPACKED_BYTES or (unpacked > 16 * 1024 * 1024 and unpacked / packed > MAX_RATIO):
        raise LoaderError(
            source, f"unpacks to {unpacked / 2**20:.0f} MiB from {packed / 2**20:.1f} MiB; refusing a likely zip bomb"
        )


def _blocks(document: Any) -> Any:
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    for child in document.element.body.iterchildren():
        tag = child.tag.rsplit("}", 1)[-1]
        if tag == "p":
            yield Paragraph(child, document)
        elif tag == "tbl":
            yield Table(child, document)
        elif tag == "sdt":  # content controls wrap ordinary paragraphs
            for p in child.iter("{*}p"):
                yield Paragraph(p, document)


_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_M = "{http://schemas.openxmlformats.org/officeDocument/2006/math}"
_FALLBACK = "{http://schemas.openxmlformats.org/markup-compatibility/2006}Fallback"
_BREAKS = {_W + "tab": "\t", _W + "br": "\n", _W + "cr": "\n"}


def _paragraph_text(paragraph: Any) -> str:
    """Runs, equations and text boxes of a paragraph (python-docx's ``.text`` leaves out the last two)."""
    text = _xml_text(paragraph._p)
    if paragraph._p.pPr is not None and paragraph._p.pPr.numPr is not None:
        return "- " + text
    return text


def _xml_text(element: Any) -> str:
    parts: list[str] = []
    stack = [element]
    while stack:  # depth first, in document order, leaving out the VML copy of each text box
        el = stack.pop()
        if el.tag == _FALLBACK:
            continue
        if el.tag in (_W + "t", _M + "t"):
            parts.append(el.text or "")
        elif el.tag in _BREAKS:
            parts.append(_BREAKS[el.tag])
        elif el.tag == _W + "p" and parts:
            parts.append("\n")
        stack.extend(reversed([c for c in el if isinstance(c.tag, str)]))
    return "".join(parts)


def _heading_level(paragraph: Any) -> int | None:
    name = (paragraph.style.name if paragraph.style is not None else "") or ""
    if name == "Title":
        return 1
    if name.startswith("Heading"):
        digits = name.removeprefix("Heading").strip()
        return int(digits) if digits.isdigit() else 1
    return None


def _table_rows(table: Any) -> list[list[str]]:
    rows = []
    for row in table.rows:
        cells, last = [], None
        for cell in row.cells:  # a merged cell is returned once per grid column it spans
            if cell._tc is not last:
                cells.append(_xml_text(cell._tc))
            last = cell._tc
        if any(c.strip() for c in cells):
            rows.append(cells)
    return rows
