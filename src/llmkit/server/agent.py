"""``agent/default``: the project's agent (its ``[agent]`` settings) served as a model.

Each chat turn runs the agent on the last user message, holding a slot of the chat model's gate for
the whole run (its model calls go to the same model). Nobody is there to confirm a tool with side
effects, so only the tools ``agent.allow`` names may have them. The reply's content is the agent's
answer; the body's ``agent`` field lists the steps (tool calls, results) and why the run stopped. A
streamed request gets the answer as one chunk when the run ends.
"""

from __future__ import annotations

import functools
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, Any, cast

from llmkit.errors import InputError, NotFound
from llmkit.observe.traces import trace_attributes
from llmkit.server import convert
from llmkit.server.errors import ApiError
from llmkit.server.rag import split_turns
from llmkit.server.sse import sse_response
from llmkit.server.state import AGENT_MODEL
from llmkit.server.telemetry import REQUEST_ID, tracer
from llmkit.types import Usage

if TYPE_CHECKING:
    from llmkit.agents.loop import AgentResult, Step
    from llmkit.server.deps import Caller
    from llmkit.server.schemas import ChatRequest
    from llmkit.server.state import ServerState

AGENT_PREFIX = "agent/"


def agent_items(state: ServerState, caller: Caller, task: str) -> Iterator[Step | AgentResult]:
    """On the model's worker: build the project's agent, run it on ``task``, yield its steps, then the result.

    Its retrieval tool searches only what the caller's key may ``query``. Closing the iterator ends the run
    after the step under way.
    """
    from llmkit.agents.project import project_agent

    attributes = trace_attributes(kind="server.agent", request_id=REQUEST_ID.get())
    may_search = functools.partial(caller.allows, "query")
    with tracer().start_as_current_span("agent"), attributes, project_agent(state.kit, may_search=may_search) as agent:
        run = agent.iter(task)
        yield from run
        assert run.result is not None
        yield run.result


async def agent_completion(
    state: ServerState, caller: Caller, body: ChatRequest, gone: Callable[[], Awaitable[bool]] | None = None
) -> Any:
    if body.model != AGENT_MODEL:
        raise NotFound(f"no model {body.model!r}", hint=f"the project's agent is served as {AGENT_MODEL!r}")
    caller.require("chat")
    if body.n != 1:
        raise InputError("agent models give one answer: n must be 1", hint="drop n")
    task, _ = split_turns([convert.to_message(m) for m in body.messages])
    served = state.chat
    async with served.gate.slot(gone):
        items, stopped = await served.worker.collect(lambda: agent_items(state, caller, task), gone)
    if stopped:
        state.charge(caller.bucket, _used(items))
        raise ApiError(499, "the client closed the request", code="client_closed")
    result = cast("AgentResult", items[-1])
    cost = state.charge(caller.bucket, result.usage)
    if body.stream:
        usage = bool(body.stream_options and body.stream_options.include_usage)
        return sse_response(_events(body.model, result, cost, usage), _nothing)
    choice = {"index": 0, "message": {"role": "assistant", "content": result.answer}, "finish_reason": _finish(result)}
    return convert.chat_body(convert.completion_id(), body.model, [choice], result.usage, cost, agent=steps(result))


def _finish(result: AgentResult) -> str:
    """``content_filter`` when a guard blocked the task or the answer, as chat's replies say it."""
    return "content_filter" if result.stop_reason == "blocked" else "stop"


def _used(items: list[Step | AgentResult]) -> Usage:
    """The tokens a run used: its result's count if it finished, else its model steps' so far."""
    from llmkit.agents.loop import AgentResult

    if items and isinstance(items[-1], AgentResult):
        return items[-1].usage
    used = Usage(0, 0)
    for step in items:
        if isinstance(step, AgentResult) or step.usage is None:
            continue
        used = convert.add_usage(used, step.usage)
    return used


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
    choice = {"index": 0, "delta": delta, "finish_reason": _finish(result), "logprobs": None}
    yield convert.chunk_body(cid, model, created, [choice], agent=steps(result), **extra)
    if usage_on:
        yield convert.chunk_body(cid, model, created, [], usage=convert.usage_dict(result.usage), cost_usd=cost)


async def _nothing() -> None:
    return None
