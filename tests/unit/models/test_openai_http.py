"""The urllib3 hop to OpenAI-compatible servers: retries, timeouts, proxies and line reading (real uvicorn)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import pytest

from llmkit.errors import BackendUnavailable, RateLimited
from llmkit.models.openai_compat import OpenAIChatModel
from llmkit.models.openai_http import iter_lines
from llmkit.server.background import free_port, serve_in_thread
from llmkit.types import Message

REPLY = {
    "model": "echo",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 1, "completion_tokens": 1},
}


def app(answer: Callable[[int, dict[str, Any]], Any], seen: list[dict[str, Any]]) -> Any:
    """An ASGI app: ``answer(n, scope)`` for the n-th request gives ``(status, body, headers)``, or a delay
    in seconds before the normal reply."""

    async def asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        seen.append(scope)
        while (await receive()).get("more_body"):
            pass
        status, body, headers = 200, REPLY, {}
        match answer(len(seen), scope):
            case float() as delay:
                await asyncio.sleep(delay)
            case (int() as status, body, headers):
                pass
        raw = json.dumps(body).encode()
        pairs = [(b"content-type", b"application/json"), *((k.encode(), v.encode()) for k, v in headers.items())]
        await send({"type": "http.response.start", "status": status, "headers": pairs})
        await send({"type": "http.response.body", "body": raw})

    return asgi


def chat(url: str, **kw: Any) -> str:
    model = OpenAIChatModel("echo", base_url=url, api_key="k", **kw)
    return model.chat([Message.user("hi")]).text


def test_server_errors_are_retried_then_reported() -> None:
    seen: list[dict[str, Any]] = []
    flaky = app(lambda n, _: (503, {"error": {"message": "warming up"}}, {}) if n == 1 else None, seen)
    with serve_in_thread(flaky) as url:
        assert chat(f"{url}/v1", max_retries=2) == "ok"
        assert len(seen) == 2
        seen.clear()
        with pytest.raises(BackendUnavailable, match="HTTP 503: warming up"):
            chat(f"{url}/v1", max_retries=0)


def test_rate_limits_wait_for_retry_after() -> None:
    seen: list[dict[str, Any]] = []
    busy = app(lambda n, _: (429, {"error": {"message": "slow down"}}, {"retry-after": "0"}) if n < 3 else None, seen)
    with serve_in_thread(busy) as url:
        with pytest.raises(RateLimited, match="slow down"):
            chat(f"{url}/v1", max_retries=1)
        assert len(seen) == 2
        assert chat(f"{url}/v1", max_retries=1) == "ok"


def test_a_server_that_does_not_answer_in_time_is_unavailable() -> None:
    with serve_in_thread(app(lambda n, _: 2.0, [])) as url, pytest.raises(BackendUnavailable, match="timed out"):
        chat(f"{url}/v1", max_retries=0, timeout_s=0.3)


def test_the_proxy_from_the_environment_is_used_unless_bypassed(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[dict[str, Any]] = []
    nobody = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there: only the proxy can answer
    with serve_in_thread(app(lambda n, _: None, seen)) as proxy:
        for name in ("no_proxy", "NO_PROXY", "HTTP_PROXY"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("http_proxy", proxy)
        assert chat(nobody, max_retries=0) == "ok"
        assert seen[-1]["path"].endswith("/v1/chat/completions")
        monkeypatch.setenv("no_proxy", "127.0.0.1")
        with pytest.raises(BackendUnavailable, match="cannot connect"):
            chat(nobody, max_retries=0)
        assert len(seen) == 1


class Chunks:
    """A response whose body arrives in the given pieces."""

    def __init__(self, pieces: list[bytes]) -> None:
        self.pieces, self.released = pieces, False

    def read1(self, amt: int) -> bytes:
        return self.pieces.pop(0) if self.pieces else b""

    def release_conn(self) -> None:
        self.released = True


def test_lines_are_split_across_reads_and_the_connection_released() -> None:
    body = Chunks([b'data: {"a"', b": 1}\r\n\r\ndata: caf\xc3", b"\xa9\n", b"tail"])
    assert list(iter_lines(body)) == ['data: {"a": 1}', "", "data: café", "tail"]
    assert body.released
