from __future__ import annotations

import pytest
from pydantic import BaseModel

from llmkit.errors import InputError, ModelError
from llmkit.structured.core import StructuredGenerator, schema_of, validation_errors
from llmkit.structured.repair import find_json, parse_lenient, repair
from llmkit.testing import FakeChatModel
from llmkit.types import Message

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
