"""``llmkit ingest`` end to end: exit status when nothing went in, no empty collection, stdin names."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest

from cli_runner import run_cli

pytestmark = pytest.mark.integration


def test_nothing_found_exits_66_and_all_bad_exits_65(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = str(project)
    code, _, err = run_cli(capsys, "-C", p, "ingest", str(project / "nonexistent.txt"), "-c", "typo")
    assert code == 66 and "no such file or directory" in err
    (project / "empty.txt").write_bytes(b"")
    code, out, _ = run_cli(capsys, "-C", p, "ingest", str(project / "empty.txt"), "-c", "typo", "--json")
    assert code == 65 and json.loads(out)["failed"] == [["empty.txt", "the file is empty"]]
    code, out, _ = run_cli(capsys, "-C", p, "collections", "--json")
    assert code == 0 and json.loads(out) == []  # the failed runs left no empty "typo" behind


def test_a_lone_surrogate_does_not_sink_the_run(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "docs" / "z_bad.json").write_bytes(b'{"a": "\\ud800 lone surrogate"}')
    code, out, _ = run_cli(capsys, "-C", str(project), "ingest", str(project / "docs"), "--json")
    report = json.loads(out)
    assert code == 0 and report["failed"] == [] and report["added"] == len(list((project / "docs").iterdir()))


def test_piped_texts_do_not_replace_each_other(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for text in (b"The Acme Gizmo ships with a purple cable.", b"The Acme Gadget ships with a green cable."):
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(text)))
        code, _, _ = run_cli(capsys, "-C", str(project), "ingest", "-", "-c", "notes")
        assert code == 0
    code, out, _ = run_cli(capsys, "-C", str(project), "collections", "--json")
    assert {c["name"]: c["documents"] for c in json.loads(out)} == {"notes": 2}
    for text in (b"Version one of the memo.", b"Version two of the memo."):  # a named one is replaced
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(text)))
        code, out, _ = run_cli(capsys, "-C", str(project), "ingest", "-", "-c", "notes", "--name", "memo", "--json")
        assert code == 0
    assert json.loads(out)["updated"] == 1
    code, out, _ = run_cli(capsys, "-C", str(project), "collections", "--json")
    assert {c["name"]: c["documents"] for c in json.loads(out)} == {"notes": 3}
