"""``search_documents``: retrieval over a collection, through the project's ``Kit``."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated

from pydantic import Field

from llmkit.agents.tools import Tool
from llmkit.errors import InputError

if TYPE_CHECKING:
    from llmkit.kit import Kit


def retrieval(
    kit: Kit,
    collection: str | None = None,
    *,
    k: int = 4,
    max_chars: int = 600,
    allowed: Callable[[str], bool] | None = None,
) -> Tool:
    """The ``search_documents`` tool: the top passages for a query, numbered, with their sources.

    ``allowed(collection)``, when given, is asked before each search (the server passes the caller's key);
    a refusal is a ``PermissionError``, which the model reads as the tool's error.
    """

    def search_documents(query: str, k: Annotated[int, Field(ge=1, le=20)] = k) -> str:
        """Search the document collection; returns the most relevant passages with their sources."""
        if not query.strip():
            raise InputError("the query is empty")
        name = collection or kit.settings.collection
        if allowed is not None and not allowed(name):
            raise PermissionError(f"this caller may not search collection {name!r}")
        hits = kit.search(query, collection=name, k=k)
        if not hits:
            return "no passages found"
        parts = []
        for n, hit in enumerate(hits, 1):
            text = hit.chunk.text.strip()
            text = text if len(text) <= max_chars else text[:max_chars] + " ..."
            parts.append(f"[{n}] {hit.chunk.source} ({hit.chunk.location})\n{text}")
        return "\n\n".join(parts)

    return Tool.from_function(search_documents)
