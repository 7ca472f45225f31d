"""The worked examples in the fine-tuning modules' docstrings are tests too; data preparation imports light."""

from __future__ import annotations

import doctest
import importlib
import subprocess
import sys

import pytest

MODULES = [
    "llmkit.finetune.records",
    "llmkit.finetune.dedup",
    "llmkit.finetune.tokens",
    "llmkit.finetune.card",
    "llmkit.finetune.from_traces",
    "llmkit.finetune.train_config",
    "llmkit.finetune.chat_data",
    "llmkit.finetune.quantize",
    "llmkit.finetune.perplexity",
    "llmkit.finetune.gguf_export",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0


def test_import_is_light() -> None:
    heavy = ("torch", "transformers", "llama_cpp", "datasketch", "scipy", "numpy", "rich")
    code = f"import sys, llmkit.finetune.data, llmkit.cli.finetune; print(sorted(set(sys.modules) & {set(heavy)!r}))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
