"""`llmkit finetune prepare`: exit codes and messages for bad input (no model is loaded for these)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli_runner import run_cli


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    return run_cli(capsys, *args, one_line_err=True)


def test_help_lists_prepare(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "finetune", "--help")
    assert code == 0 and "prepare" in out
    code, out, _ = run(capsys, "finetune", "prepare", "--help")
    assert code == 0 and "--max-tokens" in out and "--redact" in out and "traces" in out


def test_an_entirely_bad_file_exits_65_with_the_reasons(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"messages": [{"role": "bot", "content": "x"}]}\nnot json\n', encoding="utf-8")
    code, _, err = run(capsys, "-C", str(tmp_path), "finetune", "prepare", str(bad), "--out", str(tmp_path / "o"))
    assert code == 65 and "none of its 2 records is usable" in err and "bad_role" in err
    assert "bad.jsonl:1: message 1 has unknown role 'bot'" in err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [("missing.jsonl", None, "no data file"), ("e.jsonl", b"", "holds no records"),
     ("b.bin", b"\x00\x01\x02" * 50, "is a binary file")],
)  # fmt: skip
def test_missing_empty_and_binary_files_exit_65(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, content: bytes | None, message: str
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    code, _, err = run(capsys, "-C", str(tmp_path), "finetune", "prepare", str(path), "--out", str(tmp_path / "o"))
    assert code == 65 and message in err


def test_bad_options_and_unknown_bases(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "d.jsonl"
    data.write_text(json.dumps({"instruction": "a", "output": "b"}) + "\n", encoding="utf-8")
    args = ("-C", str(tmp_path), "finetune", "prepare", str(data), "--out")
    code, _, err = run(capsys, *args, str(tmp_path / "o"), "--base", "no-such-model")
    assert code == 66 and "no model named 'no-such-model'" in err
    code, _, err = run(capsys, *args, str(tmp_path / "o"), "--base", "all-minilm-l6-v2")
    assert code == 65 and "not a chat model" in err
    code, _, err = run(capsys, *args, str(tmp_path / "o"), "--val", "2")
    assert code == 2 and "--val" in err
    (tmp_path / "exists").mkdir()
    code, _, err = run(capsys, *args, str(tmp_path / "exists"))
    assert code == 65 and "already exists" in err and "--force" in err
    code, _, err = run(capsys, *args, str(tmp_path / "o"), "--since", "someday")
    assert code == 65 and "neither an age nor a date" in err
