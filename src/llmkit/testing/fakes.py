"""Fakes that honour the Protocols' contracts (usage, stop, context window, normalised vectors)."""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from llmkit.errors import ContextLengthExceeded
from llmkit.types import ChatChunk, ChatResponse, GenerationParams, Message, ToolCall, Usage

_WORD = re.compile(r"\w+|[^\w\s]")
_PIECES = re.compile(r"\S+\s*|\s+")  # what a stream yields: each word with the spaces after it

Script = Sequence[str] | Callable[[Sequence[Message]], str]


def _tokens(text: str) -> list[str]:
    return _WORD.findall(text)


@dataclass
class FakeChatModel:
    """A ``ChatModel`` that replies from a script; tokens are words and punctuation marks.

    >>> m = FakeChatModel(["Paris [1]."])
    >>> m.chat([Message.user("Capital of France?")]).text
    'Paris [1].'

    ``replies`` is a list used in order (the last one repeats), or a function of the messages.
    Every call is kept in ``calls`` so tests can look at the prompt as sent.
    """

    replies: Script = ("ok",)
    name: str = "fake"
    window: int = 4096
    delay_s: float = 0.0
    calls: list[tuple[tuple[Message, ...], GenerationParams]] = field(default_factory=list)

    @property
    def context_window(self) -> int:
        return self.window

    def count_tokens(self, text: str) -> int:
        return len(_tokens(text))

    def count_message_tokens(self, messages: Sequence[Message]) -> int:
        return sum(self.count_tokens(m.content) + 3 for m in messages) + 1

    def _reply(self, messages: Sequence[Message], params: GenerationParams) -> tuple[list[str], str, int]:
        prompt_tokens = self.count_message_tokens(messages)
        needed = prompt_tokens + (params.max_tokens or 0)
        if needed > self.window:
            raise ContextLengthExceeded(needed, self.window)
        self.calls.append((tuple(messages), params))
        if callable(self.replies):
            text = self.replies(messages)
        else:
            text = self.replies[min(len(self.calls) - 1, len(self.replies) - 1)]
        finish = "stop"
        for s in params.stop:
            if s and s in text:
                text = text[: text.index(s)]
        pieces = _PIECES.findall(text)
        if params.max_tokens is not None and self.count_tokens(text) > params.max_tokens:
            kept, count = [], 0
            for p in pieces:
                n = self.count_tokens(p)
                if count + n > params.max_tokens:
                    finish = "length"
                    break
                kept.append(p)
                count += n
            pieces = kept
        return pieces, finish, prompt_tokens

    def chat(self, messages: Sequence[Message], params: GenerationParams | None = None) -> ChatResponse:
        params = params or GenerationParams()
        start = time.perf_counter()
        pieces, finish, prompt_tokens = self._reply(messages, params)
        text = "".join(pieces)
        if self.delay_s:
            time.sleep(self.delay_s)
        usage = Usage(prompt_tokens, self.count_tokens(text))
        return ChatResponse(text, usage, finish, self.name, time.perf_counter() - start)  # type: ignore[arg-type]

    def stream(self, messages: Sequence[Message], params: GenerationParams | None = None) -> Iterator[ChatChunk]:
        params = params or GenerationParams()
        pieces, finish, prompt_tokens = self._reply(messages, params)
        for p in pieces:
            if self.delay_s:
                time.sleep(self.delay_s / max(len(pieces), 1))
            yield ChatChunk(p)
        text = "".join(pieces)
        yield ChatChunk("", finish_reason=finish, usage=Usage(prompt_tokens, self.count_tokens(text)))  # type: ignore[arg-type]


@dataclass
class HashEmbedder:
    """A deterministic ``Embedder``: hashed bag of lower-cased words, L2-normalised.

    Texts sharing words get positive cosine similarity, which is enough to test ranking logic.

    >>> e = HashEmbedder(dim=64)
    >>> v = e.embed(["a cat", "a cat", "the dog"])
    >>> round(float(v[0] @ v[1]), 3), v.shape
    (1.0, (3, 64))
    """

    dim: int = 64
    name: str = "hash-64"
    max_tokens: int = 256
    calls: int = 0

    def count_tokens(self, text: str) -> int:
        return len(_tokens(text))

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for w in _tokens(text.lower())[: self.max_tokens]:
                h = int.from_bytes(hashlib.blake2b(w.encode(), digest_size=8).digest(), "little")
                out[i, h % self.dim] += 1.0 if (h >> 32) & 1 else -1.0
            norm = np.linalg.norm(out[i])
            if norm == 0:
                out[i, 0] = 1.0
            else:
                out[i] /= norm
        return out


#: One scripted turn of ``ScriptedToolModel``: plain text, or tool calls (with optional text).
Turn = str | ToolCall | Sequence[ToolCall] | tuple[str, Sequence[ToolCall]]


@dataclass
class ScriptedToolModel(FakeChatModel):
    """A ``FakeChatModel`` whose turns may call tools: each turn is text, a ``ToolCall``, a list of them
    (parallel calls), or ``(text, calls)``. The last turn repeats; ``turns`` may be a function of the messages.
    Calls are dropped when the request offers no tools or says ``tool_choice="none"``.

    >>> m = ScriptedToolModel(turns=[ToolCall("c1", "add", '{"a": 2}'), "4"])
    >>> from llmkit.types import ToolSpec
    >>> p = GenerationParams(tools=(ToolSpec("add"),))
    >>> m.chat([Message.user("2+2?")], p).tool_calls[0].name, m.chat([Message.user("ok")], p).text
    ('add', '4')
    """

    turns: Sequence[Turn] | Callable[[Sequence[Message]], Turn] = ("ok",)

    def _turn(self, messages: Sequence[Message]) -> tuple[str, tuple[ToolCall, ...]]:
        n = len(self.calls)
        turn = self.turns(messages) if callable(self.turns) else self.turns[min(n, len(self.turns) - 1)]
        if isinstance(turn, str):
            return turn, ()
        if isinstance(turn, ToolCall):
            return "", (turn,)
        if isinstance(turn, tuple) and len(turn) == 2 and isinstance(turn[0], str):
            return turn[0], tuple(turn[1])
        return "", tuple(turn)  # type: ignore[arg-type]

    def chat(self, messages: Sequence[Message], params: GenerationParams | None = None) -> ChatResponse:
        return _collect(self.stream(messages, params), self.name)

    def stream(self, messages: Sequence[Message], params: GenerationParams | None = None) -> Iterator[ChatChunk]:
        params = params or GenerationParams()
        text, calls = self._turn(messages)
        if params.tool_choice == "none" or not params.tools:
            calls = ()  # as a real backend: no tools offered, no calls
        self.replies = [text + "".join(c.arguments for c in calls)]  # what the turn costs in tokens
        pieces, finish, prompt_tokens = self._reply(messages, params)
        completion = self.count_tokens("".join(pieces))
        if calls and finish == "length":
            calls = ()  # the call's JSON was cut off: no call, as a real backend would report
        shown = re.findall(r"\S+\s*|\s+", text) if calls else pieces
        for p in shown:
            if self.delay_s:
                time.sleep(self.delay_s / len(shown))
            yield ChatChunk(p)
        if self.delay_s and not shown:
            time.sleep(self.delay_s)
        finish = "tool_calls" if calls else finish
        yield ChatChunk("", finish_reason=finish, usage=Usage(prompt_tokens, completion), tool_calls=calls)  # type: ignore[arg-type]


def _collect(chunks: Iterator[ChatChunk], name: str) -> ChatResponse:
    start = time.perf_counter()
    parts, last = [], ChatChunk("")
    for c in chunks:
        parts.append(c.text)
        last = c
    usage = last.usage or Usage()
    finish = last.finish_reason or "stop"
    return ChatResponse("".join(parts), usage, finish, name, time.perf_counter() - start, last.tool_calls)
