"""Real embedded models, found through the catalog in LLMKIT_HOME; tests skip when they are not pulled."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from llmkit.errors import NotFound


def _catalog_path(name: str, role: str = "model") -> Path:
    from llmkit.config import load_settings
    from llmkit.models.catalog import Catalog

    try:
        return Catalog(load_settings().models_dir).path(name, role)
    except NotFound:
        pytest.skip(f"{name} is not pulled into LLMKIT_HOME: run `llmkit models pull {name}`")


@pytest.fixture(scope="session")
def smollm_path() -> Path:
    pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed (pip install 'llmkit[local]')")
    return _catalog_path("smollm2-135m-instruct")


@pytest.fixture(scope="session")
def smollm(smollm_path: Path) -> Iterator[object]:
    from llmkit.models.llama_cpp import LlamaCppModel

    model = LlamaCppModel(smollm_path, context_window=2048)
    yield model
    model.close()


@pytest.fixture(scope="session")
def minilm() -> object:
    from llmkit.embeddings.onnx_minilm import OnnxEmbedder

    return OnnxEmbedder(_catalog_path("all-minilm-l6-v2"), _catalog_path("all-minilm-l6-v2", "tokenizer"))


@pytest.fixture(scope="session")
def minilm_q8() -> object:
    from llmkit.embeddings.onnx_minilm import OnnxEmbedder

    return OnnxEmbedder(_catalog_path("all-minilm-l6-v2-q8"), _catalog_path("all-minilm-l6-v2-q8", "tokenizer"))
