"""MCP for real: a server from PyPI (mcp-server-time) through llmkit's client, and `llmkit mcp serve` (stdio and
streamable HTTP) through the SDK's own client and llmkit's."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from llmkit.agents import Agent
from llmkit.mcp.client import MCPClient
from llmkit.testing import ScriptedToolModel
from llmkit.types import ToolCall

pytest.importorskip("mcp")
pytest.importorskip("mcp_server_time")
pytestmark = pytest.mark.slow

TIME_SERVER = f"{sys.executable} -m mcp_server_time --local-timezone UTC"
LLMKIT = str(Path(sys.executable).with_name("llmkit"))


def test_time_server_tools_in_an_agent() -> None:
    with MCPClient(TIME_SERVER, timeout_s=60) as server:
        tools = {t.name: t for t in server.tools()}
        assert {"get_current_time", "convert_time"} <= set(tools)
        assert not tools["get_current_time"].side_effects  # the server marks it read-only
        convert = '{"source_timezone": "UTC", "time": "12:00", "target_timezone": "Asia/Tokyo"}'
        turns = [
            [ToolCall("a", "get_current_time", '{"tz": "UTC"}'),  # schema-invalid: stopped before the server
             ToolCall("b", "get_current_time", '{"timezone": "Mars/Olympus"}'),  # the server's own error
             ToolCall("c", "convert_time", convert)],
            "It is 21:00 in Tokyo.",
        ]  # fmt: skip
        result = Agent(ScriptedToolModel(turns=turns), list(tools.values())).run("Noon UTC in Tokyo?")
    a, b, c = (s.result for s in result.steps if s.kind == "tool")
    assert a.is_error and "'timezone' is a required property" in a.content
    assert b.is_error and "Invalid timezone" in b.content
    assert not c.is_error and "21:00" in json.loads(c.content)["target"]["datetime"]
    assert result.answer == "It is 21:00 in Tokyo."


def test_unreachable_servers_fail_clearly() -> None:
    from llmkit.errors import BackendUnavailable

    with pytest.raises(BackendUnavailable, match="cannot connect"):
        MCPClient(f"{sys.executable} -c pass", timeout_s=30).connect()
    with pytest.raises(BackendUnavailable):
        MCPClient(f"http://127.0.0.1:{_free_port()}/mcp", timeout_s=10).connect()


@pytest.fixture
def ingested(project: Path) -> Path:
    import llmkit

    with llmkit.open(project) as kit:
        kit.ingest(project / "docs")
    return project


def test_llmkit_mcp_serve_stdio_with_the_sdk_client(ingested: Path) -> None:
    from mcp import Client, StdioServerParameters

    params = StdioServerParameters(command=LLMKIT, args=["-C", str(ingested), "mcp", "serve"])

    async def go() -> tuple[object, object, object]:
        async with Client(params, read_timeout_seconds=120) as client:
            tools = await client.list_tools()
            cols = await client.call_tool("collections", {})
            hits = await client.call_tool("search", {"query": "warranty Acme Widget", "k": 2})
            return tools, cols, hits

    tools, cols, hits = asyncio.run(go())
    assert {t.name for t in tools.tools} == {"search", "ask", "collections"}
    assert cols.structured_content["result"][0]["name"] == "samples"
    found = hits.structured_content["result"]
    assert len(found) == 2 and any("warranty" in h["text"].lower() for h in found)


@pytest.fixture
def http_server(ingested: Path) -> Iterator[str]:
    port = _free_port()
    cmd = [LLMKIT, "-C", str(ingested), "mcp", "serve", "--http", "--port", str(port)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"server exited: {proc.stderr.read().decode() if proc.stderr else ''}")
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.2)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_llmkit_mcp_serve_http_with_llmkit_client(http_server: str) -> None:
    with MCPClient(http_server, timeout_s=180) as client:
        tools = {t.name: t for t in client.tools()}
        assert not any(t.side_effects for t in tools.values())
        cols = tools["collections"].invoke(ToolCall("1", "collections", "{}"))
        assert "samples" in cols.content
        hits = tools["search"].invoke(ToolCall("2", "search", '{"query": "Acme Widget 3000 warranty", "k": 2}'))
        assert not hits.is_error and len(json.loads(hits.content)["result"]) == 2  # (ask: see tests/unit/mcp)
        missing = tools["search"].invoke(ToolCall("3", "search", '{"query": "x", "collection": "nope"}'))
        assert missing.is_error and "no collection" in missing.content


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
