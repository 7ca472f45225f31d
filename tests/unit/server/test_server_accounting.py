"""What a request is charged (tokens per minute, token and error metrics): abandoned, failed, or with ``n`` > 1."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest

from llmkit.config import load_settings
from llmkit.errors import ModelError
from llmkit.testing import FakeChatModel, HashEmbedder
from llmkit.types import ChatChunk, GenerationParams, Message

MODEL = "smollm2-135m-instruct"
LONG = " ".join(f"w{i}" for i in range(40)) + "."
ASK = [{"role": "user", "content": "Tell me a long story."}]


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., tuple[str, Any]]]:
    """``serve(model, **server)``: ``(url, app)`` of the app on ``model``, on a loopback uvicorn."""
    from contextlib import ExitStack

    from llmkit.server import create_app
    from llmkit.server.background import serve_in_thread

    stack = ExitStack()

    def make(model: Any, **server: Any) -> tuple[str, Any]:
        settings = load_settings(tmp_path, server={"auth": "none", "log_json": False, "cache": False, **server})
        app = create_app(settings, chat_model=model, embedder=HashEmbedder())
        return stack.enter_context(serve_in_thread(app)), app

    yield make
    stack.close()


def charged(app: Any) -> float:
    """The tokens counted in ``llmkit_tokens_total``, in and out."""
    registry = app.state.llmkit.metrics.registry
    return sum(
        registry.get_sample_value("llmkit_tokens_total", {"model": MODEL, "direction": d}) or 0 for d in ("in", "out")
    )


def wait_for(check: Callable[[], bool], timeout_s: float = 5.0) -> bool:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if check():
            return True
        time.sleep(0.05)
    return check()


def leave_after(url: str, path: str, body: bytes, seconds: float) -> None:
    """Send a request, then drop the connection after ``seconds`` without reading the reply."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as s:
        head = (
            f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        s.sendall(head.encode() + body)
        time.sleep(seconds)


def test_an_abandoned_stream_is_charged_what_it_used(serve: Callable[..., Any]) -> None:
    url, app = serve(FakeChatModel([LONG], delay_s=2.0), tokens_per_minute=15)
    body = {"model": MODEL, "messages": ASK, "stream": True}
    with httpx.Client(timeout=10) as c, c.stream("POST", url + "/v1/chat/completions", json=body) as r:
        for n, _ in enumerate(x for x in r.iter_lines() if '"content"' in x):
            if n == 5:
                break  # the client goes away mid-stream
    assert wait_for(lambda: app.state.llmkit.chat.gate.running == 0)
    assert wait_for(lambda: charged(app) > 0), "the abandoned stream was not charged"
    prompt = FakeChatModel().count_message_tokens([Message.user(ASK[0]["content"])])
    assert prompt + 5 <= charged(app) < prompt + 41
    r = httpx.post(url + "/v1/chat/completions", json={**body, "stream": False})
    assert r.status_code == 429 and "tokens per minute" in r.json()["error"]["message"]


def test_an_abandoned_whole_reply_is_charged_what_it_used(serve: Callable[..., Any]) -> None:
    url, app = serve(FakeChatModel([LONG], delay_s=2.0))
    leave_after(
        url, "/v1/chat/completions", httpx.Request("POST", "/", json={"model": MODEL, "messages": ASK}).read(), 0.5
    )
    assert wait_for(lambda: app.state.llmkit.chat.gate.running == 0)
    assert wait_for(lambda: charged(app) > 0), "the abandoned reply was not charged"


class FailsMidway(FakeChatModel):
    def stream(self, messages: Sequence[Message], params: GenerationParams | None = None) -> Iterator[ChatChunk]:
        yield ChatChunk("Hello ")
        raise ModelError("backend went away")


def test_an_error_after_the_stream_started_is_counted(serve: Callable[..., Any]) -> None:
    url, _ = serve(FailsMidway())
    text = httpx.post(url + "/v1/chat/completions", json={"model": MODEL, "messages": ASK, "stream": True}).text
    assert '"code":"model_error"' in text and text.endswith("data: [DONE]\n\n")
    metrics = httpx.get(url + "/metrics").text
    assert 'llmkit_errors_total{code="model_error",type="server_error"} 1.0' in metrics


def test_n_choices_bill_the_prompt_once(serve: Callable[..., Any]) -> None:
    url, _ = serve(FakeChatModel(["Four words of reply."]))
    one = httpx.post(url + "/v1/chat/completions", json={"model": MODEL, "messages": ASK}).json()["usage"]
    three = httpx.post(url + "/v1/chat/completions", json={"model": MODEL, "messages": ASK, "n": 3}).json()["usage"]
    assert three["prompt_tokens"] == one["prompt_tokens"]
    assert three["completion_tokens"] == 3 * one["completion_tokens"]


def test_the_token_budget_counts_every_choice(serve: Callable[..., Any]) -> None:
    url, _ = serve(FakeChatModel(["ok"]), max_request_tokens=100)
    body = {"model": MODEL, "messages": ASK, "max_tokens": 40}
    assert httpx.post(url + "/v1/chat/completions", json=body).status_code == 200
    r = httpx.post(url + "/v1/chat/completions", json={**body, "n": 3})
    assert r.status_code == 400 and r.json()["error"]["code"] == "request_too_many_tokens"


def test_an_abandoned_rag_stream_is_charged_what_it_sent(serve: Callable[..., Any], tmp_path: Path) -> None:
    url, app = serve(FakeChatModel([LONG], delay_s=2.0))
    (tmp_path / "story.md").write_text("Tell me a long story: this is a long story about a story.", encoding="utf-8")
    app.state.llmkit.kit.ingest(tmp_path / "story.md")
    body = {"model": "rag/default", "messages": ASK, "stream": True}
    with httpx.Client(timeout=10) as c, c.stream("POST", url + "/v1/chat/completions", json=body) as r:
        for n, _ in enumerate(x for x in r.iter_lines() if '"content"' in x):
            if n == 5:
                break  # the client goes away mid-answer
    assert wait_for(lambda: app.state.llmkit.chat.gate.running == 0)
    assert wait_for(lambda: charged(app) >= 5), "the abandoned rag/ stream was not charged"
