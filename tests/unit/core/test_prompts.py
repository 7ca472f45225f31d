import pytest

from llmkit.errors import InputError
from llmkit.prompts.template import RAG_ANSWER, PromptTemplate


def test_version_changes_with_text() -> None:
    a = PromptTemplate("p", system="s", user="{q}")
    b = PromptTemplate("p", system="s!", user="{q}")
    assert a.version != b.version and a.ref == f"p@{a.version}"


def test_missing_input_is_a_clear_error() -> None:
    with pytest.raises(InputError, match="question"):
        RAG_ANSWER.render(context="x")


def test_values_are_not_reinterpreted() -> None:
    (_sys, user) = RAG_ANSWER.render(context="{question}", question="{context}")
    assert "{question}" in user.content and user.content.endswith("Question: {context}\nAnswer:")
