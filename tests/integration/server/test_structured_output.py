"""Tools and JSON-schema replies through the server with the official client (grammar-enforced on llama.cpp)."""

from __future__ import annotations

import json

import pytest
from live_server import MODEL, Live

pytestmark = [pytest.mark.integration, pytest.mark.slow]

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
ASK = [{"role": "user", "content": "What is the weather in Paris?"}]


def test_json_schema_reply_is_valid_json(live: Live) -> None:
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    reply = live.client("chat").chat.completions.create(
        model=MODEL, messages=ASK, max_tokens=40, temperature=0,
        response_format={"type": "json_schema", "json_schema": {"name": "place", "schema": schema}},
    )  # fmt: skip
    value = json.loads(reply.choices[0].message.content)
    assert isinstance(value, dict) and isinstance(value["city"], str)


def test_json_object_reply(live: Live) -> None:
    reply = live.client("chat").chat.completions.create(
        model=MODEL, messages=ASK, max_tokens=40, temperature=0, response_format={"type": "json_object"}
    )
    assert isinstance(json.loads(reply.choices[0].message.content), dict)


def test_required_tool_call(live: Live) -> None:
    reply = live.client("chat").chat.completions.create(
        model=MODEL, messages=ASK, max_tokens=60, temperature=0, tools=[WEATHER],
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
    )  # fmt: skip
    choice = reply.choices[0]
    assert choice.finish_reason == "tool_calls"
    call = choice.message.tool_calls[0]
    assert call.function.name == "get_weather" and isinstance(json.loads(call.function.arguments)["city"], str)


def test_streamed_tool_call(live: Live) -> None:
    stream = live.client("chat").chat.completions.create(
        model=MODEL, messages=ASK, max_tokens=60, temperature=0, tools=[WEATHER], tool_choice="required", stream=True
    )
    chunks = list(stream)
    calls = [tc for c in chunks if c.choices for tc in (c.choices[0].delta.tool_calls or [])]
    assert calls and calls[0].function.name == "get_weather"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "tool_calls"
