"""``agent/default`` with the retrieval tool searches only what the caller's key may ``query``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from llmkit.config import load_settings
from llmkit.testing import HashEmbedder, ScriptedToolModel
from llmkit.types import ToolCall

SECRET = "# Salaries\n\nThe CEO salary is 2,400,000 USD.\n"
ASK = {"model": "agent/default", "messages": [{"role": "user", "content": "What is the CEO salary?"}]}


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Any, dict[str, str]]]:
    """A client on a project whose agent has the retrieval tool over collection ``hr``, and keys by name."""
    from fastapi.testclient import TestClient

    from llmkit.server import create_app
    from llmkit.server.keys import KeyStore

    settings = load_settings(tmp_path, server={"log_json": False}, collection="hr", agent={"tools": ["retrieval"]})
    store = KeyStore(settings.data_dir / "keys.db")
    keys = {
        "admin": store.create("ops", ("admin",))[0],
        "chat": store.create("bot", ("chat",))[0],
        "hr": store.create("hr-bot", ("chat", "query"), ("hr",))[0],
    }
    store.close()
    turns = [ToolCall("c1", "search_documents", '{"query": "CEO salary"}'), "Done."]
    model = ScriptedToolModel(turns=lambda messages: turns[min(sum(m.role == "tool" for m in messages), 1)])
    with TestClient(create_app(settings, chat_model=model, embedder=HashEmbedder())) as client:
        admin = {"Authorization": f"Bearer {keys['admin']}"}
        assert client.post("/v1/collections", json={"name": "hr"}, headers=admin).status_code < 300
        files = {"files": ("salaries.md", SECRET.encode(), "text/markdown")}
        assert client.post("/v1/collections/hr/documents", files=files, headers=admin).status_code < 300
        yield client, keys


def _step(client: Any, key: str) -> dict[str, Any]:
    r = client.post("/v1/chat/completions", json=ASK, headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 200, r.text
    (step,) = r.json()["agent"]["steps"]
    return step  # type: ignore[no-any-return]


def test_a_key_without_query_on_the_collection_gets_a_tool_error_not_its_passages(served: Any) -> None:
    client, keys = served
    step = _step(client, keys["chat"])
    assert step["error"] and "may not search collection 'hr'" in step["result"]
    assert "2,400,000" not in step["result"]


def test_a_key_with_query_on_the_collection_reads_it_through_the_agent(served: Any) -> None:
    client, keys = served
    step = _step(client, keys["hr"])
    assert not step["error"] and "2,400,000" in step["result"]
