"""Tool calls and JSON replies for models with no native support (llama.cpp): a prompt, a grammar, a parser.

The model is told about the tools in a system message and must reply with one JSON object, either
``{"tool_calls": [{"name": ..., "arguments": {...}}, ...]}`` (one or more calls, run in parallel) or
``{"content": "..."}`` (a direct answer). The object's JSON Schema becomes a llama.cpp grammar
(``llama_cpp.llama_grammar.json_schema_to_gbnf``), so even a 135M model can only write a well-formed
reply naming a real tool, with arguments shaped by that tool's schema where the schema converts.

Chat templates that know no ``tool`` role get tool results as user turns, and earlier calls as the
JSON the model would have written, so a conversation reads the same to the model either way.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from llmkit.types import Message, ToolCall, ToolSpec

ANY_OBJECT: dict[str, Any] = {"type": "object"}
#: Calls one reply may hold: small models otherwise repeat a call until max_tokens.
MAX_PARALLEL_CALLS = 5


def active_tools(tools: Sequence[ToolSpec], tool_choice: str) -> tuple[ToolSpec, ...]:
    """The tools the model may call under ``tool_choice`` ("none" → none, a name → that one).

    >>> [t.name for t in active_tools([ToolSpec("a"), ToolSpec("b")], "b")]
    ['b']
    >>> active_tools([ToolSpec("a")], "none")
    ()
    """
    if tool_choice == "none":
        return ()
    if tool_choice in ("auto", "required"):
        return tuple(tools)
    return tuple(t for t in tools if t.name == tool_choice)


def reply_schema(
    tools: Sequence[ToolSpec], tool_choice: str = "auto", content_schema: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The JSON Schema every reply must satisfy while tools are offered.

    >>> s = reply_schema([ToolSpec("now")], "required")
    >>> s["required"], s["properties"]["tool_calls"]["items"]["properties"]["name"]
    (['tool_calls'], {'const': 'now'})
    """
    calls = [
        {
            "type": "object",
            "properties": {"name": {"const": t.name}, "arguments": _arguments_schema(t)},
            "required": ["name", "arguments"],
        }
        for t in tools
    ]
    item = calls[0] if len(calls) == 1 else {"anyOf": calls}
    call_reply = {
        "type": "object",
        "properties": {"tool_calls": {"type": "array", "items": item, "minItems": 1, "maxItems": MAX_PARALLEL_CALLS}},
        "required": ["tool_calls"],
    }
    if tool_choice != "auto":
        return call_reply
    content = dict(content_schema) if content_schema is not None else {"type": "string"}
    answer = {"type": "object", "properties": {"content": content}, "required": ["content"]}
    return {"anyOf": [call_reply, answer]}


def tools_prompt(tools: Sequence[ToolSpec], tool_choice: str = "auto") -> str:
    """The system-message section that tells the model how to call ``tools``."""
    lines = ["You can call these tools:"]
    for t in tools:
        lines.append(f"- {t.name}: {t.description or '(no description)'}")
        lines.append(f"  arguments (JSON Schema): {json.dumps(dict(t.parameters), separators=(',', ':'))}")
    lines.append("")
    lines.append("Reply with one JSON object and nothing else.")
    lines.append(
        'To call tools: {"tool_calls": [{"name": "<tool>", "arguments": {...}}]} '
        "(several calls may go in the list; their results come back in the next messages)."
    )
    if tool_choice == "auto":
        lines.append('To answer without a tool: {"content": "<your answer>"}.')
    elif tool_choice != "required":
        lines.append(f"You must call the tool {tool_choice}.")
    return "\n".join(lines)


def prepare_messages(
    messages: Sequence[Message], tools: Sequence[ToolSpec], tool_choice: str, *, tool_role: bool
) -> list[dict[str, Any]]:
    """Wire dicts for a chat template: the tools prompt merged into the system message, and tool turns
    rewritten for templates without a ``tool`` role (``tool_role=False``)."""
    out = [_turn(m, tool_role) for m in messages]
    if tools:
        section = tools_prompt(tools, tool_choice)
        if out and out[0]["role"] == "system":
            out[0] = out[0] | {"content": f"{out[0]['content']}\n\n{section}"}
        else:
            out.insert(0, {"role": "system", "content": section})
    return out


def parse_reply(text: str, *, content_is_json: bool = False) -> tuple[str, tuple[ToolCall, ...]]:
    """Split a protocol reply into (content, tool calls). Text that is not a protocol object is content.

    >>> parse_reply('{"tool_calls": [{"name": "add", "arguments": {"a": 1}}]}')[1][0].arguments
    '{"a": 1}'
    >>> len(parse_reply('{"tool_calls": [{"name": "f", "arguments": {}}, {"name": "f", "arguments": {}}]}')[1])
    1
    >>> parse_reply('{"content": "Paris."}')
    ('Paris.', ())
    >>> parse_reply('{"tool_calls": [{"name": "add", "argu')  # cut off by max_tokens
    ('{"tool_calls": [{"name": "add", "argu', ())
    """
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return text, ()
    if not isinstance(value, dict):
        return text, ()
    if isinstance(value.get("tool_calls"), list):
        unique = {  # the same call twice in one reply is a small model stuttering: keep one
            (str(c["name"]), json.dumps(c.get("arguments", {}))): None
            for c in value["tool_calls"]
            if isinstance(c, dict) and "name" in c
        }
        return "", tuple(ToolCall(new_call_id(), name, args) for name, args in unique)
    if "content" in value:
        content = value["content"]
        return (json.dumps(content) if content_is_json else str(content)), ()
    return text, ()


def new_call_id() -> str:
    """An id in OpenAI's style: ``call_`` and 24 hex digits."""
    return "call_" + secrets.token_hex(12)


def gbnf(schema: Mapping[str, Any]) -> str:
    """A llama.cpp grammar for ``schema`` (``{}`` means any JSON object). Raises ``InputError`` if unsupported."""
    return _gbnf(json.dumps(dict(schema) or ANY_OBJECT))  # key order kept: properties are written in order


@lru_cache(maxsize=64)
def _gbnf(schema_json: str) -> str:
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    from llmkit.errors import InputError

    try:
        return json_schema_to_gbnf(schema_json)
    except Exception as e:  # the converter raises plain exceptions for features it lacks
        raise InputError(f"this JSON Schema cannot be turned into a grammar: {e}") from None


def _arguments_schema(tool: ToolSpec) -> dict[str, Any]:
    """The tool's own schema when the grammar converter takes it, else any JSON object."""
    schema = dict(tool.parameters) or ANY_OBJECT
    try:
        gbnf(schema)
    except Exception:
        return ANY_OBJECT
    return schema


def _turn(m: Message, tool_role: bool) -> dict[str, Any]:
    if m.role == "assistant" and m.tool_calls:
        calls = [{"name": c.name, "arguments": _loads_or_text(c.arguments)} for c in m.tool_calls]
        return {"role": "assistant", "content": json.dumps({"tool_calls": calls})}
    if m.role == "tool":
        if tool_role:
            return {"role": "tool", "content": m.content}
        who = f"tool {m.name}" if m.name else "tool"
        return {"role": "user", "content": f"Result of {who} (call {m.tool_call_id}):\n{m.content}"}
    return {"role": m.role, "content": m.content} | ({"name": m.name} if m.name else {})


def _loads_or_text(arguments: str) -> Any:
    try:
        return json.loads(arguments)
    except json.JSONDecodeError:
        return arguments
