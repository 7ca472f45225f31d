"""SIGKILL during `llmkit ingest` into PostgreSQL leaves it consistent, and the next ingest completes the job."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

FILES = 100


def make_docs(folder: Path) -> None:
    folder.mkdir()
    for i in range(FILES):
        body = "\n\n".join(f"Paragraph {j} of note {i} about topic zq{i}x and its details." * 3 for j in range(6))
        (folder / f"note{i:03}.md").write_text(f"# Note {i}\n\n{body}\n", encoding="utf-8")


def stored_documents(url: str) -> int:
    import psycopg

    with psycopg.connect(url) as conn:
        if conn.execute("SELECT to_regclass('llmkit_documents')").fetchone()[0] is None:
            return 0
        return conn.execute("SELECT count(*) FROM llmkit_documents").fetchone()[0]


def test_sigkill_mid_ingest_then_resume(project: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import llmkit

    make_docs(project / "notes")
    env = {**os.environ, "LLMKIT_STORE": pg_url}
    cmd = [sys.executable, "-m", "llmkit", "-C", str(project), "ingest", str(project / "notes"), "--json"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    deadline = time.monotonic() + 120
    while stored_documents(pg_url) == 0 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "ingest finished before it could be killed: make FILES larger"

    monkeypatch.setenv("LLMKIT_STORE", pg_url)
    with llmkit.open(project) as kit:
        assert type(kit.store).__name__ == "PostgresStore"
        info = kit.store.get_collection("samples")
        docs = kit.documents(limit=None)
        assert 0 < len(docs) < FILES
        assert sum(d.chunk_count for d in docs) == info.chunks  # no half-written document
        every = kit.search("note topic details", k=info.chunks, mode="dense")
        assert len({h.chunk.id for h in every}) == info.chunks  # every chunk has its vector
        done = docs[0].source
        assert kit.search(f"zq{int(Path(done).stem[4:])}x", mode="lexical", k=1)  # and its text index entry

        report = kit.ingest(project / "notes")
        assert report.skipped == len(docs) and report.added == FILES - len(docs) and not report.failed
        assert len(kit.documents(limit=None)) == FILES
        hits = kit.search("topic zq7x details", k=3, explain=True)  # hybrid: fusion and explain above the store
        assert len(hits) == 3 and all(h.explain and h.explain.dense_score is not None for h in hits)
