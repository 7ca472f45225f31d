"""Pipeline: incremental (skip unchanged, replace changed), failures reported, whole-document writes."""

from __future__ import annotations

import io
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from llmkit.config import IngestSettings
from llmkit.errors import StoreError
from llmkit.ingest import Ingestor, IngestProgress
from llmkit.ingest.loaders import load
from llmkit.ingest.progress import rich_progress
from llmkit.ingest.splitter import split
from llmkit.testing import HashEmbedder

SAMPLES = Path(__file__).parents[3] / "examples" / "demo" / "docs"


@dataclass
class RecordingEmbedder(HashEmbedder):
    sizes: list[int] = field(default_factory=list)

    def embed(self, texts):  # type: ignore[no-untyped-def]
        self.sizes.append(len(texts))
        return super().embed(texts)


@pytest.fixture
def docs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    target = tmp_path / "docs"
    shutil.copytree(SAMPLES, target, ignore=shutil.ignore_patterns("*.py"))
    return target


def _ingestor(store: Any, **settings: Any) -> Ingestor:
    return Ingestor(store, RecordingEmbedder(), IngestSettings(**{"chunk_tokens": 64, "chunk_overlap": 8, **settings}))


def test_first_run_adds_everything_with_exact_offsets(store: Any, docs: Path) -> None:
    report = _ingestor(store).run(["docs"], "demo", metadata={"team": "support"})
    assert (report.added, report.updated, report.skipped, report.failed) == (6, 0, 0, ())
    info = store.get_collection("demo")
    assert (info.documents, info.chunks) == (6, report.chunks)
    listed = {d.source: d for d in store.list_documents("demo")}
    assert set(listed) == {f"docs/{p.name}" for p in docs.iterdir()}
    assert listed["docs/warranty.pdf"].metadata["team"] == "support"
    pdf = load((docs / "warranty.pdf").read_bytes(), "docs/warranty.pdf")
    doc_id = listed["docs/warranty.pdf"].id
    chunks = store.get_chunks("demo", [f"{doc_id}:{i}" for i in range(listed["docs/warranty.pdf"].chunk_count)])
    assert chunks and all(pdf.text[c.start : c.end] == c.text for c in chunks)
    assert {c.page for c in chunks} == {1, 2}


def test_unchanged_is_skipped_without_embedding(store: Any, docs: Path) -> None:
    _ingestor(store).run(["docs"], "demo")
    again = _ingestor(store)
    report = again.run(["docs"], "demo")
    assert (report.added, report.updated, report.skipped, report.chunks) == (0, 0, 6, 0)
    assert again.embedder.sizes == []


def test_changed_document_replaces_its_chunks(store: Any, docs: Path) -> None:
    _ingestor(store).run(["docs"], "demo")
    (docs / "release_notes.txt").write_text("Version 3.0\n\nOne short note.")
    report = _ingestor(store).run(["docs"], "demo")
    assert (report.added, report.updated, report.skipped) == (0, 1, 5)
    info = next(d for d in store.list_documents("demo") if d.source == "docs/release_notes.txt")
    assert info.chunk_count == 1
    assert [c.text for c in store.get_chunks("demo", [f"{info.id}:0", f"{info.id}:1"])] == [
        "Version 3.0\n\nOne short note."
    ]


def test_changing_chunk_settings_reingests(store: Any, docs: Path) -> None:
    _ingestor(store).run(["docs"], "demo")
    report = _ingestor(store, chunk_tokens=32, chunk_overlap=4).run(["docs"], "demo")
    assert report.updated == 6


def test_failures_are_reported_and_the_rest_continues(store: Any, docs: Path) -> None:
    (docs / "empty.txt").write_bytes(b"")
    (docs / "broken.pdf").write_bytes((docs / "warranty.pdf").read_bytes()[:300])
    (docs / "noise.bin").write_bytes(bytes(range(256)) * 8)
    (docs / "huge.txt").write_bytes(b"x " * 600_000)
    report = _ingestor(store, max_file_mb=1).run(["docs", "missing.md"], "demo")
    failed = dict(report.failed)
    assert set(failed) == {"docs/empty.txt", "docs/broken.pdf", "docs/noise.bin", "docs/huge.txt", "missing.md"}
    assert "empty" in failed["docs/empty.txt"] and "limit" in failed["docs/huge.txt"]
    assert "Traceback" not in " ".join(failed.values())
    assert report.added == 6


def test_embedding_batches_span_documents_and_writes_hold_whole_documents(docs: Path) -> None:
    from memstore import MemStore

    store = MemStore()
    ingestor = _ingestor(store, batch_size=8, chunk_tokens=32, chunk_overlap=4)
    report = ingestor.run(["docs"], "demo")
    sizes = ingestor.embedder.sizes
    assert sum(sizes) == report.chunks and all(s == 8 for s in sizes[:-1])
    written = [doc_id for batch in store.writes for doc_id in batch]
    assert sorted(written) == sorted(d.id for d in store.list_documents("demo"))  # each document written once


def test_crash_leaves_whole_documents_and_resumes(docs: Path) -> None:
    from memstore import MemStore

    store = MemStore(fail_after_writes=2)
    with pytest.raises(StoreError):
        _ingestor(store, batch_size=4, chunk_tokens=32, chunk_overlap=4).run(["docs"], "demo")
    embedder = HashEmbedder()
    for info in store.list_documents("demo"):  # what landed is complete
        doc = load((Path(info.source)).read_bytes(), info.source)
        assert info.chunk_count == len(split(doc, chunk_tokens=32, overlap=4, count_tokens=embedder.count_tokens))
    landed = len(store.list_documents("demo"))
    assert 0 < landed < 6
    store.fail_after_writes = None
    report = _ingestor(store, batch_size=4, chunk_tokens=32, chunk_overlap=4).run(["docs"], "demo")
    assert (report.skipped, report.added) == (landed, 6 - landed)


def test_progress_counts(store: Any, docs: Path) -> None:
    seen: list[IngestProgress] = []
    (docs / "empty.txt").write_bytes(b"")
    _ingestor(store).run(["docs"], "demo", progress=seen.append)
    last = seen[-1]
    assert (last.files_done, last.files_total, last.failed) == (7, 7, 1)
    assert last.chunks == last.chunks_written > 0
    assert [p.files_done for p in seen] == sorted(p.files_done for p in seen)


def test_rich_progress_draws_counts(store: Any, docs: Path) -> None:
    from rich.console import Console

    out = io.StringIO()
    with rich_progress(Console(file=out, width=150, force_terminal=False)) as progress:
        _ingestor(store).run(["docs"], "demo", progress=progress)
    assert "6/6" in out.getvalue() and "chunks" in out.getvalue()


def test_prune_removes_documents_whose_files_are_gone(store: Any, docs: Path) -> None:
    _ingestor(store).run(["docs"], "demo")
    (docs / "pricing.csv").unlink()
    report = _ingestor(store).run(["docs"], "demo", prune=True)
    assert report.removed == 1
    assert "docs/pricing.csv" not in {d.source for d in store.list_documents("demo")}


def test_stdin_source(store: Any) -> None:
    report = _ingestor(store).run(["-"], "demo", stdin=io.BytesIO(b"# Piped\n\nSome piped text."))
    assert report.added == 1 and store.list_documents("demo")[0].source == "stdin-7928b412e3f6"


def test_demo_question_finds_the_warranty(store: Any, docs: Path) -> None:
    ingestor = _ingestor(store)
    ingestor.run(["docs"], "demo")
    query = ingestor.embedder.embed(["How long is the warranty on the Acme Widget 3000?"])[0]
    hits = store.search_dense("demo", np.asarray(query), 3)
    assert any("three (3) years" in h.chunk.text or "Three years" in h.chunk.text for h in hits)
