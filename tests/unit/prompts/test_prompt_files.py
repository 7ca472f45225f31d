"""Prompt files: front matter, sections, validation, rendering, versions."""

from __future__ import annotations

import pytest

from llmkit.errors import InputError
from llmkit.prompts import builtin, content_version, parse_prompt

GOOD = """---
name: qa
description: test
inputs: [question, context]
params: {temperature: 0.0, max_tokens: 20, stop: ["\\n"]}
examples:
  - {input: "Q: 1+1?", output: "2"}
---
## system
Use {{ context }}.
## user
Q: {{ question }}
"""


def test_parse_render_and_params() -> None:
    p = parse_prompt(GOOD)
    assert p.name == "qa" and p.inputs == {"question", "context"} and p.description == "test"
    msgs = p.render(question="Why?", context="facts")
    assert [(m.role, m.content) for m in msgs] == [
        ("system", "Use facts."), ("user", "Q: 1+1?"), ("assistant", "2"), ("user", "Q: Why?"),
    ]  # fmt: skip
    assert [m.role for m in p.render(examples=(), question="a", context="b")] == ["system", "user"]
    params = p.generation_params()
    assert params.temperature == 0.0 and params.max_tokens == 20 and params.stop == ("\n",)


def test_values_are_not_templates() -> None:
    p = parse_prompt(GOOD)
    out = p.render(question="{{ context }} {% raw %}", context="x")[-1].content
    assert out == "Q: {{ context }} {% raw %}"


def test_version_is_content_hash() -> None:
    a, b = parse_prompt(GOOD), parse_prompt(GOOD.replace("Use", "Read"))
    assert a.version != b.version and a.version == content_version(GOOD) and len(a.version) == 12
    assert parse_prompt(GOOD.replace("\n", "\r\n")).version == a.version


def test_no_sections_means_user_only() -> None:
    p = parse_prompt("Hello {{ who }}", name="hi")
    assert [m.role for m in p.render(who="x")] == ["user"] and p.inputs == {"who"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("---\nname: x\nfoo: 1\n---\nhi", "unknown front-matter keys"),
        ("---\nname: x\n: : bad\n---\nhi", "not valid YAML"),
        ("---\n- a\n---\nhi", "must be a YAML mapping"),
        ("---\nname: x\ninputs: [a]\n---\n{{ a }} {{ b }}", "does not declare"),
        ("---\nname: x\n---\n{{ a ", "template error on line 1"),
        ("---\nname: x\n---\n## system\nonly system", "'## user' section is missing"),
        ("---\nname: x\n---\n", "no text"),
        ("---\nname: bad name!\n---\nhi", "prompt name"),
        ("---\nname: x\nparams: {temperature: 9}\n---\nhi", "invalid params"),
        ("---\nname: x\nparams: {colour: red}\n---\nhi", "'params' must be a mapping"),
        ("---\nname: x\nexamples: [1, 2]\n---\nhi", "'examples' must be a list"),
        ("---\nname: x\n---\nfoo\n## user\nhi", "text before the first"),
    ],
)
def test_bad_files_are_rejected_clearly(text: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse_prompt(text, source="p.md")


def test_missing_value_is_an_input_error() -> None:
    with pytest.raises(InputError, match="needs values for"):
        parse_prompt(GOOD).render(question="q")


def test_sandbox_blocks_attribute_tricks() -> None:
    from jinja2.exceptions import SecurityError

    p = parse_prompt("{{ x.__class__.__mro__ }}", name="t")
    with pytest.raises(SecurityError):
        p.render(x="s")


def test_builtin_rag_prompt_matches_the_old_text() -> None:
    rag = builtin("rag-answer")
    system, user = rag.render(context="CTX", question="Q?")
    assert system.content.startswith("You answer questions using only the numbered context passages below.")
    assert user.content == "Context passages:\n\nCTX\n\nQuestion: Q?\nAnswer:"
