"""What a misbehaving OpenAI-compatible server sends becomes llmkit's errors (``chat``, ``stream``, ``astream``)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import pytest

from llmkit.errors import BackendUnavailable, ModelError
from llmkit.models.openai_compat import OpenAIChatModel
from llmkit.server.background import serve_in_thread
from llmkit.types import ChatChunk, Message, ToolCall

pytest.importorskip("aiohttp", reason="the serve extra is not installed")
HI = [Message.user("hi")]


def canned(body: bytes, content_type: str = "text/event-stream") -> Any:
    """An ASGI upstream that answers every request with ``body``."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        while (await receive()).get("more_body"):
            pass
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-type", content_type.encode())]}
        )
        await send({"type": "http.response.body", "body": body})

    return app


def event(delta: dict[str, Any] | None = None, finish: str | None = None) -> bytes:
    choice = {"index": 0, "delta": delta or {}, "finish_reason": finish}
    return b"data: " + json.dumps({"choices": [choice]}).encode() + b"\n\n"


def sync_stream(m: OpenAIChatModel) -> list[ChatChunk]:
    return list(m.stream(HI))


def async_stream(m: OpenAIChatModel) -> list[ChatChunk]:
    async def run() -> list[ChatChunk]:
        try:
            return [c async for c in m.astream(HI)]
        finally:
            await m.aclose()

    return asyncio.run(run())


STREAMS = pytest.mark.parametrize("read", [sync_stream, async_stream], ids=["stream", "astream"])
Read = Callable[[OpenAIChatModel], list[ChatChunk]]


def reply(body: bytes, read: Read) -> list[ChatChunk]:
    with serve_in_thread(canned(body)) as url:
        return read(OpenAIChatModel("m", base_url=f"{url}/v1", api_key="k", max_retries=0))


@STREAMS
@pytest.mark.parametrize(
    "bad",
    [
        b"data: {not json\n\n",
        b"data: 5\n\n",
        b'data: {"choices": [5]}\n\n',
        b'data: {"choices": [{"delta": {"content": ["a"]}}]}\n\n',
        b'data: {"choices": [{"delta": {"tool_calls": [{"index": "0"}]}}]}\n\n',
    ],
    ids=["not-json", "not-an-object", "choice-not-an-object", "content-not-text", "index-not-a-number"],
)
def test_an_invalid_event_is_a_model_error(read: Read, bad: bytes) -> None:
    with pytest.raises(ModelError, match="sent an invalid event"):
        reply(event({"content": "a"}) + bad + event(finish="stop") + b"data: [DONE]\n\n", read)


@STREAMS
def test_a_streamed_tool_call_without_a_name_is_refused(read: Read) -> None:
    nameless = event({"tool_calls": [{"index": 0, "id": "c1", "function": {"arguments": "{}"}}]})
    with pytest.raises(ModelError, match="invalid tool call"):
        reply(nameless + event(finish="tool_calls") + b"data: [DONE]\n\n", read)


@STREAMS
def test_an_event_over_several_data_lines_is_one_event(read: Read) -> None:
    pretty = json.dumps({"choices": [{"index": 0, "delta": {"content": "X"}, "finish_reason": "stop"}]}, indent=1)
    split = "".join(f"data: {line}\n" for line in pretty.splitlines()).encode() + b"\n"
    calls = event({"tool_calls": [{"index": 0, "id": "c1", "function": {"name": "f", "arguments": "{}"}}]})
    chunks = reply(split + b": keep-alive\n\n" + calls + b"data: [DONE]\n\n", read)
    assert "".join(c.text for c in chunks) == "X"
    assert chunks[-1].finish_reason == "stop" and chunks[-1].tool_calls == (ToolCall("c1", "f", "{}"),)


@STREAMS
def test_a_stream_cut_off_before_its_end_is_backend_unavailable(read: Read) -> None:
    with pytest.raises(BackendUnavailable, match="the stream ended early"):
        reply(event({"content": "partial "}) + event({"content": "answ"}), read)


@STREAMS
@pytest.mark.parametrize("ending", [event(finish="length"), b"data: [DONE]\n\n"], ids=["finish-only", "done-only"])
def test_a_stream_with_a_finish_reason_or_done_is_complete(read: Read, ending: bytes) -> None:
    chunks = reply(event({"content": "whole"}) + ending, read)
    assert "".join(c.text for c in chunks) == "whole"
    assert chunks[-1].finish_reason == ("length" if b"length" in ending else "stop")


@pytest.mark.parametrize(
    "body",
    [
        b"[1, 2, 3]",
        b'{"choices": [{"message": {"tool_calls": [{"id": "c1", "function": {"arguments": "{}"}}]}}]}',
        b'{"choices": [{"message": {"tool_calls": [{"id": "c1"}]}}]}',
        b'{"choices": [{"message": {"content": [{"type": "text"}]}}]}',
        b'{"choices": {"0": {}}}',
    ],
    ids=["not-an-object", "nameless-tool-call", "tool-call-without-function", "content-not-text", "choices-not-a-list"],
)
def test_an_invalid_reply_is_a_model_error(body: bytes) -> None:
    with serve_in_thread(canned(body, "application/json")) as url, pytest.raises(ModelError, match="sent an invalid"):
        OpenAIChatModel("m", base_url=f"{url}/v1", api_key="k", max_retries=0).chat(HI)
