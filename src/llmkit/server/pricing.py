"""Cost per call from a price table: built-in prices for known hosted models, extended in llmkit.toml.

    [server.prices."gpt-4o-mini"]
    input = 0.15      # USD per million prompt tokens
    output = 0.60

Local models cost nothing to call; a model with no price has unknown cost (``None``), never zero.
"""

from __future__ import annotations

from collections.abc import Mapping

from llmkit.config import PriceSettings
from llmkit.types import Usage

#: USD per million tokens (input, output). Local embedded models are free to run.
BUILTIN: dict[str, tuple[float, float]] = {
    "smollm2-135m-instruct": (0.0, 0.0),
    "fake": (0.0, 0.0),
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4o": (2.50, 10.00),
    "gpt-4.1-mini": (0.40, 1.60),
}


class PriceTable:
    def __init__(self, extra: Mapping[str, PriceSettings] | None = None) -> None:
        self.prices = dict(BUILTIN)
        self.prices.update({name: (p.input, p.output) for name, p in (extra or {}).items()})

    def cost(self, model: str, usage: Usage) -> float | None:
        """USD for ``usage`` on ``model``; None when the model or the usage is unknown.

        >>> PriceTable().cost("gpt-4o-mini", Usage(1_000_000, 500_000))
        0.45
        >>> PriceTable().cost("mystery", Usage(10, 10)) is None
        True
        """
        price = self.prices.get(model) or self.prices.get(_base_name(model))
        if price is None or usage.prompt_tokens is None or usage.completion_tokens is None:
            return None
        return round((usage.prompt_tokens * price[0] + usage.completion_tokens * price[1]) / 1e6, 10)


def _base_name(model: str) -> str:
    """``smollm2-135m-instruct`` for a path like ``/models/smollm2-135m-instruct.gguf``.

    >>> _base_name("/m/SmolLM2-135M-Instruct.gguf")
    'smollm2-135m-instruct'
    """
    return model.rsplit("/", 1)[-1].removesuffix(".gguf").lower()
