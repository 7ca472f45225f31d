"""A local SQLite trace store and ``TracedModel``, a ``ChatModel`` wrapper that records every call.

Each trace keeps what was actually sent and received: the rendered messages, the parameters, the raw
output, token usage, latency (and time to first token when streamed), the finish reason or error,
and free-form attributes set by the caller — for RAG, the question and the chunks that fed the prompt::

    with trace_attributes(kind="rag", chunks=["doc:0", "doc:3"]) as span:
        reply = traced_model.chat(messages)
    span.trace_id   # the id of the trace just written
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmkit.errors import InputError, NotFound, StoreError
from llmkit.models.base import ChatModel, ModelWrapper
from llmkit.types import ChatChunk, ChatResponse, GenerationParams, Message, ToolCall, Usage

if TYPE_CHECKING:
    from llmkit.pricing import Price

_SCHEMA = """
CREATE TABLE IF NOT EXISTS traces (
    id TEXT PRIMARY KEY,
    created REAL NOT NULL,
    kind TEXT NOT NULL,
    model TEXT NOT NULL,
    messages TEXT NOT NULL,
    params TEXT NOT NULL,
    output TEXT,
    finish_reason TEXT,
    prompt_tokens INTEGER,
    completion_tokens INTEGER,
    latency_ms REAL,
    ttft_ms REAL,
    error TEXT,
    attributes TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS traces_created ON traces(created);
"""


@dataclass(frozen=True, slots=True)
class Trace:
    id: str
    created: float
    kind: str
    model: str
    messages: tuple[Message, ...]
    params: dict[str, Any]
    output: str | None
    finish_reason: str | None
    usage: Usage
    latency_ms: float | None
    ttft_ms: float | None = None
    error: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)

    @property
    def prompt(self) -> str | None:
        """``name@version`` of the prompt that produced this call, when the caller recorded it."""
        return self.attributes.get("prompt")

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "created": self.created,
            "kind": self.kind,
            "model": self.model,
            "messages": [m.to_dict() for m in self.messages],
            "params": self.params,
            "output": self.output,
            "finish_reason": self.finish_reason,
            "prompt_tokens": self.usage.prompt_tokens,
            "completion_tokens": self.usage.completion_tokens,
            "latency_ms": self.latency_ms,
            "ttft_ms": self.ttft_ms,
            "error": self.error,
            "attributes": self.attributes,
        }


class TraceStore:
    """Traces in one SQLite file (WAL), safe to use from several threads and processes."""

    def __init__(self, path: str | Path) -> None:
        from llmkit.sqlite_file import ThreadLocalSQLite

        self.path = Path(path)
        self._db = ThreadLocalSQLite(self.path, _SCHEMA, "the trace store")

    def _conn(self) -> sqlite3.Connection:
        return self._db.conn()

    def record(self, trace: Trace) -> None:
        d = trace.to_dict()
        row = (
            d["id"], d["created"], d["kind"], d["model"], json.dumps(d["messages"]), json.dumps(d["params"]),
            d["output"], d["finish_reason"], d["prompt_tokens"], d["completion_tokens"], d["latency_ms"],
            d["ttft_ms"], d["error"], json.dumps(d["attributes"], default=str),
        )  # fmt: skip
        try:
            self._conn().execute(f"INSERT INTO traces VALUES ({','.join('?' * len(row))})", row)
        except sqlite3.Error as e:
            raise StoreError(f"cannot write a trace to {self.path}: {e}") from None

    def list(self, *, limit: int = 20, offset: int = 0) -> list[Trace]:
        if limit < 1 or offset < 0:
            raise InputError("limit must be >= 1 and offset >= 0")
        rows = (
            self._conn()
            .execute("SELECT * FROM traces ORDER BY created DESC LIMIT ? OFFSET ?", (limit, offset))
            .fetchall()
        )
        return [_from_row(r) for r in rows]

    def since(self, created: float = 0.0) -> Iterator[Trace]:
        """Every trace written at or after ``created`` (a Unix time), oldest first: the export for datasets."""
        rows = self._conn().execute("SELECT * FROM traces WHERE created >= ? ORDER BY created, id", (created,))
        for row in rows:
            yield _from_row(row)

    def get(self, trace_id: str) -> Trace:
        """The trace with this id, or the only one whose id starts with it (at least 4 characters)."""
        if len(trace_id) < 4:
            raise InputError("give at least 4 characters of the trace id")
        rows = (
            self._conn()
            .execute(
                "SELECT * FROM traces WHERE id = ? OR id LIKE ? ESCAPE '\\' LIMIT 2",
                (trace_id, trace_id.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"),
            )
            .fetchall()
        )
        if not rows:
            raise NotFound(f"no trace {trace_id!r}", hint="`llmkit traces` lists recent traces")
        if len(rows) > 1 and rows[0][0] != trace_id:
            raise InputError(f"{trace_id!r} matches several traces; give more characters")
        return _from_row(rows[0])

    def count(self) -> int:
        return self._conn().execute("SELECT count(*) FROM traces").fetchone()[0]

    def close(self) -> None:
        """Close this thread's connection (it opens again on next use)."""
        self._db.close()


def _from_row(r: Sequence[Any]) -> Trace:
    return Trace(
        id=r[0], created=r[1], kind=r[2], model=r[3],
        messages=tuple(Message.from_dict(m) for m in json.loads(r[4])), params=json.loads(r[5]),
        output=r[6], finish_reason=r[7], usage=Usage(r[8], r[9]), latency_ms=r[10], ttft_ms=r[11],
        error=r[12], attributes=json.loads(r[13]),
    )  # fmt: skip


# ----------------------------------------------------------------------------- attributes


@dataclass
class Span:
    """Attributes for the model calls made inside ``trace_attributes``; ``trace_id`` is the last one written."""

    attributes: dict[str, Any]
    trace_id: str | None = None


_SPAN: ContextVar[Span | None] = ContextVar("llmkit_span", default=None)


def current_span() -> Span | None:
    """The innermost ``trace_attributes`` block's span, if any (to add attributes or read ``trace_id``)."""
    return _SPAN.get()


@contextmanager
def trace_attributes(**attributes: Any) -> Iterator[Span]:
    """Attach ``attributes`` to the traces of model calls made inside the block (nesting merges)."""
    outer = _SPAN.get()
    span = Span({**(outer.attributes if outer else {}), **attributes})
    token = _SPAN.set(span)
    try:
        yield span
    finally:
        _SPAN.reset(token)
        if outer is not None and span.trace_id:
            outer.trace_id = span.trace_id


# ----------------------------------------------------------------------------- the wrapper


class TracedModel(ModelWrapper):
    """A ``ChatModel`` that records each call of ``inner`` in ``store``; everything else passes through.

    With ``price`` (``llmkit.pricing``), each trace carries the call's cost as the ``cost_usd`` attribute
    (``None`` when the backend reported no usage).
    """

    def __init__(self, inner: ChatModel, store: TraceStore, *, price: Price | None = None) -> None:
        super().__init__(inner)
        self.store, self.price = store, price

    def chat(self, messages: Sequence[Message], params: GenerationParams | None = None) -> ChatResponse:
        params = params or GenerationParams()
        start = time.perf_counter()
        try:
            reply = self.inner.chat(messages, params)
        except Exception as e:
            self._record("chat", messages, params, start, error=e)
            raise
        output = _output(reply.text, reply.tool_calls)
        self._record("chat", messages, params, start, output=output, finish=reply.finish_reason, usage=reply.usage)
        return reply

    def stream(self, messages: Sequence[Message], params: GenerationParams | None = None) -> Iterator[ChatChunk]:
        params = params or GenerationParams()
        start = time.perf_counter()
        span = _SPAN.get()  # captured now: a generator may be resumed from another context
        parts: list[str] = []
        first: float | None = None
        last: ChatChunk | None = None
        try:
            for chunk in self.inner.stream(messages, params):
                if first is None and chunk.text:
                    first = time.perf_counter()
                parts.append(chunk.text)
                last = chunk
                yield chunk
        except BaseException as e:  # GeneratorExit included: an abandoned stream is still traced
            self._record("stream", messages, params, start, output="".join(parts), error=e, ttft=first, span=span)
            raise
        output = _output("".join(parts), last.tool_calls if last else ())
        self._record(
            "stream", messages, params, start, output=output, ttft=first, span=span,
            finish=last.finish_reason if last else None, usage=last.usage if last and last.usage else Usage(),
        )  # fmt: skip

    def astream(self, messages: Sequence[Message], params: GenerationParams | None = None) -> AsyncIterator[ChatChunk]:
        """``stream`` for an inner model that streams from an event loop (``astream``); the trace is written on
        the loop when the stream ends. The block's trace attributes are taken when this is called."""
        inner = self.inner.astream(messages, params or GenerationParams())  # type: ignore[attr-defined]
        return self._astream(inner, messages, params or GenerationParams(), _SPAN.get())

    async def _astream(
        self, inner: AsyncIterator[ChatChunk], messages: Sequence[Message], params: GenerationParams, span: Span | None
    ) -> AsyncIterator[ChatChunk]:
        start, parts, first, last = time.perf_counter(), list[str](), None, None
        try:
            async for chunk in inner:
                if first is None and chunk.text:
                    first = time.perf_counter()
                parts.append(chunk.text)
                last = chunk
                yield chunk
        except BaseException as e:  # GeneratorExit and cancellation included: an abandoned stream is still traced
            gone = GeneratorExit() if isinstance(e, asyncio.CancelledError) else e  # a cancelled read: abandoned
            self._record("stream", messages, params, start, output="".join(parts), error=gone, ttft=first, span=span)
            raise
        finally:
            await inner.aclose()  # type: ignore[attr-defined]
        output = _output("".join(parts), last.tool_calls if last else ())
        self._record(
            "stream", messages, params, start, output=output, ttft=first, span=span,
            finish=last.finish_reason if last else None, usage=last.usage if last and last.usage else Usage(),
        )  # fmt: skip

    def _record(
        self,
        kind: str,
        messages: Sequence[Message],
        params: GenerationParams,
        start: float,
        *,
        output: str | None = None,
        finish: str | None = None,
        usage: Usage | None = None,
        error: BaseException | None = None,
        ttft: float | None = None,
        span: Span | None = None,
    ) -> None:
        span = span or _SPAN.get()
        trace = Trace(
            id=uuid.uuid4().hex,
            created=time.time(),
            kind=str((span.attributes.get("kind") if span else None) or kind),
            model=self.name,
            messages=tuple(messages),
            params=params.to_dict(),
            output=output,
            finish_reason=finish if error is None else ("abandoned" if isinstance(error, GeneratorExit) else "error"),
            usage=usage or Usage(),
            latency_ms=(time.perf_counter() - start) * 1000,
            ttft_ms=None if ttft is None else (ttft - start) * 1000,
            error=None if error is None or isinstance(error, GeneratorExit) else f"{type(error).__name__}: {error}",
            attributes=dict(span.attributes) if span else {},
        )
        if self.price is not None:
            trace.attributes["cost_usd"] = _cost(self.price, trace.usage)
        self.store.record(trace)
        if span is not None:
            span.trace_id = trace.id


def _cost(price: Price, usage: Usage) -> float | None:
    if usage.prompt_tokens is None or usage.completion_tokens is None:
        return None  # unknown, never zero
    return price.cost(usage.prompt_tokens, usage.completion_tokens)


def _output(text: str, tool_calls: Sequence[ToolCall]) -> str:
    """What a trace shows as the output: the text, then the tool calls in OpenAI's wire form.

    >>> _output("", [ToolCall("call_1", "now", "{}")])
    '[{"id": "call_1", "type": "function", "function": {"name": "now", "arguments": "{}"}}]'
    >>> _output("Paris.", [])
    'Paris.'
    """
    if not tool_calls:
        return text
    calls = json.dumps([c.to_openai() for c in tool_calls])
    return f"{text}\n{calls}" if text else calls
