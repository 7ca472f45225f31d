"""The app in-process (TestClient) on the public fakes: routes, errors, auth, limits, caching, metrics."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from server_fakes import upload

from llmkit.config import load_settings
from llmkit.errors import ConfigError

CHAT = {"model": "smollm2-135m-instruct", "messages": [{"role": "user", "content": "Hi there"}]}


def sse(response: Any) -> list[Any]:
    lines = [ln[len("data: ") :] for ln in response.text.splitlines() if ln.startswith("data: ")]
    assert lines[-1] == "[DONE]"
    return [json.loads(x) for x in lines[:-1]]


def test_health_ready_and_request_ids(client: Any) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz").json()
    assert ready["status"] == "ready" and ready["model"] == "smollm2-135m-instruct"
    r = client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert r.headers["x-request-id"] == "abc-123"
    assert len(client.get("/healthz", headers={"X-Request-ID": "bad id\x7f"}).headers["x-request-id"]) == 32


def test_chat_completion_plain(client: Any) -> None:
    body = client.post("/v1/chat/completions", json={**CHAT, "max_tokens": 50, "stop": ["[1]"]}).json()
    assert body["object"] == "chat.completion" and body["model"] == CHAT["model"]
    assert body["choices"][0]["message"] == {"role": "assistant", "content": "Three years "}
    assert body["usage"]["completion_tokens"] == 2 and body["usage"]["total_tokens"] > 2
    assert body["cost_usd"] == 0.0
    _, params = client.model.calls[-1]
    assert params.max_tokens == 50 and params.stop == ("[1]",)


def test_chat_params_pass_through(client: Any) -> None:
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}}
    tool = {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}
    req = {
        **CHAT, "max_completion_tokens": 7, "temperature": 0.5, "top_p": 0.9, "seed": 3,
        "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}},
        "tools": [tool], "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
    }  # fmt: skip
    assert client.post("/v1/chat/completions", json=req).status_code == 200
    _, params = client.model.calls[-1]
    assert (params.max_tokens, params.temperature, params.top_p, params.seed) == (7, 0.5, 0.9, 3)
    assert params.json_schema == schema and params.tools[0].name == "get_weather"
    assert params.tool_choice == "get_weather"
    client.post("/v1/chat/completions", json={**CHAT, "response_format": {"type": "json_object"}})
    assert client.model.calls[-1][1].json_schema == {}


def test_chat_n_choices(client: Any) -> None:
    body = client.post("/v1/chat/completions", json={**CHAT, "n": 3, "temperature": 0.9}).json()
    assert [c["index"] for c in body["choices"]] == [0, 1, 2]


def test_chat_stream_with_usage(client: Any) -> None:
    req = {**CHAT, "stream": True, "stream_options": {"include_usage": True}}
    with client.stream("POST", "/v1/chat/completions", json=req) as r:
        r.read()
    assert r.headers["content-type"].startswith("text/event-stream")
    events = sse(r)
    assert events[0]["choices"][0]["delta"]["role"] == "assistant"
    text = "".join(e["choices"][0]["delta"].get("content", "") for e in events if e["choices"])
    assert text == "Three years [1]."
    assert [e["choices"][0]["finish_reason"] for e in events if e["choices"]][-1] == "stop"
    assert events[-1]["choices"] == [] and events[-1]["usage"]["completion_tokens"] == 6


def test_text_completion(client: Any) -> None:
    body = client.post("/v1/completions", json={"model": CHAT["model"], "prompt": "Once upon"}).json()
    assert body["object"] == "text_completion" and body["choices"][0]["text"] == "Three years [1]."
    with client.stream("POST", "/v1/completions", json={"model": CHAT["model"], "prompt": "x", "stream": True}) as r:
        r.read()
    assert "".join(e["choices"][0]["text"] for e in sse(r)) == "Three years [1]."


def test_embeddings_float_and_base64(client: Any) -> None:
    import base64

    import numpy as np

    body = client.post("/v1/embeddings", json={"model": "hash-64", "input": ["a cat", "a dog"]}).json()
    assert len(body["data"]) == 2 and len(body["data"][0]["embedding"]) == 64 and body["usage"]["prompt_tokens"] == 4
    b64 = client.post("/v1/embeddings", json={"model": "hash-64", "input": "a cat", "encoding_format": "base64"})
    vec = np.frombuffer(base64.b64decode(b64.json()["data"][0]["embedding"]), dtype="<f4")
    assert np.allclose(vec, body["data"][0]["embedding"])
    assert client.post("/v1/embeddings", json={"model": "hash-64", "input": [""]}).status_code == 400
    assert client.post("/v1/embeddings", json={"model": "nope", "input": "x"}).status_code == 404


def test_collections_documents_query_and_rag_model(client: Any) -> None:
    assert client.post("/v1/collections", json={"name": "docs"}).status_code == 201
    report = upload(client).json()
    assert report["added"] == 1 and report["chunks"] >= 1
    assert [c["name"] for c in client.get("/v1/collections").json()["data"]] == ["docs"]
    docs = client.get("/v1/collections/docs/documents").json()["data"]
    assert docs[0]["source"] == "faq.md"
    ids = [m["id"] for m in client.get("/v1/models").json()["data"]]
    assert ids == ["smollm2-135m-instruct", "agent/default", "rag/docs"]
    q = client.post("/v1/query", json={"query": "How long is the warranty?", "collection": "docs", "explain": True})
    body = q.json()
    assert body["answer"] == "Three years [1]." and body["citations"][0]["source"] == "faq.md"
    assert body["hits"][0]["explain"]["fused_score"] > 0 and body["trace_id"]
    hits = client.post("/v1/query", json={"query": "warranty", "collection": "docs", "answer": False}).json()
    assert "answer" not in hits and hits["hits"]
    rag = client.post("/v1/chat/completions", json={"model": "rag/docs", "messages": [
        {"role": "user", "content": "How long is the warranty?"}]}).json()  # fmt: skip
    assert rag["choices"][0]["message"]["content"].startswith("Three years [1].\n\nSources:\n[1] faq.md")
    assert rag["citations"][0]["source"] == "faq.md"
    req = {"model": "rag/docs", "stream": True, "messages": [{"role": "user", "content": "warranty?"}]}
    with client.stream("POST", "/v1/chat/completions", json=req) as r:
        r.read()
    events = sse(r)
    assert events[-1]["citations"][0]["source"] == "faq.md" and events[-1]["choices"][0]["finish_reason"] == "stop"
    assert client.delete(f"/v1/collections/docs/documents/{docs[0]['id']}").json()["deleted"] is True
    assert client.delete(f"/v1/collections/docs/documents/{docs[0]['id']}").status_code == 404
    assert client.delete("/v1/collections/docs").json()["deleted"] is True
    assert client.post("/v1/query", json={"query": "x", "collection": "docs"}).status_code == 404


def test_server_calls_are_traced_with_request_id_and_cost(client: Any) -> None:
    client.post("/v1/chat/completions", json=CHAT, headers={"X-Request-ID": "req-42"})
    trace = client.get("/v1/traces", params={"limit": 1}).json()["data"][0]
    assert trace["kind"] == "server.chat" and trace["attributes"]["request_id"] == "req-42"
    assert trace["attributes"]["cost_usd"] == 0.0 and trace["output"] == "Three years [1]."


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/v1/chat/completions", {"model": "nope", "messages": [{"role": "user", "content": "x"}]}, 404),
        ("/v1/chat/completions", {"model": "smollm2-135m-instruct", "messages": []}, 422),
        ("/v1/chat/completions", {**CHAT, "temperature": 5}, 422),
        ("/v1/chat/completions", {**CHAT, "max_tokens": 10**6}, 400),
        ("/v1/chat/completions", {**CHAT, "messages": [{"role": "user", "content": [{"type": "image_url"}]}]}, 400),
        ("/v1/chat/completions", {**CHAT, "tool_choice": {"type": "function", "function": {"name": "f"}}}, 400),
        ("/v1/chat/completions", {"model": "rag/missing", "messages": [{"role": "user", "content": "x"}]}, 404),
        ("/v1/query", {"query": "x", "filter": {"$bogus": 1}}, 400),
        ("/v1/nowhere", {}, 404),
    ],
)
def test_errors_are_openai_shaped(client: Any, path: str, body: Any, status: int) -> None:
    r = client.post(path, json=body)
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert set(err) == {"message", "type", "param", "code"} and err["message"]


def test_context_window_is_400(make_client: Callable[..., Any]) -> None:
    client = make_client()
    client.model.window = 64
    r = client.post("/v1/chat/completions", json={**CHAT, "max_tokens": 100})
    assert r.status_code == 400 and r.json()["error"]["code"] == "context_length_exceeded"


def test_body_and_upload_limits(make_client: Callable[..., Any]) -> None:
    client = make_client(max_body_mb=0.01)
    r = client.post("/v1/chat/completions", content=b"x" * 20_000, headers={"content-type": "application/json"})
    assert r.status_code == 413 and r.json()["error"]["code"] == "request_too_large"
    chunked = client.post(
        "/v1/embeddings", content=iter([b"x" * 8000] * 3), headers={"content-type": "application/json"}
    )
    assert chunked.status_code == 413  # no Content-Length: counted as it arrives
    assert upload(client, name="evil.exe").status_code == 415
    assert upload(client, name="../../etc/passwd.md").json()["added"] == 1  # stored by its bare name
    assert upload(client, name="empty.md", text="").status_code == 400


def test_request_token_limit(make_client: Callable[..., Any]) -> None:
    client = make_client(max_request_tokens=40)
    r = client.post("/v1/chat/completions", json={**CHAT, "messages": [{"role": "user", "content": "word " * 50}],
                                                  "max_tokens": 5})  # fmt: skip
    assert r.status_code == 400 and r.json()["error"]["code"] == "request_too_many_tokens"


def test_rate_limit_is_429_with_retry_after(make_client: Callable[..., Any]) -> None:
    client = make_client(requests_per_minute=2)
    assert [client.post("/v1/chat/completions", json=CHAT).status_code for _ in range(3)] == [200, 200, 429]
    r = client.post("/v1/chat/completions", json=CHAT)
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1


def test_exact_cache_and_metrics(client: Any) -> None:
    req = {**CHAT, "temperature": 0}
    first = client.post("/v1/chat/completions", json=req).json()
    second = client.post("/v1/chat/completions", json=req).json()
    assert second["cached"] is True and second["choices"] == first["choices"] and second["id"] != first["id"]
    assert len(client.model.calls) == 1
    client.post("/v1/chat/completions", json={**CHAT, "temperature": 0.7})  # not deterministic: not cached
    client.post("/v1/chat/completions", json={**CHAT, "temperature": 0.7})
    assert len(client.model.calls) == 3
    text = client.get("/metrics").text
    assert 'llmkit_cache_total{kind="exact",result="hit"} 1.0' in text
    assert 'llmkit_requests_total{method="POST",route="/v1/chat/completions",status="200"} 4.0' in text
    assert "llmkit_request_seconds_bucket" in text and 'llmkit_tokens_total{direction="out"' in text
    assert "llmkit_queue_depth" in text


def test_semantic_cache(make_client: Callable[..., Any]) -> None:
    client = make_client(semantic_cache_threshold=0.8)
    ask = {**CHAT, "temperature": 0}
    for text in ("how long is the warranty", "How long is the warranty?"):
        again = client.post("/v1/chat/completions", json={**ask, "messages": [{"role": "user", "content": text}]})
    assert again.json()["cached"] is True and len(client.model.calls) == 1
    assert 'llmkit_cache_total{kind="semantic",result="hit"} 1.0' in client.get("/metrics").text


def test_queue_full_is_429(make_client: Callable[..., Any]) -> None:
    import threading
    import time

    client = make_client(delay_s=3.0, queue_size=0)
    first: list[int] = []
    busy = threading.Thread(target=lambda: first.append(client.post("/v1/chat/completions", json=CHAT).status_code))
    busy.start()
    deadline = time.monotonic() + 30
    while not client.model.calls and time.monotonic() < deadline:  # the first request holds the only slot
        time.sleep(0.01)
    second = client.post("/v1/chat/completions", json=CHAT)
    busy.join()
    assert first == [200]
    assert second.status_code == 429 and second.headers["retry-after"]


def test_keys_scopes_and_collections(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from llmkit.server import create_app
    from llmkit.server.keys import KeyStore
    from llmkit.testing import FakeChatModel, HashEmbedder

    settings = load_settings(tmp_path, server={"log_json": False})
    keys = KeyStore(settings.data_dir / "keys.db")
    chat_key, _ = keys.create("chat", ("chat",))
    docs_key, _ = keys.create("docs", ("query", "ingest"), ("docs",))
    admin_key, _ = keys.create("ops", ("admin",))
    revoked, rk = keys.create("old", ("chat",))
    keys.revoke(rk.id)
    app = create_app(settings, chat_model=FakeChatModel(), embedder=HashEmbedder())
    with TestClient(app) as c:

        def call(key: str | None, method: str, path: str, **kw: Any) -> int:
            headers = {"Authorization": f"Bearer {key}"} if key else {}
            return c.request(method, path, headers=headers, **kw).status_code

        assert call(None, "POST", "/v1/chat/completions", json=CHAT) == 401
        assert call("lk-wrong", "POST", "/v1/chat/completions", json=CHAT) == 401
        assert call(revoked, "POST", "/v1/chat/completions", json=CHAT) == 401
        assert call(chat_key, "POST", "/v1/chat/completions", json=CHAT) == 200
        assert call(chat_key, "POST", "/v1/embeddings", json={"model": "hash-64", "input": "x"}) == 403
        assert call(docs_key, "POST", "/v1/chat/completions", json=CHAT) == 403
        assert call(docs_key, "POST", "/v1/collections", json={"name": "docs"}) == 201
        assert call(docs_key, "POST", "/v1/collections", json={"name": "hr"}) == 403
        assert call(docs_key, "POST", "/v1/query", json={"query": "x", "collection": "hr"}) == 403
        assert call(docs_key, "DELETE", "/v1/collections/docs") == 403
        assert call(docs_key, "GET", "/v1/traces") == 403
        assert call(admin_key, "GET", "/v1/traces") == 200
        assert call(admin_key, "POST", "/v1/collections", json={"name": "hr"}) == 201
        docs_models = c.get("/v1/models", headers={"Authorization": f"Bearer {docs_key}"}).json()["data"]
        assert [m["id"] for m in docs_models] == ["smollm2-135m-instruct", "agent/default", "rag/docs"]
        assert call(None, "GET", "/healthz") == 200


def test_unauthenticated_mode_only_on_loopback(tmp_path: Path) -> None:
    from llmkit.server import create_app

    with pytest.raises(ConfigError, match="loopback"):
        create_app(load_settings(tmp_path, server={"auth": "none", "host": "0.0.0.0"}))
    create_app(load_settings(tmp_path, server={"auth": "none", "host": "::1"}))
    create_app(load_settings(tmp_path, server={"host": "0.0.0.0"}))  # keys required: fine anywhere
