"""``ask_prompt``: one traced call of a chat model with a registry prompt, for a judge or a rewriter.

The LLM reranker, the query rewriter and the groundedness judge all ask this way: the named prompt (a
project file of that name overrides the built-in), its own params over a greedy default, JSON by grammar
or ``response_format`` when there is a schema; a failing model gives no reply, never an error.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from llmkit.errors import ModelError

if TYPE_CHECKING:
    from llmkit.models.base import ChatModel
    from llmkit.prompts.registry import PromptRegistry


def ask_prompt(
    model: Callable[[], ChatModel],
    prompts: Callable[[], PromptRegistry] | None,
    name: str,
    /,
    *,
    max_tokens: int,
    kind: str,
    schema: Mapping[str, object] | None = None,
    **inputs: str,
) -> str | None:
    """The reply of ``model()`` to prompt ``name`` rendered with ``inputs``; None when the model fails.

    ``prompts`` is the project's registry (None: the built-ins alone). The call runs at temperature 0 and
    ``max_tokens`` unless the prompt's params say otherwise, with ``json_schema=schema`` when given, and is
    traced with ``kind``, the prompt's reference and the ``question`` input when there is one. ``model()``
    is called inside, so a model that cannot load is a failure too.
    """
    from llmkit.observe.traces import trace_attributes
    from llmkit.prompts.registry import PromptRegistry
    from llmkit.types import GenerationParams

    prompt = (prompts() if prompts else PromptRegistry()).get(name)
    params = prompt.generation_params(GenerationParams(max_tokens=max_tokens, temperature=0.0))
    if schema is not None:
        params = dataclasses.replace(params, json_schema=schema)
    question = {"question": inputs["question"]} if "question" in inputs else {}
    try:
        with trace_attributes(kind=kind, prompt=prompt.ref, **question):
            return model().chat(prompt.render(**inputs), params).text
    except ModelError:
        return None
