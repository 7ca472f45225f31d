"""Per-request sampler chains for the batched llama.cpp engine.

Each sequence gets its own llama.cpp sampler chain, built from its ``GenerationParams`` with the same
defaults and order as ``LlamaCppModel`` (which goes through ``llama_cpp.Llama.generate``): greedy at
``temperature=0``, else top-k 40 → top-p → min-p 0.05 → temperature → a seeded draw. A JSON schema or
offered tools add llama.cpp's grammar sampler in front (the grammar is ``tool_protocol``'s, as for
``LlamaCppModel``), so every sampled token keeps the reply valid JSON for the schema.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from llmkit.errors import InputError
from llmkit.models import tool_protocol
from llmkit.types import GenerationParams, ToolSpec

TOP_K = 40
MIN_P = 0.05


@dataclass(frozen=True, slots=True)
class SamplingPlan:
    """What a sampler chain does, decided without llama.cpp (so it can be unit-tested).

    >>> SamplingPlan.of(GenerationParams(temperature=0.0)).greedy
    True
    >>> p = SamplingPlan.of(GenerationParams(temperature=None, top_p=None, seed=7))
    >>> (p.greedy, p.temperature, p.top_p, p.seed)
    (False, 0.8, 0.95, 7)
    """

    greedy: bool
    temperature: float
    top_p: float
    seed: int
    grammar: str | None = None

    @classmethod
    def of(cls, params: GenerationParams, grammar: str | None = None) -> SamplingPlan:
        temperature = 0.8 if params.temperature is None else params.temperature
        seed = params.seed if params.seed is not None else random.randrange(2**31)
        top_p = 0.95 if params.top_p is None else params.top_p
        return cls(temperature == 0, temperature, top_p, seed, grammar)


def reply_grammar(tools: Sequence[ToolSpec], params: GenerationParams) -> str | None:
    """GBNF for the reply ``params`` ask for: the tool protocol's reply when ``tools`` are active, else
    ``params.json_schema`` (``{}``: any JSON object), else ``None``. ``InputError`` if it cannot convert."""
    if tools:
        return tool_protocol.gbnf(tool_protocol.reply_schema(tools, params.tool_choice, params.json_schema))
    if params.json_schema is None:
        return None
    if not isinstance(params.json_schema, Mapping):
        raise InputError(f"json_schema must be a JSON Schema object, got {type(params.json_schema).__name__}")
    return tool_protocol.gbnf(params.json_schema)


def build_sampler(plan: SamplingPlan, model: Any) -> Any:
    """A ``llama_cpp._internals.LlamaSampler`` chain for ``plan``; ``model`` is the ``LlamaModel``."""
    import llama_cpp
    from llama_cpp._internals import LlamaSampler

    sampler = LlamaSampler()
    if plan.grammar is not None:
        grammar = llama_cpp.llama_sampler_init_grammar(model.vocab, plan.grammar.encode("utf-8"), b"root")
        if not grammar:
            sampler.close()
            raise InputError("llama.cpp rejected the grammar made from json_schema", hint="simplify the schema")
        llama_cpp.llama_sampler_chain_add(sampler.sampler, grammar)
    if plan.greedy:
        sampler.add_greedy()
        return sampler
    sampler.add_top_k(TOP_K)
    sampler.add_top_p(plan.top_p, 1)
    sampler.add_min_p(MIN_P, 1)
    sampler.add_temp(plan.temperature)
    sampler.add_dist(plan.seed)
    return sampler
