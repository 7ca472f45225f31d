"""One price table for every cost llmkit reports: responses and traces on the server, agent budgets.

    [prices."gpt-4o-mini"]      # in llmkit.toml; extends (or overrides) the built-in prices
    input = 0.15                # USD per million prompt tokens
    output = 0.60               # USD per million completion tokens

Local models cost nothing to call; a model with no price has unknown cost (``None``), never zero.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from llmkit.types import Usage

_DATED = re.compile(r"-\d{4}-\d{2}-\d{2}$")  # a snapshot's date: gpt-4o-mini-2024-07-18
_LOCAL_BACKENDS = ("llama_cpp", "llama_batch")


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
        """``model``'s price, by id, by file name (``/m/SmolLM2-135M-Instruct.gguf``) and by the forms a model is
        named in (``openai:ID``, ``URL#ID``, a dated snapshot ``ID-2024-07-18``); a local model costs nothing.

        >>> table = PriceTable()
        >>> table.price("openai:gpt-4o-mini-2024-07-18") == table.price("https://api.openai.com/v1#GPT-4o-mini")
        True
        >>> table.price("/m/my-finetune.gguf"), table.price("mystery")
        (Price(input=0.0, output=0.0), None)
        """
        backend, model_id = _split(model)
        base = _base_name(model_id)
        for name in (model, model_id, base, _DATED.sub("", base)):
            if name in self.prices:
                return self.prices[name]
        return Price(0.0, 0.0) if _is_local(backend, model_id) else None

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


def _split(model: str) -> tuple[str | None, str]:
    """``(backend, model id)`` as ``llmkit.registry`` reads a model name (a URL's backend is ``openai``).

    >>> _split("openai:gpt-4o-mini"), _split("http://gpu:8000/v1#qwen"), _split("llama3:8b")
    (('openai', 'gpt-4o-mini'), ('openai', 'qwen'), (None, 'llama3:8b'))
    """
    from llmkit.registry import CHAT_BACKENDS, is_url, split_model_name

    if is_url(model):
        return "openai", split_model_name(model, "openai")[1]
    prefix, sep, rest = model.partition(":")
    return (prefix, rest) if sep and rest and prefix in CHAT_BACKENDS else (None, model)


def _is_local(backend: str | None, model_id: str) -> bool:
    """Whether llama.cpp runs the model here: a ``.gguf`` file, a ``llama_cpp:`` name or a built-in catalog model."""
    from llmkit.models.entries import BUILTIN

    if backend is not None:
        return backend in _LOCAL_BACKENDS
    return model_id.lower().endswith(".gguf") or any(e.name == model_id and e.kind == "chat" for e in BUILTIN)


def _base_name(model: str) -> str:
    """``smollm2-135m-instruct`` for a path like ``/models/smollm2-135m-instruct.gguf``.

    >>> _base_name("/m/SmolLM2-135M-Instruct.gguf")
    'smollm2-135m-instruct'
    """
    return model.rsplit("/", 1)[-1].removesuffix(".gguf").lower()
