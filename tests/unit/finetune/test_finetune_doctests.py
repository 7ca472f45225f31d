"""The worked examples in the fine-tuning modules' docstrings are tests too; data preparation imports light."""

from __future__ import annotations

import pytest

from doctest_checks import assert_docstring_examples, assert_import_is_light

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
    "llmkit.finetune.gguf_lora",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    assert_docstring_examples(name)


def test_import_is_light() -> None:
    assert_import_is_light(
        ["llmkit.finetune.data", "llmkit.cli.finetune"],
        ("torch", "transformers", "llama_cpp", "datasketch", "scipy", "numpy", "rich"),
    )
