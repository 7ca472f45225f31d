from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from llmkit import registry
from llmkit.config import load_settings
from llmkit.embeddings.onnx_minilm import OnnxEmbedder
from llmkit.embeddings.openai_compat import OpenAIEmbedder
from llmkit.errors import ConfigError, NotFound
from llmkit.models.catalog import Catalog
from llmkit.models.llama_cpp import LlamaCppModel
from llmkit.models.openai_compat import OpenAIChatModel


def settings(tmp_path: Path, **overrides: Any) -> Any:
    return load_settings(tmp_path, home=tmp_path / "home", **overrides)


def fake_pull(tmp_path: Path, name: str) -> None:
    """Mark a catalog model as pulled without downloading (files of the right size, manifest written)."""
    cat = Catalog(tmp_path / "home" / "models")
    entry = cat.entry(name)
    for f in entry.files:
        path = cat.models_dir / name / f.filename
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as out:
            out.truncate(f.size or 0)
    cat._record(entry)


def fake_derive(tmp_path: Path, name: str) -> None:
    """Mark a derived catalog model as made here (small files, registered like ``models pull`` does)."""
    cat = Catalog(tmp_path / "home" / "models")
    src = tmp_path / "made"
    src.mkdir(exist_ok=True)
    for f in cat.entry(name).files:
        (src / f.filename).write_bytes(b"x")
    files = {f.role: src / f.filename for f in cat.entry(name).files}
    cat.register(name, cat.entry(name).kind, files, lineage={"parent": "all-minilm-l6-v2"})


@pytest.mark.parametrize(
    ("model", "backend"),
    [
        ({"name": "gpt-4o-mini", "base_url": "http://127.0.0.1:9/v1"}, "openai"),
        ({"name": "http://gpu:8000/v1#qwen"}, "openai"),
        ({"name": "HTTPS://api.example.com/v1"}, "openai"),
        ({"name": "models/tiny.gguf"}, "llama_cpp"),
        ({"name": "/abs/Path/Model.GGUF"}, "llama_cpp"),
        ({"name": "smollm2-135m-instruct"}, "llama_cpp"),
        ({"name": "openai:gpt-4o-mini"}, "openai"),
        ({"name": "llama_cpp:x.gguf"}, "llama_cpp"),
    ],
)
def test_chat_detection(tmp_path: Path, model: dict[str, str], backend: str) -> None:
    assert registry.detect_backend(settings(tmp_path, model=model), "chat") == backend


@pytest.mark.parametrize(
    ("embedder", "backend"),
    [
        ({"name": "text-embedding-3-small", "base_url": "http://127.0.0.1:9/v1"}, "openai"),
        ({"name": "all-minilm-l6-v2"}, "onnx"),
        ({"name": "my/model.onnx"}, "onnx"),
        ({"name": "openai:text-embedding-3-small"}, "openai"),
    ],
)
def test_embedder_detection(tmp_path: Path, embedder: dict[str, str], backend: str) -> None:
    assert registry.detect_backend(settings(tmp_path, embedder=embedder), "embedder") == backend


def test_unknown_names_say_what_works(tmp_path: Path) -> None:
    with pytest.raises(NotFound) as info:
        registry.detect_backend(settings(tmp_path, model={"name": "llama3:8b"}), "chat")
    assert "smollm2-135m-instruct" in (info.value.hint or "") and "base_url" in (info.value.hint or "")


def test_wrong_kind_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="embedder model"):
        registry.load_chat_model(settings(tmp_path, model={"name": "all-minilm-l6-v2"}))


def test_default_catalog_model_not_pulled_hints_pull(tmp_path: Path) -> None:
    with pytest.raises(NotFound) as info:
        registry.load_chat_model(settings(tmp_path))
    assert info.value.hint == "llmkit models pull smollm2-135m-instruct"
    with pytest.raises(NotFound) as info:
        registry.load_embedder(settings(tmp_path))
    assert info.value.hint == "llmkit models pull all-minilm-l6-v2-q8"


def test_pulled_catalog_models_load_lazily(tmp_path: Path) -> None:
    fake_pull(tmp_path, "smollm2-135m-instruct")
    fake_derive(tmp_path, "all-minilm-l6-v2-q8")
    s = settings(tmp_path, model={"threads": 1, "context_window": 1024}, embedder={"batch_size": 8})
    model = registry.load_chat_model(s)
    assert isinstance(model, LlamaCppModel)
    assert (model.name, model.threads, model.context_window) == ("smollm2-135m-instruct", 1, 1024)
    assert model.path == s.models_dir / "smollm2-135m-instruct" / "SmolLM2-135M-Instruct.Q4_1.gguf"
    emb = registry.load_embedder(s)
    assert isinstance(emb, OnnxEmbedder) and emb.batch_size == 8
    assert emb.tokenizer_path.name == "tokenizer.json" and emb.model_path.parent.name == "all-minilm-l6-v2-q8"


def test_gguf_path_is_relative_to_the_project(tmp_path: Path) -> None:
    model = registry.load_chat_model(settings(tmp_path, model={"name": "models/x.gguf"}))
    assert model.path == tmp_path.resolve() / "models" / "x.gguf"


def test_remote_settings_reach_the_client(tmp_path: Path) -> None:
    s = settings(
        tmp_path,
        model={"name": "http://gpu:8000/v1#qwen", "api_key": "sk-1", "timeout_s": 7, "context_window": 4096},
        embedder={"name": "e5", "base_url": "http://emb:1/v1", "batch_size": 16},
    )
    model = registry.load_chat_model(s)
    assert isinstance(model, OpenAIChatModel)
    assert (model.name, model.base_url, model._api_key, model.timeout_s) == ("qwen", "http://gpu:8000/v1", "sk-1", 7)
    assert model.context_window == 4096
    emb = registry.load_embedder(s)
    assert isinstance(emb, OpenAIEmbedder) and (emb.name, emb.base_url, emb.batch_size) == ("e5", "http://emb:1/v1", 16)


def test_split_model_name_keeps_ollama_tags() -> None:
    assert registry.split_model_name("llama3:8b", "openai") == (None, "llama3:8b")
    assert registry.split_model_name("openai:", "openai") == (None, "openai:")


class PluginModel:
    @classmethod
    def from_settings(cls, settings: Any) -> PluginModel:
        obj = cls()
        obj.name = settings.model.name
        return obj


class _EP:
    def __init__(self, name: str, target: Any) -> None:
        self.name, self._target = name, target

    def load(self) -> Any:
        return self._target


def test_entry_point_backends(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []

    def eps(group: str) -> list[_EP]:
        calls.append(group)
        return [_EP("mlx", PluginModel)] if group == "llmkit.models" else []

    monkeypatch.setattr(registry, "_entry_points", eps)
    registry.load_chat_model(settings(tmp_path, model={"name": "x.gguf"}))
    assert calls == []  # built-ins never read entry points
    model = registry.load_chat_model(settings(tmp_path, model={"name": "mlx:some-model"}))
    assert isinstance(model, PluginModel) and model.name == "mlx:some-model"
    assert "mlx" in registry.available_backends("chat")
    with pytest.raises(NotFound, match="no chat backend named 'nope'"):
        registry.backend_class("chat", "nope")


def test_builtins_match_the_declared_entry_points() -> None:
    import tomllib

    pyproject = tomllib.loads((Path(__file__).parents[3] / "pyproject.toml").read_text())
    eps = pyproject["project"]["entry-points"]
    assert eps["llmkit.models"] == registry.CHAT_BACKENDS
    assert eps["llmkit.embedders"] == registry.EMBEDDER_BACKENDS
    for role, table in (("chat", registry.CHAT_BACKENDS), ("embedder", registry.EMBEDDER_BACKENDS)):
        for name in table:
            assert hasattr(registry.backend_class(role, name), "from_settings")
