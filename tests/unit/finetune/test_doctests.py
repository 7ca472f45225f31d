"""The worked examples in the fine-tuning modules' docstrings are tests too."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "llmkit.finetune.train_config",
    "llmkit.finetune.chat_data",
    "llmkit.finetune.quantize",
    "llmkit.finetune.perplexity",
    "llmkit.finetune.gguf_export",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    if name.endswith(("perplexity", "gguf_export")):
        pytest.importorskip("numpy")
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0
