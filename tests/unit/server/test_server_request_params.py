"""Request fields the server honours or refuses: rag/ generation parameters, ``dimensions``, ``max_tokens``,
and malformed JSON on the FastAPI routes."""

from __future__ import annotations

from typing import Any

import pytest
from server_fakes import upload

MODEL = "smollm2-135m-instruct"
RAG = {"model": "rag/docs", "messages": [{"role": "user", "content": "How long is the warranty?"}]}


@pytest.fixture
def rag_client(make_client: Any) -> Any:
    client = make_client(cache=False)
    client.post("/v1/collections", json={"name": "docs"})
    assert upload(client).status_code < 300
    return client


def test_rag_models_take_the_generation_parameters(rag_client: Any) -> None:
    body = {**RAG, "max_tokens": 7, "temperature": 0.9, "top_p": 0.5, "seed": 3, "stop": ["\n\n"]}
    assert rag_client.post("/v1/chat/completions", json=body).status_code == 200
    params = rag_client.model.calls[-1][1]
    assert (params.max_tokens, params.temperature, params.top_p, params.seed, params.stop) == (
        7,
        0.9,
        0.5,
        3,
        ("\n\n",),
    )


@pytest.mark.parametrize(
    ("extra", "code"),
    [
        ({"max_tokens": 10**6}, "request_too_many_tokens"),
        ({"tools": [{"type": "function", "function": {"name": "f"}}]}, "invalid_input"),
        ({"response_format": {"type": "json_object"}}, "invalid_input"),
        ({"stop": [""]}, "invalid_input"),
    ],
)
def test_rag_models_refuse_what_they_cannot_honour(rag_client: Any, extra: dict[str, Any], code: str) -> None:
    r = rag_client.post("/v1/chat/completions", json={**RAG, **extra})
    assert r.status_code == 400 and r.json()["error"]["code"] == code
    assert rag_client.model.calls == []


def test_max_tokens_over_the_limit_is_request_too_many_tokens(client: Any) -> None:
    ask = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 10**30}
    error = client.post("/v1/chat/completions", json=ask).json()["error"]
    assert (error["code"], error["param"]) == ("request_too_many_tokens", "max_tokens")


def test_embeddings_refuse_dimensions_they_cannot_give(client: Any) -> None:
    ask = {"model": "hash-64", "input": "hello"}
    r = client.post("/v1/embeddings", json={**ask, "dimensions": 8})
    assert r.status_code == 400 and r.json()["error"]["param"] == "dimensions"
    assert len(client.post("/v1/embeddings", json={**ask, "dimensions": 64}).json()["data"][0]["embedding"]) == 64


@pytest.mark.parametrize("path", ["/v1/embeddings", "/v1/query", "/v1/collections"])
def test_malformed_json_says_where_with_no_param(client: Any, path: str) -> None:
    r = client.post(path, content=b'{"model": "x",', headers={"content-type": "application/json"})
    error = r.json()["error"]
    assert r.status_code == 422 and error["param"] is None
    assert error["message"].startswith("invalid request: body: invalid JSON at position 14")
