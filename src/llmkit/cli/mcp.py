"""``llmkit mcp``: serve the project over MCP, and list an MCP server's tools."""

from __future__ import annotations

from typing import Annotated

import typer

from llmkit.cli._common import console, kit_from

app = typer.Typer(help="Model Context Protocol: serve llmkit, inspect servers.", rich_markup_mode=None)


@app.command("serve")
def serve(
    ctx: typer.Context,
    http: Annotated[bool, typer.Option("--http", help="Streamable HTTP instead of stdio.")] = False,
    host: Annotated[str, typer.Option(help="Address to bind with --http.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port with --http.")] = 8765,
) -> None:
    """Serve the project's search, ask and collections as MCP tools (stdio, or HTTP at /mcp)."""
    from llmkit.mcp.server import serve as run

    with kit_from(ctx) as kit:
        run(kit, http=http, host=host, port=port)


@app.command("tools")
def tools(
    target: Annotated[str, typer.Argument(help="MCP server: a command line or an http(s) URL.")],
) -> None:
    """List the tools an MCP server offers, as the agent will see them."""
    from rich.markup import escape

    from llmkit.mcp.client import MCPClient

    with MCPClient(target) as client:
        for t in client.tools():
            effects = " [yellow](side effects)[/]" if t.side_effects else ""
            console().print(f"[bold]{escape(t.name)}[/]{effects}: {escape(t.description)}")
