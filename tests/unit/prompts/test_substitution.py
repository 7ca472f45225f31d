"""Templates whose only syntax is ``{{ name }}`` skip Jinja2 and render the very same text."""

from __future__ import annotations

import pytest

from llmkit.prompts.prompt import Substitution, _compile, _env, parse_prompt
from llmkit.prompts.registry import builtin

SIMPLE = [
    "Question: {{ question }}\nAnswer:",
    "{{question}}",
    "Context passages:\r\n\r\n{{ context }}\r\n\r\nQuestion: {{ question }}\nAnswer:\n",
    "two trailing newlines\n\n",
    "a lone { brace } and }} closers and {{ question }} again {{ question }}",
    'json: {"a": 1} {{ context }}',
    "",
]
JINJA = [
    "{% if question %}{{ question }}{% endif %}",
    "{{ question | upper }}",
    "{{- question -}}",
    "{# note #}{{ question }}",
    "{{ none }}",
    "{{ question.upper() }}",
    "{{{ question }}}",
]
VALUES = {"question": "Why is the sky blue?\r\n", "context": "[1] a.md\n{{ not a template }} 3 > 2 & <b>"}


@pytest.mark.parametrize("source", SIMPLE)
def test_same_text_as_jinja(source: str) -> None:
    fast = Substitution.parse(source)
    assert fast is not None
    assert fast.render(**VALUES) == _env().from_string(source).render(**VALUES)
    assert fast.render(question=3, context=None) == _env().from_string(source).render(question=3, context=None)


@pytest.mark.parametrize("source", JINJA)
def test_anything_else_is_left_to_jinja(source: str) -> None:
    assert Substitution.parse(source) is None


def test_missing_values_raise_jinjas_error() -> None:
    import jinja2

    with pytest.raises(jinja2.UndefinedError):
        Substitution.parse("{{ question }}").render(context="x")


def test_builtin_rag_prompt_takes_the_fast_path_with_identical_messages() -> None:
    prompt = builtin("rag-answer")
    assert isinstance(_compile(prompt.user), Substitution) and isinstance(_compile(prompt.system), Substitution)
    jinja = [_env().from_string(t).render(**VALUES).strip() for t in (prompt.system, prompt.user)]
    assert [m.content for m in prompt.render(**VALUES)] == jinja


def test_prompt_with_logic_still_renders() -> None:
    p = parse_prompt("---\nname: t\ninputs: [who]\n---\n{% if who %}Hi {{ who }}{% endif %}")
    assert p.render(who="Ada")[-1].content == "Hi Ada"
