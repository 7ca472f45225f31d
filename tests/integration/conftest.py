"""Fixtures for tests that use the real embedded models (pulled by `make models`)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

SAMPLES = Path(__file__).resolve().parents[2] / "examples" / "demo" / "docs"


def _pulled() -> bool:
    from llmkit.config import load_settings
    from llmkit.models.catalog import Catalog

    names = {m.name for m in Catalog(load_settings().models_dir).list_local()}
    return {"smollm2-135m-instruct", "all-minilm-l6-v2", "all-minilm-l6-v2-q8"} <= names


@pytest.fixture(scope="session")
def real_models() -> None:
    """Skip (locally) or fail (in CI) when the embedded models have not been pulled."""
    if not _pulled():
        message = "embedded models not pulled: run `make models`"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture
def project(tmp_path: Path, real_models: None) -> Path:
    """A project folder with the sample documents and a deterministic, short-answer config."""
    shutil.copytree(SAMPLES, tmp_path / "docs", ignore=shutil.ignore_patterns("*.py"))
    (tmp_path / "llmkit.toml").write_text(
        'collection = "samples"\n[model]\nmax_tokens = 48\ntemperature = 0.0\nseed = 0\n', encoding="utf-8"
    )
    return tmp_path


@pytest.fixture
def kit(project: Path) -> Iterator[object]:
    import llmkit

    with llmkit.open(project) as k:
        yield k
