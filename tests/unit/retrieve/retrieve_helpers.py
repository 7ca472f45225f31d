"""The test corpus, and a minimal in-memory ``Store`` (the methods the Retriever calls, with a call log).

Lexical scoring is plain term overlap weighted by inverse document frequency: enough to rank.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from llmkit.errors import NotFound
from llmkit.store.base import DocumentWrite, Filter
from llmkit.store.filters import matches, validate_filter
from llmkit.types import Chunk, CollectionInfo, Ranked, ScoredChunk

_WORD = re.compile(r"\w+")

#: (chunk id, source, text, metadata). c1 and c2 are near-duplicates (same words).
CORPUS = [
    ("c1", "pets.md", "The cat sat on the mat.", {"lang": "en", "page": 1}),
    ("c2", "pets-copy.md", "the cat sat on the mat!", {"lang": "en", "page": 2}),
    ("c3", "pets.md", "Dogs chase a cat around the garden.", {"lang": "en", "page": 3}),
    ("c4", "physics.md", "Quantum computers use qubits and entanglement.", {"lang": "en", "page": 1}),
    ("c5", "install.md", "Install llmkit with pip, then run llmkit init.", {"lang": "en", "page": 1}),
    ("c6", "katze.md", "Die Katze sitzt auf der Matte.", {"lang": "de", "page": 1}),
    ("c7", "garden.md", "Roses and tulips grow in the garden in spring.", {"lang": "en", "page": 4}),
]
COLLECTION = "docs"


def _terms(text: str) -> list[str]:
    return _WORD.findall(text.lower())


@dataclass
class MemoryStore:
    chunks: dict[str, dict[str, Chunk]] = field(default_factory=dict)
    vectors: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def create_collection(self, name: str, *, embedder: str, dim: int) -> CollectionInfo:
        self.chunks.setdefault(name, {})
        self.vectors.setdefault(name, {})
        return CollectionInfo(name, embedder, dim)

    def write(self, collection: str, batch: Sequence[DocumentWrite]) -> None:
        for doc in batch:
            for chunk, vec in zip(doc.chunks, doc.vectors, strict=True):
                self.chunks[collection][chunk.id] = chunk
                self.vectors[collection][chunk.id] = np.asarray(vec, dtype=np.float32)

    def _rows(self, collection: str, filter: Filter | None) -> list[Chunk]:
        if collection not in self.chunks:
            raise NotFound(f"no collection named {collection!r}")
        if filter is not None:
            validate_filter(filter)
        rows = self.chunks[collection].values()
        return [c for c in rows if filter is None or matches(filter, {**c.metadata, "source": c.source})]

    def get_chunks(self, collection: str, ids: Sequence[str]) -> list[Chunk]:
        self.calls.append(("get_chunks", {"ids": list(ids)}))
        return [self.chunks[collection][i] for i in ids if i in self.chunks[collection]]

    def get_vectors(self, collection: str, ids: Sequence[str]) -> np.ndarray:
        self.calls.append(("get_vectors", {"ids": list(ids)}))
        try:
            return np.stack([self.vectors[collection][i] for i in ids])
        except KeyError as e:
            raise NotFound(f"no chunk {e.args[0]!r}") from None

    def search_dense(
        self, collection: str, vector: np.ndarray, k: int, *, filter: Filter | None = None
    ) -> list[ScoredChunk]:
        self.calls.append(("dense", {"k": k, "filter": filter}))
        rows = self._rows(collection, filter)
        scored = [ScoredChunk(c, float(self.vectors[collection][c.id] @ vector)) for c in rows]
        return sorted(scored, key=lambda s: -s.score)[:k]

    def search_lexical(self, collection: str, query: str, k: int, *, filter: Filter | None = None) -> list[ScoredChunk]:
        self.calls.append(("lexical", {"k": k, "filter": filter, "query": query}))
        rows = self._rows(collection, filter)
        docs = {c.id: set(_terms(c.text)) for c in rows}
        scored = []
        for c in rows:
            score = sum(
                math.log(1 + len(docs) / sum(t in d for d in docs.values()))
                for t in set(_terms(query))
                if t in docs[c.id]
            )
            if score > 0:
                scored.append(ScoredChunk(c, score))
        return sorted(scored, key=lambda s: -s.score)[:k]

    def rank_dense(self, collection: str, vector: np.ndarray, k: int, *, filter: Filter | None = None) -> list[Ranked]:
        return [Ranked(h.chunk.id, h.score) for h in self.search_dense(collection, vector, k, filter=filter)]

    def rank_lexical(self, collection: str, query: str, k: int, *, filter: Filter | None = None) -> list[Ranked]:
        return [Ranked(h.chunk.id, h.score) for h in self.search_lexical(collection, query, k, filter=filter)]

    def close(self) -> None:
        pass
