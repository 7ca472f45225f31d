"""Guardrails: input and output checks (PII, prompt injection, content rules, groundedness) that return verdicts."""

from llmkit.guards.base import Finding, Guard, GuardContext, Verdict
from llmkit.guards.pipeline import GuardPipeline

__all__ = ["Finding", "Guard", "GuardContext", "GuardPipeline", "Verdict"]
