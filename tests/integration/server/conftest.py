"""A real uvicorn on loopback serving the real embedded models, shared by the server's integration tests."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
from live_server import SAMPLES, Live


@pytest.fixture(scope="session")
def live(tmp_path_factory: pytest.TempPathFactory, real_models: None) -> Iterator[Live]:
    from llmkit.config import load_settings
    from llmkit.kit import Kit
    from llmkit.server import create_app
    from llmkit.server.background import serve_in_thread
    from llmkit.server.keys import KeyStore

    project = tmp_path_factory.mktemp("served")
    shutil.copytree(SAMPLES, project / "docs", ignore=shutil.ignore_patterns("*.py"))
    (project / "llmkit.toml").write_text(
        'collection = "samples"\n[model]\nmax_tokens = 24\ntemperature = 0.0\nseed = 0\nthreads = 1\n'
        "[retrieval]\nk = 2\n[server]\nlog_json = false\nrequests_per_minute = 10000\n",
        encoding="utf-8",
    )
    settings = load_settings(project)
    with Kit(settings) as kit:
        kit.ingest(project / "docs")
    store = KeyStore(settings.data_dir / "keys.db")
    keys = {
        "admin": store.create("ops", ("admin",))[0],
        "chat": store.create("app", ("chat", "embeddings"))[0],
        "samples": store.create("bot", ("query",), ("samples",))[0],
    }
    with serve_in_thread(create_app(settings)) as url:
        yield Live(url, project, keys)
