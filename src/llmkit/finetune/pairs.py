"""Training data for the embedder: queries, passages and which passages answer which query.

Three sources give the same ``RetrievalSet``: a BEIR folder (``corpus.jsonl``, ``queries.jsonl``,
``qrels/<split>.tsv``), an llmkit eval set whose items carry the relevant passages' text in
``contexts``, and questions a chat model writes from a collection's own chunks (``llmkit.evals.synth``).
Splitting is by query, seeded, so no held-out query is ever seen in training.
"""

from __future__ import annotations

import csv
import hashlib
import json
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from llmkit.errors import InputError, NotFound

if TYPE_CHECKING:
    from llmkit.evals.dataset import EvalItem


@dataclass(frozen=True)
class RetrievalSet:
    """``queries`` id -> text, ``corpus`` id -> passage text, ``qrels`` query id -> relevant passage ids."""

    queries: dict[str, str]
    corpus: dict[str, str]
    qrels: dict[str, frozenset[str]]
    source: str = ""

    def pairs(self, query_ids: Iterable[str]) -> list[tuple[str, str]]:
        """``(query, relevant passage)`` for each relevant passage of each query, in the order given.

        >>> RetrievalSet({"q": "why?"}, {"d": "because"}, {"q": frozenset({"d"})}).pairs(["q"])
        [('why?', 'because')]
        """
        return [(self.queries[q], self.corpus[d]) for q in query_ids for d in sorted(self.qrels[q])]

    def subset(self, query_ids: Iterable[str], corpus_ids: Iterable[str]) -> RetrievalSet:
        """The set restricted to ``query_ids`` and ``corpus_ids`` (a query keeps only passages still present)."""
        corpus = {d: self.corpus[d] for d in corpus_ids}
        qrels = {q: frozenset(self.qrels[q] & corpus.keys()) for q in query_ids}
        qrels = {q: r for q, r in qrels.items() if r}
        return RetrievalSet({q: self.queries[q] for q in qrels}, corpus, qrels, self.source)


def passage_text(title: str, text: str) -> str:
    """A BEIR document as one passage: the title, a blank line, the text (as ``bench/retrieval_beir`` ingests it).

    >>> passage_text("Title", "Body.")
    'Title\\n\\nBody.'
    """
    return f"{title.strip()}\n\n{text.strip()}" if title.strip() else text.strip()


def load_beir_set(folder: str | Path, *, split: str = "train") -> RetrievalSet:
    """A BEIR folder as a ``RetrievalSet``; qrels with score 0, or naming unknown ids, are left out."""
    p = Path(folder)
    files = {"corpus": p / "corpus.jsonl", "queries": p / "queries.jsonl", "qrels": p / "qrels" / f"{split}.tsv"}
    for what, path in files.items():
        if not path.is_file():
            raise NotFound(
                f"{p}: not a BEIR folder, {what} file {path.name} is missing",
                hint=f"a BEIR folder holds corpus.jsonl, queries.jsonl and qrels/{split}.tsv",
            )
    corpus = {d["_id"]: passage_text(d.get("title") or "", d.get("text") or "") for d in _jsonl(files["corpus"])}
    queries = {
        q["_id"]: q["text"] for q in _jsonl(files["queries"]) if isinstance(q.get("text"), str) and q["text"].strip()
    }
    qrels: dict[str, set[str]] = {}
    with files["qrels"].open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f, delimiter="\t")
        if not {"query-id", "corpus-id", "score"} <= set(reader.fieldnames or ()):
            raise InputError(f"{files['qrels']}: the header must be query-id, corpus-id, score (tab-separated)")
        for row in reader:
            if _score(row, files["qrels"]) > 0 and row["query-id"] in queries and row["corpus-id"] in corpus:
                qrels.setdefault(row["query-id"], set()).add(row["corpus-id"])
    return _checked(RetrievalSet(queries, corpus, {q: frozenset(r) for q, r in qrels.items()}, str(p)))


def from_eval_items(items: Sequence[EvalItem], *, source: str = "") -> RetrievalSet:
    """An llmkit eval set as pairs: each item's ``input`` against each of its ``contexts`` (passage text).

    >>> from llmkit.evals.dataset import EvalItem
    >>> rs = from_eval_items([EvalItem("1", "Who wrote it?", contexts=("Ada wrote it.",))])
    >>> rs.pairs(rs.queries)
    [('Who wrote it?', 'Ada wrote it.')]
    """
    queries, corpus, qrels = {}, {}, {}
    for item in items:
        passages = [c for c in item.contexts if c.strip()]
        if not passages:
            continue
        ids = {hashlib.sha256(c.encode("utf-8", "replace")).hexdigest()[:16]: c for c in passages}
        corpus.update(ids)
        queries[item.id] = item.input
        qrels[item.id] = frozenset(ids)
    if not queries:
        raise InputError(
            f"{source or 'the eval set'}: no item has contexts, so there are no (query, passage) pairs",
            hint="give each item the relevant passage text in 'contexts', or use a BEIR folder with qrels",
        )
    return _checked(RetrievalSet(queries, corpus, qrels, source))


def split_queries(query_ids: Iterable[str], heldout: float, seed: int) -> tuple[list[str], list[str]]:
    """Seeded split by query into (train, held-out); ``heldout`` is the held-out share.

    >>> train, test = split_queries([str(i) for i in range(10)], 0.2, seed=0)
    >>> len(train), len(test), sorted(train + test) == sorted(str(i) for i in range(10))
    (8, 2, True)
    """
    if not 0 <= heldout < 1:
        raise InputError(f"the held-out share must be in [0, 1), got {heldout}")
    ids = sorted(set(query_ids))
    random.Random(seed).shuffle(ids)
    n = round(len(ids) * heldout)
    if heldout and len(ids) >= 2:
        n = min(max(n, 1), len(ids) - 1)
    return sorted(ids[n:]), sorted(ids[:n])


def _checked(rs: RetrievalSet) -> RetrievalSet:
    if not rs.qrels:
        raise InputError(
            f"{rs.source or 'the data'}: no (query, relevant passage) pairs",
            hint="check that the qrels name query and corpus ids that exist, with a score above 0",
        )
    return rs


def _score(row: dict[str, str], path: Path) -> int:
    try:
        return int(row["score"])
    except (TypeError, ValueError):
        raise InputError(f"{path}: score {row.get('score')!r} is not an integer") from None


def _jsonl(path: Path) -> Iterable[dict]:
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise InputError(f"{path}:{n}: not valid JSON ({e.msg})") from None
            if not isinstance(row, dict) or not isinstance(row.get("_id"), str):
                raise InputError(f"{path}:{n}: each line needs a string '_id'")
            yield row
