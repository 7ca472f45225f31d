"""The agent loop on the real embedded model (SmolLM2-135M through llama.cpp): budgets, tracing, the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli_runner import run_cli
from llmkit.agents import Agent, Budget
from llmkit.agents.builtins.calculator import calculator
from llmkit.types import GenerationParams

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_real_model_run_is_bounded_and_traced(kit) -> None:  # type: ignore[no-untyped-def]
    agent = Agent(
        kit.model,
        [calculator()],
        budget=Budget(max_steps=2, max_seconds=None),  # no wall-time limit: a loaded CI machine may be slow
        params=GenerationParams(max_tokens=48, temperature=0.0, seed=0),
    )
    result = agent.run("What is 17 * 23? Use the calculator.")
    assert result.stop_reason in {"answer", "max_steps"}
    model_steps = [s for s in result.steps if s.kind == "model"]
    assert 1 <= len(model_steps) <= 2
    traces = [t for t in kit.traces(limit=20) if t.attributes.get("agent_run") == result.run_id]
    kinds = sorted(t.kind for t in traces)
    assert kinds.count("agent") == len(model_steps) and kinds.count("agent.tool") == len(result.tool_calls)
    first = min((t for t in traces if t.kind == "agent"), key=lambda t: t.attributes["step"])
    assert first.params["tools"] == ["calculator"] and first.messages[-1].content.startswith("What is 17")
    assert result.usage.total_tokens == sum(t.usage.total_tokens for t in traces if t.kind == "agent")


def test_real_model_token_budget_is_never_passed(kit) -> None:  # type: ignore[no-untyped-def]
    agent = Agent(
        kit.model, [], budget=Budget(max_tokens=110), params=GenerationParams(max_tokens=512, temperature=0.0)
    )
    result = agent.run("Write a long story about a dragon who learns to bake bread.")
    assert result.stop_reason == "max_tokens"
    assert 0.9 * 110 <= result.usage.total_tokens <= 110


def test_cli_agent_streams_steps(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "-C", str(project), "agent", "What is 6 times 7?", "--tools", "calculator",
                             "--max-steps", "1")  # fmt: skip
    assert code == 0 and "stopped:" in err  # answer, max_steps, or max_seconds on a loaded machine
    assert out.strip() or "max_s" in err
    code, _, err = run_cli(capsys, "-C", str(project), "agent", "x", "--tools", "nope")
    assert code == 65 and "choose from" in err
