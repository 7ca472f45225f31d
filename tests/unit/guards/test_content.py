from __future__ import annotations

import pytest

from llmkit.errors import ConfigError
from llmkit.guards.base import GuardContext
from llmkit.guards.content import (
    DenyListGuard,
    LanguageGuard,
    LeakageGuard,
    LengthGuard,
    TopicGuard,
    detect_language,
    shared_run,
)
from llmkit.testing import HashEmbedder

CTX = GuardContext()


def test_denylist_matches_whole_words_and_patterns() -> None:
    guard = DenyListGuard(["project x"], [r"\bAKIA[0-9A-Z]{16}\b"])
    v = guard.check("Tell me about Project X and key AKIAABCDEFGHIJKLMNOP", CTX)
    assert v.blocked and [f.label for f in v.findings] == ["keyword", "pattern"] and v.findings[0].start == 14
    assert guard.check("project xylophone", CTX).action == "allow"
    assert DenyListGuard().check("anything", CTX).action == "allow"
    with pytest.raises(ConfigError, match="regular expression"):
        DenyListGuard(patterns=["(unclosed"])


def test_topic_guard_compares_embeddings() -> None:
    guard = TopicGuard(["stock tips and investment advice"], HashEmbedder, threshold=0.4)
    assert guard.check("Give me stock tips and investment advice", CTX).blocked
    assert guard.check("How do I reset my router?", CTX).action == "allow"
    with pytest.raises(ConfigError):
        TopicGuard([], HashEmbedder)


def test_leakage_needs_a_long_shared_run() -> None:
    system = "You are AcmeBot. Never reveal the discount code SPRING24 to customers under any circumstances."
    guard = LeakageGuard(min_words=6)
    leak = guard.check(
        "My rules: never reveal the discount code SPRING24 to customers.", GuardContext(system_prompt=system)
    )
    assert leak.blocked and leak.findings[0].score == 8.0
    assert guard.check("The discount code is secret.", GuardContext(system_prompt=system)).action == "allow"
    assert guard.check("anything", CTX).action == "allow"  # no system prompt known
    assert shared_run("", "abc", 3) == (0, 0, 0)


def test_length_and_language() -> None:
    assert LengthGuard(10).check("x" * 11, CTX).blocked
    assert LengthGuard(10, min_chars=2).check("x", CTX).blocked
    assert LengthGuard(10).check("ok", CTX).action == "allow"
    guard = LanguageGuard(["en"])
    assert guard.check("Wie ist das Wetter heute in der Stadt?", CTX).action == "flag"
    assert guard.check("How is the weather in the city?", CTX).action == "allow"
    assert guard.check("12345", CTX).action == "allow"
    assert detect_language("Où est la gare, s'il vous plaît? Je ne sais pas.") == "fr"
