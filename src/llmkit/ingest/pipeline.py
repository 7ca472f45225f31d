"""The ingest pipeline: sources -> load -> split -> embed (batched across documents) -> store, incrementally.

>>> from llmkit.testing import HashEmbedder                       # doctest: +SKIP
>>> report = Ingestor(store, HashEmbedder(), IngestSettings()).run(["docs/"], "docs")  # doctest: +SKIP
>>> report.added, report.skipped, report.failed                   # doctest: +SKIP
(12, 0, (('docs/broken.pdf', 'the PDF is encrypted with a password'),))

A document's id is a hash of its source name; its content hash covers the bytes, the splitter
settings, the embedder and the metadata given, so an unchanged file is skipped and changing any of
those re-ingests it. Each ``store.write`` holds whole documents only, so a crash never leaves half a
document. Embedding batches span small documents, so every ``embed`` call but the last is full. A
document that cannot be loaded, or that the store refuses, is reported and the rest goes in; a new
collection is created with the first write, so a run that stores nothing leaves no empty collection.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from llmkit.config import IngestSettings
from llmkit.errors import InputError, LoaderError, NotFound
from llmkit.ingest.loaders import load
from llmkit.ingest.sources import SourceItem, expand, source_name
from llmkit.ingest.splitter import split, to_chunks
from llmkit.store.base import DocumentWrite
from llmkit.types import Chunk, IngestReport

if TYPE_CHECKING:
    import numpy as np

    from llmkit.embeddings.base import Embedder
    from llmkit.store.base import Store

#: bump when the loaders or the splitter change what they produce, so stored documents are re-split. Not
#: bumped for the caps on runs without spaces and on spanned tables: they change only such hostile files,
#: and a bump re-embeds every stored document.
SPLITTER_VERSION = "1"


@dataclass(frozen=True, slots=True)
class IngestProgress:
    """Counts so far, sent to the ``progress`` callback after every file and every write."""

    files_done: int
    files_total: int
    chunks: int  # chunks made so far
    chunks_written: int
    failed: int
    skipped: int
    elapsed_s: float
    source: str | None = None  # the file just handled


def document_id(source: str) -> str:
    """A stable id for a source name.

    >>> document_id("docs/a.md")
    '5231f8a11b65145a1b0727cb'
    """
    return hashlib.sha256(source.encode("utf-8")).hexdigest()[:24]


def embed_text(chunk: Chunk) -> str:
    """What is embedded for a chunk: its text, led by its heading path when the text lacks it."""
    if chunk.heading and not chunk.text.startswith(chunk.heading.rsplit(" > ", 1)[-1]):
        return f"{chunk.heading}\n{chunk.text}"
    return chunk.text


class Ingestor:
    """Ingests files into one collection of ``store``, embedding with ``embedder``."""

    def __init__(self, store: Store, embedder: Embedder, settings: IngestSettings | None = None) -> None:
        self.store = store
        self.embedder = embedder
        self.settings = settings or IngestSettings()

    def run(
        self,
        inputs: Iterable[str | Path],
        collection: str,
        *,
        progress: Callable[[IngestProgress], None] | None = None,
        metadata: Mapping[str, Any] | None = None,
        prune: bool = False,
        stdin: BinaryIO | None = None,
        stdin_name: str | None = None,
        base: str | Path | None = None,
    ) -> IngestReport:
        """Ingest ``inputs`` (files, folders, globs, ``-``) into ``collection``.

        ``metadata`` is stored with every document. With ``prune=True``, documents of the collection
        under the given folders (or named as files) whose files are gone are deleted. ``base`` names
        files relative to the project folder (see ``sources.source_name``); ``stdin_name`` names what
        ``-`` reads (default: ``stdin-`` and a hash of it).
        """
        inputs = list(inputs)
        expansion = expand(inputs, self.settings, stdin=stdin, stdin_name=stdin_name, base=base)
        exists = self._exists(collection)
        state = _State(time.perf_counter(), len(expansion.items) + len(expansion.problems), progress)
        state.failed.extend(expansion.problems)
        state.done = len(expansion.problems)
        writer = _Writer(self.store, self.embedder, collection, self.settings.batch_size, state, created=exists)
        ids = {item.name: document_id(item.name) for item in expansion.items}
        existing = self._hashes(collection, list(ids.values())) if exists else {}
        for item in expansion.items:
            self._one(item, ids[item.name], existing, dict(metadata or {}), writer, state)
        writer.flush()
        removed = self._prune(collection, inputs, expansion, base) if prune and exists else 0
        return IngestReport(
            added=state.added,
            updated=state.updated,
            skipped=state.skipped,
            failed=tuple(state.failed),
            chunks=state.chunks,
            seconds=time.perf_counter() - state.t0,
            removed=removed,
        )

    def _one(
        self,
        item: SourceItem,
        doc_id: str,
        existing: dict[str, str],
        meta: dict[str, Any],
        writer: _Writer,
        state: _State,
    ) -> None:
        try:
            data = item.read()
            digest = self._content_hash(data, meta)
            if existing.get(doc_id) == digest:
                state.skipped += 1
            else:
                doc = load(data, item.name)
                chunk_tokens, overlap = self._sizes()
                drafts = split(doc, chunk_tokens=chunk_tokens, overlap=overlap, count_tokens=self.embedder.count_tokens)
                chunks = to_chunks(doc_id, item.name, drafts)
                write = DocumentWrite(
                    doc_id, item.name, digest, doc.content_type, chunks, None, doc.title,  # type: ignore[arg-type]
                    {**doc.metadata, **meta},
                )  # fmt: skip
                writer.add(write, doc_id in existing)
                state.chunks += len(chunks)
        except LoaderError as e:
            state.failed.append((item.name, _reason(e)))
        state.done += 1
        state.report(item.name)

    def _exists(self, collection: str) -> bool:
        """Whether ``collection`` exists; one that does is checked against the embedder now, not after the work."""
        try:
            self.store.get_collection(collection)
        except NotFound:
            return False
        self.store.create_collection(collection, embedder=self.embedder.name, dim=self.embedder.dim)
        return True

    def _sizes(self) -> tuple[int, int]:
        """Chunk size and overlap, kept inside the embedder's window (longer text would be truncated)."""
        size = min(self.settings.chunk_tokens, max(16, self.embedder.max_tokens - 16))
        overlap = self.settings.chunk_overlap if self.settings.chunk_overlap < size else size // 4
        return size, overlap

    def _content_hash(self, data: bytes, meta: Mapping[str, Any]) -> str:
        h = hashlib.sha256(data)
        chunk_tokens, overlap = self._sizes()
        recipe = [SPLITTER_VERSION, chunk_tokens, overlap, self.embedder.name, meta]
        h.update(json.dumps(recipe, sort_keys=True, default=str).encode())
        return h.hexdigest()

    def _hashes(self, collection: str, ids: Sequence[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for i in range(0, len(ids), 500):
            found.update(self.store.document_hashes(collection, ids[i : i + 500]))
        return found

    def _prune(self, collection: str, inputs: Sequence[str | Path], expansion: Any, base: str | Path | None) -> int:
        def named(p: str | Path) -> str:
            return str(Path(p)).replace("\\", "/") if base is None else source_name(p, base)

        seen = {item.name for item in expansion.items} | {name for name, _ in expansion.problems}
        folders = [named(p).rstrip("/") + "/" for p in inputs if Path(p).is_dir()]
        folders = ["" if f == "./" else f for f in folders]
        files = {named(p) for p in inputs if not Path(p).is_dir()}
        removed = 0
        for info in self.store.list_documents(collection):
            covered = info.source in files or any(info.source.startswith(f) for f in folders)
            if covered and info.source not in seen and self.store.delete_document(collection, info.id):
                removed += 1
        return removed


def _reason(e: InputError) -> str:
    """Why a document failed, without the source name a ``LoaderError`` puts in front of its message."""
    source = getattr(e, "source", None)
    return e.message.removeprefix(f"{source}: ") if source is not None else e.message


@dataclass
class _State:
    t0: float
    total: int
    callback: Callable[[IngestProgress], None] | None
    done: int = 0
    added: int = 0
    updated: int = 0
    skipped: int = 0
    chunks: int = 0
    written: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)

    def report(self, source: str | None = None) -> None:
        if self.callback is not None:
            elapsed = time.perf_counter() - self.t0
            p = IngestProgress(
                self.done, self.total, self.chunks, self.written, len(self.failed), self.skipped, elapsed, source
            )
            self.callback(p)


class _Writer:
    """Embeds chunk texts in full batches across documents; writes whole documents once embedded."""

    def __init__(
        self, store: Store, embedder: Embedder, collection: str, batch_size: int, state: _State, *, created: bool
    ) -> None:
        self.store, self.embedder, self.collection = store, embedder, collection
        self.batch_size, self.state, self.created = batch_size, state, created
        self.docs: list[tuple[DocumentWrite, bool]] = []  # waiting for vectors or for the write
        self.texts: list[str] = []  # not embedded yet (the tail of the waiting docs' chunks)
        self.vectors: list[np.ndarray] = []  # embedded, in chunk order
        self.embedded = 0

    def add(self, doc: DocumentWrite, replaces: bool) -> None:
        self.docs.append((doc, replaces))
        self.texts.extend(embed_text(c) for c in doc.chunks)
        while len(self.texts) >= self.batch_size:
            self._embed(self.batch_size)
        ready = self._ready()
        if sum(len(d.chunks) for d, _ in self.docs[:ready]) >= self.batch_size:
            self._write(ready)

    def flush(self) -> None:
        if self.texts:
            self._embed(len(self.texts))
        if self.docs:
            self._write(len(self.docs))

    def _embed(self, n: int) -> None:
        batch, self.texts = self.texts[:n], self.texts[n:]
        self.vectors.append(self.embedder.embed(batch))
        self.embedded += n

    def _ready(self) -> int:
        """How many of the waiting documents have all their vectors."""
        count = total = 0
        for doc, _ in self.docs:
            total += len(doc.chunks)
            if total > self.embedded:
                break
            count += 1
        return count

    def _write(self, ready: int) -> None:
        import numpy as np

        docs, self.docs = self.docs[:ready], self.docs[ready:]
        size = sum(len(d.chunks) for d, _ in docs)
        vectors = np.concatenate(self.vectors) if len(self.vectors) > 1 else self.vectors[0]
        rest = vectors[size:]
        self.vectors = [rest] if len(rest) else []
        self.embedded -= size
        batch, offset = [], 0
        for doc, replaces in docs:
            n = len(doc.chunks)
            batch.append((_with_vectors(doc, vectors[offset : offset + n]), replaces))
            offset += n
        if not self.created:
            self.store.create_collection(self.collection, embedder=self.embedder.name, dim=self.embedder.dim)
            self.created = True
        try:
            self._store(batch)
        except InputError:  # one document the store refuses must not cost the others: write them one by one
            for one in batch:
                try:
                    self._store([one])
                except InputError as e:
                    self.state.failed.append((one[0].source, _reason(e)))
                    self.state.chunks -= len(one[0].chunks)
        self.state.report()

    def _store(self, batch: list[tuple[DocumentWrite, bool]]) -> None:
        self.store.write(self.collection, [doc for doc, _ in batch])
        self.state.added += sum(not replaces for _, replaces in batch)
        self.state.updated += sum(replaces for _, replaces in batch)
        self.state.written += sum(len(doc.chunks) for doc, _ in batch)


def _with_vectors(doc: DocumentWrite, vectors: np.ndarray) -> DocumentWrite:
    return DocumentWrite(
        doc.id, doc.source, doc.content_hash, doc.content_type, doc.chunks, vectors, doc.title, doc.metadata
    )
