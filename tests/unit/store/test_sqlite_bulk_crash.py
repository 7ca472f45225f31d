"""SIGKILL during a SQLite bulk load (background writer, synchronous=OFF) leaves a whole, resumable store."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from llmkit.store.sqlite import SQLiteStore
from llmkit.testing.store_contract import EMBEDDER, make_document

pytestmark = pytest.mark.slow

BATCHES, DOCS = 400, 10

LOADER = textwrap.dedent(
    """
    import sys
    from llmkit.store.sqlite import SQLiteStore
    from llmkit.testing.store_contract import EMBEDDER, make_document

    store = SQLiteStore(sys.argv[1], text_index_threshold=-1, bm25_memory=(0, 0))
    store.create_collection("docs", embedder=EMBEDDER.name, dim=EMBEDDER.dim)
    with store.bulk_load("docs"):
        for b in range({batches}):
            docs = [f"b{{b}}d{{d}}" for d in range({docs})]
            have = store.document_hashes("docs", docs)
            todo = [make_document(i, [f"{{i}} walrus part {{j}}" for j in range(3)]) for i in docs if i not in have]
            if todo:
                store.write("docs", todo)
    """
).format(batches=BATCHES, docs=DOCS)


def _documents(db: Path) -> int:
    try:
        with sqlite3.connect(db) as conn:
            return conn.execute("SELECT count(*) FROM documents").fetchone()[0]
    except sqlite3.Error:
        return 0


def test_sigkill_mid_bulk_load_then_resume(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    proc = subprocess.Popen([sys.executable, "-c", LOADER, str(db)], stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while _documents(db) < 200 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, f"the load ended before the kill: {proc.stderr.read()[-500:]!r}"

    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        counts = conn.execute("SELECT d.chunk_count, count(c.rowid) FROM documents d"
                              " LEFT JOIN chunks c ON c.doc_rowid = d.rowid GROUP BY d.rowid").fetchall()  # fmt: skip
    assert 0 < len(counts) < BATCHES * DOCS
    assert all(want == have for want, have in counts)  # no half-written document
    with SQLiteStore(db, text_index_threshold=-1, bm25_memory=(0, 0)) as store:
        found = store.search_lexical("docs", "walrus", 10 * BATCHES * DOCS)  # FTS5 catches up first
        assert len(found) == 3 * len(counts)

    subprocess.run([sys.executable, "-c", LOADER, str(db)], check=True)  # the same load again finishes it
    with SQLiteStore(db, text_index_threshold=-1, bm25_memory=(0, 0)) as store:
        assert store.get_collection("docs").documents == BATCHES * DOCS
        assert len(store.search_lexical("docs", "walrus", 10 * BATCHES * DOCS)) == 3 * BATCHES * DOCS
        hit = store.search_dense("docs", EMBEDDER.embed(["b7d3 walrus part 1"])[0], 1)[0]
        assert hit.chunk.id == make_document("b7d3", ["b7d3 walrus part 0", "b7d3 walrus part 1"]).chunks[1].id
