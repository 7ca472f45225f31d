"""The label store under concurrent writers and odd input, and `prompts optimize` keeping its replies."""

from __future__ import annotations

import json
import multiprocessing as mp
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from llmkit.cli.app import app
from llmkit.errors import InputError
from llmkit.prompts import PromptRegistry
from llmkit.testing import FakeChatModel


@pytest.fixture
def reg(tmp_path: Path) -> PromptRegistry:
    return PromptRegistry([tmp_path / "prompts"], tmp_path / "data")


def test_front_matter_name_must_match_the_file(reg: PromptRegistry, tmp_path: Path) -> None:
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts" / "foo.md").write_text("---\nname: bar\n---\nQ: {{ question }}\n", encoding="utf-8")
    with pytest.raises(InputError, match="name: bar, but the file is prompt 'foo'"):
        reg.label("foo", "prod")


@pytest.mark.parametrize("label", ["beef", "face", "added", "c0ffee"])
def test_labels_that_look_like_versions_are_refused(reg: PromptRegistry, label: str) -> None:
    with pytest.raises(InputError, match="looks like a version"):
        reg.label("qa-short", label)


def test_a_malformed_labels_entry_is_a_clear_error(reg: PromptRegistry, tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "labels.json").write_text(json.dumps({"qa-short": "prod"}), encoding="utf-8")
    with pytest.raises(InputError, match="labels of 'qa-short' must be an object"):
        reg.labels("qa-short")


def _label(data: str, label: str, barrier: object) -> None:
    reg = PromptRegistry([], Path(data))
    barrier.wait()  # type: ignore[attr-defined]
    for n in range(4):
        reg.label("qa-short", f"{label}-{n}")


@pytest.mark.skipif("fork" not in mp.get_all_start_methods(), reason="needs fork")
def test_concurrent_label_writes_keep_every_label(tmp_path: Path) -> None:
    ctx = mp.get_context("fork")
    barrier = ctx.Barrier(8)
    procs = [ctx.Process(target=_label, args=(str(tmp_path), f"l{i}", barrier)) for i in range(8)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(30)
    assert all(p.exitcode == 0 for p in procs)
    kept = json.loads((tmp_path / "labels.json").read_text(encoding="utf-8"))["qa-short"]
    assert sorted(kept) == sorted(f"l{i}-{n}" for i in range(8) for n in range(4))


def test_optimize_stores_its_replies(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from llmkit.kit import Kit

    (tmp_path / "llmkit.toml").write_text('collection = "c"\n', encoding="utf-8")
    rows = [{"id": str(i), "input": f"q{i}?", "context": "c", "references": ["yes"]} for i in range(6)]
    (tmp_path / "qa.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    monkeypatch.setattr(Kit, "model", FakeChatModel(["no"]))
    args = ["-C", str(tmp_path), "prompts", "optimize", "qa-short", "--train", str(tmp_path / "qa.jsonl"),
            "--train-size", "3", "--dev-size", "3", "--budget", "12"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    with sqlite3.connect(tmp_path / ".llmkit" / "evals.db") as db:
        assert db.execute("SELECT count(*) FROM cache").fetchone()[0] > 0
