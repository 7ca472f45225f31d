"""``llmkit store copy`` reads an existing store: a mistyped source is an error, never a new empty store."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli_runner import run_cli


@pytest.mark.parametrize("src", ["MISSING.db", "sqlite:///MISSING.db"])
def test_copy_from_a_missing_store_exits_66_and_creates_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, src: str
) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = run_cli(capsys, "-C", str(tmp_path), "store", "copy", src, "dst.db", one_line_err=True)
    assert code == 66 and f"no store at {tmp_path / 'MISSING.db'}" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_copy_from_an_existing_store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from llmkit.store.sqlite import SQLiteStore

    with SQLiteStore(tmp_path / "src.db") as store:
        store.create_collection("docs", embedder="hash-8", dim=8)
    args = ("-C", str(tmp_path), "store", "copy", str(tmp_path / "src.db"), str(tmp_path / "dst.db"), "--json")
    code, out, _ = run_cli(capsys, *args)
    assert code == 0 and '"collection": "docs"' in out and (tmp_path / "dst.db").is_file()
