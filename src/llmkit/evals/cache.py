"""``CachedModel``: a ``ChatModel`` whose replies are kept by (model, messages, params), so reruns are cheap.

It also counts calls, cache hits and the seconds spent inside the wrapped model: the harness reports
its own overhead as the run's time minus those seconds.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Protocol

from llmkit.models.base import ChatModel
from llmkit.types import ChatChunk, ChatResponse, GenerationParams, Message, Usage


class ReplyCache(Protocol):
    def cache_get(self, key: str) -> dict | None: ...
    def cache_put(self, key: str, value: dict) -> None: ...


def cache_key(model: str, messages: Sequence[Message], params: GenerationParams) -> str:
    """Stable key for one call.

    >>> a = cache_key("m", [Message.user("hi")], GenerationParams())
    >>> a == cache_key("m", [Message.user("hi")], GenerationParams()), len(a)
    (True, 64)
    """
    payload = {"model": model, "messages": [m.to_dict() for m in messages], "params": params.to_dict()}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


class CachedModel:
    """Wraps ``inner``; ``cache=None`` only counts (no caching)."""

    def __init__(self, inner: ChatModel, cache: ReplyCache | None) -> None:
        self.inner = inner
        self.cache = cache
        self.name = inner.name
        self.calls = 0
        self.hits = 0
        self.model_seconds = 0.0
        self._lock = threading.Lock()

    @property
    def context_window(self) -> int:
        return self.inner.context_window

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def count_message_tokens(self, messages: Sequence[Message]) -> int:
        return self.inner.count_message_tokens(messages)

    def chat(self, messages: Sequence[Message], params: GenerationParams | None = None) -> ChatResponse:
        params = params or GenerationParams()
        key = cache_key(self.name, messages, params) if self.cache is not None else ""
        hit = self.cache.cache_get(key) if self.cache is not None else None
        if hit is not None:
            with self._lock:
                self.hits += 1
            usage = Usage(hit["prompt_tokens"], hit["completion_tokens"])
            return ChatResponse(hit["text"], usage, hit["finish_reason"], hit["model"], 0.0)
        start = time.perf_counter()
        reply = self.inner.chat(messages, params)
        spent = time.perf_counter() - start
        with self._lock:
            self.calls += 1
            self.model_seconds += spent
        if self.cache is not None and reply.finish_reason != "error":
            self.cache.cache_put(key, {
                "text": reply.text, "finish_reason": reply.finish_reason, "model": reply.model,
                "prompt_tokens": reply.usage.prompt_tokens, "completion_tokens": reply.usage.completion_tokens,
            })  # fmt: skip
        return reply

    def stream(self, messages: Sequence[Message], params: GenerationParams | None = None) -> Iterator[ChatChunk]:
        reply = self.chat(messages, params)
        yield ChatChunk(reply.text)
        yield ChatChunk("", finish_reason=reply.finish_reason, usage=reply.usage, tool_calls=reply.tool_calls)
