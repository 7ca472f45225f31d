"""Choosing the token counter for a base model (no model is loaded here)."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmkit.errors import InputError, NotFound
from llmkit.finetune.tokens import GgufTokenCounter, HfTokenCounter, TokenCounter, token_counter
from llmkit.models.catalog import Catalog
from llmkit.testing import FakeChatModel


def test_a_registered_tuned_model_can_be_the_base(tmp_path: Path) -> None:
    models = tmp_path / "models"
    (tmp_path / "tuned.gguf").write_bytes(b"GGUF" + bytes(64))
    Catalog(models).register("my-tuned", "chat", {"model": tmp_path / "tuned.gguf"}, lineage={"base": "x"})
    counter = token_counter("my-tuned", models)
    assert isinstance(counter, GgufTokenCounter) and counter.name == "my-tuned"
    assert counter.path.parent == models / "my-tuned"


def test_paths_folders_and_wrong_kinds(tmp_path: Path) -> None:
    models = tmp_path / "models"
    (tmp_path / "m.gguf").write_bytes(b"GGUF")
    assert isinstance(token_counter(str(tmp_path / "m.gguf"), models), GgufTokenCounter)
    with pytest.raises(NotFound, match="no model file"):
        token_counter(str(tmp_path / "missing.gguf"), models)
    hf = tmp_path / "hf"
    hf.mkdir()
    with pytest.raises(NotFound, match="holds no tokenizer"):
        token_counter(str(hf), models)
    (hf / "tokenizer.json").write_text("{}", encoding="utf-8")
    assert isinstance(token_counter(str(hf), models), HfTokenCounter)
    with pytest.raises(InputError, match="not a chat model"):
        token_counter("all-minilm-l6-v2", models)
    with pytest.raises(NotFound, match="no model named"):
        token_counter("nope", models)


def test_a_non_gguf_file_is_refused_clearly(tmp_path: Path) -> None:
    bad = tmp_path / "notes.gguf"
    bad.write_text("hello", encoding="utf-8")
    with pytest.raises(Exception, match="not a valid GGUF file"):
        _ = GgufTokenCounter(bad).context_window


def test_the_fakes_are_token_counters() -> None:
    assert isinstance(FakeChatModel(), TokenCounter)
