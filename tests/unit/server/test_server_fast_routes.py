"""The chat routes served by ``llmkit.server.fast`` in front of FastAPI: the same answers, errors and metrics."""

from __future__ import annotations

from typing import Any

import pytest

CHAT = {"model": "smollm2-135m-instruct", "messages": [{"role": "user", "content": "Hi there"}]}


@pytest.mark.parametrize(
    ("content", "content_type", "param", "words"),
    [
        (b"", "application/json", None, "body: Field required"),
        (b'{"model": "m"}', "text/plain", None, "valid dictionary"),
        (b"{not json", "application/json", None, "Invalid JSON"),
        (b'{"model": "m", "messages": []}', "application/json", "messages", "messages: List should have at least"),
        (b'{"model": "m", "messages": [{"role": "x"}]}', "application/vnd.api+json", "messages.0.role", "role"),
    ],
)
def test_bad_bodies_are_422s_naming_the_field(
    client: Any, content: bytes, content_type: str, param: str | None, words: str
) -> None:
    r = client.post("/v1/chat/completions", content=content, headers={"content-type": content_type})
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert err["code"] == "invalid_request" and err["param"] == param and words in err["message"]
    assert r.headers["x-request-id"]


def test_completions_and_the_route_label_in_metrics(client: Any) -> None:
    r = client.post("/v1/completions", json={"model": CHAT["model"], "prompt": "Hi"})
    assert r.status_code == 200 and r.json()["object"] == "text_completion"
    assert client.post("/v1/chat/completions", json=CHAT).status_code == 200
    client.post("/v1/chat/completions", content=b"{", headers={"content-type": "application/json"})
    metrics = client.get("/metrics").text
    assert 'llmkit_requests_total{method="POST",route="/v1/completions",status="200"} 1.0' in metrics
    assert 'llmkit_requests_total{method="POST",route="/v1/chat/completions",status="422"} 1.0' in metrics
    assert 'llmkit_errors_total{code="invalid_request",type="invalid_request_error"} 1.0' in metrics


def test_other_methods_and_the_openapi_page_still_reach_fastapi(client: Any) -> None:
    r = client.get("/v1/chat/completions")
    assert r.status_code == 405 and r.json()["error"]["code"] == "method_not_allowed"
    paths = client.get("/openapi.json").json()["paths"]
    assert "post" in paths["/v1/chat/completions"] and "post" in paths["/v1/completions"]
    assert paths["/v1/chat/completions"]["post"]["requestBody"]["content"]["application/json"]["schema"]


def test_a_crash_is_a_logged_500(client: Any, monkeypatch: pytest.MonkeyPatch, caplog: Any) -> None:
    from llmkit.server import chat

    async def boom(*args: Any) -> Any:
        raise RuntimeError("kaput")

    monkeypatch.setattr(chat, "chat_completion", boom)
    r = client.post("/v1/chat/completions", json=CHAT)
    assert r.status_code == 500 and r.json()["error"]["type"] == "server_error" and "kaput" not in r.text


def test_keys_and_scopes_on_the_fast_routes(make_client: Any) -> None:
    client = make_client(auth="keys")
    keys = client.app.state.llmkit.keys
    embed_only, _ = keys.create("e", ("embeddings",))
    chat, _ = keys.create("c", ("chat",))
    no_key = client.post("/v1/chat/completions", json=CHAT)
    assert no_key.status_code == 401 and no_key.json()["error"]["code"] == "missing_api_key"
    basic = client.post("/v1/chat/completions", json=CHAT, headers={"Authorization": f"Basic {chat}"})
    assert basic.status_code == 401
    wrong = client.post("/v1/completions", json={"model": CHAT["model"], "prompt": "Hi"},
                        headers={"Authorization": f"Bearer {embed_only}"})  # fmt: skip
    assert wrong.status_code == 403 and wrong.json()["error"]["code"] == "insufficient_scope"
    ok = client.post("/v1/chat/completions", json=CHAT, headers={"Authorization": f"bearer {chat}"})
    assert ok.status_code == 200
