"""The worked examples in the agents' and MCP modules' docstrings are tests too."""

from __future__ import annotations

import pytest

from doctest_checks import assert_docstring_examples, assert_import_is_light

MODULES = [
    "llmkit.agents.budget",
    "llmkit.pricing",
    "llmkit.agents.loop",
    "llmkit.agents.memory",
    "llmkit.agents.tools",
    "llmkit.agents.builtins.calculator",
    "llmkit.agents.builtins.http",
    "llmkit.agents.builtins.sql",
    "llmkit.mcp.client",
    "llmkit.testing.fakes",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    assert_docstring_examples(name)


def test_import_is_light() -> None:
    assert_import_is_light(
        ["llmkit.agents", "llmkit.mcp.client"], ("mcp", "jsonschema", "llama_cpp", "onnxruntime", "numpy", "rich")
    )
