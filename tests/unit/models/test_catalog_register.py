"""Registering models made on this machine (tuned, quantised): files, lineage, `llmkit models show`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from llmkit.cli.app import app
from llmkit.config import load_settings
from llmkit.errors import ConfigError, NotFound
from llmkit.models.catalog import Catalog
from llmkit.models.fetch import sha256_file
from llmkit.registry import detect_backend

LINEAGE = {"base": {"name": "smollm2-135m-instruct", "sha256": "ab" * 32}, "scores": {"val_loss": 1.25}}


@pytest.fixture
def made(tmp_path: Path) -> dict[str, Path]:
    out = tmp_path / "export"
    out.mkdir()
    (out / "tuned.Q8_0.gguf").write_bytes(b"GGUF" + bytes(1000))
    (out / "model.onnx").write_bytes(b"onnx" + bytes(10))
    (out / "tokenizer.json").write_text('{"version": "1.0"}', encoding="utf-8")
    return {"gguf": out / "tuned.Q8_0.gguf", "onnx": out / "model.onnx", "tok": out / "tokenizer.json"}


def test_register_copies_hashes_and_lists(tmp_path: Path, made: dict[str, Path]) -> None:
    cat = Catalog(tmp_path / "models")
    local = cat.register("tuned-q8", "chat", {"model": made["gguf"]}, lineage=LINEAGE, description="my tune")
    assert local.verified and local.path == tmp_path / "models" / "tuned-q8" / "tuned.Q8_0.gguf"
    assert cat.path("tuned-q8") == local.path and sha256_file(local.path) == sha256_file(made["gguf"])
    entry = cat.entry("tuned-q8")
    assert entry.kind == "chat" and entry.description == "my tune" and entry.source == "local"
    assert cat.lineage("tuned-q8") == LINEAGE
    assert [m.name for m in cat.list_local(verify=True)] == ["tuned-q8"]


def test_registered_names_resolve_like_pulled_ones(
    tmp_path: Path, made: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LLMKIT_HOME", str(tmp_path))
    cat = Catalog(tmp_path / "models")
    cat.register("tuned-q8", "chat", {"model": made["gguf"]})
    cat.register("my-emb", "embedder", {"model": made["onnx"], "tokenizer": made["tok"]})
    chat = load_settings(tmp_path, model={"name": "tuned-q8"})
    emb = load_settings(tmp_path, embedder={"name": "my-emb"})
    assert cat.models_dir == chat.models_dir
    assert detect_backend(chat, "chat") == "llama_cpp" and detect_backend(emb, "embedder") == "onnx"
    assert set(cat.paths("my-emb")) == {"model", "tokenizer"}


def test_register_again_replaces_and_rm_removes(tmp_path: Path, made: dict[str, Path]) -> None:
    cat = Catalog(tmp_path / "models")
    cat.register("t", "chat", {"model": made["gguf"]}, lineage={"scores": {"a": 1}})
    made["gguf"].write_bytes(b"GGUF" + bytes(2000))
    cat.register("t", "chat", {"model": made["gguf"]}, lineage={"scores": {"a": 2}})
    assert cat.path("t").stat().st_size == 2004 and cat.lineage("t") == {"scores": {"a": 2}}
    assert not list((tmp_path / "models").glob(".t.*"))  # no staging or old copies left
    cat.rm("t")
    assert "t" not in cat and not (tmp_path / "models" / "t").exists()


def test_a_tampered_file_is_not_served(tmp_path: Path, made: dict[str, Path]) -> None:
    cat = Catalog(tmp_path / "models")
    local = cat.register("t", "chat", {"model": made["gguf"]})
    local.path.write_bytes(b"GGUF" + bytes(999))  # size changes
    with pytest.raises(NotFound, match="has not been pulled"):
        cat.path("t")
    with pytest.raises(NotFound, match="made on this machine"):
        cat.pull("t")


@pytest.mark.parametrize(
    ("name", "kind", "files", "error"),
    [
        ("Bad Name", "chat", {"model": "x"}, "lowercase"),
        ("ok", "vision", {"model": "x"}, "kind"),
        ("smollm2-135m-instruct", "chat", {"model": "x"}, "pulled, not registered"),
        ("ok", "chat", {"tokenizer": "x"}, "role 'model'"),
    ],
)
def test_bad_registrations_are_refused(tmp_path: Path, name: str, kind: str, files: dict, error: str) -> None:
    with pytest.raises(ConfigError, match=error):
        Catalog(tmp_path / "models").register(name, kind, files)  # type: ignore[arg-type]


def test_missing_file_leaves_nothing(tmp_path: Path) -> None:
    cat = Catalog(tmp_path / "models")
    with pytest.raises(NotFound, match="does not exist"):
        cat.register("t", "chat", {"model": tmp_path / "nope.gguf"})
    assert "t" not in cat and not (tmp_path / "models" / "t").exists()


def test_models_show_prints_lineage(tmp_path: Path, made: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMKIT_HOME", str(tmp_path))
    Catalog(tmp_path / "models").register("tuned-q8", "chat", {"model": made["gguf"]}, lineage=LINEAGE)
    result = CliRunner().invoke(app, ["-C", str(tmp_path), "models", "show", "tuned-q8", "--json"])
    assert result.exit_code == 0, result.output
    info = json.loads(result.output)
    assert info["pulled"] and info["lineage"] == LINEAGE and info["files"][0]["source"] == "local"
    result = CliRunner().invoke(app, ["-C", str(tmp_path), "models", "show", "tuned-q8"])
    assert result.exit_code == 0 and '"val_loss": 1.25' in result.output and "local" in result.output
    result = CliRunner().invoke(app, ["-C", str(tmp_path), "models", "show", "no-such-model"])
    assert isinstance(result.exception, NotFound) and "no model named" in str(result.exception)
