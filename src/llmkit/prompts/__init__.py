"""Prompt templates: versioned by content hash, rendered with the values they declare."""

from llmkit.prompts.template import PromptTemplate

__all__ = ["PromptTemplate"]
