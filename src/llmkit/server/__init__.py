"""The HTTP server: OpenAI-compatible routes plus llmkit's own, built by ``create_app(settings)``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from llmkit.server.app import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from llmkit.server.app import create_app

        return create_app
    raise AttributeError(name)
