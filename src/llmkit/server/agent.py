"""``agent/default``: the project's agent (its ``[agent]`` settings) served as a model.

Each chat turn runs the agent on the last user message, holding a slot of the chat model's gate for
the whole run (its model calls go to the same model). Nobody is there to confirm a tool with side
effects, so only the tools ``agent.allow`` names may have them. The reply's content is the agent's
answer; the body's ``agent`` field lists the steps (tool calls, results) and why the run stopped. A
streamed request gets the answer as one chunk when the run ends.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from llmkit.errors import InputError, NotFound
from llmkit.observe.traces import trace_attributes
from llmkit.server import convert
from llmkit.server.rag import split_turns
from llmkit.server.sse import sse_response
from llmkit.server.state import AGENT_MODEL
from llmkit.server.telemetry import REQUEST_ID, tracer

if TYPE_CHECKING:
    from llmkit.agents.loop import AgentResult
    from llmkit.server.deps import Caller
    from llmkit.server.schemas import ChatRequest
    from llmkit.server.state import ServerState

AGENT_PREFIX = "agent/"


def run_agent(state: ServerState, task: str) -> AgentResult:
    """On the model's worker: build the project's agent and run it on ``task``."""
    from llmkit.agents.project import project_agent

    attributes = trace_attributes(kind="server.agent", request_id=REQUEST_ID.get())
    with tracer().start_as_current_span("agent"), attributes, project_agent(state.kit) as agent:
        return agent.run(task)


async def agent_completion(state: ServerState, caller: Caller, body: ChatRequest) -> Any:
    if body.model != AGENT_MODEL:
        raise NotFound(f"no model {body.model!r}", hint=f"the project's agent is served as {AGENT_MODEL!r}")
    caller.require("chat")
    if body.n != 1:
        raise InputError("agent models give one answer: n must be 1", hint="drop n")
    task, _ = split_turns([convert.to_message(m) for m in body.messages])
    served = state.chat
    async with served.gate.slot():
        result = await served.worker.run(run_agent, state, task)
    cost = state.prices.cost(served.id, result.usage)
    state.metrics.count_tokens(served.id, result.usage.prompt_tokens, result.usage.completion_tokens, cost)
    state.limiter.spend(caller.bucket, result.usage.total_tokens or 0)
    if body.stream:
        usage = bool(body.stream_options and body.stream_options.include_usage)
        return sse_response(_events(body.model, result, cost, usage), _nothing)
    choice = {"index": 0, "message": {"role": "assistant", "content": result.answer}, "finish_reason": "stop"}
    return convert.chat_body(convert.completion_id(), body.model, [choice], result.usage, cost, agent=steps(result))


def steps(result: AgentResult) -> dict[str, Any]:
    """The run as JSON: why it stopped, and each tool call with its result."""
    calls = [
        {"tool": s.call.name, "arguments": s.call.arguments, "result": s.result.content, "error": s.result.is_error}
        for s in result.steps
        if s.kind == "tool" and s.call is not None and s.result is not None
    ]
    return {"stop_reason": result.stop_reason, "steps": calls, "run_id": result.run_id, "seconds": result.seconds}


async def _events(model: str, result: AgentResult, cost: float | None, usage_on: bool) -> AsyncIterator[dict]:
    cid, created = convert.completion_id(), int(time.time())
    extra: dict[str, Any] = {"usage": None} if usage_on else {}
    delta = {"role": "assistant", "content": result.answer}
    choice = {"index": 0, "delta": delta, "finish_reason": "stop", "logprobs": None}
    yield convert.chunk_body(cid, model, created, [choice], agent=steps(result), **extra)
    if usage_on:
        yield convert.chunk_body(cid, model, created, [], usage=convert.usage_dict(result.usage), cost_usd=cost)


async def _nothing() -> None:
    return None
