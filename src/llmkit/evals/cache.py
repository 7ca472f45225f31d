"""``CachedModel``: a ``ChatModel`` whose replies are kept by (model, messages, params), so reruns are cheap.

The model part of the key is its ``cache_identity`` (``llmkit.models.base``): the same model id on two
servers, or one GGUF file with and without a LoRA adapter, do not share replies.

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

from llmkit.models.base import ChatModel, ModelWrapper, cache_identity
from llmkit.types import ChatChunk, ChatResponse, GenerationParams, Message, Usage


class ReplyCache(Protocol):
    def cache_get(self, key: str) -> dict | None: ...
    def cache_put_many(self, entries: Sequence[tuple[str, dict]]) -> None: ...


FLUSH_EVERY = 64


def cache_key(model: str, messages: Sequence[Message], params: GenerationParams) -> str:
    """Stable key for one call; ``model`` is the model's cache identity.

    >>> a = cache_key("m", [Message.user("hi")], GenerationParams())
    >>> a == cache_key("m", [Message.user("hi")], GenerationParams()), len(a)
    (True, 64)
    """
    payload = {"model": model, "messages": [m.to_dict() for m in messages], "params": params.to_dict()}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


class CachedModel(ModelWrapper):
    """Wraps ``inner``; ``cache=None`` only counts (no caching)."""

    def __init__(self, inner: ChatModel, cache: ReplyCache | None) -> None:
        super().__init__(inner)
        self.identity = cache_identity(inner)
        self.cache = cache
        self.calls = 0
        self.hits = 0
        self.model_seconds = 0.0
        self._lock = threading.Lock()
        self._pending: dict[str, dict] = {}
        self._inflight: dict[str, threading.Event] = {}

    def chat(self, messages: Sequence[Message], params: GenerationParams | None = None) -> ChatResponse:
        params = params or GenerationParams()
        if self.cache is None:
            return self._call(messages, params)
        key = cache_key(self.identity, messages, params)
        with self._lock:  # the same call already running on another thread: wait for its reply
            running = self._inflight.get(key)
            if running is None:
                self._inflight[key] = threading.Event()
        if running is not None:
            running.wait()
        try:
            return self._cached_call(key, messages, params)
        finally:
            if running is None:
                with self._lock:
                    self._inflight.pop(key).set()

    def _cached_call(self, key: str, messages: Sequence[Message], params: GenerationParams) -> ChatResponse:
        hit = self._lookup(key)
        if hit is not None:
            with self._lock:
                self.hits += 1
            usage = Usage(hit["prompt_tokens"], hit["completion_tokens"])
            return ChatResponse(hit["text"], usage, hit["finish_reason"], hit["model"], 0.0)
        reply = self._call(messages, params)
        if reply.finish_reason != "error":
            self._remember(key, {
                "text": reply.text, "finish_reason": reply.finish_reason, "model": reply.model,
                "prompt_tokens": reply.usage.prompt_tokens, "completion_tokens": reply.usage.completion_tokens,
            })  # fmt: skip
        return reply

    @property
    def cache_identity(self) -> str:
        return self.identity

    def _call(self, messages: Sequence[Message], params: GenerationParams) -> ChatResponse:
        start = time.perf_counter()
        reply = self.inner.chat(messages, params)
        spent = time.perf_counter() - start
        with self._lock:
            self.calls += 1
            self.model_seconds += spent
        return reply

    def _lookup(self, key: str) -> dict | None:
        with self._lock:
            pending = self._pending.get(key)
        return pending if pending is not None else self.cache.cache_get(key)  # type: ignore[union-attr]

    def _remember(self, key: str, value: dict) -> None:
        with self._lock:
            self._pending[key] = value
            full = len(self._pending) >= FLUSH_EVERY
        if full:
            self.flush()

    def flush(self) -> None:
        """Write the replies not yet stored (the runner calls this at the end of a run)."""
        with self._lock:
            entries, self._pending = list(self._pending.items()), {}
        if entries and self.cache is not None:
            self.cache.cache_put_many(entries)

    def stream(self, messages: Sequence[Message], params: GenerationParams | None = None) -> Iterator[ChatChunk]:
        reply = self.chat(messages, params)
        yield ChatChunk(reply.text)
        yield ChatChunk("", finish_reason=reply.finish_reason, usage=reply.usage, tool_calls=reply.tool_calls)
