"""Prices are found under every form a model name takes in llmkit; local models cost nothing."""

from __future__ import annotations

import pytest

from llmkit.pricing import Price, PriceTable
from llmkit.types import Usage

MINI = Price(0.15, 0.60)


@pytest.mark.parametrize(
    "name",
    [
        "gpt-4o-mini",
        "openai:gpt-4o-mini",
        "https://api.openai.com/v1#gpt-4o-mini",
        "GPT-4o-mini",
        "gpt-4o-mini-2024-07-18",
        "openai:gpt-4o-mini-2024-07-18",
    ],
)
def test_a_hosted_model_is_priced_under_each_name_form(name: str) -> None:
    assert PriceTable().price(name) == MINI
    assert PriceTable().cost(name, Usage(1_000_000, 500_000)) == 0.45


@pytest.mark.parametrize(
    "name", ["/x/my-finetune.gguf", "llama_cpp:smollm2-135m-instruct", "llama_batch:anything", "smollm2-135m-instruct"]
)
def test_local_models_cost_nothing(name: str) -> None:
    assert PriceTable().cost(name, Usage(1000, 1000)) == 0.0


def test_unknown_models_stay_unknown_and_project_prices_win() -> None:
    table = PriceTable({"llama3:8b": Price(1.0, 2.0)})
    assert table.price("llama3:8b") == Price(1.0, 2.0)  # an Ollama tag, not a backend prefix
    assert table.price("mystery") is None and table.price("openai:mystery-2024-01-01") is None
    assert table.price("http://gpu:8000/v1#qwen2.5-7b") is None
