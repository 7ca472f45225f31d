"""Tool calls in the trace store, beside the model calls of the same agent run (``kind="agent.tool"``)."""

from __future__ import annotations

import time
import uuid

from llmkit.agents.tools import ToolResult
from llmkit.observe.traces import Trace, TraceStore
from llmkit.types import GenerationParams, Message, ToolCall, Usage


def record_tool_call(
    store: TraceStore | None, call: ToolCall, result: ToolResult, seconds: float, agent: str, run_id: str, step: int
) -> str | None:
    """Write one tool call (arguments as sent, result, error, time) and return its trace id."""
    if store is None:
        return None
    trace = Trace(
        id=uuid.uuid4().hex,
        created=time.time(),
        kind="agent.tool",
        model=f"tool:{call.name}",
        messages=(Message.assistant("", (call,)),),
        params=GenerationParams(max_tokens=None, temperature=None).to_dict() | {"arguments": call.arguments},
        output=result.content,
        finish_reason="error" if result.is_error else "stop",
        usage=Usage(0, 0),  # a tool spends no model tokens
        latency_ms=seconds * 1000,
        error=result.content if result.is_error else None,
        attributes={"agent": agent, "agent_run": run_id, "step": step, "tool": call.name, "call_id": call.id},
    )
    store.record(trace)
    return trace.id
