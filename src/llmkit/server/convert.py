"""OpenAI wire bodies <-> llmkit types: messages, generation parameters, responses and stream chunks."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from typing import Any

from llmkit.config import ModelSettings
from llmkit.errors import InputError
from llmkit.server.errors import ApiError
from llmkit.server.schemas import ChatMessageIn, ChatRequest, ToolChoiceNamed, _Sampling
from llmkit.types import Citation, GenerationParams, Message, ToolCall, ToolSpec, Usage


def content_text(content: str | list[dict[str, Any]] | None) -> str:
    """The text of a message's content; content parts other than text are refused.

    >>> content_text([{"type": "text", "text": "a"}, {"type": "text", "text": "b"}])
    'ab'
    """
    if content is None or isinstance(content, str):
        return content or ""
    parts = []
    for part in content:
        if part.get("type") != "text" or not isinstance(part.get("text"), str):
            raise InputError(f"unsupported content part {part.get('type')!r}: only text parts are served")
        parts.append(part["text"])
    return "".join(parts)


def to_message(m: ChatMessageIn) -> Message:
    role = "system" if m.role == "developer" else m.role
    calls = tuple(ToolCall(c.id, c.function.name, c.function.arguments) for c in m.tool_calls or ())
    return Message(role, content_text(m.content), m.name, calls, m.tool_call_id)  # type: ignore[arg-type]


def to_params(body: _Sampling, defaults: ModelSettings, max_request_tokens: int) -> GenerationParams:
    """The call's ``GenerationParams``: the request's values, else the configured model's defaults."""
    max_tokens = getattr(body, "max_completion_tokens", None) or body.max_tokens or defaults.max_tokens
    if max_tokens > max_request_tokens:
        raise ApiError(
            400, f"max_tokens {max_tokens} is over this server's limit of {max_request_tokens} tokens a request",
            code="request_too_many_tokens", param="max_tokens",
        )  # fmt: skip
    stop = (body.stop,) if isinstance(body.stop, str) else tuple(body.stop or ())
    if len(stop) > 4 or any(not s for s in stop):
        raise InputError("stop: give up to 4 non-empty strings")
    extra: dict[str, Any] = {}
    if isinstance(body, ChatRequest):
        extra = _structured(body)
    return GenerationParams(
        max_tokens=max_tokens,
        temperature=defaults.temperature if body.temperature is None else body.temperature,
        top_p=body.top_p if body.top_p is not None else defaults.top_p,
        seed=body.seed if body.seed is not None else defaults.seed,
        stop=stop,
        **extra,
    )


def _structured(body: ChatRequest) -> dict[str, Any]:
    """``json_schema``, ``tools`` and ``tool_choice`` from a chat request."""
    out: dict[str, Any] = {}
    fmt = body.response_format
    if fmt is not None and fmt.type == "json_object":
        out["json_schema"] = {}
    elif fmt is not None and fmt.type == "json_schema":
        if fmt.json_schema is None:
            raise InputError("response_format.json_schema is required when type is 'json_schema'")
        out["json_schema"] = fmt.json_schema.schema_ or {}
    if body.tools:
        out["tools"] = tuple(
            ToolSpec(t.function.name, t.function.description, t.function.parameters) for t in body.tools
        )
        choice = body.tool_choice
        out["tool_choice"] = choice.function.name if isinstance(choice, ToolChoiceNamed) else (choice or "auto")
    elif isinstance(body.tool_choice, ToolChoiceNamed):
        raise InputError("tool_choice names a function but no tools were given")
    return out


def completion_id(kind: str = "chatcmpl") -> str:
    """``kind-`` and 24 random hex digits (``os.urandom``: as random as ``uuid4``, a fifth of its cost).

    >>> len(completion_id()), completion_id("cmpl")[:5]
    (33, 'cmpl-')
    """
    return f"{kind}-{os.urandom(12).hex()}"


def usage_dict(usage: Usage) -> dict[str, int | None]:
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
    }


def add_usage(a: Usage, b: Usage) -> Usage:
    """The sum of two usages; a count either side does not know stays unknown.

    >>> add_usage(Usage(1, 2), Usage(3, 4)), add_usage(Usage(1, None), Usage(3, 4))
    (Usage(prompt_tokens=4, completion_tokens=6), Usage(prompt_tokens=4, completion_tokens=None))
    """

    def plus(x: int | None, y: int | None) -> int | None:
        return None if x is None or y is None else x + y

    return Usage(plus(a.prompt_tokens, b.prompt_tokens), plus(a.completion_tokens, b.completion_tokens))


def assistant_message(text: str, calls: Sequence[ToolCall]) -> dict[str, Any]:
    msg: dict[str, Any] = {"role": "assistant", "content": text if text or not calls else None}
    if calls:
        msg["tool_calls"] = [c.to_openai() for c in calls]
    return msg


def chat_body(
    cid: str, model: str, choices: list[dict[str, Any]], usage: Usage, cost: float | None, **extra: Any
) -> dict[str, Any]:
    return {
        "id": cid,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": choices,
        "usage": usage_dict(usage),
        "cost_usd": cost,
        **extra,
    }


def chunk_body(cid: str, model: str, created: int, choices: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model, "choices": choices,
            **extra}  # fmt: skip


def citation_dict(c: Citation) -> dict[str, Any]:
    return {"n": c.n, "source": c.source, "location": c.location, "doc_id": c.doc_id, "chunk_id": c.chunk_id,
            "page": c.page, "heading": c.heading, "snippet": c.snippet}  # fmt: skip


def sources_text(citations: Sequence[Citation]) -> str:
    """The sources block appended to a RAG answer.

    >>> c = Citation(1, "d:0", "d", "faq.md", "chars 0–10", None, None, 0, 10, "x")
    >>> sources_text([c])
    '\\n\\nSources:\\n[1] faq.md (chars 0–10)'
    """
    if not citations:
        return ""
    return "\n\nSources:\n" + "\n".join(f"[{c.n}] {c.source} ({c.location})" for c in citations)
