"""Eval sets: ``EvalItem`` rows read from JSONL, CSV, YAML or JSON, and the SQuAD and BEIR formats.

A row has an ``input`` (the question), optional ``references`` (gold answers), ``contexts`` (gold
passages' text), ``doc_ids`` (ids of the relevant documents or chunks) and free ``metadata``::

    {"id": "q1", "input": "How long is the warranty?", "references": ["three years"], "doc_ids": ["faq.md"]}

In CSV, list columns hold one value or several separated by `` || ``.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llmkit.errors import InputError, NotFound

MAX_ITEMS = 1_000_000
_LIST_FIELDS = ("references", "contexts", "doc_ids")
_ALIASES = {
    "question": "input",
    "query": "input",
    "answers": "references",
    "answer": "references",
    "reference": "references",
}


@dataclass(frozen=True, slots=True)
class EvalItem:
    """One test case."""

    id: str
    input: str
    references: tuple[str, ...] = ()
    contexts: tuple[str, ...] = ()
    doc_ids: tuple[str, ...] = ()
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "input": self.input, "references": list(self.references),
            "contexts": list(self.contexts), "doc_ids": list(self.doc_ids), "metadata": dict(self.metadata),
        }  # fmt: skip


def item_from_dict(row: Mapping[str, Any], where: str, index: int = 0) -> EvalItem:
    """Validate one row (aliases: question/query -> input, answer(s)/reference -> references).

    >>> item_from_dict({"question": "Who?", "answer": "Ada"}, "x.jsonl", 3)
    EvalItem(id='3', input='Who?', references=('Ada',), contexts=(), doc_ids=(), metadata={})
    """
    if not isinstance(row, Mapping):
        raise InputError(f"{where}: each item must be an object with an 'input', got {type(row).__name__}")
    data = {_ALIASES.get(k, k): v for k, v in row.items()}
    text = data.get("input")
    if not isinstance(text, str) or not text.strip():
        raise InputError(f"{where}: 'input' (the question) is missing or empty")
    lists = {f: _as_strings(data.get(f), f, where) for f in _LIST_FIELDS}
    meta = data.get("metadata") or {}
    if not isinstance(meta, Mapping):
        raise InputError(f"{where}: 'metadata' must be an object")
    extra = {k: v for k, v in data.items() if k not in {"id", "input", "metadata", *_LIST_FIELDS}}
    return EvalItem(str(data.get("id", index)), text, **lists, metadata={**extra, **meta})


def _as_strings(value: Any, name: str, where: str) -> tuple[str, ...]:
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        return tuple(v.strip() for v in value.split(" || ")) if " || " in value else (value,)
    if isinstance(value, (list, tuple)) and all(isinstance(v, (str, int, float)) for v in value):
        return tuple(str(v) for v in value)
    raise InputError(f"{where}: '{name}' must be text or a list of texts")


def load_dataset(path: str | Path, *, limit: int | None = None) -> list[EvalItem]:
    """Read an eval set by its extension (.jsonl, .csv, .yaml/.yml, .json); a folder is read as BEIR."""
    p = Path(path)
    if p.is_dir():
        return load_beir(p, limit=limit)
    if not p.is_file():
        raise NotFound(f"no eval set at {p}")
    suffix = p.suffix.lower()
    readers = {".jsonl": _read_jsonl, ".csv": _read_csv, ".yaml": _read_yaml, ".yml": _read_yaml, ".json": _read_json}
    if suffix not in readers:
        raise InputError(f"{p}: unknown eval-set format {suffix!r}", hint="use .jsonl, .csv, .yaml or .json")
    with _utf8(p):
        items = _validated(readers[suffix](p), p, limit)
    return _non_empty(items, p)


def _non_empty(items: list[EvalItem], path: Path, why: str = "") -> list[EvalItem]:
    if not items:
        raise InputError(f"{path}: the eval set is empty{why}")
    return items


@contextmanager
def _utf8(path: Path) -> Iterator[None]:
    """Text that is not UTF-8 is the user's data error, not a crash."""
    try:
        yield
    except UnicodeDecodeError as e:
        raise InputError(f"{path}: not UTF-8 text (byte {e.start}: {e.reason})", hint="save it as UTF-8") from None


def _validated(rows: Iterable[tuple[str, Any]], path: Path, limit: int | None) -> list[EvalItem]:
    items: list[EvalItem] = []
    seen: set[str] = set()
    for index, (where, row) in enumerate(rows):
        if limit is not None and len(items) >= limit:
            break
        if index >= MAX_ITEMS:
            raise InputError(f"{path}: more than {MAX_ITEMS:,} items; split the set")
        item = item_from_dict(row, where, index)
        if item.id in seen:
            raise InputError(f"{where}: duplicate id {item.id!r}")
        seen.add(item.id)
        items.append(item)
    return items


def _read_jsonl(path: Path) -> Iterable[tuple[str, Any]]:
    with _open(path) as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                yield f"{path}:{n}", json.loads(line)
            except json.JSONDecodeError as e:
                raise InputError(f"{path}:{n}: not valid JSON ({e.msg})") from None


def _objects(path: Path) -> Iterable[tuple[str, dict[str, Any]]]:
    for where, row in _read_jsonl(path):
        if not isinstance(row, dict):
            raise InputError(f"{where}: expected a JSON object, got {type(row).__name__}")
        yield where, row


def _read_csv(path: Path) -> Iterable[tuple[str, Any]]:
    with _open(path) as f:
        reader = csv.DictReader(f)
        if not reader.fieldnames or not {"input", "question", "query"} & set(reader.fieldnames):
            raise InputError(f"{path}: the CSV header needs an 'input' (or 'question') column")
        for n, row in enumerate(reader, 2):
            yield f"{path}:{n}", {k: v for k, v in row.items() if k}


def _read_yaml(path: Path) -> Iterable[tuple[str, Any]]:
    import yaml

    try:
        with _open(path) as f:
            data = yaml.safe_load(f)
    except yaml.YAMLError as e:
        raise InputError(f"{path}: not valid YAML: {e}") from None
    yield from _rows(data, path)


def _read_json(path: Path) -> Iterable[tuple[str, Any]]:
    try:
        with _open(path) as f:
            data = json.load(f)
    except json.JSONDecodeError as e:
        raise InputError(f"{path}: not valid JSON ({e.msg}, line {e.lineno})") from None
    if isinstance(data, dict) and "data" in data and "version" in data:
        data = list(_squad_rows(data))
    yield from _rows(data, path)


def _rows(data: Any, path: Path) -> Iterable[tuple[str, Any]]:
    if isinstance(data, dict) and isinstance(data.get("items"), list):
        data = data["items"]
    if not isinstance(data, list):
        raise InputError(f"{path}: expected a list of items (or {{items: [...]}})")
    for n, row in enumerate(data):
        yield f"{path}[{n}]", row


def _open(path: Path) -> Any:
    try:
        return path.open(encoding="utf-8-sig", newline="")  # -sig: a byte-order mark is not part of the data
    except OSError as e:
        raise InputError(f"{path}: cannot read: {e.strerror}") from None


# ----------------------------------------------------------------------------- public formats


def _squad_rows(data: Mapping[str, Any]) -> Iterable[dict[str, Any]]:
    for article in data["data"]:
        for n, para in enumerate(article["paragraphs"]):
            for qa in para["qas"]:
                answers = list(dict.fromkeys(a["text"] for a in qa["answers"]))
                doc = f"{article['title']}_{n}"
                yield {"id": qa["id"], "input": qa["question"], "references": answers, "contexts": [para["context"]],
                       "doc_ids": [doc], "title": article["title"]}  # fmt: skip


def load_squad(path: str | Path, *, limit: int | None = None) -> list[EvalItem]:
    """SQuAD v1.1 questions: the official JSON file, or a folder holding ``qa.jsonl`` + ``passages.jsonl``.

    ``doc_ids`` is the gold passage id (``<title>_<paragraph index>``), ``contexts`` its text.
    """
    p = Path(path)
    if not p.is_dir():
        return load_dataset(p, limit=limit)
    if not (p / "qa.jsonl").is_file() or not (p / "passages.jsonl").is_file():
        raise NotFound(
            f"{p}: neither a SQuAD folder (qa.jsonl and passages.jsonl) nor a BEIR folder (queries.jsonl and qrels/)"
        )
    drop = {"answers", "answer_starts", "passage_id"}
    with _utf8(p):
        passages = {d.get("id"): d.get("text") for _, d in _objects(p / "passages.jsonl")}
        rows = []
        for where, q in _objects(p / "qa.jsonl"):
            if limit is not None and len(rows) >= limit:
                break
            pid = q.get("passage_id")
            if pid not in passages:
                raise InputError(f"{where}: passage_id {pid!r} is not in passages.jsonl")
            row = {**q, "references": q.get("answers"), "contexts": [passages[pid]], "doc_ids": [pid]}
            rows.append((where, {k: v for k, v in row.items() if k not in drop}))
        return _non_empty(_validated(rows, p, limit), p)


def load_beir(folder: str | Path, *, split: str = "train", limit: int | None = None) -> list[EvalItem]:
    """BEIR queries with their qrels (relevance > 0) as ``doc_ids``; queries without qrels are left out."""
    p = Path(folder)
    qrels_path = p / "qrels" / f"{split}.tsv"
    if not (p / "queries.jsonl").is_file() or not qrels_path.is_file():
        raise NotFound(f"{p}: not a BEIR folder (needs queries.jsonl and qrels/{split}.tsv)")
    with _utf8(p):
        qrels = _read_qrels(qrels_path)
        rows = (
            (where, {"id": q.get("_id"), "input": q.get("text"), "doc_ids": qrels[str(q.get("_id"))]})
            for where, q in _objects(p / "queries.jsonl")
            if str(q.get("_id")) in qrels
        )
        items = _validated(rows, p, limit)
    return _non_empty(items, p, f" (no query in queries.jsonl has a relevant document in qrels/{split}.tsv)")


def _read_qrels(path: Path) -> dict[str, list[str]]:
    """query id -> ids of the documents with relevance > 0 (``1`` or ``1.0``)."""
    qrels: dict[str, list[str]] = {}
    with _open(path) as f:
        reader = csv.DictReader(f, delimiter="\t")
        if not {"query-id", "corpus-id", "score"} <= set(reader.fieldnames or ()):
            raise InputError(f"{path}: the header must name the columns query-id, corpus-id and score")
        for n, row in enumerate(reader, 2):
            try:
                relevant = float(row["score"]) > 0
            except (TypeError, ValueError):
                raise InputError(f"{path}:{n}: score {row['score']!r} is not a number") from None
            if relevant:
                qrels.setdefault(row["query-id"], []).append(row["corpus-id"])
    return qrels


def load_any(path: str | Path, *, fmt: str = "auto", split: str = "train", limit: int | None = None) -> list[EvalItem]:
    """An eval file, a BEIR folder (has ``qrels/``) or a SQuAD folder (``qa.jsonl`` + ``passages.jsonl``)."""
    p = Path(path)
    if fmt == "beir" or (fmt == "auto" and p.is_dir() and (p / "qrels").is_dir()):
        return load_beir(p, split=split, limit=limit)
    if fmt == "squad" or (fmt == "auto" and p.is_dir()):
        return load_squad(p, limit=limit)
    return load_dataset(p, limit=limit)


def save_jsonl(items: Iterable[EvalItem], path: str | Path) -> int:
    """Write items as JSONL; returns how many."""
    n = 0
    with Path(path).open("w", encoding="utf-8") as f:
        for item in items:
            f.write(json.dumps(item.to_dict(), ensure_ascii=False) + "\n")
            n += 1
    return n
