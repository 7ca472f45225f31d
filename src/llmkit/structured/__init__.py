"""Structured output: JSON valid against a schema or pydantic model (grammar, or validate, repair, re-ask)."""
