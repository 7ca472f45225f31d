"""JSON and JSON Lines: text fields flattened with their key paths; one section per record."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from llmkit.errors import LoaderError
from llmkit.ingest.loaders.base import DocBuilder, decode_text
from llmkit.types import LoadedDocument

_LABELS = ("title", "name", "id", "_id")


def flatten(value: Any) -> Iterator[tuple[str, str]]:
    """``(key path, text)`` for every string, number and boolean in ``value``, depth first.

    >>> list(flatten({"a": {"b": "x"}, "c": [1, {"d": True}], "e": None}))
    [('a.b', 'x'), ('c[0]', '1'), ('c[1].d', 'true')]
    """
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:  # iterative: a deeply nested file must not hit the recursion limit
        path, v = stack.pop()
        if isinstance(v, dict):
            stack.extend((f"{path}.{k}" if path else str(k), x) for k, x in reversed(v.items()))
        elif isinstance(v, list):
            stack.extend((f"{path}[{i}]", x) for i, x in reversed(list(enumerate(v))))
        elif isinstance(v, bool):
            yield path, "true" if v else "false"
        elif isinstance(v, str | int | float) and str(v).strip():
            yield path, str(v)


def load_json(data: bytes, source: str) -> LoadedDocument:
    """A list of records gives one section per record; any other value gives one section."""
    text, encoding = decode_text(data, source)
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise LoaderError(source, f"not valid JSON: {e}", hint="for one object per line, name it .jsonl") from None
    records = value if isinstance(value, list) else [value]
    builder = DocBuilder(source)
    for record in records:
        _add_record(builder, record)
    return builder.build("application/json", metadata={"encoding": encoding, "records": len(records)})


def load_jsonl(data: bytes, source: str) -> LoadedDocument:
    """One section per line; lines that are not JSON are skipped and counted in ``metadata``."""
    text, encoding = decode_text(data, source)
    builder, bad, good = DocBuilder(source), [], 0
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            bad.append(number)
            continue
        good += 1
        _add_record(builder, record)
    if bad and not good:
        raise LoaderError(source, f"no line is valid JSON (first bad line: {bad[0]})")
    meta = {"encoding": encoding, "records": good, "bad_lines": len(bad)}
    return builder.build("application/x-ndjson", metadata=meta)


def _add_record(builder: DocBuilder, record: Any) -> None:
    fields = list(flatten(record))
    text = "\n".join(f"{k}: {v}" if k else v for k, v in fields)
    label = next((v for k, v in fields if k in _LABELS), None) if isinstance(record, dict) else None
    builder.add(text, heading=" ".join(label.split())[:200] if label else None)
