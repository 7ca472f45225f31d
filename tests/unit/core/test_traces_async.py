"""``TracedModel.astream``: a stream from an event loop is traced like ``stream``, abandoned ones too."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from llmkit.observe.traces import TracedModel, TraceStore, trace_attributes
from llmkit.testing import FakeChatModel
from llmkit.types import ChatChunk, GenerationParams, Message


class AsyncFake(FakeChatModel):
    """The fake model, also streaming from an event loop (as ``OpenAIChatModel.astream`` does)."""

    async def astream(
        self, messages: Sequence[Message], params: GenerationParams | None = None
    ) -> AsyncIterator[ChatChunk]:
        for chunk in self.stream(messages, params):
            await asyncio.sleep(0)
            yield chunk


def test_astream_is_traced_with_the_attributes_of_its_call(tmp_path: Path) -> None:
    store = TraceStore(tmp_path / "traces.db")
    model = TracedModel(AsyncFake(["one two three"]), store)

    async def run() -> list[ChatChunk]:
        with trace_attributes(kind="server.chat", request_id="r1"):
            stream = model.astream([Message.user("count")])
        return [c async for c in stream]  # read outside the block, as a server's stream is

    chunks = asyncio.run(run())
    (t,) = store.list()
    assert t.output == "one two three" and t.usage == chunks[-1].usage and t.ttft_ms is not None
    assert t.kind == "server.chat" and t.attributes["request_id"] == "r1" and t.finish_reason == "stop"


def test_an_abandoned_astream_is_traced(tmp_path: Path) -> None:
    store = TraceStore(tmp_path / "traces.db")
    model = TracedModel(AsyncFake(["a b c d"]), store)

    async def run() -> None:
        stream = model.astream([Message.user("x")])
        await anext(stream)
        await stream.aclose()

    asyncio.run(run())
    (t,) = store.list()
    assert t.finish_reason == "abandoned" and t.output.strip() == "a"


def test_a_cancelled_astream_is_traced_as_abandoned(tmp_path: Path) -> None:
    store = TraceStore(tmp_path / "traces.db")

    class Waiting(AsyncFake):
        async def astream(self, messages: Sequence[Message], params: GenerationParams | None = None) -> Any:
            yield ChatChunk("a")
            await asyncio.sleep(5)  # an upstream that goes quiet
            yield ChatChunk("b")

    model = TracedModel(Waiting(), store)

    async def run() -> None:
        stream = model.astream([Message.user("x")])
        assert (await anext(stream)).text == "a"
        task = asyncio.ensure_future(anext(stream))
        await asyncio.sleep(0.05)
        task.cancel()  # as collect_async cancels a read when the client has gone
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(run())
    (t,) = store.list()
    assert t.finish_reason == "abandoned" and t.error is None and t.output == "a"
