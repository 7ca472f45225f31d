"""``llmkit mcp serve``: the project's search, ask and collections as an MCP server (the SDK's ``MCPServer``).

    llmkit mcp serve                          # stdio, for clients that launch it (Claude Desktop, IDEs)
    llmkit mcp serve --http --port 8765       # streamable HTTP on 127.0.0.1:8765/mcp

The tools are read-only (annotated so), take the project's default collection unless told, and report
llmkit errors as tool errors the client's model can read.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from pydantic import Field

from llmkit.errors import LlmkitError, MissingExtra

if TYPE_CHECKING:
    from llmkit.kit import Kit

INSTRUCTIONS = (
    "llmkit searches and answers from the user's document collections. Use `collections` to see what exists, "
    "`search` for passages, and `ask` for an answer with numbered citations."
)


def create_server(kit: Kit) -> Any:
    """An ``mcp.server.mcpserver.MCPServer`` with the tools ``search``, ``ask`` and ``collections``."""
    try:
        from mcp.server.mcpserver import MCPServer
        from mcp.types import ToolAnnotations
    except ImportError:
        raise MissingExtra("mcp", "agents") from None

    server = MCPServer("llmkit", instructions=INSTRUCTIONS, log_level="WARNING")
    read_only = ToolAnnotations(read_only_hint=True, open_world_hint=False)

    @server.tool(annotations=read_only)
    def search(
        query: str, collection: str | None = None, k: Annotated[int, Field(ge=1, le=50)] = 5
    ) -> list[dict[str, Any]]:
        """Search a document collection; the best passages with their source, location and score."""
        hits = _checked(lambda: kit.search(query, collection=collection, k=k))
        return [
            {"source": h.chunk.source, "location": h.chunk.location, "score": round(h.score, 4), "text": h.chunk.text}
            for h in hits
        ]

    @server.tool(annotations=read_only)
    def ask(question: str, collection: str | None = None) -> dict[str, Any]:
        """Answer a question from a document collection, with numbered citations to the sources."""
        answer = _checked(lambda: kit.ask(question, collection=collection))
        cited = [{"n": c.n, "source": c.source, "location": c.location, "snippet": c.snippet} for c in answer.cited]
        return {"answer": answer.text, "found": answer.found, "citations": cited}

    @server.tool(annotations=read_only)
    def collections() -> list[dict[str, Any]]:
        """The document collections: name, embedder, documents and chunks."""
        infos = _checked(kit.collections)
        return [{"name": c.name, "documents": c.documents, "chunks": c.chunks, "embedder": c.embedder} for c in infos]

    return server


def _checked(fn: Any) -> Any:
    """Run ``fn``; an llmkit error becomes the SDK's ``ToolError``, whose message (and hint) the client sees."""
    from mcp.server.mcpserver.exceptions import ToolError

    try:
        return fn()
    except LlmkitError as e:
        raise ToolError(str(e)) from None


def serve(kit: Kit, *, http: bool = False, host: str = "127.0.0.1", port: int = 8765) -> None:
    """Run the server until stopped (stdio by default)."""
    server = create_server(kit)
    if http:
        server.run("streamable-http", host=host, port=port)
    else:
        server.run("stdio")
