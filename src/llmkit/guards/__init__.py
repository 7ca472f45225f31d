"""Guardrails: input and output checks (PII, prompt injection, content rules, groundedness) that return verdicts."""
