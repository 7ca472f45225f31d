"""``rag/<collection>`` models: each chat turn retrieves from the collection and answers with citations.

The reply's text ends with a "Sources:" block naming the passages it cites, and the body carries the
same citations as a ``citations`` list (in the last chunk when streamed).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from llmkit.errors import InputError
from llmkit.observe.traces import trace_attributes
from llmkit.server import convert
from llmkit.server.errors import ApiError
from llmkit.server.sse import sse_response
from llmkit.server.state import RAG_PREFIX
from llmkit.server.telemetry import REQUEST_ID, tracer
from llmkit.types import Answer, GenerationParams, Message, Usage

if TYPE_CHECKING:
    from llmkit.server.deps import Caller
    from llmkit.server.schemas import ChatRequest
    from llmkit.server.state import ServerState


def split_turns(messages: list[Message]) -> tuple[str, tuple[Message, ...]]:
    """The question (the last user turn) and the earlier user/assistant turns as history.

    >>> q, h = split_turns([Message.user("hi"), Message.assistant("hello"), Message.user("warranty?")])
    >>> q, [m.role for m in h]
    ('warranty?', ['user', 'assistant'])
    """
    if not messages or messages[-1].role != "user" or not messages[-1].content.strip():
        raise InputError("rag/ and agent/ models answer the last message, which must be a user message with text")
    history = tuple(m for m in messages[:-1] if m.role in ("user", "assistant") and m.content)
    return messages[-1].content, history


def _answer_items(
    state: ServerState, collection: str, question: str, history: tuple[Message, ...], params: GenerationParams
) -> Iterator[Any]:
    """On the model's worker: retrieve, then yield the answer's text pieces, then the whole ``Answer``."""
    with tracer().start_as_current_span("retrieve"):
        stream = state.kit.ask_stream(question, collection=collection, history=history, params=params)
    attributes = trace_attributes(kind="server.rag", request_id=REQUEST_ID.get(), collection=collection)
    with tracer().start_as_current_span("generate"), attributes:
        yield from stream
    yield stream.answer


async def rag_completion(
    state: ServerState, caller: Caller, body: ChatRequest, gone: Callable[[], Awaitable[bool]] | None = None
) -> Any:
    collection = body.model[len(RAG_PREFIX) :]
    caller.require("query", collection)
    params = rag_params(state, body)
    question, history = split_turns([convert.to_message(m) for m in body.messages])
    served = state.chat
    if not body.stream:
        async with served.gate.slot(gone):
            found, stopped = await served.worker.collect(
                lambda: _answer_items(state, collection, question, history, params), gone
            )
        if stopped:  # the answer's text so far was generated: charge it
            state.charge_partial(caller.bucket, found)
            raise ApiError(499, "the client closed the request", code="client_closed")
        return _body(state, caller, body.model, found[-1])
    stack = AsyncExitStack()
    await stack.enter_async_context(served.gate.slot(gone))
    items = served.worker.iterate(lambda: _answer_items(state, collection, question, history, params))
    spend = _Spend(state, caller.bucket)

    async def close() -> None:  # however the stream ends: one cut short is charged what it sent
        try:
            await items.aclose()
            await stack.aclose()
        finally:
            spend.rest()

    try:
        first = await anext(items)  # retrieval errors (no such collection ...) get a proper status
    except BaseException:
        await close()
        raise
    usage = bool(body.stream_options and body.stream_options.include_usage)
    return sse_response(_events(state, spend, body.model, first, items, usage), close, state.metrics)


def rag_params(state: ServerState, body: ChatRequest) -> GenerationParams:
    """The request's generation parameters (``max_tokens``, ``stop``, ``temperature`` ...), as chat takes them;
    400 for what a RAG answer cannot honour (``n`` over 1, tools, a response format)."""
    if body.n != 1:
        raise InputError("rag/ models give one answer: n must be 1", hint="drop n")
    if body.tools or body.tool_choice not in (None, "none", "auto"):
        raise InputError("rag/ models do not call tools", hint="drop tools and tool_choice")
    if body.response_format is not None and body.response_format.type != "text":
        raise InputError("rag/ models answer in text with citations", hint="drop response_format")
    return convert.to_params(body, state.settings.model, state.settings.server.max_request_tokens)


def _body(state: ServerState, caller: Caller, model: str, answer: Answer) -> dict[str, Any]:
    cited = answer.cited or answer.citations
    text = answer.text + convert.sources_text(cited)
    cost = _account(state, caller, answer)
    choice = {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
    citations = [convert.citation_dict(c) for c in cited]
    return convert.chat_body(convert.completion_id(), model, [choice], answer.usage, cost, citations=citations,
                             trace_id=answer.trace_id)  # fmt: skip


def _account(state: ServerState, caller: Caller, answer: Answer) -> float | None:
    return state.charge(caller.bucket, answer.usage)


@dataclass
class _Spend:
    """A streamed answer's tokens, charged once: its usage when it ends, else the text it sent (``rest``)."""

    state: ServerState
    bucket: str
    sent: list[str] = field(default_factory=list)
    charged: bool = False

    def full(self, usage: Usage) -> float | None:
        self.charged = True
        return self.state.charge(self.bucket, usage)

    def rest(self) -> None:
        if not self.charged:
            self.charged = True
            self.state.charge_partial(self.bucket, self.sent)


async def _events(
    state: ServerState, spend: _Spend, model: str, first: Any, rest: AsyncIterator[Any], usage_on: bool
) -> AsyncIterator[dict[str, Any]]:
    cid, created, start = convert.completion_id(), int(time.time()), time.perf_counter()
    extra: dict[str, Any] = {"usage": None} if usage_on else {}
    delta: dict[str, Any] = {"role": "assistant"}
    item, answer = first, None
    while True:
        if isinstance(item, Answer):
            answer = item
            break
        if item:
            if "role" in delta:
                state.metrics.ttft.labels(state.chat.id).observe(time.perf_counter() - start)
            spend.sent.append(item)
            yield convert.chunk_body(cid, model, created, [_choice({**delta, "content": item})], **extra)
            delta = {}
        item = await anext(rest)
    cited = answer.cited or answer.citations
    tail = {"content": convert.sources_text(cited)} if cited else {}
    citations = [convert.citation_dict(c) for c in cited]
    yield convert.chunk_body(cid, model, created, [_choice({**delta, **tail}, "stop")], citations=citations, **extra)
    cost = spend.full(answer.usage)
    if usage_on:
        yield convert.chunk_body(cid, model, created, [], usage=convert.usage_dict(answer.usage), cost_usd=cost)


def _choice(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}
