"""`llmkit finetune embedder` and `llmkit collections reembed`: bad input fails early with a clear error."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from llmkit.cli.app import app
from llmkit.errors import InputError, NotFound


def invoke(tmp_path: Path, *args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(app, ["-C", str(tmp_path), *args])


def test_embedder_needs_exactly_one_data_source(tmp_path: Path) -> None:
    result = invoke(tmp_path, "finetune", "embedder")
    assert isinstance(result.exception, InputError) and "--from-collection" in str(result.exception)
    result = invoke(tmp_path, "finetune", "embedder", str(tmp_path), "--from-collection", "docs")
    assert isinstance(result.exception, InputError)


def test_embedder_bad_data_and_config(tmp_path: Path) -> None:
    (tmp_path / "qrels").mkdir()
    result = invoke(tmp_path, "finetune", "embedder", str(tmp_path))
    assert isinstance(result.exception, NotFound) and "not a BEIR folder" in str(result.exception)
    result = invoke(tmp_path, "finetune", "embedder", str(tmp_path), "--batch-size", "1")
    assert isinstance(result.exception, InputError) and "batch_size" in str(result.exception)
    result = invoke(tmp_path, "finetune", "embedder", "--from-collection", "nope")
    assert isinstance(result.exception, NotFound) and "nope" in str(result.exception)


def test_reembed_unknown_collection(tmp_path: Path) -> None:
    result = invoke(tmp_path, "collections", "reembed", "nope")
    assert isinstance(result.exception, NotFound) and "no collection 'nope'" in str(result.exception)
