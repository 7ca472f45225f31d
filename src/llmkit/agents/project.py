"""An ``Agent`` for a project: the ``[agent]`` settings, its built-in tools and MCP servers, the Kit's model.

with project_agent(kit) as agent:           # MCP connections close with the block
    print(agent.run("What is 12% of 250?").answer)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import TYPE_CHECKING

from llmkit.agents.budget import Budget
from llmkit.agents.builtins import build_tools
from llmkit.agents.loop import Agent, Confirm
from llmkit.types import GenerationParams

if TYPE_CHECKING:
    from llmkit.config import Settings
    from llmkit.kit import Kit


def budget_from(settings: Settings) -> Budget:
    """The ``[agent]`` limits, with the model's price from the project's price table for ``max_cost``."""
    from llmkit.pricing import Price, PriceTable

    s = settings.agent
    price = PriceTable(settings.prices).price(settings.model.name) or Price()
    return Budget(
        max_steps=s.max_steps, max_tokens=s.max_tokens, max_seconds=s.max_seconds, max_cost=s.max_cost, price=price
    )


@contextmanager
def project_agent(
    kit: Kit,
    *,
    confirm: Confirm | None = None,
    allow_side_effects: bool = False,
    may_search: Callable[[str], bool] | None = None,
) -> Iterator[Agent]:
    """The project's agent, configured from ``kit.settings.agent``; MCP servers stay connected inside the block.

    ``may_search(collection)``: whether the retrieval tool may search a collection for this caller (the
    server passes the caller's key); a refused search is the tool's error, for the model to read.
    """
    s = kit.settings.agent
    m = kit.settings.model
    with ExitStack() as stack:
        tools = build_tools(s.tools, s, kit, may_search=may_search)
        for target in s.mcp:
            from llmkit.mcp.client import MCPClient

            client = stack.enter_context(MCPClient(target))
            tools.extend(client.tools())
        params = GenerationParams(max_tokens=m.max_tokens, temperature=m.temperature, top_p=m.top_p, seed=m.seed)
        yield Agent(
            kit.model,
            tools,
            budget=budget_from(kit.settings),
            params=params,
            allow=s.allow,
            allow_side_effects=allow_side_effects,
            confirm=confirm,
            trace_store=kit.trace_store if kit.settings.traces else None,
            guards=kit.guards if kit.guards.enabled else None,
        )
