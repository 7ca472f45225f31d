"""CSV/TSV with the stdlib ``csv`` module: rows as pipe tables, the header repeated in every section."""

from __future__ import annotations

import csv
import io
import sys
from pathlib import PurePath

from llmkit.errors import LoaderError
from llmkit.ingest.loaders.base import DocBuilder, decode_text, markdown_table
from llmkit.types import LoadedDocument

ROWS_PER_SECTION = 40
CHARS_PER_SECTION = 4000


def load(data: bytes, source: str) -> LoadedDocument:
    """Sections of at most ``ROWS_PER_SECTION`` rows, each a table that starts with the header.

    >>> doc = load(b"name;price\\nWidget;10\\nGadget;12", "p.csv")
    >>> print(doc.sections[0].text)
    | name | price |
    | --- | --- |
    | Widget | 10 |
    | Gadget | 12 |
    """
    text, encoding = decode_text(data, source)
    rows = _rows(text, source)
    if not rows:
        raise LoaderError(source, "no rows found in the CSV file")
    header, body = rows[0], rows[1:] or [[""] * len(rows[0])]
    builder, group, size = DocBuilder(source), [], 0
    for row in body:
        if group and (len(group) >= ROWS_PER_SECTION or size > CHARS_PER_SECTION):
            builder.add(markdown_table([header, *group]), kind="table")
            group, size = [], 0
        group.append(row)
        size += sum(len(c) for c in row)
    builder.add(markdown_table([header, *group]), kind="table")
    meta = {"encoding": encoding, "rows": len(body), "columns": len(header)}
    return builder.build("text/csv", title=PurePath(source).stem, metadata=meta)


def _rows(text: str, source: str) -> list[list[str]]:
    sample = text[:16384]
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(sample, delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel_tab if source.endswith(".tsv") else csv.excel
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    try:
        rows = [r for r in csv.reader(io.StringIO(text), dialect) if any(c.strip() for c in r)]
    except csv.Error as e:
        raise LoaderError(source, f"malformed CSV: {e}") from None
    return rows
