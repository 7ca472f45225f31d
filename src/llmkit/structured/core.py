"""``StructuredGenerator``: a reply as a value valid against a JSON Schema or a pydantic model.

    gen = StructuredGenerator(model)                    # any ChatModel
    reply = gen.generate([Message.user("Extract the city: I live in Oslo.")], City)   # a pydantic model
    reply.value.name, reply.attempts, reply.repaired

The schema goes to the backend as ``GenerationParams.json_schema`` — a grammar on llama.cpp, so the reply
cannot be malformed; ``response_format`` on OpenAI-compatible servers — and into the prompt. Whatever
comes back is parsed leniently (``repair``), validated, and on failure the model is asked again with the
validation errors, up to ``retries`` times. ``grammar=False`` leaves the schema to the prompt alone (for
servers that reject ``response_format``).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from llmkit.errors import InputError, MissingExtra, ModelError
from llmkit.models.base import ChatModel
from llmkit.structured.repair import parse_lenient
from llmkit.types import GenerationParams, Message, Usage

INSTRUCTION = "Reply with only a JSON value that matches this JSON Schema, and nothing else:\n{schema}"
REASK = "That reply was not valid: {errors}. Reply again with only the corrected JSON."


def schema_of(target: Any) -> dict[str, Any]:
    """The JSON Schema of ``target``: a pydantic model class, or a schema given as a mapping.

    >>> schema_of({"type": "object"})
    {'type': 'object'}
    """
    if isinstance(target, type) and hasattr(target, "model_json_schema"):
        return target.model_json_schema()
    if isinstance(target, Mapping):
        return dict(target)
    raise InputError(f"expected a JSON Schema (a dict) or a pydantic model class, got {type(target).__name__}")


def validation_errors(value: Any, target: Any, limit: int = 5) -> list[str]:
    """Why ``value`` does not fit ``target`` (at most ``limit`` reasons); empty when it fits."""
    if _is_model(target):
        from pydantic import ValidationError

        try:
            target.model_validate(value)
        except ValidationError as e:
            return [f"{'.'.join(map(str, err['loc'])) or 'value'}: {err['msg']}" for err in e.errors()[:limit]]
        return []
    validator = schema_validator(schema_of(target))
    try:
        errors = sorted(validator.iter_errors(value), key=lambda e: list(e.path))
    except RecursionError:
        return ["value: nested too deeply to validate"]
    return [f"{'.'.join(map(str, e.path)) or 'value'}: {e.message}" for e in errors[:limit]]


def schema_validator(schema: dict[str, Any]) -> Any:
    """A ``jsonschema`` validator for ``schema``; ``InputError`` when it is not a valid JSON Schema.

    >>> schema_validator({"type": "nonsense"})
    Traceback (most recent call last):
    llmkit.errors.InputError: not a valid JSON Schema: 'nonsense' is not valid under any of the given schemas
    """
    try:
        import jsonschema
    except ImportError:
        raise MissingExtra("jsonschema", "guards") from None
    try:
        validator = jsonschema.validators.validator_for(schema)(schema)
        validator.check_schema(schema)
    except jsonschema.SchemaError as e:
        raise InputError(f"not a valid JSON Schema: {e.message}") from None
    return validator


@dataclass(frozen=True, slots=True)
class StructuredReply:
    """The validated value (a pydantic instance for a model class), the last raw reply, and how it went."""

    value: Any
    raw: str
    attempts: int
    repaired: bool
    usage: Usage


class StructuredGenerator:
    """Asks ``model`` for JSON matching a schema: constrained where the backend can, checked always."""

    def __init__(self, model: ChatModel, *, retries: int = 2, grammar: bool = True) -> None:
        if retries < 0:
            raise InputError(f"retries must be >= 0, got {retries}")
        self.model, self.retries, self.grammar = model, retries, grammar

    def generate(
        self, messages: Sequence[Message], target: Any, params: GenerationParams | None = None
    ) -> StructuredReply:
        """A reply valid against ``target``; ``ModelError`` when none came after ``retries`` re-asks."""
        if not messages:
            raise InputError("no messages to send")
        schema = schema_of(target)
        if not _is_model(target):
            schema_validator(schema)  # a broken schema is the caller's error, found before any model call
        params = dataclasses.replace(params or GenerationParams(), json_schema=schema if self.grammar else None)
        convo = [Message.system(INSTRUCTION.format(schema=json.dumps(schema))), *messages]
        prompt_tokens, completion_tokens = 0, 0
        errors: list[str] = []
        for attempt in range(1, self.retries + 2):
            reply = self.model.chat(convo, params)
            prompt_tokens += reply.usage.prompt_tokens or 0
            completion_tokens += reply.usage.completion_tokens or 0
            try:
                value, repaired = parse_lenient(reply.text)
                errors = validation_errors(value, target)
            except ValueError as e:
                errors = [str(e)]
            if not errors:
                usage = Usage(prompt_tokens, completion_tokens)
                return StructuredReply(_build(value, target), reply.text, attempt, repaired, usage)
            convo += [Message.assistant(reply.text), Message.user(REASK.format(errors="; ".join(errors)))]
        tries = self.retries + 1
        raise ModelError(
            f"{self.model.name} gave no JSON valid against the schema in {tries} attempts: {'; '.join(errors)}",
            hint="simplify the schema, allow more retries, or use a larger model",
        )


def _build(value: Any, target: Any) -> Any:
    return target.model_validate(value) if _is_model(target) else value


def _is_model(target: Any) -> bool:
    """Whether ``target`` is a pydantic model class (else a JSON Schema mapping)."""
    return isinstance(target, type) and hasattr(target, "model_validate")
