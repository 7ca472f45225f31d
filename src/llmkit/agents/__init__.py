"""Agents: typed tools, the bounded tool-calling loop, budgets, memory and safe built-in tools."""

from llmkit.agents.budget import Budget
from llmkit.agents.loop import Agent, AgentResult, AgentRun, Step, untrusted
from llmkit.agents.memory import Memory
from llmkit.agents.tools import Tool, ToolResult, tool
from llmkit.pricing import Price

__all__ = [
    "Agent",
    "AgentResult",
    "AgentRun",
    "Budget",
    "Memory",
    "Price",
    "Step",
    "Tool",
    "ToolResult",
    "tool",
    "untrusted",
]
