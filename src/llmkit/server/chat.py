"""Chat and text completions: admission, caching, generation on the model's worker, streaming, accounting.

Calls into the model run on its ``Worker`` (never on the event loop) while holding a slot of its
``Gate``; a stream holds its slot until it ends, and a client that goes away closes the model's
iterator, which stops generation.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any

from llmkit.errors import InputError
from llmkit.guards.stream import screen_chunks
from llmkit.observe.traces import trace_attributes
from llmkit.server import agent, convert, guarded, rag
from llmkit.server.cache import is_deterministic, request_key
from llmkit.server.deps import Caller
from llmkit.server.errors import ApiError
from llmkit.server.schemas import ChatRequest, CompletionRequest
from llmkit.server.sse import sse_response
from llmkit.server.state import RAG_PREFIX, ServerState
from llmkit.server.telemetry import REQUEST_ID, tracer
from llmkit.server.worker import collect_async
from llmkit.types import ChatChunk, ChatResponse, GenerationParams, Message, Usage


@dataclass
class Tally:
    """The tokens a call has used, choice by choice: what a finished choice reports, else the prompt and a token
    for each chunk the model gave (what an abandoned or failed call is charged). The prompt counts once for all
    ``n`` choices, as OpenAI bills it.

    >>> t = Tally(prompt=10)
    >>> t.see(0, ChatChunk("a")); t.see(0, ChatChunk("b")); t.usage()
    Usage(prompt_tokens=10, completion_tokens=2)
    >>> t.see(1, ChatChunk("", "stop", Usage(10, 5))); t.usage()
    Usage(prompt_tokens=10, completion_tokens=7)
    """

    prompt: int | None = None
    pieces: dict[int, int] = field(default_factory=dict)
    reported: dict[int, Usage] = field(default_factory=dict)

    def see(self, index: int, chunk: ChatChunk) -> None:
        if chunk.usage is not None:
            self.reported[index] = chunk.usage
        elif chunk.text or chunk.tool_calls:
            self.pieces[index] = self.pieces.get(index, 0) + 1

    def usage(self) -> Usage:
        started = sorted(self.pieces.keys() | self.reported.keys())
        if not started:
            return Usage(0, 0)
        prompt = next(iter(self.reported.values())).prompt_tokens if self.reported else self.prompt
        completion: int | None = 0
        for i in started:
            n = self.reported[i].completion_tokens if i in self.reported else self.pieces[i]
            completion = None if completion is None or n is None else completion + n
        return Usage(prompt, completion)


@dataclass
class Call:
    """One request, resolved: who asked, what to send, and how to shape the reply."""

    state: ServerState
    caller: Caller
    messages: list[Message]
    params: GenerationParams
    n: int
    kind: str  # "chat" or "text"
    #: True once the client has gone away (``Request.is_disconnected``): a whole reply then stops early
    gone: Callable[[], Awaitable[bool]] | None = None
    #: What the input guards hid (placeholder -> value); a stream's text is screened and restored with them
    placeholders: dict[str, str] = field(default_factory=dict)
    #: The tokens used so far, charged once (``_account``) however the call ends
    tally: Tally = field(default_factory=Tally)
    charged: bool = False

    @property
    def model_id(self) -> str:
        return self.state.chat.id


async def chat_completion(
    state: ServerState, caller: Caller, body: ChatRequest, gone: Callable[[], Awaitable[bool]] | None = None
) -> Any:
    if body.model.startswith(RAG_PREFIX):
        return await rag.rag_completion(state, caller, body, gone)
    if body.model.startswith(agent.AGENT_PREFIX):
        return await agent.agent_completion(state, caller, body, gone)
    _check_model(state, body.model)
    caller.require("chat")
    messages = [convert.to_message(m) for m in body.messages]
    messages, verdict = await guarded.screen_input(state.kit.guards, messages)
    usage_on = bool(body.stream_options and body.stream_options.include_usage)
    if verdict is not None and verdict.blocked:
        message = state.kit.guards.blocked_message
        return guarded.blocked_reply(body.model, message, verdict, body.stream, include_usage=usage_on)
    params = convert.to_params(body, state.settings.model, state.settings.server.max_request_tokens)
    call = Call(state, caller, messages, params, body.n, "chat", gone, dict(verdict.placeholders) if verdict else {})
    if body.stream:  # the output guards check a stream sentence by sentence (guards.stream)
        return await _stream(call, usage_on)
    reply = await _cached(call, body)
    return await guarded.screen_output(state.kit.guards, reply, verdict)


async def text_completion(
    state: ServerState, caller: Caller, body: CompletionRequest, gone: Callable[[], Awaitable[bool]] | None = None
) -> Any:
    _check_model(state, body.model)
    caller.require("chat")
    if isinstance(body.prompt, list) and len(body.prompt) != 1:
        raise InputError("give one prompt (a string, or a list of one string)")
    prompt = body.prompt if isinstance(body.prompt, str) else body.prompt[0]
    if not prompt.strip():
        raise InputError("prompt is empty")
    # the prompt goes through the guards as a user turn, and the reply as chat's does
    messages, verdict = await guarded.screen_input(state.kit.guards, [Message.user(prompt)])
    usage_on = bool(body.stream_options and body.stream_options.include_usage)
    if verdict is not None and verdict.blocked:
        message = state.kit.guards.blocked_message
        return guarded.blocked_reply(body.model, message, verdict, body.stream, include_usage=usage_on, text=True)
    params = convert.to_params(body, state.settings.model, state.settings.server.max_request_tokens)
    call = Call(state, caller, messages, params, body.n, "text", gone, dict(verdict.placeholders) if verdict else {})
    if body.stream:
        return await _stream(call, usage_on)
    reply = await _cached(call, body)
    return await guarded.screen_output(state.kit.guards, reply, verdict)


def _check_model(state: ServerState, model: str) -> None:
    if model != state.chat.id:
        raise ApiError(
            404, f"no model {model!r}; GET /v1/models lists the served models",
            type="not_found_error", code="model_not_found", param="model",
        )  # fmt: skip


# ----------------------------------------------------------------------------- whole replies


async def _cached(call: Call, body: ChatRequest | CompletionRequest) -> dict[str, Any]:
    state = call.state
    if not is_deterministic(call.params.temperature, call.params.seed) or state.cache is None:
        return await _complete(call)
    request = body.model_dump(mode="json", exclude={"stream", "stream_options"})
    key = request_key({"request": request, "params": call.params.to_dict(), "model": call.model_id})
    hit = state.cache.get(key)
    state.metrics.cache.labels("exact", "hit" if hit else "miss").inc()
    if hit is not None:
        return {**hit, "id": convert.completion_id(), "created": int(time.time()), "cached": True}
    if state.semantic is not None and call.kind == "chat" and call.messages[-1].role == "user":
        return await _semantic(call, key, request)
    body = await _complete(call)
    state.cache.put(key, body)
    return body


async def _semantic(call: Call, key: str, request: dict[str, Any]) -> dict[str, Any]:
    state = call.state
    assert state.semantic is not None and state.cache is not None
    scope = request_key({**request, "messages": request["messages"][:-1], "params": call.params.to_dict()})
    async with state.embed_gate.slot():
        hit, vector = await state.embed_worker.run(state.semantic.get, scope, call.messages[-1].content)
    state.metrics.cache.labels("semantic", "hit" if hit else "miss").inc()
    if hit is not None:
        return {**hit, "id": convert.completion_id(), "created": int(time.time()), "cached": True}
    body = await _complete(call)
    state.cache.put(key, body)
    state.semantic.put(scope, vector, body)
    return body


async def _complete(call: Call) -> dict[str, Any]:
    async with call.state.chat.gate.slot(call.gone):
        replies = await _collect(call)
    usage, cost = call.tally.usage(), _account(call)
    if call.kind == "text":
        choices = [{"index": i, "text": r.text, "finish_reason": r.finish_reason, "logprobs": None}
                   for i, r in enumerate(replies)]  # fmt: skip
        body = convert.chat_body(convert.completion_id("cmpl"), call.model_id, choices, usage, cost)
        return {**body, "object": "text_completion"}
    choices = [
        {"index": i, "message": convert.assistant_message(r.text, r.tool_calls), "finish_reason": _finish(r)}
        for i, r in enumerate(replies)
    ]
    return convert.chat_body(convert.completion_id(), call.model_id, choices, usage, cost)


def _finish(reply: ChatResponse | ChatChunk) -> str | None:
    return "tool_calls" if reply.tool_calls else reply.finish_reason


async def _collect(call: Call) -> list[ChatResponse]:
    """Whole replies, generated as streams on the worker in one hop, so that a client that goes away stops
    its generation (``Worker.collect`` polls ``call.gone``). A call that fails or is abandoned is charged for
    what it used."""
    served = call.state.chat
    try:
        if served.streams_async:
            items, stopped = await collect_async(_achunks(call), call.gone)
        else:
            items, stopped = await served.worker.collect(lambda: _chunks(call), call.gone)
    except BaseException:
        _account(call)
        raise
    if stopped:
        _account(call)
        raise ApiError(499, "the client closed the request", code="client_closed")
    pieces: dict[int, list[str]] = {}
    last: dict[int, ChatChunk] = {}
    for index, chunk in items:
        pieces.setdefault(index, []).append(chunk.text)
        last[index] = chunk
    return [
        ChatResponse("".join(pieces[i]), last[i].usage or Usage(), last[i].finish_reason or "stop", call.model_id,
                     tool_calls=last[i].tool_calls)
        for i in sorted(pieces)
    ]  # fmt: skip


def _check_budget(call: Call) -> None:
    """400 when the prompt plus ``n`` times ``max_tokens`` is over ``max_request_tokens``."""
    limit = call.state.settings.server.max_request_tokens
    prompt = call.state.chat.model.count_message_tokens(call.messages)
    most = call.params.max_tokens or 0
    if prompt + call.n * most > limit:
        asked = f"max_tokens ({most})" if call.n == 1 else f"n × max_tokens ({call.n} × {most})"
        raise ApiError(
            400, f"the prompt ({prompt} tokens) plus {asked} is over this server's limit of {limit} tokens a request",
            code="request_too_many_tokens", param="messages",
        )  # fmt: skip
    call.tally.prompt = prompt


def _attributes(call: Call) -> Any:
    return trace_attributes(kind=f"server.{call.kind}", request_id=REQUEST_ID.get(), key=call.caller.bucket)


def _account(call: Call) -> float | None:
    """Charge the call's tokens so far (``Call.tally``) to its key and the metrics; once, however it ends."""
    if call.charged:
        return None
    call.charged = True
    return call.state.charge(call.caller.bucket, call.tally.usage())


# ----------------------------------------------------------------------------- streams


def _chunks(call: Call, *, screened: bool = False) -> Iterator[tuple[int, ChatChunk]]:
    """On the worker: every choice's chunks in turn, tagged with the choice index; ``screened``: through the
    output guards as they stream (whole replies are checked once complete, by ``guarded.screen_output``)."""
    _check_budget(call)
    for index in range(call.n):
        with tracer().start_as_current_span("generate"), _attributes(call):
            chunks = _counted(call.tally, index, call.state.chat.model.stream(call.messages, call.params))
            if screened:
                chunks = screen_chunks(chunks, call.state.kit.guards, call.placeholders)
            for chunk in chunks:
                yield index, chunk


def _counted(tally: Tally, index: int, chunks: Iterator[ChatChunk]) -> Iterator[ChatChunk]:
    """``chunks``, each seen by ``tally`` as the model gives it (before the output guards hold any back)."""
    try:
        for chunk in chunks:
            tally.see(index, chunk)
            yield chunk
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()


async def _achunks(call: Call) -> AsyncIterator[tuple[int, ChatChunk]]:
    """On the event loop, for a model that streams from it (``Served.streams_async``): what ``_chunks`` gives.
    The ``generate`` span is not made current: a stream's rest is read from another task than its start."""
    _check_budget(call)
    for index in range(call.n):
        span = tracer().start_span("generate")
        with _attributes(call):  # the traced model takes the attributes when called
            chunks = call.state.chat.model.astream(call.messages, call.params)  # type: ignore[attr-defined]
        try:
            async for chunk in chunks:
                call.tally.see(index, chunk)
                yield index, chunk
        finally:
            await chunks.aclose()
            span.end()


async def _stream(call: Call, include_usage: bool) -> Any:
    served = call.state.chat
    stack = AsyncExitStack()
    await stack.enter_async_context(served.gate.slot(call.gone))
    screened = bool(call.state.kit.guards.output or call.placeholders)
    if served.streams_async and not screened:
        items: AsyncIterator[tuple[int, ChatChunk]] = _achunks(call)
    else:  # the output guards screen a stream on the worker (guards.stream)
        items = served.worker.iterate(lambda: _chunks(call, screened=True))
    start = time.perf_counter()

    async def close() -> None:  # however the stream ends: an abandoned one is charged what it used
        try:
            await items.aclose()
            await stack.aclose()
        finally:
            _account(call)

    try:
        first = await anext(items)  # errors before the first byte get a proper status
    except BaseException:
        await close()
        raise
    return sse_response(_events(call, first, items, start, include_usage), close, call.state.metrics)


async def _events(
    call: Call, first: tuple[int, ChatChunk], rest: AsyncIterator[tuple[int, ChatChunk]], start: float, usage_on: bool
) -> AsyncIterator[dict[str, Any]]:
    cid, created = convert.completion_id("chatcmpl" if call.kind == "chat" else "cmpl"), int(time.time())
    seen_text, opened = False, set[int]()
    shape = _chat_delta if call.kind == "chat" else _text_delta
    extra = {"usage": None} if usage_on else {}

    async def all_items() -> AsyncIterator[tuple[int, ChatChunk]]:
        yield first
        async for item in rest:
            yield item

    async for index, chunk in all_items():
        if chunk.text and not seen_text:
            seen_text = True
            call.state.metrics.ttft.labels(call.model_id).observe(time.perf_counter() - start)
        if chunk.text or chunk.finish_reason or chunk.tool_calls or index not in opened:
            yield _chunk_body(call, cid, created, shape(index, chunk, index not in opened), extra)
            opened.add(index)
    usage, cost = call.tally.usage(), _account(call)
    if usage_on:
        yield _chunk_body(call, cid, created, [], {"usage": convert.usage_dict(usage), "cost_usd": cost})


def _chunk_body(call: Call, cid: str, created: int, choices: list[Any], extra: dict[str, Any]) -> dict[str, Any]:
    body = convert.chunk_body(cid, call.model_id, created, choices, **extra)
    return body if call.kind == "chat" else {**body, "object": "text_completion"}


def _chat_delta(index: int, chunk: ChatChunk, opening: bool) -> list[dict[str, Any]]:
    delta: dict[str, Any] = {"role": "assistant"} if opening else {}
    if chunk.text:
        delta["content"] = chunk.text
    if chunk.tool_calls:
        delta["tool_calls"] = [{"index": i, **c.to_openai()} for i, c in enumerate(chunk.tool_calls)]
    finish = _finish(chunk) if chunk.finish_reason else None
    return [{"index": index, "delta": delta, "finish_reason": finish, "logprobs": None}]


def _text_delta(index: int, chunk: ChatChunk, opening: bool) -> list[dict[str, Any]]:
    return [{"index": index, "text": chunk.text, "finish_reason": chunk.finish_reason, "logprobs": None}]


def last_user(messages: Sequence[Message]) -> str:
    for m in reversed(messages):
        if m.role == "user" and m.content.strip():
            return m.content
    raise InputError("the conversation has no user message with text to answer")
