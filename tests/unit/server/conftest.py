"""Fixtures for the server's unit tests: the app on the public fakes, driven in-process or on loopback."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from llmkit.testing import FakeChatModel, HashEmbedder


@pytest.fixture
def make_client(tmp_path: Path) -> Iterator[Callable[..., Any]]:
    """``make_client(**server_settings)``: a TestClient on a fresh project with fake models."""
    from fastapi.testclient import TestClient

    from llmkit.config import load_settings
    from llmkit.server import create_app

    opened: list[Any] = []

    def make(replies: Any = ("Three years [1].",), delay_s: float = 0.0, **server: Any) -> Any:
        settings = load_settings(tmp_path, server={"auth": "none", "log_json": False, **server})
        model = FakeChatModel(replies, delay_s=delay_s)
        app = create_app(settings, chat_model=model, embedder=HashEmbedder())
        client = TestClient(app, raise_server_exceptions=False)
        client.__enter__()
        client.model = model  # type: ignore[attr-defined]
        opened.append(client)
        return client

    yield make
    for c in opened:
        c.__exit__(None, None, None)


@pytest.fixture
def client(make_client: Callable[..., Any]) -> Any:
    return make_client()
