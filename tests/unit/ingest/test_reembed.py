"""Re-embedding a collection: the switch, resuming after a crash, and the errors (SQLite, fake embedders)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from llmkit.config import load_settings
from llmkit.errors import ConfigError, InputError, NotFound
from llmkit.ingest.reembed import Reembedder
from llmkit.kit import Kit
from llmkit.store.sqlite import SQLiteStore
from llmkit.testing import HashEmbedder
from llmkit.testing.store_contract import make_document

OLD = HashEmbedder(dim=64)


class Crashing(HashEmbedder):
    """Fails on its ``fail_on``-th call, like a process killed mid-run."""

    def __init__(self, fail_on: int) -> None:
        super().__init__(dim=32, name="hash-32")
        self.fail_on = fail_on

    def embed(self, texts):  # type: ignore[no-untyped-def]
        if self.calls + 1 == self.fail_on:
            self.calls += 1
            raise RuntimeError("killed")
        return super().embed(texts)


@pytest.fixture
def store(tmp_path: Path):  # type: ignore[no-untyped-def]
    s = SQLiteStore(tmp_path / "s.db")
    s.create_collection("docs", embedder=OLD.name, dim=OLD.dim)
    s.write("docs", [make_document(f"d{i}", [f"text {i} apple", f"more {i} pear"]) for i in range(10)])
    yield s
    s.close()


def test_reembed_switches_embedder_dim_and_vectors(store: SQLiteStore, tmp_path: Path) -> None:
    new = HashEmbedder(dim=32, name="hash-32")
    report = Reembedder(store, new, tmp_path / "staging", batch_size=3).run("docs")
    assert (report.collection.embedder, report.collection.dim, report.collection.chunks) == ("hash-32", 32, 20)
    assert (report.previous_embedder, report.embedded, report.resumed) == ("hash-64", 20, 0)
    assert np.allclose(store.get_vectors("docs", ["d3#1"])[0], new.embed(["more 3 pear"])[0], atol=1e-6)
    assert store.search_dense("docs", new.embed(["text 7 apple"])[0], 1)[0].chunk.id == "d7#0"
    assert list((tmp_path / "staging").iterdir()) == []  # the staging file is gone after the switch


def test_a_crash_keeps_the_old_vectors_and_a_rerun_resumes(store: SQLiteStore, tmp_path: Path) -> None:
    staging = tmp_path / "staging"
    with pytest.raises(RuntimeError, match="killed"):
        Reembedder(store, Crashing(fail_on=4), staging, batch_size=5).run("docs")
    info = store.get_collection("docs")
    assert (info.embedder, info.dim) == ("hash-64", 64)  # untouched: searches keep working
    assert store.search_dense("docs", OLD.embed(["text 7 apple"])[0], 1)[0].chunk.id == "d7#0"
    again = Crashing(fail_on=0)
    report = Reembedder(store, again, staging, batch_size=5).run("docs")
    assert (report.resumed, report.embedded, again.calls) == (15, 5, 1)  # three batches were staged before
    assert store.get_collection("docs").embedder == "hash-32"


def test_staged_work_for_another_embedder_or_changed_text_is_redone(store: SQLiteStore, tmp_path: Path) -> None:
    staging = tmp_path / "staging"
    with pytest.raises(RuntimeError):
        Reembedder(store, Crashing(fail_on=2), staging, batch_size=10).run("docs")
    store.write("docs", [make_document("d0", ["changed text", "more 0 pear"])])  # d0#0's text changed
    other = HashEmbedder(dim=16, name="hash-16")
    report = Reembedder(store, other, staging, batch_size=10).run("docs")
    assert (report.resumed, report.embedded) == (0, 20)  # staged for hash-32, so not reused by hash-16
    with pytest.raises(RuntimeError):
        Reembedder(store, Crashing(fail_on=2), staging, batch_size=10).run("docs")
    store.write("docs", [make_document("d0", ["changed again", "more 0 pear"], embedder=other)])
    report = Reembedder(store, Crashing(fail_on=0), staging, batch_size=10).run("docs")
    assert (report.resumed, report.embedded) == (9, 11)  # d0#0 changed since it was staged


def test_empty_collection_and_bad_arguments(store: SQLiteStore, tmp_path: Path) -> None:
    store.create_collection("empty", embedder=OLD.name, dim=OLD.dim)
    report = Reembedder(store, HashEmbedder(dim=8, name="hash-8"), tmp_path).run("empty")
    assert (report.collection.embedder, report.collection.dim, report.embedded) == ("hash-8", 8, 0)
    with pytest.raises(NotFound):
        Reembedder(store, HashEmbedder(), tmp_path).run("nope")
    with pytest.raises(InputError):
        Reembedder(store, HashEmbedder(), tmp_path, batch_size=0)


def test_kit_points_to_reembed_then_reembeds(tmp_path: Path) -> None:
    kit = Kit(load_settings(tmp_path, collection="docs"))
    kit.store.create_collection("docs", embedder=OLD.name, dim=OLD.dim)
    kit.store.write("docs", [make_document("d1", ["common apple orchard"]), make_document("d2", ["banana split"])])
    kit.__dict__["embedder"] = new = HashEmbedder(dim=32, name="hash-32")
    with pytest.raises(ConfigError) as err:
        kit.search("apple")
    assert "llmkit collections reembed docs" in (err.value.hint or "")
    seen: list[tuple[int, int]] = []
    report = kit.reembed(batch_size=1, progress=lambda d, t: seen.append((d, t)))
    assert report.collection.embedder == new.name and seen == [(1, 2), (2, 2)]
    assert kit.search("apple", mode="dense")[0].chunk.id == "d1#0"
    with pytest.raises(NotFound, match="no collection 'missing'"):
        kit.reembed("missing")
    kit.close()
