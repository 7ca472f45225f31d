from __future__ import annotations

from typing import Annotated, Literal

import pytest
from pydantic import Field

from llmkit.agents import Tool, tool
from llmkit.errors import InputError
from llmkit.types import ToolCall


@tool
def area(width: float, height: Annotated[float, Field(gt=0, description="in metres")] = 1.0) -> float:
    """Area of a rectangle.

    More text that is not part of the description.
    """
    return width * height


def test_schema_from_signature_and_docstring() -> None:
    spec = area.spec
    assert spec.name == "area" and spec.description == "Area of a rectangle."
    assert spec.parameters["required"] == ["width"]
    assert spec.parameters["properties"]["width"] == {"type": "number"}
    assert spec.parameters["properties"]["height"]["description"] == "in metres"
    assert spec.parameters["additionalProperties"] is False


def test_valid_call_runs_and_coerces() -> None:
    assert area.invoke(ToolCall("1", "area", '{"width": 2, "height": 3}')).content == "6.0"


@pytest.mark.parametrize(
    ("arguments", "needle"),
    [
        ('{"height": 3}', "width"),  # missing required
        ('{"width": "wide"}', "width"),  # wrong type
        ('{"width": 2, "height": -1}', "height"),  # constraint
        ('{"width": 2, "colour": "red"}', "colour"),  # unknown key
        ("not json", "not valid JSON"),
        ("[1, 2]", "JSON object"),
    ],
)
def test_schema_invalid_calls_never_reach_the_function(arguments: str, needle: str) -> None:
    seen: list[dict] = []

    @tool
    def guarded(width: float, height: Annotated[float, Field(gt=0)] = 1.0) -> str:
        """Records every call it gets."""
        seen.append({"width": width, "height": height})
        return "ran"

    result = guarded.invoke(ToolCall("1", "guarded", arguments))
    assert result.is_error and needle in result.content and "again" in result.content
    assert seen == []


def test_tool_exception_becomes_an_observation() -> None:
    @tool
    def boom(x: int) -> int:
        """Always fails."""
        raise ValueError(f"bad {x}")

    result = boom.invoke(ToolCall("1", "boom", '{"x": 3}'))
    assert result.is_error and "ValueError: bad 3" in result.content


def test_a_tool_calling_sys_exit_is_an_observation_not_the_end_of_the_process() -> None:
    @tool
    def quit_(code: int) -> int:
        """Exits."""
        raise SystemExit(code)

    result = quit_.invoke(ToolCall("1", "quit_", '{"code": 3}'))
    assert result.is_error and "SystemExit: 3" in result.content


def test_literal_and_side_effects_and_bad_names() -> None:
    @tool(side_effects=True, name="set-mode")
    def set_mode(mode: Literal["fast", "slow"]) -> str:
        """Set the mode."""
        return mode

    assert set_mode.side_effects and set_mode.spec.parameters["properties"]["mode"]["enum"] == ["fast", "slow"]
    assert set_mode.invoke(ToolCall("1", "set-mode", '{"mode": "warp"}')).is_error
    with pytest.raises(InputError):
        Tool.from_function(lambda x: x, name="has space")

    def varargs(*xs: int) -> int:
        return sum(xs)

    with pytest.raises(InputError, match="keyword"):
        Tool.from_function(varargs)


def test_from_schema_validates_with_json_schema() -> None:
    schema = {"type": "object", "properties": {"tz": {"type": "string"}}, "required": ["tz"]}
    t = Tool.from_schema("now", "Current time.", schema, lambda tz: f"noon in {tz}")
    assert t.invoke(ToolCall("1", "now", '{"tz": "UTC"}')).content == "noon in UTC"
    bad = t.invoke(ToolCall("1", "now", '{"tz": 5}'))
    assert bad.is_error and "tz" in bad.content
    with pytest.raises(InputError, match="JSON Schema"):
        Tool.from_schema("x", "", {"type": "nonsense"}, lambda: None)


def test_long_results_are_cut() -> None:
    @tool
    def big() -> str:
        """Lots of text."""
        return "x" * 20_000

    out = big.invoke(ToolCall("1", "big", "{}")).content
    assert len(out) < 8100 and "more characters" in out


def test_hostile_arguments_are_refused_not_raised() -> None:
    for arguments in (
        "[" * 100_000 + "]" * 100_000,
        "[" * 20_000 + "]" * 20_000,
        '{"width": "' + "9" * 200_000 + '"}',
        "",
        "null",
        "{}",
    ):
        result = area.invoke(ToolCall("1", "area", arguments))
        assert result.is_error, arguments[:20]
