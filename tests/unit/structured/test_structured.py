from __future__ import annotations

import pytest
from pydantic import BaseModel

from llmkit.errors import InputError, ModelError
from llmkit.structured.core import StructuredGenerator, schema_of, validation_errors
from llmkit.structured.repair import find_json, parse_lenient, repair
from llmkit.testing import FakeChatModel
from llmkit.types import GenerationParams, Message

SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "population": {"type": "integer", "minimum": 0}},
    "required": ["city", "population"],
    "additionalProperties": False,
}


class City(BaseModel):
    city: str
    population: int


@pytest.mark.parametrize(
    ("reply", "value", "repaired"),
    [
        ('{"city": "Oslo", "population": 700000}', {"city": "Oslo", "population": 700000}, False),
        ('Here you go:\n```json\n{"city": "Oslo", "population": 1,}\n```', {"city": "Oslo", "population": 1}, True),
        ("{'city': 'Oslo', 'population': 2", {"city": "Oslo", "population": 2}, True),
        ('[1, 2, {"a": "x]y"}] trailing words', [1, 2, {"a": "x]y"}], True),
        ('{"s": "say \\"hi\\""}', {"s": 'say "hi"'}, False),
        ('{"name": "caf\\u00e9",}', {"name": "café"}, True),
        ('{"e": "\\ud83d\\ude00 \\uD83D", "c": "Z\\u00fcrich', {"e": "\U0001f600 \ud83d", "c": "Zürich"}, True),
        ("{'q': '\\u0027\\\\u0041'}", {"q": "'\\u0041"}, True),
    ],
)
def test_lenient_parsing(reply: str, value: object, repaired: bool) -> None:
    assert parse_lenient(reply) == (value, repaired)


def test_unparseable_replies_are_value_errors() -> None:
    with pytest.raises(ValueError, match="no JSON"):
        parse_lenient("I cannot do that.")
    assert find_json("") is None and repair("") == ""


def test_validation_against_schema_and_model() -> None:
    assert validation_errors({"city": "Oslo", "population": 1}, SCHEMA) == []
    errs = validation_errors({"city": 3, "population": -1, "x": 0}, SCHEMA)
    assert len(errs) == 3 and any("population" in e for e in errs)
    assert validation_errors({"city": "Oslo"}, City) == ["population: Field required"]
    with pytest.raises(InputError, match="not a valid JSON Schema"):
        validation_errors({}, {"type": "nonsense"})
    with pytest.raises(InputError):
        schema_of("not a schema")


def test_valid_first_reply_passes_the_schema_to_the_backend() -> None:
    model = FakeChatModel(['{"city": "Oslo", "population": 700000}'])
    reply = StructuredGenerator(model).generate([Message.user("Oslo?")], City)
    assert reply.value == City(city="Oslo", population=700000) and reply.attempts == 1 and not reply.repaired
    messages, params = model.calls[0]
    assert params.json_schema == City.model_json_schema() and '"population"' in messages[0].content


def test_invalid_replies_are_re_asked_with_the_errors() -> None:
    model = FakeChatModel(['{"city": "Oslo"}', "```json\n{'city': 'Oslo', 'population': 5,}\n```"])
    reply = StructuredGenerator(model, grammar=False).generate([Message.user("Oslo?")], SCHEMA)
    assert reply.value == {"city": "Oslo", "population": 5} and reply.attempts == 2 and reply.repaired
    second = model.calls[1][0]
    assert model.calls[0][1].json_schema is None and "'population' is a required property" in second[-1].content
    assert reply.usage.prompt_tokens and reply.usage.completion_tokens


def test_giving_up_is_a_model_error() -> None:
    model = FakeChatModel(["no idea"])
    with pytest.raises(ModelError, match="in 2 attempts"):
        StructuredGenerator(model, retries=1).generate([Message.user("?")], SCHEMA)
    with pytest.raises(InputError):
        StructuredGenerator(model).generate([], SCHEMA)


def test_too_deep_a_reply_is_unparseable_and_re_asked() -> None:
    deep = "[" * 5000 + "]" * 5000
    with pytest.raises(ValueError, match="nested too deeply"):
        parse_lenient(deep)
    assert validation_errors(_nested(900), {"type": "array", "items": {"$ref": "#"}}) == [
        "value: nested too deeply to validate"
    ]
    model = FakeChatModel([deep, "[]"], window=10**6)
    params = GenerationParams(max_tokens=None)
    assert StructuredGenerator(model).generate([Message.user("?")], {"type": "array"}, params).attempts == 2
    with pytest.raises(ModelError, match="nested too deeply"):
        StructuredGenerator(FakeChatModel([deep], window=10**6)).generate(
            [Message.user("?")], {"type": "array"}, params
        )


def test_an_invalid_schema_fails_before_any_model_call() -> None:
    model = FakeChatModel(["no idea"])
    with pytest.raises(InputError, match="not a valid JSON Schema"):
        StructuredGenerator(model).generate([Message.user("?")], {"type": "nonsense"})
    assert model.calls == []


def _nested(depth: int) -> list:
    value: list = []
    for _ in range(depth):
        value = [value]
    return value
