"""``agent/default``: the project's agent served as a model, on a scripted tool-calling fake."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from llmkit.config import load_settings
from llmkit.testing import HashEmbedder, ScriptedToolModel
from llmkit.types import ToolCall

ASK = {"model": "agent/default", "messages": [{"role": "user", "content": "What is 6 times 7?"}]}


@pytest.fixture
def client(tmp_path: Path) -> Any:
    from fastapi.testclient import TestClient

    from llmkit.server import create_app

    model = ScriptedToolModel(turns=[ToolCall("call_1", "calculator", '{"expression": "6*7"}'), "It is 42."])
    settings = load_settings(tmp_path, server={"auth": "none", "log_json": False}, agent={"tools": ["calculator"]})
    with TestClient(create_app(settings, chat_model=model, embedder=HashEmbedder())) as c:
        c.model = model  # type: ignore[attr-defined]
        yield c


def test_the_agent_is_listed_and_answers_after_calling_its_tool(client: Any) -> None:
    assert "agent/default" in [m["id"] for m in client.get("/v1/models").json()["data"]]
    body = client.post("/v1/chat/completions", json=ASK).json()
    assert body["choices"][0]["message"]["content"] == "It is 42."
    (step,) = body["agent"]["steps"]
    assert step["tool"] == "calculator" and step["result"] == "42" and not step["error"]
    assert body["agent"]["stop_reason"] == "answer"
    tools_offered = client.model.calls[0][1].tools
    assert [t.name for t in tools_offered] == ["calculator"]


def test_streamed_agent_answer_and_usage(client: Any) -> None:
    r = client.post("/v1/chat/completions", json={**ASK, "stream": True, "stream_options": {"include_usage": True}})
    events = [json.loads(x[6:]) for x in r.text.splitlines() if x.startswith("data: ") and x != "data: [DONE]"]
    assert events[0]["choices"][0]["delta"]["content"] == "It is 42."
    assert events[-1]["usage"]["total_tokens"] > 0
    assert r.text.rstrip().endswith("data: [DONE]")


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({**ASK, "model": "agent/other"}, 404),
        ({**ASK, "n": 2}, 400),
        ({"model": "agent/default", "messages": [{"role": "assistant", "content": "hi"}]}, 400),
    ],
)
def test_bad_agent_requests(client: Any, body: dict, status: int) -> None:
    r = client.post("/v1/chat/completions", json=body)
    assert r.status_code == status and r.json()["error"]["message"]


def test_an_answer_the_output_guards_block_ends_with_content_filter(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from llmkit.server import create_app

    model = ScriptedToolModel(turns=["The code is SPRING24."])
    settings = load_settings(
        tmp_path, server={"auth": "none", "log_json": False}, agent={"tools": ["calculator"]},
        guards={"output": ["denylist"], "deny_keywords": ["SPRING24"], "blocked_message": "No."},
    )  # fmt: skip
    with TestClient(create_app(settings, chat_model=model, embedder=HashEmbedder())) as c:
        body = c.post("/v1/chat/completions", json=ASK).json()
        r = c.post("/v1/chat/completions", json={**ASK, "stream": True})
    assert body["choices"][0] == {"index": 0, "message": {"role": "assistant", "content": "No."},
                                  "finish_reason": "content_filter"}  # fmt: skip
    assert body["agent"]["stop_reason"] == "blocked" and "SPRING24" not in r.text and "content_filter" in r.text
