from __future__ import annotations

import json

import pytest

from llmkit.errors import InputError
from llmkit.models import tool_protocol as tp
from llmkit.types import GenerationParams, Message, ToolCall, ToolSpec

ADD = ToolSpec("add", "Add two numbers", {"type": "object", "properties": {"a": {"type": "number"}}, "required": ["a"]})
NOW = ToolSpec("now", "The time")


def test_reply_schema_offers_calls_and_an_answer_under_auto() -> None:
    schema = tp.reply_schema([ADD, NOW])
    calls, answer = schema["anyOf"]
    names = [c["properties"]["name"]["const"] for c in calls["properties"]["tool_calls"]["items"]["anyOf"]]
    assert names == ["add", "now"]
    assert calls["properties"]["tool_calls"]["maxItems"] == tp.MAX_PARALLEL_CALLS
    assert answer["properties"]["content"] == {"type": "string"}


def test_reply_schema_required_or_named_allows_only_calls() -> None:
    assert tp.reply_schema([ADD], "required")["required"] == ["tool_calls"]
    assert tp.active_tools([ADD, NOW], "now") == (NOW,)
    assert tp.active_tools([ADD, NOW], "none") == ()


def test_json_schema_shapes_the_answer_branch() -> None:
    schema = tp.reply_schema([ADD], "auto", {"type": "object", "properties": {"x": {"type": "integer"}}})
    assert schema["anyOf"][1]["properties"]["content"]["properties"] == {"x": {"type": "integer"}}
    assert tp.parse_reply('{"content": {"x": 1}}', content_is_json=True) == ('{"x": 1}', ())


def test_every_reply_schema_converts_to_a_grammar() -> None:
    pytest.importorskip("llama_cpp")
    for choice in ("auto", "required", "add"):
        grammar = tp.gbnf(tp.reply_schema(tp.active_tools([ADD, NOW], choice), choice))
        assert "root ::=" in grammar and '\\"add\\"' in grammar


def test_a_schema_the_converter_rejects_is_an_input_error_and_args_fall_back_to_any_object() -> None:
    pytest.importorskip("llama_cpp")
    odd = {"type": "object", "properties": {"x": {"$ref": "https://example.com/elsewhere.json"}}}
    with pytest.raises(InputError, match="grammar"):
        tp.gbnf(odd)
    schema = tp.reply_schema([ToolSpec("odd", "", odd)], "required")
    assert schema["properties"]["tool_calls"]["items"]["properties"]["arguments"] == tp.ANY_OBJECT


@pytest.mark.parametrize(
    ("text", "content", "names"),
    [
        (
            '{"tool_calls": [{"name": "add", "arguments": {"a": 1}}, {"name": "now", "arguments": {}}]}',
            "",
            ["add", "now"],
        ),
        ('{"content": "hi"}', "hi", []),
        ("plain text", "plain text", []),
        ("[1, 2]", "[1, 2]", []),
        ('{"tool_calls": [{"arguments": {}}]}', "", []),  # no name: dropped
        ('{"other": 1}', '{"other": 1}', []),
        ("", "", []),
    ],
)
def test_parse_reply(text: str, content: str, names: list[str]) -> None:
    got_content, calls = tp.parse_reply(text)
    assert got_content == content
    assert [c.name for c in calls] == names
    assert all(c.id.startswith("call_") and len(c.id) == 29 for c in calls)


def test_prepare_messages_merges_the_tools_prompt_into_the_system_turn() -> None:
    turns = tp.prepare_messages([Message.system("Be brief."), Message.user("hi")], [ADD], "auto", tool_role=True)
    assert turns[0]["content"].startswith("Be brief.\n\nYou can call these tools:")
    assert '"content"' in turns[0]["content"] and "add: Add two numbers" in turns[0]["content"]
    turns = tp.prepare_messages([Message.user("hi")], [ADD], "add", tool_role=True)
    assert turns[0]["role"] == "system" and "You must call the tool add." in turns[0]["content"]
    assert tp.prepare_messages([Message.user("hi")], [], "auto", tool_role=True) == [{"role": "user", "content": "hi"}]


def test_tool_turns_are_rewritten_for_templates_without_a_tool_role() -> None:
    call = ToolCall("call_1", "add", '{"a": 2}')
    history = [Message.user("2?"), Message.assistant("", (call,)), Message.tool("2", "call_1", "add")]
    plain = tp.prepare_messages(history, [], "auto", tool_role=False)
    assert json.loads(plain[1]["content"]) == {"tool_calls": [{"name": "add", "arguments": {"a": 2}}]}
    assert plain[2] == {"role": "user", "content": "Result of tool add (call call_1):\n2"}
    assert tp.prepare_messages(history, [], "auto", tool_role=True)[2] == {"role": "tool", "content": "2"}


def test_types_validate_tool_choice_and_arguments() -> None:
    with pytest.raises(InputError, match="names no tool"):
        GenerationParams(tools=(ADD,), tool_choice="nope")
    assert GenerationParams(tools=[ADD]).tools == (ADD,)  # lists become tuples
    with pytest.raises(InputError, match="not valid JSON"):
        ToolCall("c", "add", "{oops").parsed_arguments()
    with pytest.raises(InputError, match="JSON object"):
        ToolCall("c", "add", "[1]").parsed_arguments()
    assert ToolCall("c", "add", "").parsed_arguments() == {}
    assert Message.from_dict({"role": "assistant", "content": None}) == Message.assistant("")
