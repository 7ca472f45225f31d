"""``OpenAIChatModel.astream``: the same stream as ``stream``, from an event loop over aiohttp (a real server)."""

from __future__ import annotations

import asyncio
import socket
import time
from typing import Any

import pytest
from fake_openai_server import FakeOpenAIServer, sse, stalling_upstream

from llmkit.errors import BackendUnavailable, ContextLengthExceeded, ModelError, NotFound, RateLimited
from llmkit.models.openai_compat import OpenAIChatModel
from llmkit.server.background import serve_in_thread
from llmkit.types import ChatChunk, GenerationParams, Message, ToolCall, ToolSpec, Usage

pytest.importorskip("aiohttp", reason="the serve extra is not installed")
HELLO = [Message.system("be brief"), Message.user("hello there world")]
WEATHER = ToolSpec("get_weather", "Weather for a city", {"type": "object", "properties": {"q": {"type": "string"}}})


def model(server: FakeOpenAIServer | str, name: str = "tiny", **kw: Any) -> OpenAIChatModel:
    url = server if isinstance(server, str) else server.base_url
    return OpenAIChatModel(name, base_url=url, api_key="sk-test", **{"max_retries": 0, **kw})


def collect(m: OpenAIChatModel, params: GenerationParams | None = None, times: int = 1) -> list[ChatChunk]:
    async def run() -> list[ChatChunk]:
        try:
            for _ in range(times):
                chunks = [c async for c in m.astream(HELLO, params)]
            return chunks
        finally:
            await m.aclose()

    return asyncio.run(run())


def test_astream_gives_what_stream_gives(openai_server: FakeOpenAIServer) -> None:
    params = GenerationParams(max_tokens=5, temperature=0.3, stop=("x",))
    chunks = collect(model(openai_server), params)
    sync_body = openai_server.requests[-1]
    assert chunks == list(model(openai_server).stream(HELLO, params))
    assert "".join(c.text for c in chunks) == "echo: hello there world"
    assert chunks[-1].finish_reason == "stop" and chunks[-1].usage == Usage(5, 4)
    assert openai_server.requests[-1] == sync_body  # the same JSON on the wire
    assert openai_server.auth_headers[-1] == "Bearer sk-test"


def test_tool_calls_and_missing_usage(openai_server: FakeOpenAIServer) -> None:
    last = collect(model(openai_server, "tools"), GenerationParams(tools=(WEATHER,)))[-1]
    assert last.finish_reason == "tool_calls"
    assert last.tool_calls == (ToolCall("call_1", "get_weather", '{"q": "hello there world"}'),)
    assert collect(model(openai_server, "no-usage"))[-1].usage == Usage(None, None)


def test_errors_map_onto_llmkit_errors(openai_server: FakeOpenAIServer) -> None:
    with pytest.raises(ContextLengthExceeded) as ctx:
        collect(model(openai_server, "ctx-small"))
    assert (ctx.value.needed, ctx.value.available) == (5000, 2048)
    with pytest.raises(RateLimited) as limited:
        collect(model(openai_server, "busy"))
    assert limited.value.retry_after == 7.0
    with pytest.raises(NotFound):
        collect(model(openai_server, "missing"))
    with pytest.raises(BackendUnavailable, match="HTTP 500"):
        collect(model(openai_server, "broken"))
    with pytest.raises(ModelError, match="ran out of memory"):
        collect(model(openai_server, "stream-error"))


def test_connection_refused_is_backend_unavailable() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t0 = time.perf_counter()
    with pytest.raises(BackendUnavailable, match="cannot connect"):
        collect(model(f"http://127.0.0.1:{port}/v1", timeout_s=5))
    assert time.perf_counter() - t0 < 5


def test_an_abandoned_astream_closes_the_connection(openai_server: FakeOpenAIServer) -> None:
    m = model(openai_server, "slow")

    async def run() -> None:
        stream = m.astream(HELLO)
        first = [(await anext(stream)).text for _ in range(3)]
        assert first[0]  # the role-only event carries no text and is skipped
        await stream.aclose()
        await m.aclose()

    asyncio.run(run())
    assert openai_server.disconnected.wait(5), "server kept streaming after the consumer stopped"
    assert openai_server.words_sent < 200


EVENTS = [{"choices": [{"index": 0, "delta": {"content": "ok"}, "finish_reason": "stop"}]}]
STREAM = sse(EVENTS)


def flaky(ports: list[int], failures: int) -> Any:
    """An ASGI upstream that answers 503 (``Retry-After: 0``) ``failures`` times, then streams ``STREAM``;
    it records each request's client port (one per connection)."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        ports.append(scope["client"][1])
        while (await receive()).get("more_body"):
            pass
        failing = len(ports) <= failures
        body = b'{"error": {"message": "overloaded"}}' if failing else STREAM
        headers = [(b"content-length", str(len(body)).encode()), (b"retry-after", b"0")]
        await send({"type": "http.response.start", "status": 503 if failing else 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app


def test_retries_then_keeps_one_connection() -> None:
    ports: list[int] = []
    with serve_in_thread(flaky(ports, failures=2)) as url:
        chunks = collect(model(f"{url}/v1", max_retries=2), times=3)
    assert "".join(c.text for c in chunks) == "ok"
    assert len(ports) == 5 and len(set(ports)) == 1, f"a new connection per request: {ports}"


def test_retries_give_up_with_the_last_status() -> None:
    ports: list[int] = []
    with serve_in_thread(flaky(ports, failures=9)) as url, pytest.raises(BackendUnavailable, match="overloaded"):
        collect(model(f"{url}/v1", max_retries=1))
    assert len(ports) == 2


def test_a_stream_held_open_after_done_costs_at_most_a_second() -> None:
    with serve_in_thread(stalling_upstream(STREAM, 3)) as url:
        t0 = time.perf_counter()
        assert "".join(c.text for c in collect(model(f"{url}/v1"), times=2)) == "ok"
        assert time.perf_counter() - t0 < 2 * 2.5


def test_a_stream_that_stalls_mid_way_times_out_as_backend_unavailable() -> None:
    with (
        serve_in_thread(stalling_upstream(STREAM[:40], 1.5)) as url,
        pytest.raises(BackendUnavailable, match="timed out"),
    ):
        collect(model(f"{url}/v1", timeout_s=0.3))
