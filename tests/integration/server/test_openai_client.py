"""The official ``openai`` client against a real uvicorn on loopback serving the real embedded models."""

from __future__ import annotations

import base64
import json
import time

import httpx
import numpy as np
import openai
import pytest
from live_server import MODEL, Live

pytestmark = [pytest.mark.integration, pytest.mark.slow]
EMBEDDER = "all-minilm-l6-v2-q8"  # the default embedder
ASK = [{"role": "user", "content": "Say hello."}]


def test_models_lists_the_model_and_each_collection(live: Live) -> None:
    ids = [m.id for m in live.client().models.list()]
    assert ids[0] == MODEL and "rag/samples" in ids
    assert [m.id for m in live.client("samples").models.list()] == [MODEL, "agent/default", "rag/samples"]


def test_chat_plain(live: Live) -> None:
    reply = live.client("chat").chat.completions.create(model=MODEL, messages=ASK, max_tokens=8, temperature=0)
    choice = reply.choices[0]
    assert choice.message.role == "assistant" and choice.message.content
    assert choice.finish_reason in ("stop", "length")
    assert reply.usage.prompt_tokens > 5 and 0 < reply.usage.completion_tokens <= 8


def test_chat_stream_with_usage(live: Live) -> None:
    stream = live.client("chat").chat.completions.create(
        model=MODEL, messages=ASK, max_tokens=8, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text and chunks[-1].usage is not None and chunks[-1].usage.completion_tokens <= 8
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] in ("stop", "length")


def test_chat_is_deterministic_and_cached(live: Live) -> None:
    client = live.client("chat")
    a = client.chat.completions.create(model=MODEL, messages=ASK, max_tokens=8, temperature=0)
    b = client.chat.completions.create(model=MODEL, messages=ASK, max_tokens=8, temperature=0)
    assert a.choices[0].message.content == b.choices[0].message.content
    assert (b.model_extra or {}).get("cached") is True


def test_completions_and_max_completion_tokens(live: Live) -> None:
    client = live.client("chat")
    text = client.completions.create(model=MODEL, prompt="Count: one, two,", max_tokens=4)
    assert text.choices[0].text and text.usage.completion_tokens <= 4
    chat = client.chat.completions.create(model=MODEL, messages=ASK, max_completion_tokens=3, temperature=0.5)
    assert chat.usage.completion_tokens <= 3


def test_embeddings_float_and_base64(live: Live) -> None:
    client = live.client("chat")
    floats = client.embeddings.create(model=EMBEDDER, input=["warranty", "shipping"])
    assert len(floats.data) == 2 and len(floats.data[0].embedding) == 384
    raw = httpx.post(f"{live.url}/v1/embeddings", headers=live.headers("chat"),
                     json={"model": EMBEDDER, "input": "warranty", "encoding_format": "base64"})  # fmt: skip
    vec = np.frombuffer(base64.b64decode(raw.json()["data"][0]["embedding"]), dtype="<f4")
    assert np.allclose(vec, floats.data[0].embedding, atol=1e-6)


def test_rag_model_answers_with_citations(live: Live) -> None:
    question = [{"role": "user", "content": "How long is the warranty on the Acme Widget 3000?"}]
    reply = live.client("samples").chat.completions.create(model="rag/samples", messages=question)
    content = reply.choices[0].message.content
    assert "Sources:" in content
    citations = reply.model_extra["citations"]
    assert citations and all(c["source"].startswith("docs/") for c in citations)


def test_errors(live: Live) -> None:
    with pytest.raises(openai.AuthenticationError):
        live.client("chat", api_key="lk-nope").models.list()
    with pytest.raises(openai.PermissionDeniedError):
        live.client("samples").chat.completions.create(model=MODEL, messages=ASK)
    with pytest.raises(openai.NotFoundError) as e:
        live.client("chat").chat.completions.create(model="gpt-9", messages=ASK)
    assert e.value.body["code"] == "model_not_found"
    with pytest.raises(openai.BadRequestError) as e:
        live.client("chat").chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "x " * 10000}])
    assert e.value.status_code == 400 and "token" in e.value.message
    with pytest.raises(openai.UnprocessableEntityError):
        live.client("chat").chat.completions.create(model=MODEL, messages=ASK, temperature=9)


def test_client_disconnect_stops_generation(live: Live) -> None:
    """Closing a stream early ends the model call: the trace says abandoned, and the model is free at once."""
    long = [{"role": "user", "content": "Write a long story about a dragon."}]
    with httpx.stream("POST", f"{live.url}/v1/chat/completions", headers=live.headers("chat"), timeout=60,
                      json={"model": MODEL, "messages": long, "max_tokens": 400, "stream": True}) as r:  # fmt: skip
        for line in r.iter_lines():
            if line.startswith("data: {") and json.loads(line[6:])["choices"][0]["delta"].get("content"):
                break
    start = time.perf_counter()
    reply = live.client("chat").chat.completions.create(model=MODEL, messages=ASK, max_tokens=2, temperature=0.3)
    assert reply.choices[0].message.content is not None
    assert time.perf_counter() - start < 4  # 400 tokens would take ~5 s or more on this machine
    traces = httpx.get(f"{live.url}/v1/traces", headers=live.headers(), params={"limit": 5}).json()["data"]
    assert any(t["finish_reason"] == "abandoned" for t in traces)


def test_client_disconnect_stops_a_whole_reply(live: Live) -> None:
    """A non-streamed request whose client gives up is generated as a stream and stopped at the next token."""
    rid = f"gone-{time.time_ns()}"
    headers = {**live.headers("chat"), "X-Request-ID": rid}
    long = {"model": MODEL, "messages": [{"role": "user", "content": "Write a long story about a cat."}],
            "max_tokens": 400, "temperature": 0.8}  # fmt: skip
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{live.url}/v1/chat/completions", headers=headers, json=long, timeout=2.0)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        traces = httpx.get(f"{live.url}/v1/traces", headers=live.headers(), params={"limit": 10}).json()["data"]
        mine = [t for t in traces if t["attributes"].get("request_id") == rid]
        if mine:
            break
        time.sleep(0.5)
    assert mine and mine[0]["finish_reason"] == "abandoned"
    assert len(mine[0]["output"].split()) < 300
