"""The ``Store`` Protocol: where collections, documents, chunks, vectors and text indexes live.

Every implementation passes the contract suite in ``llmkit.testing.store_contract`` unchanged.
Fusion, MMR and explain live above the store (``llmkit.retrieve``), so every store ranks alike.

Filters use one small language, checked by ``llmkit.store.filters.validate_filter``::

    {"source": "a.md"}                          equality
    {"page": {"$gte": 2, "$lt": 5}}             ranges: $gt $gte $lt $lte
    {"lang": {"$in": ["en", "de"]}}             membership: $in $nin; also $ne
    {"$and": [...]} / {"$or": [...]}            combination (top-level keys are ANDed)

Keys are a chunk's built-in fields (``source``, ``doc_id``, ``page``, ``heading``, ``content_type``)
or keys of its metadata (document metadata merged with chunk metadata).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from llmkit.types import Chunk, CollectionInfo, DocumentInfo, Metadata, Ranked, ScoredChunk

if TYPE_CHECKING:
    import numpy as np

Filter = Mapping[str, Any]


@dataclass(frozen=True)
class DocumentWrite:
    """One document to insert or replace, with all its chunks and their vectors (row i ↔ chunk i)."""

    id: str
    source: str
    content_hash: str
    content_type: str
    chunks: Sequence[Chunk]
    vectors: np.ndarray  # float32, shape (len(chunks), dim), L2-normalised
    title: str | None = None
    metadata: Metadata = field(default_factory=dict)


@runtime_checkable
class Store(Protocol):
    # collections -------------------------------------------------------------------
    def create_collection(self, name: str, *, embedder: str, dim: int) -> CollectionInfo:
        """Create ``name``, or return it if it exists with the same embedder and dim (else InputError)."""
        ...

    def get_collection(self, name: str) -> CollectionInfo:
        """The collection with its counts; NotFound if missing."""
        ...

    def list_collections(self) -> list[CollectionInfo]: ...

    def delete_collection(self, name: str) -> None:
        """Delete the collection and everything in it; NotFound if missing."""
        ...

    # documents ---------------------------------------------------------------------
    def write(self, collection: str, batch: Sequence[DocumentWrite]) -> None:
        """Insert or replace the documents in ``batch`` in one transaction: all of it lands, or none.

        A document whose id exists has its old chunks and vectors replaced.
        """
        ...

    def document_hashes(self, collection: str, ids: Sequence[str]) -> dict[str, str]:
        """``{doc_id: content_hash}`` for those of ``ids`` that are stored."""
        ...

    def list_documents(self, collection: str, *, limit: int | None = None, offset: int = 0) -> list[DocumentInfo]: ...

    def delete_document(self, collection: str, doc_id: str) -> bool:
        """Delete a document and its chunks; False if it was not there."""
        ...

    def get_chunks(self, collection: str, ids: Sequence[str]) -> list[Chunk]:
        """The chunks with these ids, in the order given (missing ids are left out)."""
        ...

    def get_vectors(self, collection: str, ids: Sequence[str]) -> np.ndarray:
        """Stored vectors for chunk ``ids`` (row i ↔ ids[i]); KeyError-free: missing ids raise NotFound."""
        ...

    # re-embedding ------------------------------------------------------------------
    def chunk_texts(self, collection: str, *, after: str | None = None, limit: int = 256) -> list[tuple[str, str]]:
        """``(chunk id, text)`` for up to ``limit`` chunks whose ids sort after ``after``, in id order.

        Paging through a whole collection: pass the last id of one page as ``after`` of the next.
        """
        ...

    def replace_vectors(
        self, collection: str, *, embedder: str, ids: Sequence[str], vectors: np.ndarray
    ) -> CollectionInfo:
        """Switch the collection to ``embedder``: chunk ``ids[i]`` gets ``vectors[i]``, all in one transaction.

        ``ids`` must cover every chunk exactly once, else InputError and nothing changes. The dim may
        change; the dense index is rebuilt. Until the commit, searches see the old vectors.
        """
        ...

    # search ------------------------------------------------------------------------
    def search_dense(
        self, collection: str, vector: np.ndarray, k: int, *, filter: Filter | None = None
    ) -> list[ScoredChunk]:
        """Top ``k`` chunks by cosine similarity (score in [-1, 1], higher is better)."""
        ...

    def search_lexical(self, collection: str, query: str, k: int, *, filter: Filter | None = None) -> list[ScoredChunk]:
        """Top ``k`` chunks by BM25 (score higher is better). Any user text is a valid query."""
        ...

    def rank_dense(self, collection: str, vector: np.ndarray, k: int, *, filter: Filter | None = None) -> list[Ranked]:
        """``search_dense``'s ids and scores without reading the chunks (fusion reads only its winners')."""
        ...

    def rank_lexical(self, collection: str, query: str, k: int, *, filter: Filter | None = None) -> list[Ranked]:
        """``search_lexical``'s ids and scores without reading the chunks."""
        ...

    def close(self) -> None: ...
