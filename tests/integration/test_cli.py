"""The CLI end to end, in-process: output, --json, exit codes and messages for bad input."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from cli_runner import run_cli

pytestmark = pytest.mark.integration


def test_ingest_search_ask_json(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = str(project)
    code, out, _ = run_cli(capsys, "-C", p, "ingest", str(project / "docs"), "--json")
    assert code == 0 and json.loads(out)["added"] >= 4
    code, out, _ = run_cli(capsys, "-C", p, "search", "warranty", "--explain", "--json", "-k", "3")
    hits = json.loads(out)
    assert code == 0 and len(hits) == 3 and hits[0]["explain"]["fused_score"] > 0
    code, out, _ = run_cli(capsys, "-C", p, "ask", "How long is the warranty on the Acme Widget 3000?", "--json")
    answer = json.loads(out)
    assert code == 0 and answer["found"] and answer["citations"][0]["source"]
    code, out, _ = run_cli(capsys, "-C", p, "traces", "--json", "-n", "1")
    assert code == 0 and json.loads(out)[0]["id"] == answer["trace_id"]
    code, out, _ = run_cli(capsys, "-C", p, "traces", "show", answer["trace_id"][:8])
    assert code == 0 and "Question:" in out
    code, out, _ = run_cli(capsys, "-C", p, "collections", "--json")
    assert code == 0 and json.loads(out)[0]["name"] == "samples"


def test_ask_streams_then_prints_sources(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_cli(capsys, "-C", str(project), "ingest", str(project / "docs"))
    code, out, _ = run_cli(capsys, "-C", str(project), "ask", "What does the Acme Widget 3000 warranty cover?")
    sources = out.split("Sources", 1)[-1]
    assert code == 0 and "Sources" in out and re.search(r"^  \[\d+\] \S", sources, re.MULTILINE)


def test_bad_files_are_reported_and_skipped(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = project / "docs"
    (bad / "empty.txt").write_bytes(b"")
    (bad / "garbage.bin").write_bytes(bytes(range(256)) * 64)
    (bad / "truncated.pdf").write_bytes(b"%PDF-1.7\n1 0 obj << /Type /Catalog")
    (bad / "latin1.txt").write_bytes("Caf\xe9 cr\xe8me br\xfbl\xe9e recipe for the Widget.".encode("latin-1"))
    code, out, _err = run_cli(capsys, "-C", str(project), "ingest", str(bad), "--json")
    report = json.loads(out)
    failed = {Path(s).name for s, _ in report["failed"]}
    assert code == 0 and {"empty.txt", "garbage.bin", "truncated.pdf"} <= failed
    assert "latin1.txt" not in failed and report["added"] >= 5


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (("search", "x"), 66, "no collection"),
        (("ingest", "/definitely/not/here"), 66, "not/here"),
        (("search", "x", "--filter", "{bad json"), 65, "not valid JSON"),
        (("traces", "show", "zz"), 65, "at least 4"),
        (("models", "rm", "no-such-model"), 66, "no-such-model"),
    ],
)
def test_errors_say_what_to_do(
    project: Path, capsys: pytest.CaptureFixture[str], args: tuple[str, ...], code: int, needle: str
) -> None:
    got, out, err = run_cli(capsys, "-C", str(project), *args)
    assert got == code, (out, err)
    assert needle in err + out


def test_bad_config_exit_code(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "llmkit.toml").write_text("[retrieval]\nk = -1\n", encoding="utf-8")
    code, _, err = run_cli(capsys, "-C", str(project), "search", "x")
    assert code == 78 and "retrieval.k" in err
