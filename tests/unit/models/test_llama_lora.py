"""Runtime LoRA settings: what ``model.lora`` resolves to, and the files and backends it refuses before
llama.cpp sees anything. (Applying a real adapter: tests/integration/finetune/test_made_up_fact.py.)"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from gguf_files import _str, gguf_bytes, write_gguf
from llmkit.config import load_settings
from llmkit.errors import ConfigError, NotFound
from llmkit.models.llama_lora import LoraAdapter, check_adapter, lora_from_settings
from llmkit.registry import load_chat_model


def write_adapter(path: Path, arch: str = "llama", kind: str = "lora") -> Path:
    kv = [("general.architecture", 8, _str(arch)), ("general.type", 8, _str("adapter")),
          ("adapter.type", 8, _str(kind)), ("adapter.lora.alpha", 6, struct.pack("<f", 16.0))]  # fmt: skip
    path.write_bytes(gguf_bytes(kv) + b"\x00" * 64)
    return path


def test_unset_means_no_adapter(tmp_path: Path) -> None:
    assert lora_from_settings(load_settings(tmp_path)) is None


def test_a_path_resolves_against_the_project_with_its_scale(tmp_path: Path) -> None:
    write_adapter(tmp_path / "tone.gguf")
    adapter = lora_from_settings(load_settings(tmp_path, model={"lora": "tone.gguf", "lora_scale": 0.5}))
    assert adapter == LoraAdapter(tmp_path / "tone.gguf", "tone", 0.5)


def test_scale_is_validated(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="lora_scale"):
        load_settings(tmp_path, model={"lora": "x.gguf", "lora_scale": 9})


def test_a_catalog_name_must_be_a_lora_entry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMKIT_HOME", str(tmp_path / "home"))
    from llmkit.models.catalog import Catalog

    catalog = Catalog(load_settings(tmp_path).models_dir)
    catalog.register("tone-lora", "lora", {"model": write_adapter(tmp_path / "tone-lora.gguf")})
    catalog.register("tone-f16", "chat", {"model": write_gguf(tmp_path / "tone-f16.gguf")})
    adapter = lora_from_settings(load_settings(tmp_path, model={"lora": "tone-lora"}))
    assert adapter is not None and adapter.path == catalog.path("tone-lora") and adapter.scale == 1.0
    with pytest.raises(ConfigError, match="is a chat model, not a LoRA adapter"):
        lora_from_settings(load_settings(tmp_path, model={"lora": "tone-f16"}))
    with pytest.raises(NotFound, match="no model named"):
        lora_from_settings(load_settings(tmp_path, model={"lora": "nope"}))
    with pytest.raises(ConfigError, match="is a lora model"):  # and an adapter is not a chat model
        load_chat_model(load_settings(tmp_path, model={"name": "tone-lora"}))


def test_check_refuses_a_model_file_and_another_architecture(tmp_path: Path) -> None:
    model = write_gguf(tmp_path / "base.gguf")  # a llama model
    check_adapter(LoraAdapter(write_adapter(tmp_path / "ok.gguf"), "ok"), model)
    with pytest.raises(ConfigError, match="not a GGUF LoRA adapter"):
        check_adapter(LoraAdapter(model, "base"), model)
    with pytest.raises(ConfigError, match="not a GGUF LoRA adapter"):
        check_adapter(LoraAdapter(write_adapter(tmp_path / "cv.gguf", kind="control_vector"), "cv"), model)
    with pytest.raises(ConfigError, match=r"for 'qwen2' models; base\.gguf is 'llama'"):
        check_adapter(LoraAdapter(write_adapter(tmp_path / "q.gguf", arch="qwen2"), "q"), model)
    with pytest.raises(NotFound):
        check_adapter(LoraAdapter(tmp_path / "missing.gguf", "missing"), model)


def test_a_remote_model_refuses_an_adapter(tmp_path: Path) -> None:
    settings = load_settings(tmp_path, model={"name": "gpt-x", "base_url": "http://127.0.0.1:9/v1", "lora": "a.gguf"})
    with pytest.raises(ConfigError, match="local GGUF models"):
        load_chat_model(settings)
