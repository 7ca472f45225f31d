"""MCPClient's llmkit tools, over a stand-in for the SDK session (the real servers: integration/mcp)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from llmkit.agents import Agent
from llmkit.mcp.client import MCPClient
from llmkit.testing import ScriptedToolModel
from llmkit.types import ToolCall


class FakeServer(MCPClient):
    """Two tools: a read-only ``clock`` (no arguments declared) and a destructive ``wipe``."""

    def __init__(self) -> None:
        super().__init__("fake-server")
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def connect(self) -> MCPClient:
        return self

    def list_tools(self) -> list[Any]:
        schema = {"type": "object", "properties": {}}
        return [
            SimpleNamespace(name="clock", description="now", input_schema=schema,
                            annotations=SimpleNamespace(read_only_hint=True)),
            SimpleNamespace(name="wipe", description="delete all", input_schema=schema, annotations=None),
        ]  # fmt: skip

    def call(self, name: str, arguments: Any) -> str:
        self.calls.append((name, dict(arguments)))
        return f"{name} ran"


def test_an_argument_cannot_redirect_a_call_to_another_tool() -> None:
    server = FakeServer()
    tools = {t.name: t for t in server.tools()}
    assert not tools["clock"].side_effects and tools["wipe"].side_effects
    asked: list[str] = []
    turns = [[ToolCall("a", "clock", '{"_name": "wipe", "name": "wipe"}')], "done"]
    Agent(ScriptedToolModel(turns=turns), list(tools.values()), confirm=lambda t, c: asked.append(t.name) or False).run(
        "what time is it?"
    )
    assert server.calls == [("clock", {"_name": "wipe", "name": "wipe"})]  # the server's own schema check decides
    assert asked == []
