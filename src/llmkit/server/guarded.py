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
    """``reply`` with each choice's text (a chat message's content, or a text completion's ``text``) through the
    output guards, and input placeholders restored."""
    placeholders = dict(verdict.placeholders) if verdict is not None else {}
    if not guards.output and not placeholders:
        return reply
    choices = []
    for choice in reply["choices"]:
        message = choice.get("message")
        text = message.get("content") if message is not None else choice.get("text")
        if text:
            checked = await asyncio.to_thread(guards.check_output, text, placeholders=placeholders)
            finish = "content_filter" if checked.blocked else choice["finish_reason"]
            shown = {"message": {**message, "content": checked.text}} if message is not None else {"text": checked.text}
            choice = {**choice, **shown, "finish_reason": finish}
        choices.append(choice)
    return {**reply, "choices": choices}


def blocked_reply(
    model: str, message: str, verdict: Verdict, stream: bool, *, include_usage: bool = False, text: bool = False
) -> Any:
    """The answer to a blocked request, as a whole reply or as a stream, with the reasons in ``guards``.

    ``text``: shaped as a text completion (``/v1/completions``); ``include_usage``: a stream ends with the
    (empty) usage chunk the client asked for, as every stream does.
    """
    why = {"action": verdict.action, "reasons": list(verdict.reasons)}
    kind = {"object": "text_completion"} if text else {}
    if not stream:
        content: dict[str, Any] = {"text": message} if text else {"message": {"role": "assistant", "content": message}}
        choice = {"index": 0, **content, "finish_reason": "content_filter", **({"logprobs": None} if text else {})}
        cid = convert.completion_id("cmpl" if text else "chatcmpl")
        return {**convert.chat_body(cid, model, [choice], Usage(0, 0), 0.0, guards=why), **kind}

    async def events() -> Any:
        cid, created = convert.completion_id("cmpl" if text else "chatcmpl"), int(time.time())
        delta = {"text": message} if text else {"delta": {"role": "assistant", "content": message}}
        choice = {"index": 0, **delta, "finish_reason": "content_filter", "logprobs": None}
        extra: dict[str, Any] = {"usage": None} if include_usage else {}
        yield {**convert.chunk_body(cid, model, created, [choice], guards=why, **extra), **kind}
        if include_usage:
            yield {**convert.chunk_body(cid, model, created, [], usage=convert.usage_dict(Usage(0, 0)), cost_usd=0.0),
                   **kind}  # fmt: skip

    async def nothing() -> None:
        return None

    return sse_response(events(), nothing)
