"""The ``ChatModel`` Protocol every chat backend implements.

A backend is a small class with a cheap ``__init__`` (validate, store settings) that loads its model
on first use. It must:

- count tokens with the model's own tokenizer (``count_tokens``, and ``usage`` on every response,
  streamed ones included: the last ``ChatChunk`` carries it);
- raise ``ContextLengthExceeded`` *before* generating when the prompt plus ``max_tokens`` cannot fit;
- translate its native errors into ``llmkit.errors``.

A backend whose ``name`` does not tell its replies apart (the same model id on two servers, one GGUF
file with and without a LoRA adapter) also has a ``cache_identity``: caches key replies on it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol, runtime_checkable

from llmkit.types import ChatChunk, ChatResponse, GenerationParams, Message


@runtime_checkable
class ChatModel(Protocol):
    #: The id recorded in traces and responses.
    name: str

    @property
    def context_window(self) -> int:
        """Tokens the model can attend to (prompt + completion)."""
        ...

    def chat(self, messages: Sequence[Message], params: GenerationParams | None = None) -> ChatResponse:
        """Generate a whole reply."""
        ...

    def stream(self, messages: Sequence[Message], params: GenerationParams | None = None) -> Iterator[ChatChunk]:
        """Generate a reply piece by piece; the last chunk carries ``finish_reason`` and ``usage``."""
        ...

    def count_tokens(self, text: str) -> int:
        """Tokens ``text`` takes with this model's tokenizer."""
        ...

    def count_message_tokens(self, messages: Sequence[Message]) -> int:
        """Tokens the rendered prompt (chat template included) takes."""
        ...


def cache_identity(model: ChatModel) -> str:
    """What tells ``model``'s replies apart from another model's: its ``cache_identity``, else its name.

    >>> from llmkit.testing import FakeChatModel
    >>> cache_identity(FakeChatModel(name="m"))
    'm'
    """
    return str(getattr(model, "cache_identity", None) or model.name)


class ModelWrapper:
    """A ``ChatModel`` around another that passes everything through; subclasses override what they add to.

    Tracing (with each call's cost) and caching wrap a model this way, so they stack in any order.
    """

    def __init__(self, inner: ChatModel) -> None:
        self.inner = inner
        self.name = inner.name

    @property
    def context_window(self) -> int:
        return self.inner.context_window

    @property
    def cache_identity(self) -> str:
        return cache_identity(self.inner)

    def chat(self, messages: Sequence[Message], params: GenerationParams | None = None) -> ChatResponse:
        return self.inner.chat(messages, params)

    def stream(self, messages: Sequence[Message], params: GenerationParams | None = None) -> Iterator[ChatChunk]:
        return self.inner.stream(messages, params)

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def count_message_tokens(self, messages: Sequence[Message]) -> int:
        return self.inner.count_message_tokens(messages)
