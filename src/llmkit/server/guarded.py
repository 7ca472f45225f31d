"""The project's ``[guards]`` on the plain chat route: the conversation on the way in (any user turn can
block), replies on the way out (``screen_output`` here for whole ones; streams through ``guards.stream``).

A blocked message gets the guards' ``blocked_message`` with ``finish_reason: "content_filter"`` (OpenAI's
value for it) and no model call; redacted PII goes to the model as placeholders, restored in the reply.
Verdicts are traced and counted by the pipeline itself. ``rag/`` models get the same checks through
``Kit.ask``, and ``agent/default`` through the agent.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from llmkit.server import convert
from llmkit.server.sse import sse_response
from llmkit.types import Message, Usage

if TYPE_CHECKING:
    from llmkit.guards.base import Verdict
    from llmkit.guards.pipeline import GuardPipeline


async def screen_input(guards: GuardPipeline, messages: list[Message]) -> tuple[list[Message], Verdict | None]:
    """The conversation through the input guards (``GuardPipeline.check_conversation``), off the event loop."""
    if not guards.input:
        return messages, None
    return await asyncio.to_thread(guards.check_conversation, messages)


async def screen_output(guards: GuardPipeline, reply: dict[str, Any], verdict: Verdict | None) -> dict[str, Any]:
    """``reply`` with each choice's text through the output guards (and input placeholders restored)."""
    placeholders = dict(verdict.placeholders) if verdict is not None else {}
    if not guards.output and not placeholders:
        return reply
    choices = []
    for choice in reply["choices"]:
        text = choice["message"].get("content")
        if text:
            checked = await asyncio.to_thread(guards.check_output, text, placeholders=placeholders)
            finish = "content_filter" if checked.blocked else choice["finish_reason"]
            choice = {**choice, "message": {**choice["message"], "content": checked.text}, "finish_reason": finish}
        choices.append(choice)
    return {**reply, "choices": choices}


def blocked_reply(model: str, message: str, verdict: Verdict, stream: bool) -> Any:
    """The answer to a blocked request, as a whole reply or as a stream, with the reasons in ``guards``."""
    why = {"action": verdict.action, "reasons": list(verdict.reasons)}
    if not stream:
        choice = {"index": 0, "message": {"role": "assistant", "content": message}, "finish_reason": "content_filter"}
        return convert.chat_body(convert.completion_id(), model, [choice], Usage(0, 0), 0.0, guards=why)

    async def events() -> Any:
        delta = {"role": "assistant", "content": message}
        choice = {"index": 0, "delta": delta, "finish_reason": "content_filter", "logprobs": None}
        yield convert.chunk_body(convert.completion_id(), model, int(time.time()), [choice], guards=why)

    async def nothing() -> None:
        return None

    return sse_response(events(), nothing)
