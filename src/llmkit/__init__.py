"""llmkit: the LLM engineer's working loop in one local-first package.

``import llmkit`` is cheap: names below load their modules on first use.

    import llmkit
    kit = llmkit.open(".")
    kit.ingest("docs/")
    print(kit.ask("How long is the warranty?").text)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    "Answer",
    "ChatChunk",
    "ChatModel",
    "ChatResponse",
    "Chunk",
    "Citation",
    "Embedder",
    "GenerationParams",
    "Hit",
    "IngestReport",
    "Kit",
    "LlmkitError",
    "Message",
    "Settings",
    "Store",
    "Usage",
    "__version__",
    "load_settings",
    "open",
]

_LAZY = {
    "open": ("llmkit.kit", "open_kit"),
    "Kit": ("llmkit.kit", "Kit"),
    "Settings": ("llmkit.config", "Settings"),
    "load_settings": ("llmkit.config", "load_settings"),
    "LlmkitError": ("llmkit.errors", "LlmkitError"),
    "ChatModel": ("llmkit.models.base", "ChatModel"),
    "Embedder": ("llmkit.embeddings.base", "Embedder"),
    "Store": ("llmkit.store.base", "Store"),
    **{
        name: ("llmkit.types", name)
        for name in (
            "Answer",
            "ChatChunk",
            "ChatResponse",
            "Chunk",
            "Citation",
            "GenerationParams",
            "Hit",
            "IngestReport",
            "Message",
            "Usage",
        )
    },
}


def __getattr__(name: str) -> Any:
    try:
        module, attr = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'llmkit' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module), attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


if TYPE_CHECKING:
    from llmkit.config import Settings, load_settings
    from llmkit.embeddings.base import Embedder
    from llmkit.errors import LlmkitError
    from llmkit.kit import Kit
    from llmkit.kit import open_kit as open
    from llmkit.models.base import ChatModel
    from llmkit.store.base import Store
    from llmkit.types import (
        Answer,
        ChatChunk,
        ChatResponse,
        Chunk,
        Citation,
        GenerationParams,
        Hit,
        IngestReport,
        Message,
        Usage,
    )
