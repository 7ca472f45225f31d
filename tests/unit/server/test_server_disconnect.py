"""A client that goes away stops its work: whole rag/ and /v1/query answers, and requests still in the queue."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest

from llmkit.config import load_settings
from llmkit.testing import FakeChatModel, HashEmbedder
from llmkit.types import ChatChunk, GenerationParams, Message

MODEL = "smollm2-135m-instruct"
WORDS = 40
LONG = " ".join(f"w{i}" for i in range(WORDS)) + " [1]."
QUESTION = "What is the warranty?"


class Counting(FakeChatModel):
    """A slow fake that counts the chunks it has given."""

    given: int = 0

    def stream(self, messages: Sequence[Message], params: GenerationParams | None = None) -> Iterator[ChatChunk]:
        for chunk in super().stream(messages, params):
            self.given += 1
            yield chunk


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Any, Counting]]:
    """``(url, app, model)``: the app on a loopback uvicorn, with collection ``docs`` ingested."""
    from llmkit.server import create_app
    from llmkit.server.background import serve_in_thread

    model = Counting([LONG], delay_s=2.0)
    server = {"auth": "none", "log_json": False, "cache": False, "queue_timeout_s": 30}
    settings = load_settings(tmp_path, server=server, rag={"min_relevance": 0.0})
    with ExitStack() as stack:
        url = stack.enter_context(serve_in_thread(create_app(settings, chat_model=model, embedder=HashEmbedder())))
        app = stack.enter_context(httpx.Client(base_url=url, timeout=30))
        app.post("/v1/collections", json={"name": "docs"})
        files = {"files": ("w.md", b"# Warranty\n\nThe warranty lasts two years.", "text/markdown")}
        assert app.post("/v1/collections/docs/documents", files=files).status_code < 300
        yield url, app, model


def leave_after(url: str, path: str, body: dict[str, Any], seconds: float) -> None:
    """Send a request, then drop the connection after ``seconds`` without reading the reply."""
    host, port = url.removeprefix("http://").split(":")
    raw = json.dumps(body).encode()
    with socket.create_connection((host, int(port))) as s:
        head = (
            f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {len(raw)}\r\n\r\n"
        )
        s.sendall(head.encode() + raw)
        time.sleep(seconds)


def idle(url: str, timeout_s: float = 10.0) -> None:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end and 'llmkit_running_requests{model="smollm2-135m-instruct"} 0.0' not in (
        httpx.get(url + "/metrics").text
    ):
        time.sleep(0.05)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/chat/completions", {"model": "rag/docs", "messages": [{"role": "user", "content": QUESTION}]}),
        ("/v1/query", {"query": QUESTION, "collection": "docs"}),
    ],
)
def test_a_whole_answer_stops_when_its_client_leaves(served: Any, path: str, body: dict[str, Any]) -> None:
    url, _, model = served
    leave_after(url, path, body, 0.5)
    time.sleep(1.0)  # the gone client is noticed within a poll (0.2 s); the whole answer would take 2 s
    idle(url)
    assert 0 < model.given < WORDS, f"the model gave {model.given} chunks after its client left"


def test_a_request_whose_client_left_in_the_queue_never_runs(served: Any) -> None:
    url, client, model = served
    ask = {"model": MODEL, "messages": [{"role": "user", "content": "A"}]}
    first = threading.Thread(target=client.post, args=("/v1/chat/completions",), kwargs={"json": ask})
    first.start()
    time.sleep(0.3)
    for stream in (False, True):  # both wait behind the first, and leave
        ask = {"model": MODEL, "messages": [{"role": "user", "content": "B"}], "stream": stream}
        leave_after(url, "/v1/chat/completions", ask, 0.2)
    first.join()
    idle(url)
    assert [m[0][-1].content for m in model.calls] == ["A"]
