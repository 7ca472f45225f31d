"""llmkit as a gateway: ``OpenAIChatModel`` in front of a real OpenAI-compatible upstream on loopback, served
without a thread hop (``astream`` over aiohttp), driven by the official ``openai`` client."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from llmkit.config import load_settings
from llmkit.server.worker import collect_async
from llmkit.testing import FakeChatModel, HashEmbedder

pytest.importorskip("aiohttp", reason="the serve extra is not installed")
openai = pytest.importorskip("openai", reason="the openai client is not installed")
ASK = [{"role": "user", "content": "Any discounts?"}]


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[Callable[..., Any]]:
    """``gateway(reply, **settings)``: ``(openai client, app)`` of a gateway whose upstream (llmkit's own server on
    a scripted model, on loopback) answers ``reply``."""
    from llmkit.models.openai_compat import OpenAIChatModel
    from llmkit.server import create_app
    from llmkit.server.background import serve_in_thread

    stack = ExitStack()

    def make(reply: str = "Sure, SPRING24 gets you 10% off.", upstream: str | None = None, **settings: Any) -> Any:
        up, gw = tmp_path / "upstream", tmp_path / "gateway"
        up.mkdir(exist_ok=True), gw.mkdir(exist_ok=True)
        scripted = create_app(load_settings(up, server={"auth": "none", "log_json": False}),
                              chat_model=FakeChatModel([reply]), embedder=HashEmbedder())  # fmt: skip
        upstream = upstream or stack.enter_context(serve_in_thread(scripted)) + "/v1"
        remote = OpenAIChatModel("smollm2-135m-instruct", base_url=upstream, api_key="k", max_retries=0, timeout_s=5)
        base = {"server": {"auth": "none", "log_json": False, "cache": False}}
        app = create_app(load_settings(gw, **(base | settings)), chat_model=remote, embedder=HashEmbedder())
        url = stack.enter_context(serve_in_thread(app))
        return openai.OpenAI(base_url=f"{url}/v1", api_key="none", max_retries=0), app

    yield make
    stack.close()


def test_whole_and_streamed_replies_pass_through_and_are_traced(gateway: Callable[..., Any]) -> None:
    client, app = gateway()
    assert app.state.llmkit.chat.streams_async
    model = app.state.llmkit.chat.id
    raw = client.chat.completions.with_raw_response.create(model=model, messages=ASK)
    reply = raw.parse()
    assert reply.choices[0].message.content == "Sure, SPRING24 gets you 10% off." and reply.usage.total_tokens
    stream = client.chat.completions.create(
        model=model, messages=ASK, stream=True, stream_options={"include_usage": True}
    )
    events = list(stream)
    assert "".join(e.choices[0].delta.content or "" for e in events if e.choices) == reply.choices[0].message.content
    assert events[-1].usage.completion_tokens == reply.usage.completion_tokens
    assert client.completions.create(model=model, prompt="Hi").choices[0].text == reply.choices[0].message.content
    assert not app.state.llmkit.chat.worker._pool._threads  # no thread was needed: all of it ran on the loop
    traces = app.state.llmkit.kit.trace_store.list(limit=10)
    assert len(traces) == 3 and {t.kind for t in traces} == {"server.chat", "server.text"}
    assert raw.headers["x-request-id"] in {t.attributes["request_id"] for t in traces}


def test_an_upstream_that_is_down_is_a_503(gateway: Callable[..., Any]) -> None:
    from llmkit.server.background import free_port

    client, app = gateway(upstream=f"http://127.0.0.1:{free_port()}/v1")
    with pytest.raises(openai.APIStatusError) as info:
        client.chat.completions.create(model=app.state.llmkit.chat.id, messages=ASK)
    assert info.value.status_code == 503 and info.value.body["code"] == "backend_unavailable"


def test_output_guards_still_screen_a_remote_stream(gateway: Callable[..., Any]) -> None:
    client, app = gateway(guards={"output": ["denylist"], "deny_keywords": ["SPRING24"]})
    events = list(client.chat.completions.create(model=app.state.llmkit.chat.id, messages=ASK, stream=True))
    assert "".join(e.choices[0].delta.content or "" for e in events if e.choices) == ""
    assert events[-1].choices[0].finish_reason == "content_filter"


async def _numbers(closed: list[bool], delay_s: float) -> AsyncIterator[int]:
    try:
        for i in range(50):
            await asyncio.sleep(delay_s)
            yield i
    finally:
        closed.append(True)


def test_collect_async_stops_when_the_client_goes_away() -> None:
    closed: list[bool] = []
    asks = [0]

    async def gone() -> bool:
        asks[0] += 1
        return asks[0] >= 2

    items, stopped = asyncio.run(collect_async(_numbers(closed, 0.01), gone, poll_s=0.05))
    assert stopped and 0 < len(items) < 50 and closed == [True]
    items, stopped = asyncio.run(collect_async(_numbers(closed, 0), lambda: asyncio.sleep(0, False), poll_s=0.05))
    assert not stopped and items == list(range(50)) and closed == [True, True]


def test_collect_async_passes_on_a_cancellation_from_outside() -> None:
    closed: list[bool] = []

    async def run() -> None:
        task = asyncio.ensure_future(collect_async(_numbers(closed, 0.01), None))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(run())
    assert closed == [True]
