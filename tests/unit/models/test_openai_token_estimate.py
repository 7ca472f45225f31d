"""The remote models' token estimate errs high on every script, on digits and on random ids, not only English."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from llmkit.embeddings.openai_compat import OpenAIEmbedder
from llmkit.models.openai_compat import OpenAIChatModel

#: Text and its token count by SmolLM2's tokenizer (a 49k byte-level BPE, via llama_cpp with vocab_only).
SMOLLM2 = {
    "The quick brown fox jumps over the lazy dog. Budgets built on the estimate stay inside the window.": 21,
    "我们今天去公园散步，天气非常好。": 31,
    "안녕하세요 반갑습니다 오늘 날씨가 좋네요": 51,
    "😀🎉🚀🔥💯👍🏽": 21,
    "aZ3kQ9xP2mL7vB1nR8tY4wE6uI0oHgFdSsA": 33,
    "3fa9b0c1d2e4f5061728394a5b6c7d8e9f00": 35,
    "123e4567-e89b-12d3-a456-426614174000": 36,
    "3141592653 5897932384 6264338327": 32,
    "Съешь же ещё этих мягких французских булок": 42,
    'def f(x: int) -> dict[str, int]:\n    return {"a": x ** 2}  # square\n': 28,
}
COUNTERS = [
    OpenAIChatModel("x", base_url="http://127.0.0.1:9/v1").count_tokens,
    OpenAIEmbedder("x", base_url="http://127.0.0.1:9/v1").count_tokens,
]


@pytest.mark.parametrize("count", COUNTERS, ids=["chat", "embedder"])
@pytest.mark.parametrize("text", list(SMOLLM2), ids=lambda t: t[:12])
def test_the_estimate_is_at_least_a_real_tokenizers_count(count: Callable[[str], int], text: str) -> None:
    assert count(text) >= SMOLLM2[text]


@pytest.mark.parametrize("count", COUNTERS, ids=["chat", "embedder"])
def test_english_is_not_hugely_overcounted(count: Callable[[str], int]) -> None:
    english = next(iter(SMOLLM2))
    assert count(english) <= 1.5 * SMOLLM2[english]
    assert count("") == 0 and count("  \n") >= 1
