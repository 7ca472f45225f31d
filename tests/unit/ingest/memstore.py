"""A tiny in-memory ``Store`` for the pipeline's unit tests (dense search only; lexical is a word match)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from llmkit.errors import InputError, NotFound, StoreError
from llmkit.store.base import DocumentWrite, Filter
from llmkit.types import Chunk, CollectionInfo, DocumentInfo, Ranked, ScoredChunk


def words(text: str) -> int:
    """A simple tokenizer for the splitter tests: whitespace-separated words."""
    return len(text.split())


@dataclass
class _Collection:
    info: CollectionInfo
    docs: dict[str, DocumentWrite] = field(default_factory=dict)


@dataclass
class MemStore:
    collections: dict[str, _Collection] = field(default_factory=dict)
    writes: list[list[str]] = field(default_factory=list)  # doc ids of every write, to check batching
    fail_after_writes: int | None = None  # raise StoreError on the write after this many

    def create_collection(self, name: str, *, embedder: str, dim: int) -> CollectionInfo:
        if name in self.collections:
            info = self.collections[name].info
            if (info.embedder, info.dim) != (embedder, dim):
                raise InputError(f"collection {name} uses {info.embedder}/{info.dim}")
            return info
        self.collections[name] = _Collection(CollectionInfo(name, embedder, dim))
        return self.collections[name].info

    def _get(self, name: str) -> _Collection:
        if name not in self.collections:
            raise NotFound(f"no collection {name}")
        return self.collections[name]

    def get_collection(self, name: str) -> CollectionInfo:
        c = self._get(name)
        chunks = sum(len(d.chunks) for d in c.docs.values())
        return CollectionInfo(name, c.info.embedder, c.info.dim, len(c.docs), chunks)

    def list_collections(self) -> list[CollectionInfo]:
        return [self.get_collection(n) for n in sorted(self.collections)]

    def delete_collection(self, name: str) -> None:
        self._get(name)
        del self.collections[name]

    def write(self, collection: str, batch: Sequence[DocumentWrite]) -> None:
        c = self._get(collection)
        if self.fail_after_writes is not None and len(self.writes) >= self.fail_after_writes:
            raise StoreError("simulated crash during write")
        for d in batch:  # validate everything first: all of it lands, or none
            if d.vectors.shape != (len(d.chunks), c.info.dim):
                raise InputError(f"{d.id}: vectors {d.vectors.shape} for {len(d.chunks)} chunks")
        for d in batch:
            c.docs[d.id] = d
        self.writes.append([d.id for d in batch])

    def document_hashes(self, collection: str, ids: Sequence[str]) -> dict[str, str]:
        docs = self._get(collection).docs
        return {i: docs[i].content_hash for i in ids if i in docs}

    def list_documents(self, collection: str, *, limit: int | None = None, offset: int = 0) -> list[DocumentInfo]:
        docs = sorted(self._get(collection).docs.values(), key=lambda d: d.source)
        infos = [
            DocumentInfo(d.id, d.source, d.content_hash, d.content_type, len(d.chunks), d.title, d.metadata)
            for d in docs
        ]
        return infos[offset : None if limit is None else offset + limit]

    def delete_document(self, collection: str, doc_id: str) -> bool:
        return self._get(collection).docs.pop(doc_id, None) is not None

    def _chunks(self, collection: str) -> dict[str, tuple[Chunk, np.ndarray]]:
        return {ch.id: (ch, d.vectors[i]) for d in self._get(collection).docs.values() for i, ch in enumerate(d.chunks)}

    def get_chunks(self, collection: str, ids: Sequence[str]) -> list[Chunk]:
        found = self._chunks(collection)
        return [found[i][0] for i in ids if i in found]

    def get_vectors(self, collection: str, ids: Sequence[str]) -> np.ndarray:
        found = self._chunks(collection)
        missing = [i for i in ids if i not in found]
        if missing:
            raise NotFound(f"no chunks {missing}")
        return np.stack([found[i][1] for i in ids]) if ids else np.zeros((0, self._get(collection).info.dim))

    def search_dense(
        self, collection: str, vector: np.ndarray, k: int, *, filter: Filter | None = None
    ) -> list[ScoredChunk]:
        scored = [ScoredChunk(ch, float(v @ vector)) for ch, v in self._chunks(collection).values()]
        return sorted(scored, key=lambda s: -s.score)[:k]

    def search_lexical(self, collection: str, query: str, k: int, *, filter: Filter | None = None) -> list[ScoredChunk]:
        words = set(query.lower().split())
        scored = [
            ScoredChunk(ch, float(len(words & set(ch.text.lower().split()))))
            for ch, _ in self._chunks(collection).values()
        ]
        return sorted((s for s in scored if s.score > 0), key=lambda s: -s.score)[:k]

    def rank_dense(self, collection: str, vector: np.ndarray, k: int, *, filter: Filter | None = None) -> list[Ranked]:
        return [Ranked(h.chunk.id, h.score) for h in self.search_dense(collection, vector, k, filter=filter)]

    def rank_lexical(self, collection: str, query: str, k: int, *, filter: Filter | None = None) -> list[Ranked]:
        return [Ranked(h.chunk.id, h.score) for h in self.search_lexical(collection, query, k, filter=filter)]

    def close(self) -> None:
        pass
