"""One price table for every cost llmkit reports: responses and traces on the server, agent budgets.

    [prices."gpt-4o-mini"]      # in llmkit.toml; extends (or overrides) the built-in prices
    input = 0.15                # USD per million prompt tokens
    output = 0.60               # USD per million completion tokens

Local models cost nothing to call; a model with no price has unknown cost (``None``), never zero.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from llmkit.types import Usage


@dataclass(frozen=True, slots=True)
class Price:
    """US dollars per million prompt (``input``) and completion (``output``) tokens."""

    input: float = 0.0
    output: float = 0.0

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        """
        >>> Price(0.15, 0.60).cost(1_000_000, 500_000)
        0.45
        """
        return round((prompt_tokens * self.input + completion_tokens * self.output) / 1e6, 10)


#: Local embedded models are free to run.
BUILTIN: dict[str, Price] = {
    "smollm2-135m-instruct": Price(0.0, 0.0),
    "fake": Price(0.0, 0.0),
    "gpt-4o-mini": Price(0.15, 0.60),
    "gpt-4o": Price(2.50, 10.00),
    "gpt-4.1-mini": Price(0.40, 1.60),
}


class PriceTable:
    """The built-in prices plus the project's ``[prices]`` (anything with ``input`` and ``output``)."""

    def __init__(self, extra: Mapping[str, Any] | None = None) -> None:
        self.prices = dict(BUILTIN)
        self.prices.update({name: Price(p.input, p.output) for name, p in (extra or {}).items()})

    def price(self, model: str) -> Price | None:
        """``model``'s price, by id or by file name (``/m/SmolLM2-135M-Instruct.gguf``)."""
        return self.prices.get(model) or self.prices.get(_base_name(model))

    def cost(self, model: str, usage: Usage) -> float | None:
        """USD for ``usage`` on ``model``; None when the model or the usage is unknown.

        >>> PriceTable().cost("gpt-4o-mini", Usage(1_000_000, 500_000))
        0.45
        >>> PriceTable().cost("mystery", Usage(10, 10)) is None
        True
        """
        price = self.price(model)
        if price is None or usage.prompt_tokens is None or usage.completion_tokens is None:
            return None
        return price.cost(usage.prompt_tokens, usage.completion_tokens)


def _base_name(model: str) -> str:
    """``smollm2-135m-instruct`` for a path like ``/models/smollm2-135m-instruct.gguf``.

    >>> _base_name("/m/SmolLM2-135M-Instruct.gguf")
    'smollm2-135m-instruct'
    """
    return model.rsplit("/", 1)[-1].removesuffix(".gguf").lower()
