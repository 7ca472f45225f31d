"""The agent loop over native tool calling: the official ``openai`` client against a real loopback server."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from llmkit.agents import Agent, Budget, tool
from llmkit.models.openai_compat import OpenAIChatModel
from llmkit.observe.traces import TraceStore

_PATH = Path(__file__).parents[1] / "models" / "fake_openai_server.py"
if "fake_openai_server" not in sys.modules:
    _spec = importlib.util.spec_from_file_location("fake_openai_server", _PATH)
    assert _spec and _spec.loader
    sys.modules["fake_openai_server"] = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(sys.modules["fake_openai_server"])
FakeOpenAIServer = sys.modules["fake_openai_server"].FakeOpenAIServer


@pytest.fixture
def server() -> Iterator[object]:
    with FakeOpenAIServer() as s:
        yield s


def test_native_tool_calls_run_once_and_are_traced(server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ran: list[str] = []

    @tool
    def lookup(q: str) -> str:
        """Look something up."""
        ran.append(q)
        return f"found {q}"

    model = OpenAIChatModel("tools", base_url=server.base_url, api_key="sk-test", max_retries=0)
    store = TraceStore(tmp_path / "traces.db")
    result = Agent(model, [lookup], budget=Budget(max_steps=3), trace_store=store).run("acme warranty")
    assert ran == ["acme warranty"]  # the server repeats the call; the loop answers repeats from the first result
    assert result.stop_reason == "max_steps" and result.usage.total_tokens
    sent = server.requests
    assert sent[0]["tools"][0]["function"]["name"] == "lookup" and sent[0]["stream"] is True
    second = sent[1]["messages"]
    assert second[-2]["tool_calls"][0]["function"]["name"] == "lookup" and second[-1]["role"] == "tool"
    assert second[-1]["content"].startswith('<tool_output tool="lookup" trust="untrusted">')
    assert sent[2].get("tool_choice") == "none"
    kinds = sorted(t.kind for t in store.list(limit=20))
    assert kinds == ["agent"] * 3 + ["agent.tool"] * 3  # repeats are recorded too (answered from memory)
