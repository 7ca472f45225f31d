"""llmkit's MCP server, in-process with the SDK's own client; a real SQLite store, fake model and embedder."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from llmkit.config import load_settings
from llmkit.kit import Kit
from llmkit.mcp.client import tool_name
from llmkit.mcp.server import create_server
from llmkit.testing import FakeChatModel, HashEmbedder

pytest.importorskip("mcp")


@pytest.fixture
def kit(tmp_path: Path) -> Kit:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "warranty.md").write_text("# Warranty\n\nThe Acme Widget has a two year warranty.\n")
    (tmp_path / "docs" / "shipping.md").write_text("# Shipping\n\nShipping is free over 50 euros.\n")
    kit = Kit(load_settings(tmp_path, traces=False))
    kit.__dict__["embedder"] = HashEmbedder()
    kit.__dict__["model"] = FakeChatModel(["The warranty lasts two years [1]."])
    kit.ingest(tmp_path / "docs")
    return kit


def call(kit: Kit, tool: str, args: dict[str, Any]) -> Any:
    from mcp import Client

    async def go() -> Any:
        async with Client(create_server(kit)) as client:
            if tool == "list":
                return await client.list_tools()
            return await client.call_tool(tool, args)

    return asyncio.run(go())


def test_lists_read_only_tools(kit: Kit) -> None:
    tools = call(kit, "list", {}).tools
    assert {t.name for t in tools} == {"search", "ask", "collections"}
    assert all(t.annotations.read_only_hint for t in tools)
    search = next(t for t in tools if t.name == "search")
    assert search.input_schema["required"] == ["query"]


def test_collections_search_and_ask(kit: Kit) -> None:
    result = call(kit, "collections", {})
    assert result.structured_content["result"][0]["name"] == "default"
    hits = call(kit, "search", {"query": "warranty", "k": 1}).structured_content["result"]
    assert hits[0]["source"].endswith("warranty.md") and "two year" in hits[0]["text"]
    answer = call(kit, "ask", {"question": "How long is the warranty?"}).structured_content
    assert answer["answer"].startswith("The warranty lasts two years") and answer["citations"][0]["n"] == 1


def test_errors_reach_the_client_as_tool_errors(kit: Kit) -> None:
    result = call(kit, "search", {"query": "x", "collection": "nope"})
    assert result.is_error and "no collection 'nope'" in result.content[0].text
    bad = call(kit, "search", {"query": "x", "k": 500})
    assert bad.is_error
    assert json.dumps(bad.model_dump(mode="json"))  # still a well-formed result


def test_tool_names_are_made_safe() -> None:
    assert tool_name("a.b c") == "a_b_c" and len(tool_name("x" * 100)) == 64
