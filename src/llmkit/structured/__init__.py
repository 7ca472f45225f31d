"""Structured output: JSON valid against a schema or pydantic model (grammar, or validate, repair, re-ask)."""

from llmkit.structured.core import StructuredGenerator, StructuredReply, schema_of, validation_errors

__all__ = ["StructuredGenerator", "StructuredReply", "schema_of", "validation_errors"]
