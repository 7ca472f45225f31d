"""A real uvicorn on loopback serving the real embedded models, shared by the server's integration tests."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

SAMPLES = Path(__file__).resolve().parents[3] / "examples" / "demo" / "docs"
MODEL = "smollm2-135m-instruct"


@dataclass
class Live:
    url: str
    project: Path
    keys: dict[str, str]  # role -> secret

    def client(self, role: str = "admin", **kwargs: object) -> object:
        """The official ``openai`` client pointed at the server with one of the test keys."""
        from openai import OpenAI

        key = kwargs.pop("api_key", None) or self.keys[role]
        return OpenAI(base_url=f"{self.url}/v1", api_key=key, max_retries=0, **kwargs)  # type: ignore[arg-type]

    def headers(self, role: str = "admin") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[role]}"}


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
