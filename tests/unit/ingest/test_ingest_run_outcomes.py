"""What one ingest run leaves and reports: one bad document fails alone, no empty collection, bare reasons,
stdin names, loop-safe ``**`` globs, and the CLI's exit status when nothing went in."""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from llmkit.config import IngestSettings
from llmkit.errors import InputError
from llmkit.ingest import Ingestor
from llmkit.ingest import pipeline as pipeline_module
from llmkit.ingest.sources import expand
from llmkit.store.sqlite import SQLiteStore
from llmkit.testing import HashEmbedder
from llmkit.types import IngestReport, LoadedDocument


@pytest.fixture
def docs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    root = tmp_path / "docs"
    root.mkdir()
    for i in (1, 2, 3):
        (root / f"good{i}.txt").write_text(f"good document number {i} about warranties")
    return root


@pytest.fixture
def sqlite(tmp_path: Path) -> Any:
    with SQLiteStore(tmp_path / "store.db") as s:
        yield s


def _ingestor(store: Any) -> Ingestor:
    return Ingestor(store, HashEmbedder(), IngestSettings(chunk_tokens=64, chunk_overlap=8, batch_size=64))


def test_a_json_escape_of_a_lone_surrogate_costs_nothing(sqlite: Any, docs: Path) -> None:
    (docs / "z_bad.json").write_bytes(b'{"a": "\\ud800 lone surrogate"}')
    report = _ingestor(sqlite).run(["docs"], "docs")
    assert (report.added, report.failed) == (4, ())
    assert {d.source for d in sqlite.list_documents("docs")} >= {"docs/good1.txt", "docs/z_bad.json"}


def test_a_document_the_store_refuses_fails_alone(sqlite: Any, docs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_load = pipeline_module.load

    def load(data: bytes, source: str) -> LoadedDocument:  # a third-party loader with metadata no store takes
        doc = real_load(data, source)
        return replace(doc, metadata={"score": float("nan")}) if source == "docs/good2.txt" else doc

    monkeypatch.setattr(pipeline_module, "load", load)
    report = _ingestor(sqlite).run(["docs"], "docs")
    assert report.added == 2 and [s for s, _ in report.failed] == ["docs/good2.txt"]
    assert "not JSON-serialisable" in report.failed[0][1]
    assert report.chunks == sqlite.get_collection("docs").chunks == 2
    assert sorted(d.source for d in sqlite.list_documents("docs")) == ["docs/good1.txt", "docs/good3.txt"]


def test_failure_reasons_do_not_repeat_the_source(sqlite: Any, docs: Path) -> None:
    (docs / "empty.txt").write_bytes(b"")
    failed = dict(_ingestor(sqlite).run(["docs"], "docs").failed)
    assert failed == {"docs/empty.txt": "the file is empty"}


def test_a_run_that_stores_nothing_creates_no_collection(sqlite: Any, docs: Path) -> None:
    (docs / "empty.txt").write_bytes(b"")
    report = _ingestor(sqlite).run(["missing.txt", "docs/empty.txt"], "typo")
    assert report.added == 0 and len(report.failed) == 2
    assert [c.name for c in sqlite.list_collections()] == []
    _ingestor(sqlite).run(["docs"], "docs")
    assert [c.name for c in sqlite.list_collections()] == ["docs"]


def test_an_existing_collection_of_another_embedder_is_refused_before_any_work(sqlite: Any, docs: Path) -> None:
    sqlite.create_collection("docs", embedder="other", dim=8)
    ingestor = _ingestor(sqlite)
    ingestor.embedder.embed = None  # type: ignore[method-assign]  # must not be reached
    with pytest.raises(InputError, match="exists with embedder"):
        ingestor.run(["docs"], "docs")


def test_each_piped_text_is_a_document_of_its_own(sqlite: Any) -> None:
    ingestor = _ingestor(sqlite)
    for text in (b"first piped text", b"second piped text", b"first piped text"):
        ingestor.run(["-"], "notes", stdin=io.BytesIO(text))
    ingestor.run(["-"], "notes", stdin=io.BytesIO(b"named text"), stdin_name="meeting.md")
    sources = sorted(d.source for d in sqlite.list_documents("notes"))
    assert len(sources) == 3 and sources[0] == "meeting.md"
    assert all(s.startswith("stdin-") and len(s) == len("stdin-") + 12 for s in sources[1:])


@pytest.mark.timeout(30)
def test_recursive_glob_survives_symlink_loops(docs: Path) -> None:
    (docs / "sub").mkdir()
    (docs / "sub" / "b.txt").write_text("beta")
    (docs / "sub" / "loop1").symlink_to("..", target_is_directory=True)
    (docs / "sub" / "loop2").symlink_to("..", target_is_directory=True)
    exp = expand(["docs/**/*.txt"], IngestSettings())
    assert [i.name for i in exp.items] == [
        "docs/good1.txt", "docs/good2.txt", "docs/good3.txt", "docs/sub/b.txt",
    ]  # fmt: skip
    assert exp.problems == []


def test_recursive_glob_matches_folders_and_reports_no_match(docs: Path) -> None:
    (docs / "sub" / "deep").mkdir(parents=True)
    (docs / "sub" / "deep" / "c.md").write_text("gamma")
    (docs / "sub" / "deep" / ".hidden.md").write_text("hidden")
    assert [i.name for i in expand(["docs/**/deep"], IngestSettings()).items] == ["docs/sub/deep/c.md"]
    assert [i.name for i in expand(["**/*.md"], IngestSettings()).items] == ["docs/sub/deep/c.md"]
    exp = expand(["docs/**/*.pdf"], IngestSettings())
    assert exp.items == [] and exp.problems == [("docs/**/*.pdf", "no file matches this pattern")]


def test_a_link_outside_is_reported_once(docs: Path, tmp_path: Path) -> None:
    (tmp_path / "secret.txt").write_text("hunter2")
    (docs / "escape.txt").symlink_to(tmp_path / "secret.txt")
    (docs / "escape2.txt").symlink_to(tmp_path / "secret.txt")
    exp = expand(["docs", "docs/**/*.txt", "docs"], IngestSettings())
    assert [reason for _, reason in exp.problems] == ["skipped: a symbolic link that points outside the input folder"]


@pytest.mark.parametrize(
    ("failed", "code"),
    [
        ((("nope.txt", "no such file or directory"), ("x/*.md", "no file matches this pattern")), 66),
        ((("nope.txt", "no such file or directory"), ("docs/empty.txt", "the file is empty")), 65),
        ((("docs/bad.pdf", "the PDF is encrypted with a password"),), 65),
    ],
)
def test_cli_exit_status_when_nothing_went_in(failed: tuple[tuple[str, str], ...], code: int) -> None:
    from llmkit.cli.ingest import _exit_code

    assert _exit_code(IngestReport(failed=failed)) == code
