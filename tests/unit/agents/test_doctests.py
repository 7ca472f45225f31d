"""The worked examples in the agents' and MCP modules' docstrings are tests too."""

from __future__ import annotations

import doctest
import importlib

import pytest

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
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0


def test_import_is_light() -> None:
    import subprocess
    import sys

    heavy = ("mcp", "jsonschema", "llama_cpp", "onnxruntime", "numpy", "rich")
    code = f"import sys, llmkit.agents, llmkit.mcp.client; print(sorted(set(sys.modules) & {set(heavy)!r}))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
